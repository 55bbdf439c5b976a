//! `apply`: the shop's order events on an order's state. An event names its lines
//! (`Lines::Only`) or means every line it can still apply to (`Lines::All`). A named line
//! the event cannot apply to is refused with the reason and the fix; a line already where
//! the event would take it is skipped, so an identical re-send changes nothing. A refund
//! is the exception: every refund is recorded (amounts add up; the API's producer
//! sequence is what drops a re-sent one), and the lines it names become `Refunded`.

use super::{
    BookOp, Confirmation, Effects, LineExit, LineState, LineStatus, Notice, Once, OrderCadence,
    OrderNotice, OrderState, Refund, Refusal, Shipment,
};
use crate::domain::order::{
    BackorderMark, Lines, OrderCancelled, OrderDelayed, OrderDelivered, OrderEvent, OrderPlaced,
    OrderRefunded, OrderShipped, Promise,
};
use crate::domain::Millis;

/// Applies one shop event at event time `at_ms`. On `Err` nothing changed; on `Ok` with
/// `changed == false` (a re-send) nothing changed either.
pub fn apply(
    state: &mut Option<OrderState>,
    event: &OrderEvent,
    at_ms: Millis,
    cfg: &OrderCadence,
) -> Result<Effects, Refusal> {
    let Some(st) = state else {
        let OrderEvent::Placed(p) = event else {
            return Err(Refusal {
                field: ids(event).order_id.into(),
                reason: format!(
                    "unknown order {:?}: send order_placed for it before its {}",
                    event.order_id(),
                    event.name()
                ),
            });
        };
        validate_placed(p)?;
        let mut st = placed(p, at_ms, cfg);
        let mut fx = Effects {
            changed: true,
            ..Effects::default()
        };
        st.settle_confirmation(at_ms, &mut fx);
        let fx = st.finish(fx, cfg);
        *state = Some(st);
        return Ok(fx);
    };
    if st.customer_id != event.customer_id() {
        return Err(Refusal {
            field: ids(event).customer_id.into(),
            reason: format!(
                "order {:?} belongs to customer {:?}, not {:?}: send the order's own customer id",
                st.order_id,
                st.customer_id,
                event.customer_id()
            ),
        });
    }
    let mut next = st.clone();
    let mut fx = match event {
        OrderEvent::Placed(p) => replaced(st, p)?,
        OrderEvent::Shipped(e) => ship(&mut next, e, at_ms)?,
        OrderEvent::Delivered(e) => deliver(&mut next, e, at_ms, cfg)?,
        OrderEvent::Delayed(e) => delay(&mut next, e, at_ms)?,
        OrderEvent::Cancelled(e) => cancel(&mut next, e, at_ms)?,
        OrderEvent::Refunded(e) => refund(&mut next, e, at_ms)?,
    };
    if fx.changed {
        next.settle_confirmation(at_ms, &mut fx);
        if next.all_closed() {
            next.followup.stop();
            next.cross_sell_after_order.stop();
            next.cross_sell_after_delivery.stop();
        }
        *st = next;
    }
    Ok(st.finish(fx, cfg))
}

/// The fields of an event's message that name the order and its customer.
struct Ids {
    order_id: &'static str,
    customer_id: &'static str,
}

fn ids(event: &OrderEvent) -> Ids {
    let (order_id, customer_id) = match event {
        OrderEvent::Placed(_) => ("order_placed.order_id", "order_placed.customer_id"),
        OrderEvent::Shipped(_) => ("order_shipped.order_id", "order_shipped.customer_id"),
        OrderEvent::Delivered(_) => ("order_delivered.order_id", "order_delivered.customer_id"),
        OrderEvent::Delayed(_) => ("order_delayed.order_id", "order_delayed.customer_id"),
        OrderEvent::Cancelled(_) => ("order_cancelled.order_id", "order_cancelled.customer_id"),
        OrderEvent::Refunded(_) => ("order_refunded.order_id", "order_refunded.customer_id"),
    };
    Ids {
        order_id,
        customer_id,
    }
}

