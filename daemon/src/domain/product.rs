//! A product's state and how one event changes it: the pure core of the ProductActor.
//! `apply` either refuses the event (state untouched) or updates the state and reports
//! the triggers that fired, the durable timers to write or remove, and the notices about
//! order lines for their customers. The product also keeps its backorder book
//! (`order::backorder`): placed lines that wait for stock, and on a stock rise the
//! allocation to them; back in stock and low stock see only the units no line is owed
//! (`ProductState::available`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::interest::{InterestOp, NOTIFY_ME_DEFAULT_MS};
use super::order::backorder::{BackorderBook, BookLine};
use super::order::{LineNotice, LineNoticeKind};
use super::triggers::{self, LowReason};
use super::velocity::{cover_days, Velocity};
use super::Signal;
use super::{
    AdjustReason, Catalogue, FiredTrigger, Millis, ProductEvent, Rejection, TimerKind, TimerOp,
    TriggerConfig, TriggerKind,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricePoint {
    pub at_ms: Millis,
    pub price_minor: i64,
}

/// A lower price waiting to hold until `due_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDrop {
    pub price_minor: i64,
    pub due_ms: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NewArrival {
    /// Not announced yet; fires once visible and stocked within the grace period.
    Pending,
    /// Announced, expired, or imported as an existing product.
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arming {
    pub back_in_stock: bool,
    pub low_stock: bool,
    pub price_drop: Option<PendingDrop>,
    pub new_arrival: NewArrival,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductState {
    pub sku: String,
    pub catalogue: Catalogue,
    pub price_minor: i64,
    pub price_since_ms: Millis,
    /// The last settled price; drops are measured against it.
    pub reference_price_minor: i64,
    pub price_history: Vec<PricePoint>,
    pub stock: i64,
    pub velocity: Velocity,
    pub arming: Arming,
    pub created_ms: Millis,
    pub updated_ms: Millis,
    /// Order lines owed by this product: waiting for stock, or allocated and not shipped.
    pub book: BackorderBook,
}

/// An interest edge change for (this product, `customer_id`), with the product's
/// categories so the customer's category affinity moves too.
#[derive(Debug, Clone, PartialEq)]
pub struct InterestWrite {
    pub customer_id: String,
    pub op: InterestOp,
    pub categories: Vec<String>,
}

/// What applying events produced, accumulated over a batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Effects {
    pub triggers: Vec<FiredTrigger>,
    pub timers: Vec<TimerOp>,
    pub interest: Vec<InterestWrite>,
    /// What the orders' customers must hear about their lines (waits, in stock,
    /// allocated), for the order-notice log.
    pub notices: Vec<LineNotice>,
}

impl ProductState {
    pub fn visible(&self, t: Millis) -> bool {
        self.catalogue.display_window.contains(t)
    }

    pub fn on_sale(&self, t: Millis) -> bool {
        self.catalogue.sale_window.contains(t)
    }

    /// The stock back in stock, low stock and their messages see: the units no order
    /// line is owed (`BackorderBook::free`); plain `stock` while the book is empty.
    pub fn available(&self) -> i64 {
        if self.book.is_empty() {
            self.stock
        } else {
            self.book.free(self.stock)
        }
    }

    pub fn velocity_per_day(&self, t: Millis, cfg: &TriggerConfig) -> f64 {
        self.velocity.per_day(t, cfg.velocity_half_life_ms)
    }

    /// When stock runs out at the current velocity, if it sells at all.
    pub fn predicted_sellout_ms(&self, t: Millis, cfg: &TriggerConfig) -> Option<Millis> {
        cover_days(self.stock, self.velocity_per_day(t, cfg))
            .map(|d| t + (d * super::MS_PER_DAY) as Millis)
    }

    fn visible_since(&self) -> Millis {
        let start = self
            .catalogue
            .display_window
            .start_ms
            .unwrap_or(self.created_ms);
        start.max(self.created_ms)
    }

    /// The price drops are measured against at `t`: the last settled price, or the
    /// current price once it has held `stable_for` with no drop pending.
    pub fn reference_price_at(&self, t: Millis, cfg: &TriggerConfig) -> i64 {
        match self.arming.price_drop {
            None if t - self.price_since_ms >= cfg.stable_for_ms => self.price_minor,
            _ => self.reference_price_minor,
        }
    }

    fn fire(
        &self,
        kind: TriggerKind,
        at: Millis,
        old: (i64, i64),
        reason: String,
        cfg: &TriggerConfig,
    ) -> FiredTrigger {
        let v = self.velocity_per_day(at, cfg);
        let stock = self.available();
        FiredTrigger {
            kind,
            sku: self.sku.clone(),
            at_ms: at,
            old_stock: old.0,
            new_stock: stock,
            velocity_per_day: v,
            cover_days: cover_days(stock, v),
            old_price_minor: old.1,
            new_price_minor: self.price_minor,
            reason,
            catalogue: Some(self.catalogue.clone()),
        }
    }
}

fn unknown_sku(sku: &str) -> Rejection {
    Rejection {
        field: "sku".into(),
        reason: format!(
            "unknown sku {sku:?}: send a product_upsert for it before stock, sale or price events"
        ),
    }
}

fn negative(field: &'static str, sku: &str, what: &str, result: i64) -> Rejection {
    Rejection {
        field: field.into(),
        reason: format!(
            "sku {sku:?}: {what} would make stock {result} for a product that is not backorderable; \
             send the real stock with stock_set or mark the product backorderable"
        ),
    }
}

/// Applies one event at event time `at`. On `Err` nothing changed.
pub fn apply(
    state: &mut Option<ProductState>,
    sku: &str,
    event: &ProductEvent,
    at: Millis,
    cfg: &TriggerConfig,
    fx: &mut Effects,
) -> Result<(), Rejection> {
    if let ProductEvent::Upsert {
        catalogue,
        price_minor,
        imported,
    } = event
    {
        match state {
            None => {
                *state = Some(create(
                    sku,
                    catalogue.clone(),
                    *price_minor,
                    *imported,
                    at,
                    fx,
                ))
            }
            Some(st) => {
                let old_start = st.catalogue.display_window.start_ms;
                st.catalogue = catalogue.clone();
                set_price(st, *price_minor, at, cfg, fx);
                if st.catalogue.display_window.start_ms != old_start {
                    schedule_display_start(st, at, fx);
                }
            }
        }
        if let Some(st) = state {
            st.updated_ms = st.updated_ms.max(at);
            check_new_arrival(st, at, cfg, fx);
        }
        return Ok(());
    }
    let Some(st) = state else {
        return match event {
            ProductEvent::Timer(_) | ProductEvent::OrderLineDone { .. } => Ok(()),
            // A product stockbell does not know has no stock to wait for.
            ProductEvent::OrderLine { line, .. } => {
                fx.notices.push(notice(
                    sku,
                    &line.customer_id,
                    &line.order_id,
                    LineNoticeKind::InStock,
                    vec![line.line_id.clone()],
                    at,
                ));
                Ok(())
            }
            _ => Err(unknown_sku(sku)),
        };
    };
    let backorderable = st.catalogue.backorderable;
    match *event {
        ProductEvent::Upsert { .. } => {}
        ProductEvent::StockSet { quantity } => {
            if quantity < 0 && !backorderable {
                return Err(negative("stock_set.quantity", sku, "stock_set", quantity));
            }
            let restock = quantity > st.stock;
            change_stock(st, quantity, restock, at, cfg, fx);
        }
        ProductEvent::StockAdjust { delta, reason } => {
            let new = st.stock.saturating_add(delta);
            if new < 0 && !backorderable && delta < 0 {
                return Err(negative(
                    "stock_adjust.delta",
                    sku,
                    &format!("a stock adjust of {delta}"),
                    new,
                ));
            }
            if reason == AdjustReason::Sale {
                st.velocity.record(-delta, at, cfg.velocity_half_life_ms);
            }
            change_stock(st, new, reason == AdjustReason::Restock, at, cfg, fx);
        }
        ProductEvent::Sale { quantity } => {
            let new = st.stock.saturating_sub(quantity);
            if new < 0 && !backorderable {
                return Err(negative(
                    "sale.quantity",
                    sku,
                    &format!("a sale of {quantity}"),
                    new,
                ));
            }
            st.velocity.record(quantity, at, cfg.velocity_half_life_ms);
            change_stock(st, new, false, at, cfg, fx);
        }
        ProductEvent::PriceSet { price_minor } => set_price(st, price_minor, at, cfg, fx),
        ProductEvent::Timer(TimerKind::PriceStable) => {
            if let Some(pd) = st.arming.price_drop {
                if pd.due_ms == at && pd.price_minor == st.price_minor {
                    settle_drop(st, at, cfg, fx);
                }
            }
        }
        ProductEvent::Timer(TimerKind::DisplayStart) => check_new_arrival(st, at, cfg, fx),
        // Customer timers never reach a product.
        ProductEvent::Timer(
            TimerKind::CustomerArbitrate
            | TimerKind::CustomerQuiet
            | TimerKind::CustomerOrders
            | TimerKind::CustomerJourney
            | TimerKind::CustomerLapse,
        ) => {}
        ProductEvent::Interest {
            ref customer_id,
            ref signal,
        } => {
            record_interest(st, customer_id, signal, at, fx);
            // Interest lives on the edge, not in the product state.
            return Ok(());
        }
        ProductEvent::OrderLine { ref line, mark } => {
            let placed = st.book.place(line.clone(), mark, backorderable, st.stock);
            let kind = if placed.waits {
                LineNoticeKind::Waiting
            } else {
                LineNoticeKind::InStock
            };
            fx.notices.push(notice(
                sku,
                &line.customer_id,
                &line.order_id,
                kind,
                vec![line.line_id.clone()],
                at,
            ));
        }
        ProductEvent::OrderLineDone {
            ref order_id,
            ref line_id,
        } => {
            if st.book.remove(order_id, line_id).is_none() {
                // Not owed by this product (it shipped from stock): nothing to change.
                return Ok(());
            }
        }
    }
    st.updated_ms = st.updated_ms.max(at);
    Ok(())
}

fn record_interest(
    st: &ProductState,
    customer_id: &str,
    signal: &Signal,
    at: Millis,
    fx: &mut Effects,
) {
    let seen_price = st.price_minor;
    let op = match *signal {
        Signal::Favourite => InterestOp::Favourite {
            at_ms: at,
            seen_price,
        },
        Signal::Unfavourite => InterestOp::Unfavourite { at_ms: at },
        Signal::View { dwell_ms } => InterestOp::View {
            at_ms: at,
            dwell_ms,
            seen_price,
        },
        Signal::CartAdd => InterestOp::CartAdd {
            at_ms: at,
            seen_price,
        },
        Signal::CartRemove => InterestOp::CartRemove { at_ms: at },
        Signal::NotifyMe { until_ms } => InterestOp::NotifyMe {
            at_ms: at,
            until_ms: until_ms.unwrap_or(at.saturating_add(NOTIFY_ME_DEFAULT_MS)),
            seen_price,
        },
        Signal::Purchase => InterestOp::Purchase { at_ms: at },
    };
    fx.interest.push(InterestWrite {
        customer_id: customer_id.to_owned(),
        op,
        categories: st.catalogue.category_ids.clone(),
    });
}

fn create(
    sku: &str,
    catalogue: Catalogue,
    price: i64,
    imported: bool,
    at: Millis,
    fx: &mut Effects,
) -> ProductState {
    let st = ProductState {
        sku: sku.to_owned(),
        catalogue,
        price_minor: price,
        price_since_ms: at,
        reference_price_minor: price,
        price_history: vec![PricePoint {
            at_ms: at,
            price_minor: price,
        }],
        stock: 0,
        book: BackorderBook::default(),
        velocity: Velocity {
            sum: 0.0,
            at_ms: at,
        },
        arming: Arming {
            back_in_stock: false,
            low_stock: false,
            price_drop: None,
            new_arrival: if imported {
                NewArrival::Done
            } else {
                NewArrival::Pending
            },
        },
        created_ms: at,
        updated_ms: at,
    };
    schedule_display_start(&st, at, fx);
    st
}

/// A display window opening later gets a durable timer, so the new arrival is noticed
/// even if no other event comes for this product.
fn schedule_display_start(st: &ProductState, at: Millis, fx: &mut Effects) {
    if let (NewArrival::Pending, Some(start)) =
        (st.arming.new_arrival, st.catalogue.display_window.start_ms)
    {
        if start > at {
            fx.timers.push(TimerOp {
                due_ms: start,
                kind: TimerKind::DisplayStart,
                put: true,
            });
        }
    }
}

fn change_stock(
    st: &mut ProductState,
    new: i64,
    restock: bool,
    at: Millis,
    cfg: &TriggerConfig,
    fx: &mut Effects,
) {
    let old_stock = st.stock;
    let old = st.available();
    st.stock = new;
    allocate(st, old_stock, at, fx);
    let new = st.available();
    let live = st.visible(at) && st.on_sale(at);
    let price = st.price_minor;
    if new <= 0 && old > 0 {
        st.arming.back_in_stock = true;
    }
    let back = triggers::back_in_stock(st.arming.back_in_stock, new, cfg);
    if back {
        st.arming.back_in_stock = false;
        if live {
            let reason = format!(
                "stock went from sold out to {new} (minimum {})",
                cfg.min_restock_qty
            );
            fx.triggers
                .push(st.fire(TriggerKind::BackInStock, at, (old, price), reason, cfg));
        }
    }
    let v = st.velocity_per_day(at, cfg);
    let low = triggers::low_stock(new, v, cfg);
    if restock && low.is_none() {
        st.arming.low_stock = true;
    }
    // A restock announced as back in stock is not also "only a few left": its audience
    // is released in batches, which low stock to everyone would defeat. Low stock stays
    // armed and may fire on a later change.
    if back {
        check_new_arrival(st, at, cfg, fx);
        return;
    }
    if let (true, Some(why)) = (st.arming.low_stock, low) {
        st.arming.low_stock = false;
        if live {
            let reason = match why {
                LowReason::Threshold => format!("{new} left, at or below {}", cfg.low_stock_qty),
                LowReason::SelloutWithin(days) => {
                    format!("{new} left selling {v:.2}/day: sells out in {days:.1} days")
                }
            };
            fx.triggers
                .push(st.fire(TriggerKind::LowStock, at, (old, price), reason, cfg));
        }
    }
    check_new_arrival(st, at, cfg, fx);
}

/// Arrived stock goes to the waiting lines first (oldest first, whole lines): one notice
/// per order whose lines it covered.
fn allocate(st: &mut ProductState, old_stock: i64, at: Millis, fx: &mut Effects) {
    if st.book.is_empty() {
        return;
    }
    let allocation = st.book.on_stock(old_stock, st.stock, at);
    // Orders in allocation order (oldest first), found by id: a restock can cover tens of
    // thousands of orders, and a scan per line made that quadratic (1.4 s for 30,000).
    let mut per_order: Vec<(&BookLine, Vec<String>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for line in &allocation.covered {
        match index.get(line.order_id.as_str()) {
            Some(&i) => {
                if let Some((_, ids)) = per_order.get_mut(i) {
                    ids.push(line.line_id.clone());
                }
            }
            None => {
                index.insert(&line.order_id, per_order.len());
                per_order.push((line, vec![line.line_id.clone()]));
            }
        }
    }
    for (line, ids) in per_order {
        fx.notices.push(notice(
            &st.sku,
            &line.customer_id,
            &line.order_id,
            LineNoticeKind::Allocated,
            ids,
            at,
        ));
    }
}

fn notice(
    sku: &str,
    customer_id: &str,
    order_id: &str,
    kind: LineNoticeKind,
    line_ids: Vec<String>,
    at: Millis,
) -> LineNotice {
    LineNotice {
        customer_id: customer_id.to_owned(),
        order_id: order_id.to_owned(),
        sku: sku.to_owned(),
        kind,
        line_ids,
        at_ms: at,
    }
}

fn set_price(st: &mut ProductState, price: i64, at: Millis, cfg: &TriggerConfig, fx: &mut Effects) {
    // The price that held until now settles first: a pending drop whose time has come
    // fires, and any other price that held for `stable_for` becomes the reference.
    match st.arming.price_drop {
        Some(pd) if pd.due_ms <= at && pd.price_minor == st.price_minor => {
            settle_drop(st, pd.due_ms, cfg, fx)
        }
        None => st.reference_price_minor = st.reference_price_at(at, cfg),
        _ => {}
    }
    if price == st.price_minor {
        return;
    }
    st.price_minor = price;
    st.price_since_ms = at;
    st.price_history.push(PricePoint {
        at_ms: at,
        price_minor: price,
    });
    let excess = st
        .price_history
        .len()
        .saturating_sub(cfg.price_history_len.max(1));
    st.price_history.drain(..excess);
    if let Some(old) = st.arming.price_drop.take() {
        fx.timers.push(TimerOp {
            due_ms: old.due_ms,
            kind: TimerKind::PriceStable,
            put: false,
        });
    }
    if triggers::price_drop(st.reference_price_minor, price, cfg) {
        let due = at.saturating_add(cfg.stable_for_ms);
        st.arming.price_drop = Some(PendingDrop {
            price_minor: price,
            due_ms: due,
        });
        if cfg.stable_for_ms <= 0 {
            settle_drop(st, at, cfg, fx);
        } else {
            fx.timers.push(TimerOp {
                due_ms: due,
                kind: TimerKind::PriceStable,
                put: true,
            });
        }
    }
}

/// The lower price has held: it becomes the reference, and the drop fires if the product
/// can be bought now.
fn settle_drop(st: &mut ProductState, at: Millis, cfg: &TriggerConfig, fx: &mut Effects) {
    st.arming.price_drop = None;
    let old = st.reference_price_minor;
    st.reference_price_minor = st.price_minor;
    if st.visible(at) && st.on_sale(at) && st.stock > 0 {
        let pct = (old - st.price_minor) as f64 * 100.0 / old as f64;
        let reason = format!(
            "price {} → {} ({pct:.1}% lower), held {} ms",
            old, st.price_minor, cfg.stable_for_ms
        );
        fx.triggers
            .push(st.fire(TriggerKind::PriceDrop, at, (st.stock, old), reason, cfg));
    }
}

fn check_new_arrival(st: &mut ProductState, at: Millis, cfg: &TriggerConfig, fx: &mut Effects) {
    if st.arming.new_arrival != NewArrival::Pending {
        return;
    }
    let since = st.visible_since();
    if at < since {
        return;
    }
    if at - since > cfg.new_arrival_grace_ms {
        st.arming.new_arrival = NewArrival::Done;
        return;
    }
    if triggers::new_arrival(st.visible(at), at - since, st.stock, cfg) {
        st.arming.new_arrival = NewArrival::Done;
        let reason = format!("visible since {since} with {} in stock", st.stock);
        let price = st.price_minor;
        fx.triggers
            .push(st.fire(TriggerKind::NewArrival, at, (st.stock, price), reason, cfg));
    }
}

#[cfg(test)]
#[path = "product_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "product_orders_tests.rs"]
mod orders_tests;
