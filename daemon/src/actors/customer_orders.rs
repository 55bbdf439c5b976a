//! A customer's orders, as that customer's actor follows them (it is their one owner):
//! shop events (`domain::order::state::apply`), the products' word about lines (they
//! wait, they were in stock, stock was allocated to them) and the order timer. Each
//! returns what the customer should be told, by order; `customer.rs` turns that into
//! messages and schedules the next order timer.

use std::collections::HashMap;

use super::customer::CancelLinkFn;
use crate::domain::customer::{Channel, Scenario, SuppressReason};
use crate::domain::message::{
    MessageContext, NewEntry, OrderContext, OrderLineContext, ShipmentContext,
};
use crate::domain::order::state::{
    self, CancelOutcome, CancelRequest, Effects, LineVerdict, Notice, OrderCadence, OrderNotice,
    OrderState,
};
use crate::domain::order::{LineNotice, LineNoticeKind, OrderEvent};
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerState;
use crate::domain::rules::arbitration::{choose_channel, Addresses, Profile};
use crate::domain::rules::delivery::DeliveryRules;
use crate::domain::rules::order_messages::QuietMode;
use crate::domain::rules::quiet::{parse_tz, release_time};
use crate::domain::{Millis, Rejection};

/// A notice about one order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderNews {
    pub order_id: String,
    pub notice: Notice,
}

/// Applies a shop event to one of the customer's orders (a placed order is added).
pub fn on_event(
    c: &mut CustomerState,
    event: &OrderEvent,
    at: Millis,
    cadence: &OrderCadence,
) -> Result<Vec<OrderNews>, Rejection> {
    let id = event.order_id();
    let at_index = c.orders.iter().position(|o| o.order_id == id);
    let mut order: Option<OrderState> = at_index.map(|i| c.orders[i].clone());
    let fx = state::apply(&mut order, event, at, cadence)?;
    let counted = c
        .lifecycle
        .attribution
        .counted_orders
        .iter()
        .any(|o| o == id);
    if matches!(event, OrderEvent::Placed(_)) && at_index.is_none() && !counted {
        // The customer's own repurchase interval, for win-back: once per order (not
        // again when the shop re-sends it, or after its `purchase` counted it).
        c.lifecycle.lapse.record_order(at);
    }
    if let Some(o) = order {
        match at_index {
            Some(i) => c.orders[i] = o,
            None => c.orders.push(o),
        }
    }
    // The order aggregates follow the order (before a finished order may be forgotten).
    if let Some(i) = c.orders.iter().position(|o| o.order_id == id) {
        let placed = matches!(event, OrderEvent::Placed(_));
        c.lifecycle.aggregates.order_synced(&c.orders[i], placed);
    }
    forget_finished(c, cadence);
    Ok(news(id, fx))
}

/// Finished orders kept per customer (every line shipped and delivered, cancelled or
/// refunded, nothing more due); older ones are forgotten so a loyal customer's state
/// stays small. An event about a forgotten order is refused like an unknown one.
pub const FINISHED_KEPT: usize = 50;

