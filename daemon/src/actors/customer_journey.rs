//! The customer actor's side of the abandoned cart / checkout journeys
//! (`domain::lifecycle::journey`): cart changes set the journey timer; a due step reads
//! the cart's products as stored (one blocking read, like cross-sell) and hands the
//! reminder's lines to `decide::receive`, so a reminder competes with the stock
//! scenarios under the arbitration window, priorities and caps. Offers held meanwhile
//! are re-checked against the journey (ordered, bought or changed since: dropped).

use std::collections::{HashMap, HashSet};

use super::customer::{CustomerApplied, CustomerArgs};
use crate::domain::customer::SuppressReason;
use crate::domain::decide::{Offer, Outcome};
use crate::domain::lifecycle::journey::{cooldown_until, CartChange, Fire, Journey};
use crate::domain::message::{OrderContext, OrderLineContext};
use crate::domain::order::{OrderEvent, Promise};
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerState;
use crate::domain::rules::DeliveryRules;
use crate::domain::{Millis, TimerKind};
use crate::store::records::Products;

/// How long a step whose products could not be read waits before it is tried again.
const RETRY_MS: Millis = 60_000;

/// A cart change; returns whether the state changed.
pub fn on_cart(
    c: &mut CustomerState,
    change: CartChange,
    at: Millis,
    rules: &DeliveryRules,
    out: &mut CustomerApplied,
) -> bool {
    let (changed, due) = c.lifecycle.journey.apply(change, at, &rules.journeys);
    if let Some(due) = due {
        out.timers.push((due.max(at), TimerKind::CustomerJourney));
    }
    changed
}

/// An order placed ends the journey of a cart holding any of its SKUs.
pub fn on_order(c: &mut CustomerState, event: &OrderEvent, at: Millis, rules: &DeliveryRules) {
    if let OrderEvent::Placed(p) = event {
        let skus = p.lines.iter().map(|l| l.sku.clone()).collect();
        c.lifecycle
            .journey
            .apply(CartChange::Bought { skus }, at, &rules.journeys);
    }
}

/// The journey timer fired: the due step's reminder, decided like any marketing offer.
pub async fn on_timer(st: &mut CustomerArgs, now: Millis, out: &mut CustomerApplied) -> Outcome {
    let rules = st.shared.rules.get();
    let Some(c) = st.state.as_ref() else {
        return Outcome::default();
    };
    let j = &c.lifecycle.journey;
    if j.due_ms.is_none_or(|d| d > now) {
        return Outcome::default();
    }
    let skus: Vec<String> = j.lines.iter().map(|l| l.sku.clone()).collect();
    let products = match read_products(st, skus).await {
        Ok(p) => p,
        Err(e) => {
            // The step stays where it is and is tried again.
            tracing::warn!(error = %e, customer_id = %st.id, "Cannot read the cart's products; the journey step is retried in a minute.");
            out.timers
                .push((now + RETRY_MS, TimerKind::CustomerJourney));
            return Outcome::default();
        }
    };
    let Some(c) = st.state.as_mut() else {
        return Outcome::default();
    };
    let until = cooldown_until(&c.ledger, |s| rules.cooldown_ms(s));
    let j = &mut c.lifecycle.journey;
    let step = match j.fire(now, &rules.journeys, until) {
        Fire::Nothing => return Outcome::default(),
        Fire::Later(due) => {
            out.timers.push((due, TimerKind::CustomerJourney));
            return Outcome::default();
        }
        Fire::Step(step) => step,
    };
    if let Some(next) = j.due_ms {
        out.timers.push((next, TimerKind::CustomerJourney));
    }
    if !rules.enabled(step.scenario) {
        out.suppressed
            .push((step.scenario, SuppressReason::Disabled));
        return Outcome::default();
    }
    let reminder = j.reminder(step, &products, now, &st.shared.triggers);
    j.left_out = reminder.left_out;
    if reminder.offers.is_empty() {
        out.suppressed
            .push((step.scenario, SuppressReason::NothingLeft));
        return Outcome::default();
    }
    // List hygiene's gate (complaint, sunset, a paused scenario) as for every offer.
    let offers =
        super::customer_hygiene::gate(c, reminder.offers, now, &st.shared, &rules, out).await;
    crate::domain::decide::receive(c, offers, now, &rules)
}

async fn read_products(
    st: &CustomerArgs,
    skus: Vec<String>,
) -> Result<HashMap<String, ProductState>, crate::store::StoreError> {
    st.shared
        .store
        .read(move |s| {
            let found = s.multi_get::<Products>(skus.iter().map(String::as_str))?;
            Ok(skus
                .into_iter()
                .zip(found)
                .filter_map(|(k, v)| Some((k, v?)))
                .collect())
        })
        .await
}

/// Drops the held journey offers the journey no longer backs (the cart changed, or was
/// ordered or bought, since the step), with `reason`.
pub fn drop_stale(
    held: &mut Vec<Offer>,
    j: &Journey,
    reason: SuppressReason,
    out: &mut CustomerApplied,
) {
    held.retain(|o| {
        let keep = !o.candidate.scenario.is_journey() || j.holds(o);
        if !keep {
            out.suppressed.push((o.candidate.scenario, reason));
        }
        keep
    });
}

/// The deferred journey offers the journey no longer backs, by (trigger id, sku).
pub fn stale_deferred(c: &CustomerState) -> HashSet<(u64, String)> {
    let j = &c.lifecycle.journey;
    c.deferred
        .iter()
        .flat_map(|d| &d.offers)
        .filter(|o| o.candidate.scenario.is_journey() && !j.holds(o))
        .map(|o| (o.candidate.trigger_id, o.candidate.sku.clone()))
        .collect()
}

/// The lines a reminder left out (sold out, not on sale), for its notify-me hint: as
/// the message's `order` part (no order id), so the outbox format does not change.
pub fn left_out_context(c: &CustomerState, offers: &[Offer]) -> Option<OrderContext> {
    let shown: HashSet<&str> = offers.iter().map(|o| o.candidate.sku.as_str()).collect();
    let lines: Vec<OrderLineContext> = c
        .lifecycle
        .journey
        .left_out
        .iter()
        .filter(|l| !shown.contains(l.sku.as_str()))
        .map(|l| OrderLineContext {
            line_id: l.sku.clone(),
            sku: l.sku.clone(),
            title: l.title.clone(),
            quantity: 1,
            url: l.url.clone(),
            image_url: l.image_url.clone(),
            promise: Promise::None,
            waited: false,
        })
        .collect();
    (!lines.is_empty()).then(|| OrderContext {
        order_id: String::new(),
        time_zone: c.time_zone.clone(),
        lines,
        delay_reason: String::new(),
        shipment: None,
        cancel_url: String::new(),
        review_url: String::new(),
        coupon_code: String::new(),
    })
}
