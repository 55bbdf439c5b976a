//! A customer's order aggregates, kept incrementally in the customer record (customers
//! v5) for segments and lifetime value (`domain::segments::build::row_of`), and the
//! shop's newsletter flag (`customer_upsert.subscribed`).
//!
//! Rules:
//! - a *counted order* is an order id from `order_placed` or `purchase` (with an order
//!   id), counted once per id across both: the first to arrive fixes the order's time; a
//!   later `order_placed` of an id a `purchase` counted replaces its lines and coupon
//!   (the order lifecycle then follows it);
//! - after every event about an order the customer's actor applied, the kept order is
//!   synced from the order's state ([`Aggregates::order_synced`]): a line cancelled leaves
//!   the order's amount and SKU units, a line refunded leaves the SKU units, the refunds'
//!   amounts lower the amount (never below 0); an order whose lines are all cancelled is
//!   wholly cancelled and no longer counted;
//! - at most [`MAX_KEPT_ORDERS`] orders are kept one by one (the newest); older ones are
//!   folded into [`Folded`] and no longer change (an event about a folded order is not
//!   reflected).
//!
//! Cancel / refund flags are sticky: a cancelled line later refunded stays cancelled.

use serde::{Deserialize, Serialize};

use crate::domain::order::state::{LineStatus, OrderState};
use crate::domain::segments::MAX_KEPT_ORDERS;
use crate::domain::Millis;

/// A customer's aggregates (customers v5; v4 records are seeded by [`Aggregates::seeded`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregates {
    /// Subscribed to the shop's newsletter (the last upsert's `subscribed`).
    pub subscribed: bool,
    /// Counted orders kept one by one, oldest first.
    pub orders: Vec<KeptOrder>,
    /// Counted orders older than `orders`, folded.
    pub earlier: Option<Folded>,
}

/// One counted order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptOrder {
    pub order_id: String,
    pub at_ms: Millis,
    /// Placed with a coupon code.
    pub coupon: bool,
    pub lines: Vec<KeptLine>,
    /// Sum of the order's refunds.
    pub refunded_minor: i64,
}

/// One line of a counted order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptLine {
    /// The shop's line id (a purchase item's 1-based position).
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    /// Quantity × unit price (a purchase item's amount).
    pub amount_minor: i64,
    pub cancelled: bool,
    pub refunded: bool,
}

/// A purchase item as counted: sku, quantity, amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseLine {
    pub sku: String,
    pub quantity: i64,
    pub amount_minor: i64,
}

/// Counted orders folded out of [`Aggregates::orders`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Folded {
    pub orders: u32,
    pub spend_minor: i64,
    pub first_ms: Millis,
    pub last_ms: Millis,
    pub coupon_orders: u32,
    /// Sum and count of the gaps between consecutive folded orders.
    pub gaps_ms: i64,
    pub gaps: u32,
    /// SKUs of the folded orders (with units left), in first-bought order.
    pub skus: Vec<FoldedSku>,
}

/// A SKU of the folded orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldedSku {
    pub sku: String,
    pub units: i64,
    /// 1-based indexes of the folded orders holding it, ascending.
    pub order_indexes: Vec<u32>,
    pub first_ms: Millis,
    pub last_ms: Millis,
}

impl KeptLine {
    /// Units still bought: 0 once cancelled or refunded.
    pub fn units(&self) -> i64 {
        if self.cancelled || self.refunded {
            0
        } else {
            self.quantity
        }
    }
}

impl KeptOrder {
    /// The lines' amount less cancelled lines and refunds, never below 0.
    pub fn amount_minor(&self) -> i64 {
        let lines = self
            .lines
            .iter()
            .filter(|l| !l.cancelled)
            .map(|l| l.amount_minor)
            .fold(0i64, i64::saturating_add);
        lines.saturating_sub(self.refunded_minor).max(0)
    }