fn forget_finished(c: &mut CustomerState, cadence: &OrderCadence) {
    let finished = |o: &OrderState| {
        o.lines.iter().all(|l| !l.status.is_open()) && o.next_due_ms(cadence).is_none()
    };
    let n = c.orders.iter().filter(|o| finished(o)).count();
    let mut drop = n.saturating_sub(FINISHED_KEPT);
    if drop > 0 {
        // Orders are kept oldest first: the oldest finished ones go.
        c.orders.retain(|o| {
            if drop > 0 && finished(o) {
                drop -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// The refusal for an order the customer does not have (never placed, another
/// customer's, or finished and forgotten).
pub fn unknown_order(order_id: &str) -> Rejection {
    Rejection::new(
        "cancel_request.order_id",
        format!(
            "no order {order_id:?} of this customer: never placed, or finished and no longer kept"
        ),
    )
}

/// The customer asked to cancel one of their orders: `Some(request)` when recorded now
/// (for the cancellation-request log), `None` when they had asked before (nothing
/// changes); refused when the order is unknown or has no line left to cancel.
pub fn request_cancel(
    c: &mut CustomerState,
    order_id: &str,
    at: Millis,
) -> Result<Option<CancelRequest>, Rejection> {
    let Some(order) = c.orders.iter_mut().find(|o| o.order_id == order_id) else {
        return Err(unknown_order(order_id));
    };
    Ok(match state::request_cancel(order, at)? {
        CancelOutcome::Recorded { open_lines } => Some(CancelRequest {
            order_id: order.order_id.clone(),
            customer_id: c.id.clone(),
            line_ids: open_lines,
            requested_at_ms: at,
        }),
        CancelOutcome::AlreadyRequested { .. } => None,
    })
}

/// A product's word about lines of one of the customer's orders. A notice about an
/// order this customer does not have (it cannot happen: orders are indexed at
/// placement) is logged and dropped.
pub fn on_lines(
    c: &mut CustomerState,
    n: &LineNotice,
    at: Millis,
    cadence: &OrderCadence,
) -> Vec<OrderNews> {
    let Some(order) = c.orders.iter_mut().find(|o| o.order_id == n.order_id) else {
        tracing::warn!(order_id = %n.order_id, customer_id = %c.id, "A notice about lines of an order the customer does not have; dropped.");
        return Vec::new();
    };
    let fx = match n.kind {
        LineNoticeKind::Allocated => state::arrived(order, &n.line_ids, at, cadence),
        LineNoticeKind::Waiting | LineNoticeKind::InStock => {
            let verdicts: Vec<LineVerdict> = n
                .line_ids
                .iter()
                .map(|id| LineVerdict {
                    line_id: id.clone(),
                    waits: n.kind == LineNoticeKind::Waiting,
                })
                .collect();
            match state::line_verdicts(order, &verdicts, at, cadence) {
                Ok(fx) => fx,
                Err(r) => {
                    tracing::warn!(order_id = %n.order_id, reason = %r.reason, "A product's verdict on lines was refused.");
                    return Vec::new();
                }
            }
        }
    };
    news(&n.order_id, fx)
}

/// The order timer: every order whose next step is due.
pub fn on_tick(c: &mut CustomerState, at: Millis, cadence: &OrderCadence) -> Vec<OrderNews> {
    let mut out = Vec::new();
    for order in &mut c.orders {
        if order.next_due_ms(cadence).is_some_and(|due| due <= at) {
            let fx = state::tick(order, at, cadence);
            out.extend(news(&order.order_id, fx));
        }
    }
    out
}

/// When the customer's orders next need the timer.
pub fn next_due(c: &CustomerState, cadence: &OrderCadence) -> Option<Millis> {
    c.orders.iter().filter_map(|o| o.next_due_ms(cadence)).min()
}

fn news(order_id: &str, fx: Effects) -> Vec<OrderNews> {
    fx.notices
        .into_iter()
        .map(|notice| OrderNews {
            order_id: order_id.to_owned(),
            notice,
        })
        .collect()
}

/// The order timings in force (operators may change them at run time).
pub fn cadence(rules: &DeliveryRules) -> OrderCadence {
    let o = &rules.orders;
    OrderCadence {
        update_every_ms: o.update_every_ms,
        followup_after_ms: o.followup_after_ms,
        cross_sell_after_order_ms: o.cross_sell_order.after_ms,
        cross_sell_after_delivery_ms: o.cross_sell_delivery.after_ms,
    }
}

/// The SKUs of the lines the news is about (their products give titles and pictures).
pub fn skus(c: &CustomerState, news: &[OrderNews]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in news {
        let Some(order) = c.order(&n.order_id) else {
            continue;
        };
        for id in &n.notice.lines {
            if let Some(l) = order.line(id) {
                if !out.contains(&l.placed.sku) {
                    out.push(l.placed.sku.clone());
                }
            }
        }
    }
    out
}

/// Messages made from order news, and what was not sent and why.
#[derive(Debug, Default)]
pub struct Made {
    pub entries: Vec<NewEntry>,
    pub suppressed: Vec<(Scenario, SuppressReason)>,
}

/// The scenario of a notice.
pub fn scenario(kind: OrderNotice) -> Scenario {
    match kind {
        OrderNotice::Confirmation => Scenario::BackorderConfirmation,
        OrderNotice::Update => Scenario::BackorderUpdate,
        OrderNotice::Arrived => Scenario::Arrived,
        OrderNotice::Delayed { .. } => Scenario::Delayed,
        OrderNotice::Shipped => Scenario::Shipped,
        OrderNotice::DeliveredFollowUp => Scenario::DeliveredFollowup,
        OrderNotice::CrossSellAfterOrder => Scenario::CrossSellOrder,
        OrderNotice::CrossSellAfterDelivery => Scenario::CrossSellDelivery,
    }
}

/// The notice of a cross-sell scenario (the after-delivery one for any other).
pub fn notice_of(s: Scenario) -> OrderNotice {
    match s {
        Scenario::CrossSellOrder => OrderNotice::CrossSellAfterOrder,
        _ => OrderNotice::CrossSellAfterDelivery,
    }
}

/// Turns order updates into messages: one per notice, on the first of the scenario's
/// channels the customer has a working address for (`choose_channel`: no marketing
/// consent, caps or unsubscribe apply to them), due at once, or at the end of the customer's quiet hours
/// when the scenario waits for the morning. The confirmation, updates and delay notices
/// carry the signed cancel link (`cancel_link`) until the customer has used it.
/// Cross-sell offers are not made here (they are marketing: `cross_sell.rs` picks them
/// and `domain::decide` decides them); one that reaches this is counted as disabled.
pub fn messages(
    c: &CustomerState,
    news: Vec<OrderNews>,
    products: &HashMap<String, ProductState>,
    rules: &DeliveryRules,
    cancel_link: &CancelLinkFn,
    now: Millis,
) -> Made {
    let mut made = Made::default();
    for n in news {
        let scenario = scenario(n.notice.kind);
        let Some(order) = c.order(&n.order_id) else {
            continue;
        };
        if scenario.is_marketing() || !rules.enabled(scenario) {
            made.suppressed.push((scenario, SuppressReason::Disabled));
            continue;
        }
        let Some(scenario_rules) = rules.scenarios.iter().find(|r| r.scenario == scenario) else {
            made.suppressed.push((scenario, SuppressReason::Disabled));
            continue;
        };
        let profile = Profile {
            consent: &c.consent,
            suppressed: &c.suppressed,
            addresses: Addresses {
                email: c.has_address(Channel::Email),
                line: c.has_address(Channel::Line),
            },
        };
        let channel = match choose_channel(scenario_rules, &profile) {
            Ok(channel) => channel,
            Err(reason) => {
                made.suppressed.push((scenario, reason));
                continue;
            }
        };
        let Some(address) = c.address(channel).map(str::to_owned) else {
            continue;
        };
        let due_ms = match rules.quiet_mode(scenario) {
            QuietMode::Send => now,
            QuietMode::Wait => match parse_tz(&c.time_zone) {
                Ok(tz) => release_time(now, tz, &rules.quiet),
                Err(_) => now,
            },
        };
        let context = MessageContext {
            scenario,
            locale: c.locale,
            customer_id: c.id.clone(),
            items: Vec::new(),
            unsubscribe_url: String::new(),
            order: Some(order_context(c, order, &n.notice, products, rules, |o| {
                cancel_link(&c.id, o, now)
            })),
        };
        made.entries.push(NewEntry {
            customer_id: c.id.clone(),
            channel,
            address,
            scenario,
            context,
            created_ms: now,
            due_ms,
        });
    }
    made
}

/// The order part of a message about `notice` (for a cross-sell offer, its order).
pub fn order_context(
    c: &CustomerState,
    order: &OrderState,
    notice: &Notice,
    products: &HashMap<String, ProductState>,
    rules: &DeliveryRules,
    cancel_link: impl Fn(&str) -> String,
) -> OrderContext {
    let lines: Vec<OrderLineContext> = notice
        .lines
        .iter()
        .filter_map(|id| order.line(id))
        .map(|l| {
            let p = products.get(&l.placed.sku);
            OrderLineContext {
                line_id: l.id().to_owned(),
                sku: l.placed.sku.clone(),
                title: p.map_or_else(|| l.placed.sku.clone(), |p| p.catalogue.title.clone()),
                quantity: l.placed.quantity,
                url: p.map(|p| p.catalogue.url.clone()).unwrap_or_default(),
                image_url: p.map(|p| p.catalogue.image_url.clone()).unwrap_or_default(),
                promise: l.promise,
                waited: l.waiting_since_ms.is_some(),
            }
        })
        .collect();
    let first = notice.lines.first().and_then(|id| order.line(id));
    let shipment = match notice.kind {
        OrderNotice::Shipped => first
            .and_then(|l| l.shipment.as_ref())
            .map(|s| ShipmentContext {
                carrier: s.carrier.clone(),
                tracking_number: s.tracking_number.clone(),
                tracking_url: s.tracking_url.clone(),
            }),
        _ => None,
    };
    let delay_reason = match notice.kind {
        OrderNotice::Delayed { .. } => first
            .and_then(|l| l.delay_reason.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let review_url = match notice.kind {
        OrderNotice::DeliveredFollowUp => rules
            .orders
            .review_link(&order.order_id, &c.id)
            .unwrap_or_default(),
        _ => String::new(),
    };
    // Offered while the customer waits (and has not asked already): the confirmation,
    // the updates and the delay notice.
    let offers_cancel = matches!(
        notice.kind,
        OrderNotice::Confirmation | OrderNotice::Update | OrderNotice::Delayed { .. }
    ) && order.cancel_requested_at_ms.is_none()
        && !order.open_lines().is_empty();
    let cancel_url = if offers_cancel {
        cancel_link(&order.order_id)
    } else {
        String::new()
    };
    OrderContext {
        order_id: order.order_id.clone(),
        time_zone: c.time_zone.clone(),
        lines,
        delay_reason,
        shipment,
        cancel_url,
        review_url,
        coupon_code: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{BackorderMark, Lines, OrderCancelled, OrderLine, OrderPlaced};

    fn placed(id: &str) -> OrderEvent {
        OrderEvent::Placed(OrderPlaced {
            order_id: id.into(),
            customer_id: "c1".into(),
            currency: "JPY".into(),
            coupon_code: String::new(),
            lines: vec![OrderLine {
                line_id: "1".into(),
                sku: "A".into(),
                quantity: 1,
                unit_price_minor: 100,
                backorder: BackorderMark::InStock,
                promise: None,
            }],
        })
    }

    fn cancelled(id: &str) -> OrderEvent {
        OrderEvent::Cancelled(OrderCancelled {
            order_id: id.into(),
            customer_id: "c1".into(),
            lines: Lines::All,
            reason: "changed my mind".into(),
        })
    }

    #[test]
    fn only_the_newest_finished_orders_are_kept() {
        let cadence = OrderCadence::default();
        let mut c = CustomerState::bare("c1", "UTC", 0);
        let total = FINISHED_KEPT + 5;
        for i in 0..total {
            let id = format!("o{i}");
            let at = i as i64 * 1000;
            assert!(on_event(&mut c, &placed(&id), at, &cadence).is_ok());
            assert!(on_event(&mut c, &cancelled(&id), at + 1, &cadence).is_ok());
        }
        // One more, still open: never forgotten.
        assert!(on_event(&mut c, &placed("open"), 1_000_000, &cadence).is_ok());
        assert_eq!(c.orders.len(), FINISHED_KEPT + 1);
        assert!(
            c.order("o0").is_none(),
            "the oldest finished order is forgotten"
        );
        assert!(c.order(&format!("o{}", total - 1)).is_some());
        assert!(c.order("open").is_some());
    }
}
