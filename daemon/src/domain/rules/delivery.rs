//! The delivery rules in force, validated from the `[rules]` and `[scenarios.*]` config
//! sections (and operators' changes): per scenario its switch, priority, channels,
//! threshold and batching, the caps, quiet hours and the arbitration window, and the
//! order scenarios' own settings.

use super::arbitration::ScenarioRules;
use super::caps::CapRule;
use super::order_messages::{OrderMessageRules, QuietMode};
use super::quiet::QuietHours;
use crate::domain::customer::Scenario;

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
    /// When a customer has lapsed, and the birthday's send time and coupon.
    pub lapse: crate::domain::lifecycle::lapse::LapseRules,
}

impl DeliveryRules {
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

    /// What a message of `s` does inside the customer's quiet hours.
    pub fn quiet_mode(&self, s: Scenario) -> QuietMode {
        self.orders.quiet_mode(s)
    }

    /// (per_unit, batch_interval_ms) of a scenario.
    pub fn batching(&self, s: Scenario) -> (u32, i64) {
        self.batching
            .iter()
            .find(|(x, ..)| *x == s)
            .map_or((0, 0), |b| (b.1, b.2))
    }
}
