//! Attribution of orders to the scenario of the customer's last click, and the holdout
//! comparison: a customer's part (`Attribution`, written with the customer's state) and
//! the per-scenario credits an event adds (`Tally`, summed in the `scenario_attribution`
//! column family by a merge operator).
//!
//! Invariant: a credit is only ever produced together with the state change that records
//! it (an order id in `counted_orders`, an exposure's `converted` flag, a first exposure),
//! and both are written in one batch; so a credit is counted exactly once, also when the
//! shop re-sends the order or the daemon restarts.

pub mod holdout;
pub mod lift;

use serde::{Deserialize, Serialize};

use super::engagement::{Click, Engagement};
use crate::domain::customer::{Channel, Scenario};
use crate::domain::Millis;

/// Order ids kept per customer to count each order once (the newest are kept).
pub const COUNTED_KEPT: usize = 100;

const DAY_MS: Millis = 86_400_000;

/// How long after a click (or a send, for the holdout comparison) an order is credited,
/// per channel of the message (config `[attribution]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributionWindows {
    pub email_ms: Millis,
    pub line_ms: Millis,
    pub webhook_ms: Millis,
}

impl Default for AttributionWindows {
    fn default() -> Self {
        AttributionWindows {
            email_ms: 5 * DAY_MS,
            line_ms: DAY_MS,
            webhook_ms: DAY_MS,
        }
    }
}

impl AttributionWindows {
    pub fn of(&self, c: Channel) -> Millis {
        match c {
            Channel::Email => self.email_ms,
            Channel::Line => self.line_ms,
            Channel::Webhook => self.webhook_ms,
        }
    }

    /// The longest window: how long clicks must be kept.
    pub fn longest(&self) -> Millis {
        self.email_ms.max(self.line_ms).max(self.webhook_ms)
    }

    /// Whether an order at `order_ms` falls in the window of an event at `at_ms`.
    fn covers(&self, c: Channel, at_ms: Millis, order_ms: Millis) -> bool {
        at_ms <= order_ms && order_ms - at_ms <= self.of(c)
    }
}

/// Which side of a scenario's holdout split a customer is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arm {
    /// Sent the scenario's messages.
    Sent,
    /// Kept from them by the holdout hash; the would-have-been sends are recorded.
    HeldOut,
}

/// A customer's exposure to one marketing scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    pub scenario: Scenario,
    /// Fixed by the first exposure (a later change of `holdout_pct` moves new customers
    /// only, so each customer is counted on one side).
    pub arm: Arm,
    /// The last send (or would-have-been send) and its channel: the window runs from it.
    pub last_ms: Millis,
    pub channel: Channel,
    /// The customer has ordered within the window after an exposure (counted once).
    pub converted: bool,
}

/// A customer's attribution state (customers v4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// One per marketing scenario the customer was sent, or held out of.
    pub exposures: Vec<Exposure>,
    /// Orders already counted, oldest first (at most `COUNTED_KEPT`).
    pub counted_orders: Vec<String>,
}

/// Revenue in one currency, in its minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revenue {
    pub currency: String,
    pub minor: i64,
}

/// Per-scenario counters. An event's credit is a `Tally` of what it adds; the store
/// keeps their sum per scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Marketing messages of the scenario written to the outbox.
    pub messages: u64,
    /// Orders credited to the scenario (last click within the window).
    pub orders: u64,
    /// Of those, orders with one of the clicked message's SKUs, and orders without.
    pub notified_sku_orders: u64,
    pub other_sku_orders: u64,
    /// The credited orders' totals, per currency, sorted by currency.
    pub revenue: Vec<Revenue>,
    /// Customers sent the scenario, and those of them who ordered within the window.
    pub sent_customers: u64,
    pub sent_converted: u64,
    /// Customers held out of it, and those of them who ordered within the window.
    pub held_customers: u64,
    pub held_converted: u64,
}

impl Tally {
    /// Adds `other` (saturating; revenue per currency).
    pub fn add(&mut self, other: &Tally) {
        self.messages = self.messages.saturating_add(other.messages);
        self.orders = self.orders.saturating_add(other.orders);
        self.notified_sku_orders = self
            .notified_sku_orders
            .saturating_add(other.notified_sku_orders);
        self.other_sku_orders = self.other_sku_orders.saturating_add(other.other_sku_orders);
        self.sent_customers = self.sent_customers.saturating_add(other.sent_customers);
        self.sent_converted = self.sent_converted.saturating_add(other.sent_converted);
        self.held_customers = self.held_customers.saturating_add(other.held_customers);
        self.held_converted = self.held_converted.saturating_add(other.held_converted);
        for r in &other.revenue {
            self.add_revenue(&r.currency, r.minor);
        }
    }