    /// Every line cancelled: the order is not counted.
    pub fn wholly_cancelled(&self) -> bool {
        !self.lines.is_empty() && self.lines.iter().all(|l| l.cancelled)
    }

    /// Units per SKU still bought in this order (SKUs with units left only), in line
    /// order.
    pub fn sku_units(&self) -> Vec<(&str, i64)> {
        let mut out: Vec<(&str, i64)> = Vec::new();
        for l in &self.lines {
            let u = l.units();
            if u <= 0 {
                continue;
            }
            match out.iter_mut().find(|(s, _)| *s == l.sku) {
                Some((_, n)) => *n = n.saturating_add(u),
                None => out.push((&l.sku, u)),
            }
        }
        out
    }

    /// The kept form of an order's state (flags from its lines' statuses).
    fn of_state(o: &OrderState, at_ms: Millis) -> KeptOrder {
        KeptOrder {
            order_id: o.order_id.clone(),
            at_ms,
            coupon: !o.coupon_code.is_empty(),
            lines: o
                .lines
                .iter()
                .map(|l| KeptLine {
                    line_id: l.placed.line_id.clone(),
                    sku: l.placed.sku.clone(),
                    quantity: l.placed.quantity,
                    amount_minor: l.placed.quantity.saturating_mul(l.placed.unit_price_minor),
                    cancelled: l.status == LineStatus::Cancelled,
                    refunded: l.status == LineStatus::Refunded,
                })
                .collect(),
            refunded_minor: refunded_minor(o),
        }
    }

    /// Whether the order's state has the same lines (id, sku, quantity, amount).
    fn same_lines(&self, o: &OrderState) -> bool {
        self.lines.len() == o.lines.len()
            && self.lines.iter().zip(&o.lines).all(|(k, l)| {
                k.line_id == l.placed.line_id
                    && k.sku == l.placed.sku
                    && k.quantity == l.placed.quantity
                    && k.amount_minor == l.placed.quantity.saturating_mul(l.placed.unit_price_minor)
            })
    }
}

/// The sum of an order's refunds.
fn refunded_minor(o: &OrderState) -> i64 {
    o.refunds
        .iter()
        .map(|r| r.amount_minor)
        .fold(0i64, i64::saturating_add)
}

impl Aggregates {
    /// Whether `order_id` is a kept counted order.
    pub fn counts(&self, order_id: &str) -> bool {
        self.orders.iter().any(|o| o.order_id == order_id)
    }

    /// An event about order `o` was applied (`placed`: it was its `order_placed`). A
    /// placed order not counted yet is counted (unless wholly cancelled); a kept one
    /// takes the order's lines, coupon and refunds (flags stay set once set); a kept one
    /// now wholly cancelled leaves the counts.
    pub fn order_synced(&mut self, o: &OrderState, placed: bool) {
        match self.orders.iter().position(|k| k.order_id == o.order_id) {
            Some(i) if self.orders[i].same_lines(o) => {
                // The usual case (a cancel, a refund, a re-send): flags and sums in place.
                let k = &mut self.orders[i];
                for (kl, l) in k.lines.iter_mut().zip(&o.lines) {
                    kl.cancelled |= l.status == LineStatus::Cancelled;
                    kl.refunded |= l.status == LineStatus::Refunded;
                }
                k.coupon = !o.coupon_code.is_empty();
                k.refunded_minor = refunded_minor(o);
                if k.wholly_cancelled() {
                    self.orders.remove(i);
                }
            }
            Some(i) => {
                let kept = &self.orders[i];
                let mut next = KeptOrder::of_state(o, kept.at_ms);
                for l in &mut next.lines {
                    if let Some(old) = kept.lines.iter().find(|k| k.line_id == l.line_id) {
                        l.cancelled |= old.cancelled;
                        l.refunded |= old.refunded;
                    }
                }
                if next.wholly_cancelled() {
                    self.orders.remove(i);
                } else {
                    self.orders[i] = next;
                }
            }
            None if placed => {
                let next = KeptOrder::of_state(o, o.placed_ms);
                if !next.wholly_cancelled() {
                    self.insert(next);
                }
            }
            None => {}
        }
    }

