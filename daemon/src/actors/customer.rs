//! CustomerActor: owns one customer's state while active (profile, consent,
//! suppressions, send ledger, held and deferred offers). Profile events go through
//! `domain::profile`; offers and timers through `domain::decide`, whose messages it
//! turns into outbox entries (address and message context; the dispatcher renders them
//! when it sends). The Router persists what it returns.

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::cross_sell;
use super::customer_attribution;
use super::customer_hygiene;
use super::customer_journey;
use super::customer_orders::{self, OrderNews};
use super::lapse;
use super::registry::Virtual;
use super::router::WeakRouter;
use crate::domain::customer::{Channel, Scenario, SuppressReason};
use crate::domain::decide::{self, Outcome};
use crate::domain::lifecycle::attribution::ScenarioCredit;
use crate::domain::lifecycle::journey::CartChange;
use crate::domain::message::{MessageContext, NewEntry};
use crate::domain::order::board::{late_lines, late_writes, LateWrite};
use crate::domain::order::related::RelatedConfig;
use crate::domain::order::state::CancelRequest;
use crate::domain::order::state::Notice;
use crate::domain::product::ProductState;
use crate::domain::profile::{apply, CustomerEvent, CustomerState};
use crate::domain::segments::build::row_of;
use crate::domain::worth::still_worth_sending;
use crate::domain::{Millis, Rejection, TimerKind, TriggerConfig};
use crate::scenario_control::LiveRules;
use crate::store::records::Customers;
use crate::store::{Encoded, Store};

/// Builds the one-click unsubscribe URL for (customer, channel).
pub type Links = Arc<dyn Fn(&str, Channel) -> String + Send + Sync>;

/// Builds the signed one-click cancel URL for (customer, order) at a time; empty when
/// the daemon has no public URL.
pub type CancelLinkFn = Arc<dyn Fn(&str, &str, Millis) -> String + Send + Sync>;

/// What every customer actor shares.
pub struct CustomerShared {
    /// The rules in force (operators change them at run time).
    pub rules: Arc<LiveRules>,
    pub links: Links,
    pub cancel_links: CancelLinkFn,
    /// The stock minimums a deferred message is re-checked against at release.
    pub triggers: Arc<TriggerConfig>,
    pub router: WeakRouter,
    /// The time zone of a customer known only from an order.
    pub default_time_zone: String,
    /// Read by cross-sell offers (the related-products table, products, purchases).
    pub store: Store,
    pub related: RelatedConfig,
    /// The sunset policy and soft-bounce runs (`[hygiene]`).
    pub hygiene: crate::domain::lifecycle::hygiene::HygienePolicy,
    /// Complaint and hard-bounce rates; the scenarios paused for them.
    pub board: Arc<crate::hygiene_board::HygieneBoard>,
    /// Customer rows for segments (audiences are evaluated on them).
    pub segments: Arc<crate::segment_board::SegmentBoard>,
    /// Segment definitions (scenario audiences name them).
    pub segment_defs: Arc<crate::scenario_control::segment_defs::SegmentDefs>,
}

/// One customer event with its index in the batch.
#[derive(Debug, Clone)]
pub struct CustomerItem {
    pub index: u32,
    pub at_ms: Millis,
    pub event: CustomerEvent,
}

#[derive(Debug, Default)]
pub struct CustomerApplied {
    /// Indexes (in the batch) of the items applied.
    pub applied: Vec<u32>,
    pub rejections: Vec<(u32, Rejection)>,
    /// The encoded state, if anything changed.
    pub state: Option<Encoded<Customers>>,
    /// The customer's segment row as of `state` (with it): the Router puts it on the
    /// segment board once the state is durable.
    pub row: Option<crate::domain::segments::Row>,
    /// New outbox entries; the Router numbers them.
    pub entries: Vec<NewEntry>,
    pub timers: Vec<(Millis, TimerKind)>,
    pub suppressed: Vec<(Scenario, SuppressReason)>,
    /// Cancellation requests recorded; the Router logs them with the state.
    pub cancel_requests: Vec<CancelRequest>,
    /// Changes to the records of the customer's lines past their promise, written with
    /// the state (`domain::order::board`).
    pub late: Vec<LateWrite>,
    /// Attribution counters to add per scenario, written with the state that records
    /// them (`customer_attribution`).
    pub credits: Vec<ScenarioCredit>,
}