fn validate_placed(p: &OrderPlaced) -> Result<(), Refusal> {
    if p.lines.is_empty() {
        return Err(Refusal {
            field: "order_placed.lines".into(),
            reason: format!("order {:?} has no lines: send at least one", p.order_id),
        });
    }
    for (i, l) in p.lines.iter().enumerate() {
        if p.lines[..i].iter().any(|o| o.line_id == l.line_id) {
            return Err(Refusal {
                field: "order_placed.lines.line_id".into(),
                reason: format!(
                    "order {:?} has two lines with id {:?}: give every line its own id",
                    p.order_id, l.line_id
                ),
            });
        }
        if l.quantity <= 0 {
            return Err(Refusal {
                field: "order_placed.lines.quantity".into(),
                reason: format!(
                    "line {:?} of order {:?} has quantity {}: send 1 or more",
                    l.line_id, p.order_id, l.quantity
                ),
            });
        }
    }
    Ok(())
}

fn placed(p: &OrderPlaced, at_ms: Millis, cfg: &OrderCadence) -> OrderState {
    let lines = p
        .lines
        .iter()
        .map(|l| {
            let status = match l.backorder {
                BackorderMark::Backorder => LineStatus::Waiting,
                BackorderMark::InStock => LineStatus::InStock,
                BackorderMark::Unspecified => LineStatus::Pending,
            };
            LineState {
                placed: l.clone(),
                status,
                promise: l.promise.map_or(Promise::None, Promise::Window),
                waiting_since_ms: (status == LineStatus::Waiting).then_some(at_ms),
                allocated_ms: None,
                shipment: None,
                delivered_ms: None,
                closed_ms: None,
                cancel_reason: None,
                last_delay_ms: None,
                delay_reason: None,
                past_promise: false,
            }
        })
        .collect();
    OrderState {
        order_id: p.order_id.clone(),
        customer_id: p.customer_id.clone(),
        placed_ms: at_ms,
        currency: p.currency.clone(),
        coupon_code: p.coupon_code.clone(),
        lines,
        confirmation: Confirmation::Awaiting,
        last_notice_ms: None,
        followup: Once::NotYet,
        cross_sell_after_order: Once::Due {
            at_ms: at_ms.saturating_add(cfg.cross_sell_after_order_ms),
        },
        cross_sell_after_delivery: Once::NotYet,
        refunds: Vec::new(),
        cancel_requested_at_ms: None,
    }
}

/// An order placed again: the same content is a re-send, anything else a mistake.
fn replaced(st: &OrderState, p: &OrderPlaced) -> Result<Effects, Refusal> {
    let same = st.currency == p.currency
        && st.coupon_code == p.coupon_code
        && st.lines.len() == p.lines.len()
        && st.lines.iter().zip(&p.lines).all(|(l, n)| l.placed == *n);
    if same {
        return Ok(Effects::default());
    }
    Err(Refusal {
        field: "order_placed.order_id".into(),
        reason: format!(
            "order {:?} was already placed with other content (currency, coupon or lines): \
             use a new order id, or send order_cancelled / order_delayed to change it",
            st.order_id
        ),
    })
}

/// What an event does to a line in its current status.
enum Fit {
    Apply,
    /// Already where the event would take it.
    Skip,
    Refuse(String),
}

/// The lines an event applies to, by index. `Only`: every named line must exist and
/// not be refused. `All`: every line that fits; none at all is refused with `none_left`
/// unless some line was skipped (a re-send).
fn targets(
    st: &OrderState,
    field: &'static str,
    lines: &Lines,
    fit: impl Fn(&LineState) -> Fit,
    none_left: &str,
) -> Result<Vec<usize>, Refusal> {
    let refuse = |reason: String| Refusal {
        field: field.into(),
        reason,
    };
    let mut out = Vec::new();
    match lines {
        Lines::All => {
            let mut skipped = false;
            for (i, l) in st.lines.iter().enumerate() {
                match fit(l) {
                    Fit::Apply => out.push(i),
                    Fit::Skip => skipped = true,
                    Fit::Refuse(_) => {}
                }
            }
            if out.is_empty() && !skipped {
                return Err(refuse(format!("order {:?} {none_left}", st.order_id)));
            }
        }
        Lines::Only(ids) => {
            for id in ids {
                let Some(i) = st.lines.iter().position(|l| l.id() == id) else {
                    let known: Vec<&str> = st.lines.iter().map(LineState::id).collect();
                    return Err(refuse(format!(
                        "order {:?} has no line {id:?} (its lines: {}): name lines of the order, \
                         or send no lines for all of them",
                        st.order_id,
                        known.join(", ")
                    )));
                };
                match fit(&st.lines[i]) {
                    Fit::Apply if !out.contains(&i) => out.push(i),
                    Fit::Apply | Fit::Skip => {}
                    Fit::Refuse(why) => {
                        return Err(refuse(format!(
                            "line {id:?} of order {:?} {why}",
                            st.order_id
                        )))
                    }
                }
            }
        }
    }
    Ok(out)
}