    /// A `purchase` with an order id at `at_ms`; counted unless its id is counted
    /// already (the caller also checks the customer's orders). Returns whether it
    /// counted.
    pub fn purchased(&mut self, order_id: &str, at_ms: Millis, lines: &[PurchaseLine]) -> bool {
        if self.counts(order_id) {
            return false;
        }
        let lines = lines
            .iter()
            .enumerate()
            .map(|(i, l)| KeptLine {
                line_id: (i + 1).to_string(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                amount_minor: l.amount_minor,
                cancelled: false,
                refunded: false,
            })
            .collect();
        self.insert(KeptOrder {
            order_id: order_id.to_owned(),
            at_ms,
            coupon: false,
            lines,
            refunded_minor: 0,
        });
        true
    }

    /// Inserts a counted order in time order (after those at the same time), then folds
    /// the oldest beyond [`MAX_KEPT_ORDERS`].
    fn insert(&mut self, o: KeptOrder) {
        let i = self.orders.partition_point(|k| k.at_ms <= o.at_ms);
        self.orders.insert(i, o);
        while self.orders.len() > MAX_KEPT_ORDERS {
            let oldest = self.orders.remove(0);
            self.fold(oldest);
        }
    }

    fn fold(&mut self, o: KeptOrder) {
        let f = self.earlier.get_or_insert_with(Folded::default);
        if f.orders == 0 {
            f.first_ms = o.at_ms;
        } else {
            f.gaps_ms = f
                .gaps_ms
                .saturating_add(o.at_ms.saturating_sub(f.last_ms).max(0));
            f.gaps += 1;
            f.first_ms = f.first_ms.min(o.at_ms);
        }
        f.orders += 1;
        f.last_ms = f.last_ms.max(o.at_ms);
        f.spend_minor = f.spend_minor.saturating_add(o.amount_minor());
        f.coupon_orders += u32::from(o.coupon);
        let index = f.orders;
        for (sku, units) in o.sku_units() {
            match f.skus.iter_mut().find(|s| s.sku == sku) {
                Some(s) => {
                    s.units = s.units.saturating_add(units);
                    s.order_indexes.push(index);
                    s.first_ms = s.first_ms.min(o.at_ms);
                    s.last_ms = s.last_ms.max(o.at_ms);
                }
                None => f.skus.push(FoldedSku {
                    sku: sku.to_owned(),
                    units,
                    order_indexes: vec![index],
                    first_ms: o.at_ms,
                    last_ms: o.at_ms,
                }),
            }
        }
    }

    /// Aggregates seeded from a v4 record: its orders (each as placed, with its
    /// cancelled / refunded lines and refunds), plus the order times the lapse part kept
    /// (`order_times`, the newest 10) that match none of them, as orders without amount,
    /// lines or coupon. Not recoverable: forgotten orders (finished, beyond the newest
    /// 50) and purchases older than the newest 10 order times, the amounts and SKUs of
    /// purchases, and which order id a purchase had; `subscribed` starts false.
    pub fn seeded(orders: &[OrderState], order_times: &[Millis]) -> Aggregates {
        let mut a = Aggregates::default();
        let mut times: Vec<Millis> = order_times.to_vec();
        for o in orders {
            if let Some(i) = times.iter().position(|t| *t == o.placed_ms) {
                times.remove(i);
            }
            a.order_synced(o, true);
        }
        for (n, t) in times.into_iter().enumerate() {
            a.insert(KeptOrder {
                order_id: format!("v4-order-time-{}", n + 1),
                at_ms: t,
                coupon: false,
                lines: Vec::new(),
                refunded_minor: 0,
            });
        }
        a
    }
}

#[cfg(test)]
#[path = "aggregates_tests.rs"]
mod tests;
