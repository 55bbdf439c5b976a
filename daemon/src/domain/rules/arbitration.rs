//! Arbitration of one customer's competing candidates: scenario switches, dedupe, channel
//! choice, then priority order under the caps, with same-scenario digests. Every
//! candidate ends up in exactly one planned message or with one suppression reason.

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::caps::{cap_allows_iter, is_duplicate, CapRule};
use crate::domain::customer::{Candidate, Channel, Consent, Scenario, Sent, SuppressReason};
use crate::domain::Millis;

/// How one scenario is delivered (the per-scenario config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRules {
    pub scenario: Scenario,
    pub enabled: bool,
    /// Higher wins when caps leave room for only some scenarios.
    pub priority: u32,
    /// Preference order; the first usable one is chosen.
    pub channels: Vec<Channel>,
    pub cooldown_ms: i64,
    pub digest: bool,
    /// Items per digest message; 0 is taken as 1.
    pub digest_max_items: usize,
    /// A queued marketing message older than this is dropped (expired) instead of sent.
    pub max_age_ms: i64,
}

/// Which addresses the customer has. A webhook is the shop's own endpoint, always there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Addresses {
    pub email: bool,
    pub line: bool,
}

impl Addresses {
    pub fn has(&self, c: Channel) -> bool {
        match c {
            Channel::Email => self.email,
            Channel::Line => self.line,
            Channel::Webhook => true,
        }
    }
}

/// What the arbitration needs to know about the customer.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub consent: &'a Consent,
    /// Channels whose address bounced or unsubscribed.
    pub suppressed: &'a [Channel],
    pub addresses: Addresses,
}

/// One message to send now: a single item, or a digest of same-scenario items.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub scenario: Scenario,
    pub channel: Channel,
    pub items: Vec<Candidate>,
}

/// The outcome for a batch of candidates: messages in priority order, and every
/// candidate that did not make it, with why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub messages: Vec<Planned>,
    pub suppressed: Vec<(Candidate, SuppressReason)>,
}

/// The ledger entry a planned message becomes once written at `now_ms`.
pub fn to_sent(p: &Planned, now_ms: Millis) -> Sent {
    Sent {
        at_ms: now_ms,
        scenario: p.scenario,
        channel: p.channel,
        skus: p.items.iter().map(|c| c.sku.clone()).collect(),
    }
}

/// The first channel in `rules.channels` the customer can be reached on, or why none.
/// Marketing needs the customer's consent on the channel; an order update does not (a
/// marketing unsubscribe withdraws consent, never the news about an order), but still
/// needs an address that has not bounced.
pub fn choose_channel(
    rules: &ScenarioRules,
    profile: &Profile<'_>,
) -> Result<Channel, SuppressReason> {
    let marketing = rules.scenario.is_marketing();
    let consented: Vec<Channel> = rules
        .channels
        .iter()
        .copied()
        .filter(|c| !marketing || profile.consent.get(*c))
        .collect();
    if consented.is_empty() {
        return Err(SuppressReason::Consent);
    }
    let blocked = |c: &Channel| profile.suppressed.contains(c);
    if let Some(c) = consented
        .iter()
        .find(|c| !blocked(c) && profile.addresses.has(**c))
    {
        return Ok(*c);
    }
    if consented.iter().all(blocked) {
        Err(SuppressReason::Suppressed)
    } else {
        Err(SuppressReason::NoAddress)
    }
}

/// Ranks candidates: higher scenario priority, then higher score, then older, then
/// trigger id so the outcome never depends on input order.
fn rank(a: &(u32, Candidate), b: &(u32, Candidate)) -> Ordering {
    b.0.cmp(&a.0)
        .then_with(|| b.1.score.total_cmp(&a.1.score))
        .then_with(|| a.1.at_ms.cmp(&b.1.at_ms))
        .then_with(|| a.1.trigger_id.cmp(&b.1.trigger_id))
        .then_with(|| a.1.sku.cmp(&b.1.sku))
}

/// Decides which of `candidates` become messages now. Steps, per DESIGN §5: a scenario
/// that is disabled or has no rules → `Disabled`; same scenario+sku in the ledger within
/// the cooldown, or already in this batch → `Dedupe`; no usable channel → `Consent`,
/// `Suppressed` or `NoAddress`; then scenarios in descending priority (ties: higher
/// score, then older) are planned while the caps, counting the ledger plus messages
/// already planned here at `now_ms`, allow. With digest on, a scenario's items go out in
/// messages of up to `digest_max_items`, each needing cap room. A message that does not
/// fit is `Priority` when it would have fitted without other scenarios' messages planned
/// here, else `Cap`.
pub fn decide(
    candidates: Vec<Candidate>,
    profile: &Profile<'_>,
    ledger: &[Sent],
    scenario_rules: &[ScenarioRules],
    caps: &[CapRule],
    tz: Tz,
    now_ms: Millis,
) -> Decision {
    let rules_of = |s: Scenario| scenario_rules.iter().find(|r| r.scenario == s);
    let mut ranked: Vec<(u32, Candidate)> = candidates
        .into_iter()
        .map(|c| (rules_of(c.scenario).map_or(0, |r| r.priority), c))
        .collect();
    ranked.sort_by(rank);

    let mut out = Decision::default();
    let mut seen: HashSet<(Scenario, String)> = HashSet::new();
    // Eligible candidates grouped by scenario, groups in rank order of their best item.
    let mut groups: Vec<(&ScenarioRules, Channel, Vec<Candidate>)> = Vec::new();
    for (_, c) in ranked {
        let Some(rules) = rules_of(c.scenario).filter(|r| r.enabled) else {
            out.suppressed.push((c, SuppressReason::Disabled));
            continue;
        };
        if is_duplicate(ledger, c.scenario, &c.sku, now_ms, rules.cooldown_ms)
            || !seen.insert((c.scenario, c.sku.clone()))
        {
            out.suppressed.push((c, SuppressReason::Dedupe));
            continue;
        }
        let channel = match choose_channel(rules, profile) {
            Ok(ch) => ch,
            Err(reason) => {
                out.suppressed.push((c, reason));
                continue;
            }
        };
        match groups.iter_mut().find(|g| g.0.scenario == c.scenario) {
            Some(g) => g.2.push(c),
            None => groups.push((rules, channel, vec![c])),
        }
    }

    let mut planned_sent: Vec<Sent> = Vec::new();
    for (rules, channel, items) in groups {
        let per_message = if rules.digest {
            rules.digest_max_items.max(1)
        } else {
            1
        };
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let chunk: Vec<Candidate> = items.by_ref().take(per_message).collect();
            let everything = ledger.iter().chain(planned_sent.iter());
            if cap_allows_iter(everything, caps, tz, now_ms, rules.scenario, channel).is_ok() {
                let p = Planned {
                    scenario: rules.scenario,
                    channel,
                    items: chunk,
                };
                planned_sent.push(to_sent(&p, now_ms));
                out.messages.push(p);
                continue;
            }
            let own = planned_sent.iter().filter(|s| s.scenario == rules.scenario);
            let reason = if cap_allows_iter(
                ledger.iter().chain(own),
                caps,
                tz,
                now_ms,
                rules.scenario,
                channel,
            )
            .is_ok()
            {
                SuppressReason::Priority
            } else {
                SuppressReason::Cap
            };
            out.suppressed
                .extend(chunk.into_iter().map(|c| (c, reason)));
        }
    }
    out
}

#[cfg(test)]
#[path = "arbitration_tests.rs"]
mod tests;