    fn add_revenue(&mut self, currency: &str, minor: i64) {
        match self
            .revenue
            .binary_search_by(|r| r.currency.as_str().cmp(currency))
        {
            Ok(i) => self.revenue[i].minor = self.revenue[i].minor.saturating_add(minor),
            Err(i) => self.revenue.insert(
                i,
                Revenue {
                    currency: currency.to_owned(),
                    minor,
                },
            ),
        }
    }

    /// Credited orders ÷ messages (0 before any message).
    pub fn conversion_rate(&self) -> f64 {
        if self.messages == 0 {
            0.0
        } else {
            self.orders as f64 / self.messages as f64
        }
    }
}

/// What one event adds to one scenario's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioCredit {
    pub scenario: Scenario,
    pub tally: Tally,
}

/// The facts of an order that attribution reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub order_id: String,
    pub at_ms: Millis,
    pub currency: String,
    /// Σ quantity × unit price, in the currency's minor unit.
    pub total_minor: i64,
    pub skus: Vec<String>,
}

/// The click an order at `order_ms` is credited to: the last one within its channel's
/// window before the order (opens are never recorded as clicks, so they never count).
pub fn last_click<'a>(
    clicks: &'a [Click],
    order_ms: Millis,
    windows: &AttributionWindows,
) -> Option<&'a Click> {
    clicks
        .iter()
        .filter(|c| windows.covers(c.channel, c.at_ms, order_ms))
        .max_by_key(|c| (c.at_ms, c.entry_seq))
}

impl Attribution {
    fn exposure(&mut self, scenario: Scenario, arm: Arm, channel: Channel, at: Millis) -> bool {
        if let Some(e) = self.exposures.iter_mut().find(|e| e.scenario == scenario) {
            if at >= e.last_ms {
                e.last_ms = at;
                e.channel = channel;
            }
            return false;
        }
        self.exposures.push(Exposure {
            scenario,
            arm,
            last_ms: at,
            channel,
            converted: false,
        });
        true
    }

    /// A marketing message of `scenario` was written to the outbox at `at`.
    pub fn on_sent(&mut self, scenario: Scenario, channel: Channel, at: Millis) -> ScenarioCredit {
        let first = self.exposure(scenario, Arm::Sent, channel, at);
        ScenarioCredit {
            scenario,
            tally: Tally {
                messages: 1,
                sent_customers: u64::from(first),
                ..Tally::default()
            },
        }
    }

    /// The holdout kept a message of `scenario` (on `channel`) from the customer at `at`.
    pub fn on_held_out(
        &mut self,
        scenario: Scenario,
        channel: Channel,
        at: Millis,
    ) -> Option<ScenarioCredit> {
        self.exposure(scenario, Arm::HeldOut, channel, at)
            .then(|| ScenarioCredit {
                scenario,
                tally: Tally {
                    held_customers: 1,
                    ..Tally::default()
                },
            })
    }

    /// The customer placed an order: the credit for the scenario of the last click
    /// within its window, and a conversion for every exposure whose window covers the
    /// order (once per customer and scenario). An order already counted adds nothing.
    pub fn on_order(
        &mut self,
        engagement: &Engagement,
        order: &OrderFacts,
        windows: &AttributionWindows,
    ) -> Vec<ScenarioCredit> {
        if self.counted_orders.contains(&order.order_id) {
            return Vec::new();
        }
        self.counted_orders.push(order.order_id.clone());
        let over = self.counted_orders.len().saturating_sub(COUNTED_KEPT);
        self.counted_orders.drain(..over);
        let mut out: Vec<ScenarioCredit> = Vec::new();
        if let Some(click) = last_click(&engagement.clicks, order.at_ms, windows) {
            let notified = order.skus.iter().any(|s| click.skus.contains(s));
            let mut tally = Tally {
                orders: 1,
                notified_sku_orders: u64::from(notified),
                other_sku_orders: u64::from(!notified),
                ..Tally::default()
            };
            if !order.currency.is_empty() {
                // (A purchase without a currency counts without revenue.)
                tally.add_revenue(&order.currency, order.total_minor);
            }
            out.push(ScenarioCredit {
                scenario: click.scenario,
                tally,
            });
        }
        for e in &mut self.exposures {
            if e.converted || !windows.covers(e.channel, e.last_ms, order.at_ms) {
                continue;
            }
            e.converted = true;
            let tally = match e.arm {
                Arm::Sent => Tally {
                    sent_converted: 1,
                    ..Tally::default()
                },
                Arm::HeldOut => Tally {
                    held_converted: 1,
                    ..Tally::default()
                },
            };
            match out.iter_mut().find(|c| c.scenario == e.scenario) {
                Some(c) => c.tally.add(&tally),
                None => out.push(ScenarioCredit {
                    scenario: e.scenario,
                    tally,
                }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
