//! Counters the daemon keeps for operators (Admin API, logs). Plain atomics: written on
//! the hot path without locks, read by whoever asks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::domain::customer::{Scenario, SuppressReason};
use crate::domain::lifecycle::attribution::Tally;
use crate::domain::TriggerKind;

pub mod histograms;

const REASONS: usize = SuppressReason::ALL.len();
const SCENARIOS: usize = Scenario::ALL.len();

/// Per-scenario delivery counters.
#[derive(Debug, Default)]
pub struct ScenarioCounters {
    /// Customers offered this scenario by the fan-out.
    pub audience: AtomicU64,
    /// Messages written to the outbox.
    pub queued: AtomicU64,
    /// Messages the channel accepted / that failed permanently.
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub suppressed: [AtomicU64; REASONS],
}

fn scenario_index(s: Scenario) -> usize {
    Scenario::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

fn reason_index(r: SuppressReason) -> usize {
    SuppressReason::ALL
        .iter()
        .position(|x| *x == r)
        .unwrap_or(0)
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub batches: AtomicU64,
    pub events_applied: AtomicU64,
    pub events_rejected: AtomicU64,
    pub duplicates: AtomicU64,
    pub triggers: [AtomicU64; 4],
    pub active_products: AtomicU64,
    pub active_customers: AtomicU64,
    /// Actors dropped from memory after idling, since start.
    pub passivated: AtomicU64,
    /// One per scenario, in `Scenario::ALL` order.
    pub scenarios: [ScenarioCounters; SCENARIOS],
    /// Outbox transitions the dispatcher does not count: cancelled (unsubscribe, scenario
    /// disabled) and failed entries an operator sent again.
    pub outbox_cancelled: AtomicU64,
    pub outbox_requeued: AtomicU64,
    /// The newest trigger written and the last one the fan-out has handled: the
    /// difference is the fan-out's backlog.
    pub last_trigger_id: AtomicU64,
    pub fanout_cursor: AtomicU64,
    fatal: Mutex<Option<String>>,
    /// Attribution counters per scenario: the durable sums read at start
    /// (`store::attribution`) plus every credit written since.
    attribution: Mutex<BTreeMap<Scenario, Tally>>,
    /// Woken once when a fatal error is recorded.
    pub fatal_notify: tokio::sync::Notify,
    /// Latency histograms (delivery, fan-out, ingest ack), exported on `/metrics`.
    pub histograms: histograms::Histograms,
}

fn kind_index(kind: TriggerKind) -> usize {
    match kind {
        TriggerKind::BackInStock => 0,
        TriggerKind::LowStock => 1,
        TriggerKind::PriceDrop => 2,
        TriggerKind::NewArrival => 3,
    }
}

impl Metrics {
    /// Adds attribution credits (or, at start, the stored sums).
    pub fn add_attribution(&self, s: Scenario, t: &Tally) {
        if let Ok(mut m) = self.attribution.lock() {
            m.entry(s).or_default().add(t);
        }
    }

    /// A scenario's attribution counters.
    pub fn attribution(&self, s: Scenario) -> Tally {
        self.attribution
            .lock()
            .ok()
            .and_then(|m| m.get(&s).cloned())
            .unwrap_or_default()
    }

    pub fn add_batch(&self, applied: u64, rejected: u64) {
        self.batches.fetch_add(1, Relaxed);
        self.events_applied.fetch_add(applied, Relaxed);
        self.events_rejected.fetch_add(rejected, Relaxed);
    }

    pub fn add_duplicate(&self) {
        self.duplicates.fetch_add(1, Relaxed);
    }

    pub fn add_trigger(&self, kind: TriggerKind) {
        self.triggers[kind_index(kind)].fetch_add(1, Relaxed);
    }

    pub fn triggers_of(&self, kind: TriggerKind) -> u64 {
        self.triggers[kind_index(kind)].load(Relaxed)
    }

    /// Triggers fired for a stock scenario (0 for an order scenario: no trigger).
    pub fn triggered(&self, s: Scenario) -> u64 {
        s.trigger().map_or(0, |k| self.triggers_of(k))
    }

    pub fn scenario(&self, s: Scenario) -> &ScenarioCounters {
        &self.scenarios[scenario_index(s)]
    }

    pub fn add_suppressed(&self, s: Scenario, r: SuppressReason, n: u64) {
        self.scenario(s).suppressed[reason_index(r)].fetch_add(n, Relaxed);
    }

    pub fn suppressed(&self, s: Scenario, r: SuppressReason) -> u64 {
        self.scenario(s).suppressed[reason_index(r)].load(Relaxed)
    }

    pub fn set_active_actors(&self, products: usize, customers: usize) {
        self.active_products.store(products as u64, Relaxed);
        self.active_customers.store(customers as u64, Relaxed);
    }

    /// Records an internal error after which the daemon must restart to stay correct.
    pub fn set_fatal(&self, why: &str) {
        tracing::error!(reason = why, "Internal error: stockbelld stops taking work and exits so it restarts from the durable state.");
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert_with(|| why.to_owned());
        }
        self.fatal_notify.notify_one();
    }

    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().ok().and_then(|f| f.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_counts_on_its_own() {
        let m = Metrics::default();
        for (n, s) in Scenario::ALL.into_iter().enumerate() {
            m.scenario(s).queued.fetch_add(n as u64 + 1, Relaxed);
            m.add_suppressed(s, SuppressReason::Disabled, n as u64 + 1);
        }
        for (n, s) in Scenario::ALL.into_iter().enumerate() {
            assert_eq!(m.scenario(s).queued.load(Relaxed), n as u64 + 1, "{s:?}");
            assert_eq!(m.suppressed(s, SuppressReason::Disabled), n as u64 + 1);
        }
        m.add_trigger(TriggerKind::LowStock);
        assert_eq!(m.triggered(Scenario::LowStock), 1);
        assert_eq!(m.triggered(Scenario::Shipped), 0);
    }
}
