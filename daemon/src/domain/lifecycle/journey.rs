//! The customer's cart and its abandoned-cart / checkout journey. Pure: time, the rules
//! and the products are parameters.
//!
//! Invariants a reader must not break:
//! - A step is due at `changed + idle + after[step]` and never fires earlier: `fire`
//!   only returns a step whose due time has passed (a stale timer does nothing).
//! - `next_step` moves on in the same state as the step's offers (the customer's actor
//!   writes them together), so a step is never sent twice and never lost, even across
//!   kill -9: the fired timer is deleted in that same write.
//! - Every cart change, order or purchase bumps `run`: offers carry their run in the
//!   candidate's `trigger_id`, and an offer of an older run no longer `holds` (it is
//!   dropped at arbitration or at the end of quiet hours). An order or purchase of a
//!   cart SKU ends the journey.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::customer::{Candidate, Scenario, Sent};
use crate::domain::decide::Offer;
use crate::domain::message::ItemContext;
use crate::domain::product::ProductState;
use crate::domain::worth::still_worth_sending;
use crate::domain::{Millis, TriggerConfig};

/// Most lines a cart keeps; a line added beyond it replaces nothing and is ignored.
pub const MAX_LINES: usize = 50;

/// One line of the cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub quantity: i64,
    pub added_ms: Millis,
    /// The unit price the shop showed when the line was added (`cart_add.unit_price_minor`);
    /// `None`: the product's price at `added_ms` from its price history, read at step time.
    pub unit_price_minor: Option<i64>,
}

/// A line left out of a reminder (sold out, not on sale): shown with a notify-me hint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftOut {
    pub sku: String,
    pub title: String,
    pub url: String,
    pub image_url: String,
}

/// The cart and where its journey stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    pub lines: Vec<CartLine>,
    /// The last cart change (add, remove, checkout started): the journey's clock.
    pub changed_ms: Option<Millis>,
    /// A checkout was started since the cart was last emptied, ordered or bought.
    pub checkout: bool,
    /// Bumped by every change and every end; names the journey an offer belongs to.
    pub run: u32,
    /// The step to send next.
    pub next_step: u32,
    /// When `next_step` is due; `None`: no journey running.
    pub due_ms: Option<Millis>,
    /// The lines the last step left out, for its message's notify-me hint.
    pub left_out: Vec<LeftOut>,
}

/// The journeys' settings (`[journeys]`, `after` of the two scenarios), in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyRules {
    pub idle_ms: i64,
    pub cart_after_ms: Vec<i64>,
    pub checkout_after_ms: Vec<i64>,
}

impl Default for JourneyRules {
    fn default() -> Self {
        const H: i64 = 3_600_000;
        JourneyRules {
            idle_ms: H,
            cart_after_ms: vec![24 * H, 72 * H],
            checkout_after_ms: vec![H],
        }
    }
}

/// A change to the cart, from the shop's events.
#[derive(Debug, Clone, PartialEq)]
pub enum CartChange {
    Add {
        sku: String,
        quantity: i64,
        unit_price_minor: Option<i64>,
    },
    Remove {
        sku: String,
    },
    /// `lines` empty: the cart as it is.
    CheckoutStarted {
        lines: Vec<NewLine>,
    },
    /// An order placed or a purchase of these SKUs.
    Bought {
        skus: Vec<String>,
    },
}

/// A line named by `checkout_started`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: Option<i64>,
}

/// A step that came due: its scenario, run and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub scenario: Scenario,
    pub run: u32,
    pub index: u32,
}

/// What a journey timer means now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fire {
    /// No step is due (a timer left by an earlier clock, or the journey ended).
    Nothing,
    /// The step waits for the abandonment cooldown: set a timer then.
    Later(Millis),
    /// Send this step (the journey has moved on to the next).
    Step(Step),
}