fn book_op(st: &OrderState, i: usize, exit: LineExit) -> Option<BookOp> {
    let l = &st.lines[i];
    l.status.may_be_in_book().then(|| BookOp {
        sku: l.placed.sku.clone(),
        order_id: st.order_id.clone(),
        line_id: l.id().to_owned(),
        exit,
    })
}

fn closed_why(status: LineStatus) -> String {
    format!("was {}", status.as_str())
}

fn ship(st: &mut OrderState, e: &OrderShipped, at_ms: Millis) -> Result<Effects, Refusal> {
    let same = |s: &Option<Shipment>| {
        s.as_ref().is_some_and(|s| {
            s.carrier == e.carrier
                && s.tracking_number == e.tracking_number
                && s.tracking_url == e.tracking_url
        })
    };
    let fit = |l: &LineState| match l.status {
        s if s.is_open() => Fit::Apply,
        LineStatus::Shipped | LineStatus::Delivered if same(&l.shipment) => Fit::Skip,
        LineStatus::Shipped | LineStatus::Delivered => Fit::Refuse(format!(
            "already shipped with {} tracking {:?}: a shipment cannot change once the \
             customer was told; send only the lines of this shipment",
            l.shipment.as_ref().map_or("", |s| s.carrier.as_str()),
            l.shipment
                .as_ref()
                .map_or("", |s| s.tracking_number.as_str()),
        )),
        s => Fit::Refuse(format!(
            "{}: it cannot ship; send only lines that will ship",
            closed_why(s)
        )),
    };
    let idx = targets(
        st,
        "order_shipped.lines",
        &e.lines,
        fit,
        "has no line left to ship",
    )?;
    let mut fx = Effects::default();
    for &i in &idx {
        fx.book_ops.extend(book_op(st, i, LineExit::Shipped));
        let l = &mut st.lines[i];
        l.status = LineStatus::Shipped;
        l.shipment = Some(Shipment {
            carrier: e.carrier.clone(),
            tracking_number: e.tracking_number.clone(),
            tracking_url: e.tracking_url.clone(),
            at_ms,
        });
    }
    Ok(with_notice(st, fx, OrderNotice::Shipped, &idx))
}

fn deliver(
    st: &mut OrderState,
    e: &OrderDelivered,
    at_ms: Millis,
    cfg: &OrderCadence,
) -> Result<Effects, Refusal> {
    let fit = |l: &LineState| match l.status {
        LineStatus::Shipped => Fit::Apply,
        LineStatus::Delivered | LineStatus::Refunded => Fit::Skip,
        s if s.is_open() => Fit::Refuse(
            "has not shipped yet: send order_shipped for it first (delivered follows shipped)"
                .to_owned(),
        ),
        s => Fit::Refuse(format!("{}: it cannot be delivered", closed_why(s))),
    };
    let idx = targets(
        st,
        "order_delivered.lines",
        &e.lines,
        fit,
        "has no shipped line to deliver: send order_shipped first",
    )?;
    for &i in &idx {
        st.lines[i].status = LineStatus::Delivered;
        st.lines[i].delivered_ms = Some(at_ms);
    }
    if !idx.is_empty() {
        st.followup
            .schedule(at_ms.saturating_add(cfg.followup_after_ms));
        st.cross_sell_after_delivery
            .schedule(at_ms.saturating_add(cfg.cross_sell_after_delivery_ms));
    }
    Ok(Effects {
        changed: !idx.is_empty(),
        ..Effects::default()
    })
}