pub enum CustomerMsg {
    Apply {
        items: Vec<CustomerItem>,
        reply: RpcReplyPort<CustomerApplied>,
    },
    Get {
        reply: RpcReplyPort<Option<CustomerState>>,
    },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerActor;

pub struct CustomerArgs {
    pub id: String,
    pub state: Option<CustomerState>,
    pub shared: Arc<CustomerShared>,
}

impl Actor for CustomerActor {
    type Msg = CustomerMsg;
    type State = CustomerArgs;
    type Arguments = CustomerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<CustomerMsg>,
        args: CustomerArgs,
    ) -> Result<CustomerArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _me: ActorRef<CustomerMsg>,
        msg: CustomerMsg,
        st: &mut CustomerArgs,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CustomerMsg::Apply { items, reply } => {
                let mut out = CustomerApplied::default();
                let mut changed = false;
                let late_before = late_lines(st.state.iter().flat_map(|c| &c.orders));
                for item in items {
                    let written = out.entries.len();
                    match step(st, item.event, item.at_ms, &mut out).await {
                        Ok(c) => {
                            out.applied.push(item.index);
                            changed |= c;
                        }
                        Err(r) => out.rejections.push((item.index, r)),
                    }
                    if let Some(c) = st.state.as_mut() {
                        let sent =
                            customer_attribution::entries_written(c, &out.entries[written..]);
                        out.credits.extend(sent);
                    }
                }
                if changed {
                    out.state = st.state.as_ref().map(Encoded::new);
                    out.row = st.state.as_ref().map(row_of);
                    let late_after = late_lines(st.state.iter().flat_map(|c| &c.orders));
                    out.late = late_writes(&late_before, &late_after);
                }
                let _ = reply.send(out);
            }
            CustomerMsg::Get { reply } => {
                let _ = reply.send(st.state.clone());
            }
        }
        Ok(())
    }
}

