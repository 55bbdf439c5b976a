//! The customer's actor's attribution hooks: an order placed is recorded in the
//! customer's engagement and credited (`domain::lifecycle::attribution`), and every
//! marketing message the actor writes to the outbox counts as a send. The credits go
//! back with the customer's state, so the Router writes both in one batch.

use crate::domain::lifecycle::attribution::{AttributionWindows, OrderFacts, ScenarioCredit};
use crate::domain::message::NewEntry;
use crate::domain::order::OrderEvent;
use crate::domain::profile::CustomerState;
use crate::domain::Millis;

/// The facts of a placed order (its total is Σ quantity × unit price).
pub fn facts(event: &OrderEvent, at: Millis) -> Option<OrderFacts> {
    let OrderEvent::Placed(p) = event else {
        return None;
    };
    let total_minor = p
        .lines
        .iter()
        .map(|l| l.quantity.saturating_mul(l.unit_price_minor))
        .fold(0i64, i64::saturating_add);
    Some(OrderFacts {
        order_id: p.order_id.clone(),
        at_ms: at,
        currency: p.currency.clone(),
        total_minor,
        skus: p.lines.iter().map(|l| l.sku.clone()).collect(),
    })
}

/// An order event was applied: a placed order is the customer's last order and is
/// credited (once, however often the shop sends it).
pub fn order_applied(
    c: &mut CustomerState,
    event: &OrderEvent,
    at: Millis,
    windows: &AttributionWindows,
) -> Vec<ScenarioCredit> {
    let Some(order) = facts(event, at) else {
        return Vec::new();
    };
    let life = &mut c.lifecycle;
    life.engagement.record_order(at);
    life.attribution.on_order(&life.engagement, &order, windows)
}

/// A purchase with an order id is an order the customer placed: engagement, the
/// sunset, the repurchase interval and attribution count it, unless its id was counted
/// already (its `order_placed`, or the same purchase sent again). `None` = nothing
/// changed.
pub fn purchase_applied(
    c: &mut CustomerState,
    order: &OrderFacts,
    windows: &AttributionWindows,
) -> Option<Vec<ScenarioCredit>> {
    let life = &mut c.lifecycle;
    let known = c.orders.iter().any(|o| o.order_id == order.order_id);
    if known || life.attribution.counted_orders.contains(&order.order_id) {
        return None;
    }
    life.engagement.record_order(order.at_ms);
    life.lapse.record_order(order.at_ms);
    life.hygiene.record_interest(order.at_ms);
    Some(life.attribution.on_order(&life.engagement, order, windows))
}

/// Marketing messages written to the outbox: one send each.
pub fn entries_written(c: &mut CustomerState, entries: &[NewEntry]) -> Vec<ScenarioCredit> {
    entries
        .iter()
        .filter(|e| e.scenario.is_marketing())
        .map(|e| {
            c.lifecycle
                .attribution
                .on_sent(e.scenario, e.channel, e.created_ms)
        })
        .collect()
}

#[cfg(test)]
#[path = "customer_attribution_tests.rs"]
mod tests;
