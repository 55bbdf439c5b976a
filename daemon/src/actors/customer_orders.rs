//! A customer's orders, as that customer's actor follows them (it is their one owner):
//! shop events (`domain::order::state::apply`), the products' word about lines (they
//! wait, they were in stock, stock was allocated to them) and the order timer. Each
//! returns what the customer should be told, by order; `customer.rs` turns that into
//! messages and schedules the next order timer.

use crate::domain::order::state::{self, Effects, Notice, OrderCadence, OrderState};
use crate::domain::order::{LineNotice, LineNoticeKind, OrderEvent};
use crate::domain::order::state::LineVerdict;
use crate::domain::profile::CustomerState;
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
    if let Some(o) = order {
        match at_index {
            Some(i) => c.orders[i] = o,
            None => c.orders.push(o),
        }
    }
    Ok(news(id, fx))
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
