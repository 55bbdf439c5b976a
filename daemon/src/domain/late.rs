//! A queued message whose turn comes later than planned: marketing that has waited past
//! its scenario's `max_age` is dropped as expired; marketing that is late (older than
//! [`LATE_AFTER_MS`]: a retry, an outage or a backlog) is re-checked item by item with
//! [`still_worth_sending`] against the products as they are now. Transactional messages
//! are never dropped here. Pure: the time and the products are parameters.

use super::message::{ItemContext, OutboxEntry};
use super::product::ProductState;
use super::worth::{still_worth_sending, Stale};
use super::{Millis, TriggerConfig};

/// A message sent this long after its decision (or longer) is late: re-checked first.
pub const LATE_AFTER_MS: Millis = 5_000;

/// What to do with a queued message before an attempt, before looking at any product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Send it as queued: transactional, or not late.
    AsQueued,
    /// Marketing older than its scenario's `max_age`: drop it.
    Expired { age_ms: Millis, max_age_ms: Millis },
    /// Late marketing: re-check its items first ([`recheck`]).
    Recheck,
}

/// Where `entry` stands at `now`; `max_age_ms` is its scenario's (`None`: no limit).
pub fn turn(entry: &OutboxEntry, max_age_ms: Option<Millis>, now: Millis) -> Turn {
    if !entry.is_marketing() {
        return Turn::AsQueued;
    }
    let age_ms = now.saturating_sub(entry.created_ms);
    match max_age_ms {
        Some(max_age_ms) if age_ms > max_age_ms => Turn::Expired { age_ms, max_age_ms },
        // A message about no product (the last chance) has nothing to re-check.
        _ if age_ms >= LATE_AFTER_MS && !entry.context.items.is_empty() => Turn::Recheck,
        _ => Turn::AsQueued,
    }
}

/// An item that no longer holds, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub sku: String,
    pub why: Stale,
}

/// The items of a late message split by whether they still hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recheck {
    /// What the message is sent with (a digest keeps the rest); empty: nothing holds.
    pub keep: Vec<ItemContext>,
    pub dropped: Vec<Dropped>,
}

impl Recheck {
    /// What `last_error` of a message dropped for `dropped` says.
    pub fn reason(&self) -> String {
        let each: Vec<String> = self
            .dropped
            .iter()
            .map(|d| format!("{}: {}", d.sku, d.why.describe()))
            .collect();
        format!("not sent: stale when its turn came ({})", each.join("; "))
    }
}

/// Asks [`still_worth_sending`] for each item of a late `entry`, with `product` giving
/// each SKU's current state (`None`: unknown).
pub fn recheck<'p>(
    entry: &OutboxEntry,
    product: impl Fn(&str) -> Option<&'p ProductState>,
    now: Millis,
    cfg: &TriggerConfig,
) -> Recheck {
    let mut out = Recheck::default();
    for item in &entry.context.items {
        match still_worth_sending(entry.scenario, item, product(&item.sku), now, cfg) {
            Ok(()) => out.keep.push(item.clone()),
            Err(why) => out.dropped.push(Dropped {
                sku: item.sku.clone(),
                why,
            }),
        }
    }
    out
}

/// What `last_error` of an expired message says.
pub fn expired_reason(scenario: &str, age_ms: Millis, max_age_ms: Millis) -> String {
    format!(
        "not sent: expired, queued {} s ago, longer than scenarios.{scenario}.max_age ({} s)",
        age_ms / 1000,
        max_age_ms / 1000
    )
}

#[cfg(test)]
#[path = "late_tests.rs"]
mod tests;
