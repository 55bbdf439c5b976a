//! Frequency caps and dedupe over a customer's ledger of sent messages: rolling windows
//! and local-calendar windows counted in the customer's time zone, plus ledger pruning.

use chrono::{Days, NaiveTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::quiet::{instants_at, local_date};
use crate::domain::customer::{Channel, Scenario, Sent};
use crate::domain::Millis;

const DAY_MS: i64 = 86_400_000;

/// The span a cap counts over, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapWindow {
    /// The last `ms` milliseconds: `(now - ms, now]`.
    Rolling { ms: i64 },
    /// Local calendar days: 1 = since local midnight today, n = since local midnight
    /// n-1 days ago, in the customer's zone.
    LocalDays { days: u32 },
}

/// Which messages a cap counts. Caps are marketing rules: order updates (transactional)
/// are never counted and never held back by one, whatever its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapScope {
    AllMarketing,
    Channel(Channel),
    Scenario(Scenario),
}

impl CapScope {
    pub fn applies(&self, scenario: Scenario, channel: Channel) -> bool {
        if !scenario.is_marketing() {
            return false;
        }
        match *self {
            CapScope::AllMarketing => true,
            CapScope::Channel(c) => c == channel,
            CapScope::Scenario(s) => s == scenario,
        }
    }
}

/// At most `max` messages in `scope` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapRule {
    pub scope: CapScope,
    pub max: u32,
    pub window: CapWindow,
}

impl CapRule {
    /// For operators: "at most 1 marketing message per 16h".
    pub fn describe(&self) -> String {
        let what = match self.scope {
            CapScope::AllMarketing => "marketing".to_string(),
            CapScope::Channel(c) => c.as_str().to_string(),
            CapScope::Scenario(s) => s.as_str().to_string(),
        };
        let noun = if self.max == 1 { "message" } else { "messages" };
        let per = match self.window {
            CapWindow::Rolling { ms } => format_span(ms),
            CapWindow::LocalDays { days: 0 | 1 } => "local day".to_string(),
            CapWindow::LocalDays { days } => format!("{days} local days"),
        };
        format!("at most {} {what} {noun} per {per}", self.max)
    }

    /// The first instant the window counts, for a check at `now_ms` in zone `tz`.
    /// Outside chrono's range the window is taken as unbounded (counts everything).
    pub fn window_start(&self, tz: Tz, now_ms: Millis) -> Millis {
        match self.window {
            CapWindow::Rolling { ms } => now_ms.saturating_sub(ms).saturating_add(1),
            CapWindow::LocalDays { days } => {
                local_days_start(tz, now_ms, days).unwrap_or(Millis::MIN)
            }
        }
    }
}

/// Local midnight `days - 1` days before today; a midnight skipped by DST starts at the
/// first instant after the gap, a repeated one at its first occurrence.
fn local_days_start(tz: Tz, now_ms: Millis, days: u32) -> Option<Millis> {
    let today = local_date(now_ms, tz)?;
    let first = today.checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))?;
    instants_at(tz, first.and_time(NaiveTime::MIN)).map(|(early, _)| early)
}

/// A span as the config writes it: the largest whole unit ("16h", "7d", "90s").
pub fn format_span(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(DAY_MS, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    UNITS
        .iter()
        .find(|(unit, _)| ms > 0 && ms % unit == 0)
        .map(|(unit, suffix)| format!("{}{suffix}", ms / unit))
        .unwrap_or_else(|| format!("{ms}ms"))
}

/// A cap that would be exceeded: which rule (index into the rules slice) and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapHit {
    pub rule_index: usize,
    pub description: String,
}

impl std::fmt::Display for CapHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cap #{}: {}", self.rule_index, self.description)
    }
}

/// Whether one more `scenario` message on `channel` at `now_ms` keeps every rule within
/// its max. Ledger entries after `now_ms` (queued ones) count too, to stay conservative.
pub fn cap_allows(
    ledger: &[Sent],
    rules: &[CapRule],
    tz: Tz,
    now_ms: Millis,
    scenario: Scenario,
    channel: Channel,
) -> Result<(), CapHit> {
    cap_allows_iter(ledger.iter(), rules, tz, now_ms, scenario, channel)
}

/// `cap_allows` over any sequence of ledger entries (the ledger plus messages planned in
/// the current decision, without copying the ledger).
pub(crate) fn cap_allows_iter<'a, I>(
    ledger: I,
    rules: &[CapRule],
    tz: Tz,
    now_ms: Millis,
    scenario: Scenario,
    channel: Channel,
) -> Result<(), CapHit>
where
    I: Iterator<Item = &'a Sent> + Clone,
{
    for (i, rule) in rules.iter().enumerate() {
        if !rule.scope.applies(scenario, channel) {
            continue;
        }
        let start = rule.window_start(tz, now_ms);
        let used = ledger
            .clone()
            .filter(|s| s.at_ms >= start && rule.scope.applies(s.scenario, s.channel))
            .count();
        if used >= rule.max as usize {
            return Err(CapHit {
                rule_index: i,
                description: rule.describe(),
            });
        }
    }
    Ok(())
}

/// Whether a `scenario` message about `sku` went out less than `cooldown_ms` before
/// `now_ms` (a digest counts for each of its skus). A cooldown of 0 never dedupes.
pub fn is_duplicate(
    ledger: &[Sent],
    scenario: Scenario,
    sku: &str,
    now_ms: Millis,
    cooldown_ms: i64,
) -> bool {
    cooldown_ms > 0
        && ledger.iter().any(|s| {
            s.scenario == scenario
                && s.at_ms > now_ms.saturating_sub(cooldown_ms)
                && s.skus.iter().any(|x| x == sku)
        })
}

/// Drops entries sent more than `keep_ms` before `now_ms`.
pub fn prune(ledger: &mut Vec<Sent>, now_ms: Millis, keep_ms: i64) {
    let oldest = now_ms.saturating_sub(keep_ms);
    ledger.retain(|s| s.at_ms >= oldest);
}

/// How far back the rules ever look; `LocalDays(n)` counts as n+1 days so a zone offset
/// or DST change never makes pruning drop an entry a cap still needs.
pub fn longest_window_ms(rules: &[CapRule]) -> i64 {
    rules
        .iter()
        .map(|r| match r.window {
            CapWindow::Rolling { ms } => ms.max(0),
            CapWindow::LocalDays { days } => (i64::from(days) + 1).saturating_mul(DAY_MS),
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "caps_tests.rs"]
mod tests;