/// Applies one event; returns whether the state changed.
async fn step(
    st: &mut CustomerArgs,
    event: CustomerEvent,
    at: Millis,
    out: &mut CustomerApplied,
) -> Result<bool, Rejection> {
    let rules = st.shared.rules.get();
    let rules = rules.as_ref();
    let outcome = match (event, st.state.as_mut()) {
        (CustomerEvent::Offers(offers), None) => {
            // Interest without a customer_upsert: nobody to address.
            out.suppressed.extend(
                offers
                    .iter()
                    .map(|o| (o.candidate.scenario, SuppressReason::NoAddress)),
            );
            return Ok(false);
        }
        (CustomerEvent::Offers(offers), Some(c)) => {
            let offers = customer_hygiene::gate(c, offers, at, &st.shared, rules, out).await;
            decide::receive(c, offers, at, rules)
        }
        (CustomerEvent::Timer(_), None) => return Ok(false),
        (CustomerEvent::Timer(TimerKind::CustomerArbitrate), Some(c)) => {
            // A reminder held for the window goes only if its cart is still as it was.
            let reason = SuppressReason::Stale;
            customer_journey::drop_stale(&mut c.pending, &c.lifecycle.journey, reason, out);
            decide::arbitrate_due(c, at, rules)
        }
        (CustomerEvent::Timer(TimerKind::CustomerJourney), Some(_)) => {
            customer_journey::on_timer(st, at, out).await
        }
        (CustomerEvent::Cart(change), Some(c)) => {
            // A cart add or a checkout is interest: engagement for the sunset.
            let interest = matches!(
                change,
                CartChange::Add { .. } | CartChange::CheckoutStarted { .. }
            ) && c.lifecycle.hygiene.record_interest(at);
            return Ok(customer_journey::on_cart(c, change, at, rules, out) || interest);
        }
        // A cart of a customer never upserted: nobody to remind (the interest is kept).
        (CustomerEvent::Cart(_), None) => return Ok(false),
        (CustomerEvent::Purchase { skus, order, items }, Some(c)) => {
            let bought = CartChange::Bought { skus };
            let mut changed = customer_journey::on_cart(c, bought, at, rules, out);
            // The order aggregates count its order id once (not if `order_placed` did).
            if let Some(o) = &order {
                if c.order(&o.order_id).is_none() {
                    changed |= c
                        .lifecycle
                        .aggregates
                        .purchased(&o.order_id, o.at_ms, &items);
                }
            }
            let counted = order
                .and_then(|o| customer_attribution::purchase_applied(c, &o, &rules.attribution));
            if let Some(credits) = counted {
                out.credits.extend(credits);
                out.timers.extend(lapse::timer(c, at, rules));
                changed = true;
            }
            return Ok(changed);
        }
        // A purchase by a customer never upserted or ordering: no one to credit.
        (CustomerEvent::Purchase { .. }, None) => return Ok(false),
        (CustomerEvent::Timer(TimerKind::CustomerQuiet), Some(c)) => {
            let skus: Vec<String> = c
                .deferred
                .iter()
                .filter(|d| d.release_ms <= at)
                .flat_map(|d| d.offers.iter().map(|o| o.item.sku.clone()))
                .collect();
            let products = current_products(&st.shared.router, skus).await;
            let cfg = st.shared.triggers.clone();
            let stale = st
                .state
                .as_ref()
                .map(customer_journey::stale_deferred)
                .unwrap_or_default();
            match st.state.as_mut() {
                Some(c) => decide::release_quiet(c, at, |o| {
                    if !rules.enabled(o.candidate.scenario) {
                        Err(SuppressReason::Disabled)
                    } else if stale.contains(&(o.candidate.trigger_id, o.candidate.sku.clone())) {
                        // Its cart was ordered, bought or changed since.
                        Err(SuppressReason::QuietHoursStale)
                    } else {
                        let product = products.get(&o.item.sku);
                        still_worth_sending(o.candidate.scenario, &o.item, product, at, &cfg)
                            .map_err(|_| SuppressReason::QuietHoursStale)
                    }
                }),
                None => return Ok(false),
            }
        }
        (CustomerEvent::Timer(TimerKind::CustomerLapse), Some(_)) => {
            lapse_tick(st, at, out).await;
            return Ok(true);
        }
        (CustomerEvent::Timer(TimerKind::CustomerOrders), Some(c)) => {
            let cadence = customer_orders::cadence(rules);
            let news = customer_orders::on_tick(c, at, &cadence);
            tell(st, news, at, out).await;
            return Ok(true);
        }
        (CustomerEvent::Order(event), _) => {
            let (tz, cadence) = (
                &st.shared.default_time_zone,
                customer_orders::cadence(rules),
            );
            let existed = st.state.is_some();
            let c = st
                .state
                .get_or_insert_with(|| CustomerState::bare(&st.id, tz, at));
            let news = match customer_orders::on_event(c, &event, at, &cadence) {
                Ok(news) => {
                    customer_journey::on_order(c, &event, at, rules);
                    news
                }
                Err(r) => {
                    if !existed {
                        // Refused: no customer comes of it.
                        st.state = None;
                    }
                    return Err(r);
                }
            };
            let credits = customer_attribution::order_applied(c, &event, at, &rules.attribution);
            out.credits.extend(credits);
            if matches!(event, crate::domain::order::OrderEvent::Placed(_)) {
                // An order is engagement: it resumes a sunset (attribution records it in
                // `Engagement` as well).
                c.lifecycle.hygiene.record_interest(at);
            }
            let placed = matches!(event, crate::domain::order::OrderEvent::Placed(_));
            tell(st, news, at, out).await;
            if placed {
                out.timers
                    .extend(st.state.as_ref().and_then(|c| lapse::timer(c, at, rules)));
            }
            return Ok(true);
        }
        (CustomerEvent::Lines(n), Some(c)) => {
            let cadence = customer_orders::cadence(rules);
            let news = customer_orders::on_lines(c, &n, at, &cadence);
            tell(st, news, at, out).await;
            return Ok(true);
        }
        (CustomerEvent::CancelRequest { order_id }, state) => {
            let Some(c) = state else {
                return Err(customer_orders::unknown_order(&order_id));
            };
            return match customer_orders::request_cancel(c, &order_id, at)? {
                Some(request) => {
                    out.cancel_requests.push(request);
                    Ok(true)
                }
                None => Ok(false),
            };
        }
        (CustomerEvent::Lines(n), None) => {
            tracing::warn!(order_id = %n.order_id, "A notice about an order of an unknown customer; dropped.");
            return Ok(false);
        }
        (CustomerEvent::Timer(_), Some(_)) => return Ok(false),
        (CustomerEvent::SoftBounce { channel }, Some(c)) => {
            customer_hygiene::soft_bounce(c, channel, &st.shared.hygiene);
            return Ok(true);
        }
        (CustomerEvent::Delivered { channel }, Some(c)) => {
            return Ok(c.lifecycle.hygiene.delivered(channel))
        }
        (CustomerEvent::Complaint { channel, entry_seq }, Some(c)) => {
            let new = customer_hygiene::complain(c, channel, entry_seq, at);
            if let (true, Some(seq)) = (new, entry_seq) {
                customer_hygiene::count_complaint(&st.shared, seq, at).await;
            }
            return Ok(new);
        }
        (CustomerEvent::Complaint { .. }, None) => {
            return Err(Rejection {
                field: "complaint.customer_id".into(),
                reason: format!(
                    "unknown customer_id {:?}: send a customer_upsert first",
                    st.id
                ),
            })
        }
        (CustomerEvent::SoftBounce { .. } | CustomerEvent::Delivered { .. }, None) => {
            return Ok(false)
        }
        (event, _) => {
            apply(&mut st.state, &st.id, &event, at)?;
            if matches!(event, CustomerEvent::Upsert(_)) {
                // The birthday may have changed.
                out.timers
                    .extend(st.state.as_ref().and_then(|c| lapse::timer(c, at, rules)));
            }
            return Ok(true);
        }
    };
    render(st, outcome, at, out).await;
    Ok(true)
}