fn delay(st: &mut OrderState, e: &OrderDelayed, at_ms: Millis) -> Result<Effects, Refusal> {
    if let Promise::Window(w) = e.promise {
        if w.earliest_ms > w.latest_ms {
            return Err(Refusal {
                field: "order_delayed.promise".into(),
                reason: format!(
                    "the new window of order {:?} ends ({}) before it starts ({}): send \
                     earliest <= latest, or no window for \"we do not know yet\"",
                    e.order_id, w.latest_ms, w.earliest_ms
                ),
            });
        }
    }
    let fit = |l: &LineState| match l.status {
        s if s.is_open() => Fit::Apply,
        LineStatus::Shipped | LineStatus::Delivered => {
            Fit::Refuse("already shipped: a delay is about lines not shipped yet".to_owned())
        }
        s => Fit::Refuse(format!("{}: there is nothing to delay", closed_why(s))),
    };
    let idx = targets(
        st,
        "order_delayed.lines",
        &e.lines,
        fit,
        "has no line left that can be delayed (every line shipped, cancelled or refunded)",
    )?;
    let resent = idx.iter().all(|&i| {
        let l = &st.lines[i];
        l.promise == e.promise && l.delay_reason.as_deref() == Some(e.reason.as_str())
    });
    if resent {
        return Ok(Effects::default());
    }
    for &i in &idx {
        let l = &mut st.lines[i];
        l.promise = e.promise;
        l.delay_reason = Some(e.reason.clone());
        l.last_delay_ms = Some(at_ms);
        l.past_promise = false;
    }
    st.told(at_ms);
    Ok(with_notice(
        st,
        Effects::default(),
        OrderNotice::Delayed { auto: false },
        &idx,
    ))
}

fn cancel(st: &mut OrderState, e: &OrderCancelled, at_ms: Millis) -> Result<Effects, Refusal> {
    let fit = |l: &LineState| match l.status {
        s if s.is_open() => Fit::Apply,
        LineStatus::Cancelled | LineStatus::Refunded => Fit::Skip,
        _ => Fit::Refuse("already shipped: send order_refunded to record a refund".to_owned()),
    };
    let idx = targets(
        st,
        "order_cancelled.lines",
        &e.lines,
        fit,
        "has no line left to cancel (every line shipped): send order_refunded instead",
    )?;
    let mut fx = Effects::default();
    for &i in &idx {
        fx.book_ops.extend(book_op(st, i, LineExit::Cancelled));
        let l = &mut st.lines[i];
        l.status = LineStatus::Cancelled;
        l.closed_ms = Some(at_ms);
        l.cancel_reason = Some(e.reason.clone());
    }
    fx.changed = !idx.is_empty();
    Ok(fx)
}

fn refund(st: &mut OrderState, e: &OrderRefunded, at_ms: Millis) -> Result<Effects, Refusal> {
    // Any line may be refunded, whatever its status; `targets` only checks the names.
    targets(st, "order_refunded.lines", &e.lines, |_| Fit::Apply, "")?;
    let named: Vec<usize> = (0..st.lines.len())
        .filter(|&i| match &e.lines {
            Lines::All => true,
            Lines::Only(ids) => ids.iter().any(|id| id == st.lines[i].id()),
        })
        .collect();
    let mut fx = Effects {
        changed: true,
        ..Effects::default()
    };
    for &i in &named {
        if st.lines[i].status == LineStatus::Refunded {
            continue;
        }
        fx.book_ops.extend(book_op(st, i, LineExit::Refunded));
        st.lines[i].status = LineStatus::Refunded;
        st.lines[i].closed_ms = Some(at_ms);
    }
    st.refunds.push(Refund {
        at_ms,
        lines: named.iter().map(|&i| st.lines[i].id().to_owned()).collect(),
        amount_minor: e.amount_minor,
    });
    Ok(fx)
}

fn with_notice(st: &OrderState, mut fx: Effects, kind: OrderNotice, idx: &[usize]) -> Effects {
    if !idx.is_empty() {
        fx.changed = true;
        fx.notices.push(Notice {
            kind,
            lines: idx.iter().map(|&i| st.lines[i].id().to_owned()).collect(),
        });
    }
    fx
}