/// The lines of a reminder and the lines it leaves out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reminder {
    pub offers: Vec<Offer>,
    pub left_out: Vec<LeftOut>,
}

/// The candidate key of a step's offers: run and step.
pub fn trigger_id(run: u32, step: u32) -> u64 {
    (u64::from(run) << 32) | u64::from(step)
}

impl Journey {
    pub fn scenario(&self) -> Scenario {
        if self.checkout {
            Scenario::CheckoutAbandoned
        } else {
            Scenario::CartAbandoned
        }
    }

    fn offsets<'r>(&self, rules: &'r JourneyRules) -> &'r [i64] {
        if self.checkout {
            &rules.checkout_after_ms
        } else {
            &rules.cart_after_ms
        }
    }

    /// When step `i` of the running journey is due (`None`: no such step).
    pub fn step_due_ms(&self, i: u32, rules: &JourneyRules) -> Option<Millis> {
        let after = *self.offsets(rules).get(i as usize)?;
        let changed = self.changed_ms?;
        Some(changed.saturating_add(rules.idle_ms).saturating_add(after))
    }

    fn end(&mut self) {
        self.run = self.run.wrapping_add(1);
        self.due_ms = None;
        self.checkout = false;
        self.left_out.clear();
    }

    /// Applies a change at `at`; returns whether anything changed and the timer to set.
    pub fn apply(
        &mut self,
        change: CartChange,
        at: Millis,
        rules: &JourneyRules,
    ) -> (bool, Option<Millis>) {
        match change {
            CartChange::Add {
                sku,
                quantity,
                unit_price_minor,
            } => match self.lines.iter().position(|l| l.sku == sku) {
                Some(i) => self.lines[i].quantity = self.lines[i].quantity.saturating_add(quantity),
                None if self.lines.len() >= MAX_LINES => return (false, None),
                None => self.lines.push(CartLine {
                    sku,
                    quantity,
                    added_ms: at,
                    unit_price_minor,
                }),
            },
            CartChange::Remove { sku } => {
                let before = self.lines.len();
                self.lines.retain(|l| l.sku != sku);
                if self.lines.len() == before {
                    return (false, None);
                }
            }
            CartChange::CheckoutStarted { lines } => {
                if !lines.is_empty() {
                    let old = std::mem::take(&mut self.lines);
                    for n in lines.into_iter().take(MAX_LINES) {
                        let was = old.iter().find(|l| l.sku == n.sku);
                        self.lines.push(CartLine {
                            added_ms: was.map_or(at, |l| l.added_ms),
                            unit_price_minor: n
                                .unit_price_minor
                                .or(was.and_then(|l| l.unit_price_minor)),
                            sku: n.sku,
                            quantity: n.quantity,
                        });
                    }
                }
                self.checkout = true;
            }
            CartChange::Bought { skus } => {
                let before = self.lines.len();
                self.lines.retain(|l| !skus.contains(&l.sku));
                if self.lines.len() == before {
                    return (false, None);
                }
                self.end();
                return (true, None);
            }
        }
        self.changed_ms = Some(at);
        if self.lines.is_empty() {
            self.end();
            return (true, None);
        }
        self.run = self.run.wrapping_add(1);
        self.next_step = 0;
        self.left_out.clear();
        self.due_ms = self.step_due_ms(0, rules);
        (true, self.due_ms)
    }

    /// A journey timer fired at `now`. `cooldown_until`: no abandonment message before
    /// this (the latest one's time plus its scenario's cooldown).
    pub fn fire(&mut self, now: Millis, rules: &JourneyRules, cooldown_until: Millis) -> Fire {
        let Some(due) = self.due_ms else {
            return Fire::Nothing;
        };
        if due > now {
            return Fire::Nothing;
        }
        if cooldown_until > now {
            self.due_ms = Some(cooldown_until);
            return Fire::Later(cooldown_until);
        }
        let step = Step {
            scenario: self.scenario(),
            run: self.run,
            index: self.next_step,
        };
        if self.step_due_ms(step.index, rules).is_none() {
            // The steps were shortened by a config change: the journey is over.
            self.due_ms = None;
            return Fire::Nothing;
        }
        self.next_step += 1;
        self.due_ms = self.step_due_ms(self.next_step, rules).map(|d| d.max(now));
        Fire::Step(step)
    }

    /// Whether a reminder line decided at `decided_ms` still stands when its message goes
    /// out late: the cart has not changed since (a change starts a new journey with its
    /// own reminders) and the line is still in it (not removed, ordered or bought).
    pub fn still_holds(&self, sku: &str, decided_ms: Millis) -> bool {
        self.changed_ms.is_none_or(|c| c <= decided_ms) && self.lines.iter().any(|l| l.sku == sku)
    }

    /// Whether an offer of a journey step is still about this cart: same run, and the
    /// line is still in the cart (not removed, ordered or bought since).
    pub fn holds(&self, o: &Offer) -> bool {
        o.candidate.trigger_id >> 32 == u64::from(self.run)
            && self.lines.iter().any(|l| l.sku == o.candidate.sku)
    }

    /// The offers of `step`: each line whose product can be bought now (visible, on sale,
    /// in stock or backorderable), at its current price, with the price when it was
    /// added as `old_price_minor` when that was higher; the other lines are left out.
    pub fn reminder(
        &self,
        step: Step,
        products: &HashMap<String, ProductState>,
        now: Millis,
        cfg: &TriggerConfig,
    ) -> Reminder {
        let mut out = Reminder::default();
        let n = self.lines.len();
        for (i, l) in self.lines.iter().enumerate() {
            let p = products.get(&l.sku);
            let item = |p: &ProductState| ItemContext {
                sku: l.sku.clone(),
                title: p.catalogue.title.clone(),
                url: p.catalogue.url.clone(),
                image_url: p.catalogue.image_url.clone(),
                currency: p.catalogue.currency.clone(),
                price_minor: p.price_minor,
                old_price_minor: added_price(l, p).filter(|was| *was > p.price_minor),
                stock_left: None,
            };
            match p {
                Some(p)
                    if still_worth_sending(step.scenario, &item(p), Some(p), now, cfg).is_ok() =>
                {
                    out.offers.push(Offer {
                        candidate: Candidate {
                            trigger_id: trigger_id(step.run, step.index),
                            scenario: step.scenario,
                            sku: l.sku.clone(),
                            at_ms: now,
                            // The cart's order: first added first.
                            score: (n - i) as f64,
                        },
                        item: item(p),
                    })
                }
                Some(p) => out.left_out.push(LeftOut {
                    sku: l.sku.clone(),
                    title: p.catalogue.title.clone(),
                    url: p.catalogue.url.clone(),
                    image_url: p.catalogue.image_url.clone(),
                }),
                // Gone from the catalogue: nothing to show, not even a link.
                None => {}
            }
        }
        out
    }
}

/// The unit price when `l` was added: the shop's, or the product's at that time.
fn added_price(l: &CartLine, p: &ProductState) -> Option<i64> {
    l.unit_price_minor.or_else(|| {
        p.price_history
            .iter()
            .rev()
            .find(|pt| pt.at_ms <= l.added_ms)
            .map(|pt| pt.price_minor)
    })
}

/// The time before which no abandonment message may go out: the latest one in the
/// ledger plus its scenario's cooldown (`cooldown_of`).
pub fn cooldown_until(ledger: &[Sent], cooldown_of: impl Fn(Scenario) -> i64) -> Millis {
    ledger
        .iter()
        .filter(|s| s.scenario.is_journey())
        .map(|s| s.at_ms.saturating_add(cooldown_of(s.scenario)))
        .max()
        .unwrap_or(Millis::MIN)
}

#[cfg(test)]
#[path = "journey_tests.rs"]
mod tests;