async fn current_products(router: &WeakRouter, skus: Vec<String>) -> HashMap<String, ProductState> {
    let mut found = HashMap::new();
    for sku in skus {
        if found.contains_key(&sku) {
            continue;
        }
        if let Some(p) = router.get_product(sku.clone()).await {
            found.insert(sku, p);
        }
    }
    found
}

/// Order news for the customer: the messages they get (with the products their lines
/// are of, as they are now), and the next order timer.
async fn tell(st: &mut CustomerArgs, news: Vec<OrderNews>, now: Millis, out: &mut CustomerApplied) {
    let rules = st.shared.rules.get();
    let Some(c) = st.state.as_ref() else { return };
    if let Some(due) = customer_orders::next_due(c, &customer_orders::cadence(&rules)) {
        out.timers.push((due.max(now), TimerKind::CustomerOrders));
    }
    if news.is_empty() {
        return;
    }
    let (offers, updates): (Vec<OrderNews>, Vec<OrderNews>) = news
        .into_iter()
        .partition(|n| customer_orders::scenario(n.notice.kind).is_marketing());
    if !updates.is_empty() {
        let skus = customer_orders::skus(c, &updates);
        let products = current_products(&st.shared.router, skus).await;
        let Some(c) = st.state.as_ref() else { return };
        let made =
            customer_orders::messages(c, updates, &products, &rules, &st.shared.cancel_links, now);
        out.suppressed.extend(made.suppressed);
        out.entries.extend(made.entries);
    }
    for n in offers {
        offer(st, n, now, out).await;
    }
}

/// A cross-sell offer came due: pick the products, then decide like any marketing offer.
async fn offer(st: &mut CustomerArgs, n: OrderNews, now: Millis, out: &mut CustomerApplied) {
    let rules = st.shared.rules.get();
    let scenario = customer_orders::scenario(n.notice.kind);
    if !rules.enabled(scenario) {
        out.suppressed.push((scenario, SuppressReason::Disabled));
        return;
    }
    let Some(c) = st.state.as_ref() else { return };
    let Some(order) = c.order(&n.order_id) else {
        return;
    };
    let picked =
        cross_sell::offers(&st.shared, c, order, &n.notice.lines, scenario, &rules, now).await;
    let offers = match picked {
        Ok(offers) => offers,
        Err(reason) => {
            out.suppressed.push((scenario, reason));
            return;
        }
    };
    let Some(c) = st.state.as_mut() else { return };
    let offers = customer_hygiene::gate(c, offers, now, &st.shared, &rules, out).await;
    let outcome = decide::receive(c, offers, now, &rules);
    render(st, outcome, now, out).await;
}

