//! What reaches an order from inside stockbell rather than from the shop: the products'
//! verdicts on unmarked lines, allocations of arrived stock, and the order's timers.

use super::{
    Effects, LineStatus, LineVerdict, Notice, OrderCadence, OrderNotice, OrderState, Refusal,
};
use crate::domain::Millis;

/// The products' verdicts on unmarked lines; once no line is `Pending`, the backorder
/// confirmation is decided. A verdict on a line already decided (by the shop's mark, or
/// shipped or cancelled meanwhile) changes nothing.
pub fn line_verdicts(
    st: &mut OrderState,
    verdicts: &[LineVerdict],
    at_ms: Millis,
    cfg: &OrderCadence,
) -> Result<Effects, Refusal> {
    if let Some(v) = verdicts.iter().find(|v| st.line(&v.line_id).is_none()) {
        return Err(Refusal {
            field: "line_id".into(),
            reason: format!(
                "order {:?} has no line {:?}: a verdict must name a line of the order",
                st.order_id, v.line_id
            ),
        });
    }
    let mut fx = Effects::default();
    for v in verdicts {
        if let Some(l) = st.lines.iter_mut().find(|l| l.id() == v.line_id) {
            if l.status == LineStatus::Pending {
                fx.changed = true;
                if v.waits {
                    l.status = LineStatus::Waiting;
                    l.waiting_since_ms = Some(at_ms);
                } else {
                    l.status = LineStatus::InStock;
                }
            }
        }
    }
    st.settle_confirmation(at_ms, &mut fx);
    Ok(st.finish(fx, cfg))
}

/// Stock was allocated to these lines: each still waiting becomes `Allocated` and the
/// customer is told it arrived. Lines shipped or cancelled meanwhile, or unknown, are
/// left alone (the book removal is already on its way to the product).
pub fn arrived(
    st: &mut OrderState,
    line_ids: &[String],
    at_ms: Millis,
    cfg: &OrderCadence,
) -> Effects {
    let mut fx = Effects::default();
    let mut covered = Vec::new();
    for l in &mut st.lines {
        let named = line_ids.iter().any(|id| id == l.id());
        if named && matches!(l.status, LineStatus::Pending | LineStatus::Waiting) {
            l.status = LineStatus::Allocated;
            l.allocated_ms = Some(at_ms);
            covered.push(l.id().to_owned());
        }
    }
    if !covered.is_empty() {
        fx.changed = true;
        fx.notices.push(Notice {
            kind: OrderNotice::Arrived,
            lines: covered,
        });
        st.settle_confirmation(at_ms, &mut fx);
    }
    st.finish(fx, cfg)
}

/// Timers at `at_ms`: promises passed (automatic delay), the backorder update, the
/// follow-up and the cross-sells. A delay notice in the same tick makes the update wait
/// a full `update_every` again.
pub fn tick(st: &mut OrderState, at_ms: Millis, cfg: &OrderCadence) -> Effects {
    let mut fx = Effects::default();
    let missed = st.ids_where(|l| l.promise_missed(at_ms));
    if !missed.is_empty() {
        for l in st.lines.iter_mut().filter(|l| l.promise_missed(at_ms)) {
            l.past_promise = true;
            l.last_delay_ms = Some(at_ms);
            l.delay_reason = None;
        }
        st.told(at_ms);
        fx.notices.push(Notice {
            kind: OrderNotice::Delayed { auto: true },
            lines: missed,
        });
    }
    if st.update_due_ms(cfg).is_some_and(|due| due <= at_ms) {
        st.told(at_ms);
        fx.notices.push(Notice {
            kind: OrderNotice::Update,
            lines: st.ids_where(|l| l.status == LineStatus::Waiting),
        });
    }
    let delivered = st.ids_where(|l| l.status == LineStatus::Delivered);
    let after_delivery = [
        (st.followup.fire(at_ms), OrderNotice::DeliveredFollowUp),
        (
            st.cross_sell_after_delivery.fire(at_ms),
            OrderNotice::CrossSellAfterDelivery,
        ),
    ];
    for (fired, kind) in after_delivery {
        fx.changed |= fired;
        if fired && !delivered.is_empty() {
            fx.notices.push(Notice {
                kind,
                lines: delivered.clone(),
            });
        }
    }
    if st.cross_sell_after_order.fire(at_ms) {
        fx.changed = true;
        let bought =
            st.ids_where(|l| !matches!(l.status, LineStatus::Cancelled | LineStatus::Refunded));
        if !bought.is_empty() {
            fx.notices.push(Notice {
                kind: OrderNotice::CrossSellAfterOrder,
                lines: bought,
            });
        }
    }
    fx.changed |= !fx.notices.is_empty();
    st.finish(fx, cfg)
}
