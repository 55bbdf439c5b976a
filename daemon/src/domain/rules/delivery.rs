//! The delivery rules in force, validated from the `[rules]` and `[scenarios.*]` config
//! sections (and operators' changes): per scenario its switch, priority, channels,
//! threshold and batching, the caps, quiet hours and the arbitration window, and the
//! order scenarios' own settings; every marketing scenario's holdout share and the
//! attribution windows.

use super::arbitration::ScenarioRules;
use super::caps::CapRule;
use super::order_messages::{OrderMessageRules, QuietMode};
use super::quiet::QuietHours;
use crate::domain::customer::Scenario;
use crate::domain::lifecycle::attribution::holdout::{self, Holdout};
use crate::domain::lifecycle::attribution::AttributionWindows;

/// Everything the per-customer rules and the fan-out need, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRules {
    pub scenarios: Vec<ScenarioRules>,
    pub thresholds: Vec<(Scenario, f64)>,
    pub batching: Vec<(Scenario, u32, i64)>,
    pub caps: Vec<CapRule>,
    pub quiet: QuietHours,
    pub arbitration_window_ms: i64,
    /// Quiet-hours modes, cadence, delays, links and coupon of the order scenarios.
    pub orders: OrderMessageRules,
    /// Marketing scenarios with a holdout (`holdout_pct` > 0); any scenario not listed
    /// has none.
    pub holdouts: Vec<Holdout>,
    /// How long after a click or send an order counts (`[attribution]`).
    pub attribution: AttributionWindows,
    /// The abandoned cart / checkout journeys' idle time and steps.
    pub journeys: crate::domain::lifecycle::journey::JourneyRules,
    /// When a customer has lapsed, and the birthday's send time and coupon.
    pub lapse: crate::domain::lifecycle::lapse::LapseRules,
    /// Marketing scenarios' audiences by segment (`include_segments` /
    /// `exclude_segments`); a scenario not listed has none.
    pub audiences: Vec<(Scenario, crate::domain::segments::definition::Audience)>,
}

impl DeliveryRules {
    /// The scenario's audience by segment, when it has one.
    pub fn audience(&self, s: Scenario) -> Option<&crate::domain::segments::definition::Audience> {
        self.audiences
            .iter()
            .find(|(x, a)| *x == s && !a.is_empty())
            .map(|(_, a)| a)
    }

    pub fn threshold(&self, s: Scenario) -> f64 {
        self.thresholds
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0.0, |t| t.1)
    }

    pub fn enabled(&self, s: Scenario) -> bool {
        self.scenarios.iter().any(|r| r.scenario == s && r.enabled)
    }

    /// How long a queued marketing message of `s` stays worth sending (`None` for an
    /// order update, or without rules for it: no limit).
    pub fn max_age_ms(&self, s: Scenario) -> Option<i64> {
        if !s.is_marketing() {
            return None;
        }
        self.scenarios
            .iter()
            .find(|r| r.scenario == s)
            .map(|r| r.max_age_ms)
    }

    /// The cooldown of `s` (0 without rules for it).
    pub fn cooldown_ms(&self, s: Scenario) -> i64 {
        self.scenarios
            .iter()
            .find(|r| r.scenario == s)
            .map_or(0, |r| r.cooldown_ms)
    }

    /// What a message of `s` does inside the customer's quiet hours.
    pub fn quiet_mode(&self, s: Scenario) -> QuietMode {
        self.orders.quiet_mode(s)
    }

    /// The share (percent) of customers kept from marketing scenario `s`.
    pub fn holdout_pct(&self, s: Scenario) -> f64 {
        if !s.is_marketing() {
            return 0.0;
        }
        self.holdouts
            .iter()
            .find(|h| h.scenario == s)
            .map_or(0.0, |h| h.pct)
    }

    /// Whether the holdout keeps marketing scenario `s` from this customer (a fixed
    /// hash of the two: `holdout::bucket`). Every marketing scenario decided by
    /// `domain::decide` is checked; a scenario that sends by another path calls this.
    pub fn held_out(&self, customer_id: &str, s: Scenario) -> bool {
        holdout::held_out(customer_id, s, self.holdout_pct(s))
    }

    /// (per_unit, batch_interval_ms) of a scenario.
    pub fn batching(&self, s: Scenario) -> (u32, i64) {
        self.batching
            .iter()
            .find(|(x, ..)| *x == s)
            .map_or((0, 0), |b| (b.1, b.2))
    }
}