/// The lapse timer fired: the win-back and the birthday that are due, decided like any
/// marketing offer; then the next lapse timer.
async fn lapse_tick(st: &mut CustomerArgs, at: Millis, out: &mut CustomerApplied) {
    let rules = st.shared.rules.get();
    let Some(c) = st.state.as_mut() else { return };
    let due = lapse::tick(&st.shared, c, at, &rules).await;
    out.suppressed.extend(due.suppressed);
    out.timers.extend(lapse::timer(c, at, &rules));
    if due.offers.is_empty() {
        return;
    }
    let offers = customer_hygiene::gate(c, due.offers, at, &st.shared, &rules, out).await;
    let outcome = decide::receive(c, offers, at, &rules);
    render(st, outcome, at, out).await;
}

async fn render(st: &mut CustomerArgs, outcome: Outcome, now: Millis, out: &mut CustomerApplied) {
    out.timers.extend(outcome.timers);
    out.suppressed.extend(outcome.suppressed);
    out.credits.extend(outcome.credits);
    let Some(c) = st.state.as_ref() else { return };
    // A cross-sell message shows the order it follows: its lines' products as they are.
    let mut line_skus: Vec<String> = Vec::new();
    for m in outcome
        .send
        .iter()
        .filter(|m| cross_sell::is_cross_sell(m.scenario))
    {
        let key = m.offers.first().map(|o| o.candidate.trigger_id);
        if let Some(o) = key.and_then(|k| cross_sell::order_of(c, k)) {
            line_skus.extend(o.lines.iter().map(|l| l.placed.sku.clone()));
        }
    }
    let products = current_products(&st.shared.router, line_skus).await;
    let rules = st.shared.rules.get();
    let Some(c) = st.state.as_ref() else { return };
    let first = out.entries.len();
    for m in outcome.send {
        let order = if cross_sell::is_cross_sell(m.scenario) {
            m.offers
                .first()
                .and_then(|o| cross_sell::order_of(c, o.candidate.trigger_id))
                .map(|order| {
                    let notice = Notice {
                        kind: customer_orders::notice_of(m.scenario),
                        lines: cross_sell::kept_lines(order),
                    };
                    // A marketing offer never carries the order's cancel link.
                    let no_link = |_: &str| String::new();
                    let o = customer_orders::order_context(
                        c, order, &notice, &products, &rules, no_link,
                    );
                    cross_sell::with_coupon(o, m.scenario, &rules)
                })
        } else if m.scenario.is_journey() {
            customer_journey::left_out_context(c, &m.offers)
        } else if m.scenario == Scenario::Birthday {
            Some(lapse::birthday_context(c, &rules))
        } else {
            None
        };
        // A birthday message shows no product (its offer only names the year).
        let items = if m.scenario == Scenario::Birthday {
            Vec::new()
        } else {
            m.offers.iter().map(|o| o.item.clone()).collect()
        };
        let Some(address) = c.address(m.channel).map(str::to_owned) else {
            out.suppressed.extend(
                m.offers
                    .iter()
                    .map(|o| (o.candidate.scenario, SuppressReason::NoAddress)),
            );
            continue;
        };
        let context = MessageContext {
            scenario: m.scenario,
            locale: c.locale,
            customer_id: c.id.clone(),
            items,
            unsubscribe_url: (st.shared.links)(&c.id, m.channel),
            order,
        };
        out.entries.push(NewEntry {
            customer_id: c.id.clone(),
            channel: m.channel,
            address,
            scenario: m.scenario,
            context,
            created_ms: now,
            due_ms: now,
        });
    }
    if let Some(c) = st.state.as_mut() {
        customer_hygiene::record_sent(c, &out.entries[first..], now);
    }
}

impl Virtual for CustomerActor {
    type Schema = Customers;
    type Item = CustomerItem;
    type Reply = CustomerApplied;
    type Shared = Arc<CustomerShared>;

    fn args(
        id: String,
        state: Option<CustomerState>,
        shared: &Arc<CustomerShared>,
    ) -> CustomerArgs {
        CustomerArgs {
            id,
            state,
            shared: shared.clone(),
        }
    }

    fn apply_msg(items: Vec<CustomerItem>, reply: RpcReplyPort<CustomerApplied>) -> CustomerMsg {
        CustomerMsg::Apply { items, reply }
    }

    fn get_msg(reply: RpcReplyPort<Option<CustomerState>>) -> CustomerMsg {
        CustomerMsg::Get { reply }
    }
}
