//! The Router owns the actor registries (products, customers) and puts every change in
//! one order: batches, fan-out hand-offs and timer firings are dispatched to actors in
//! arrival order, and their writes go to the group-commit writer in that same order.
//! Actor mailboxes are FIFO and the writer completes in queue order, so whatever prefix
//! of writes survives a crash is consistent, and a producer's sequence is stored
//! atomically with its batch. Nobody is answered before their write is durable.
//!
//! `handle.rs` is the API (one method per command), `dedupe.rs` the producer sequences,
//! `persist.rs` the plain function from what actors answered to one write batch.

mod commands;
mod dedupe;
mod handle;
mod orders;
mod persist;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::mpsc;

pub use handle::{Found, Handoff, IngestItem, OrderItem, RouterHandle, Submitted, WeakRouter};

use self::dedupe::ProducerLog;
use self::handle::{Command, Reply};
use self::persist::{plan, Counters};
use super::customer::{
    CancelLinkFn, CustomerActor, CustomerApplied, CustomerItem, CustomerShared, Links,
};
use super::product::{Applied, Item, ProductActor};
use super::registry::{group, Registry, Replies};
use crate::domain::{Rejection, TriggerConfig};
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::orders::{CancelRequests, LineNotices};
use crate::store::outbox::Outbox;
use crate::store::records::{Rejected, TimerKey, Triggers};
use crate::store::related::PlacedOrders;
use crate::store::writer::Writer;
use crate::store::{Store, StoreError};

/// The result of a batch, before it is turned into a protobuf `Ack`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchAck {
    pub duplicate: bool,
    pub applied: u32,
    pub rejections: Vec<Rejected>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("stockbelld is shutting down or stopped after an internal error; retry later")]
    Unavailable,
}

type Pending = BoxFuture<'static, Answered>;

/// Work whose actor replies are awaited in dispatch order.
struct Dispatched {
    ticket: u64,
    products: Replies<Applied>,
    customers: Replies<CustomerApplied>,
    kind: DispatchKind,
}

/// A dispatch with every actor's answer (`None`: the actor died).
pub(crate) struct Answered {
    ticket: u64,
    products: Vec<(String, Option<Applied>)>,
    customers: Vec<(String, Option<CustomerApplied>)>,
    kind: DispatchKind,
}

/// What a dispatch was, and whom to answer when its write is durable.
pub(crate) enum DispatchKind {
    Batch {
        producer: String,
        sequence: u64,
        early: Vec<(u32, Rejection)>,
        /// Indexes of the orders this batch places, written with it.
        orders: Vec<orders::NewOrder>,
        reply: Reply<BatchAck>,
    },
    Duplicate {
        ack: BatchAck,
        reply: Reply<BatchAck>,
    },
    Internal {
        reply: Reply<BatchAck>,
    },
    Handoff {
        handoff: Handoff,
        reply: Reply<BatchAck>,
    },
    Timers {
        timers: Vec<TimerKey>,
        reply: Reply<()>,
    },
}

impl DispatchKind {
    /// Answers the caller that its work will not be done.
    fn refuse(self) {
        match self {
            DispatchKind::Batch { reply, .. }
            | DispatchKind::Duplicate { reply, .. }
            | DispatchKind::Internal { reply }
            | DispatchKind::Handoff { reply, .. } => drop(reply.send(unavailable())),
            DispatchKind::Timers { reply, .. } => drop(reply.send(unavailable())),
        }
    }
}

/// What the Router needs besides the store and writer.
pub struct RouterConfig {
    pub triggers: Arc<TriggerConfig>,
    pub idle_timeout: Duration,
    /// Half-life of category affinity, carried on every affinity merge.
    pub affinity_half_life_ms: i64,
    pub rules: Arc<LiveRules>,
    pub links: Links,
    /// Cancel links for the order updates that offer one.
    pub cancel_links: CancelLinkFn,
    /// Woken once new outbox entries are durable (the dispatcher follows the outbox).
    pub outbox_notify: Arc<tokio::sync::Notify>,
    /// Woken once new triggers are durable (the fan-out follows the trigger log).
    pub fanout_notify: Arc<tokio::sync::Notify>,
    /// Most product actors, and most customer actors, kept in memory at once.
    pub max_active: usize,
    /// The time zone of a customer known only from an order.
    pub default_time_zone: String,
    /// How cross-sell offers read the related-products table.
    pub related: crate::domain::order::related::RelatedConfig,
    /// List hygiene: the sunset policy and soft-bounce runs (`[hygiene]`).
    pub hygiene: crate::domain::lifecycle::hygiene::HygienePolicy,
    /// Complaint and hard-bounce rates; the scenarios paused for them.
    pub board: Arc<crate::hygiene_board::HygieneBoard>,
    /// Customer rows for segments (put after a customer's record is durable).
    pub segments: Arc<crate::segment_board::SegmentBoard>,
    /// Segment definitions (scenario audiences name them).
    pub segment_defs: Arc<crate::scenario_control::segment_defs::SegmentDefs>,
}

pub struct Router {
    store: Store,
    writer: Writer,
    metrics: Arc<Metrics>,
    affinity_half_life_ms: i64,
    idle_timeout: Duration,
    products: Registry<ProductActor>,
    customers: Registry<CustomerActor>,
    producers: ProducerLog,
    orders: orders::OrderRoutes,
    next_ticket: u64,
    ids: Counters,
    outbox_notify: Arc<tokio::sync::Notify>,
    fanout_notify: Arc<tokio::sync::Notify>,
    max_active: usize,
    last_trim: Instant,
    /// Customer rows for segments, put once their state is durable.
    segments: Arc<crate::segment_board::SegmentBoard>,
}

impl Router {
    /// Starts the router task. It ends after every handle is dropped and its work is durable.
    pub async fn start(
        store: Store,
        writer: Writer,
        cfg: RouterConfig,
        metrics: Arc<Metrics>,
    ) -> Result<(RouterHandle, tokio::task::JoinHandle<()>), StoreError> {
        let (last_trigger, last_outbox, last_notice, last_cancel, last_placed) = store
            .read(|s| {
                Ok((
                    s.last_key::<Triggers>()?,
                    s.last_key::<Outbox>()?,
                    s.last_key::<LineNotices>()?,
                    s.last_key::<CancelRequests>()?,
                    s.last_key::<PlacedOrders>()?,
                ))
            })
            .await?;
        let next_trigger_id = last_trigger.map_or(1, |id| id + 1);
        metrics
            .last_trigger_id
            .store(next_trigger_id.saturating_sub(1), Relaxed);
        let next_outbox_seq = last_outbox.map_or(1, |s| s + 1);
        let (tx, rx) = mpsc::channel(1024);
        let handle = RouterHandle { tx };
        let shared = CustomerShared {
            rules: cfg.rules,
            links: cfg.links,
            cancel_links: cfg.cancel_links,
            triggers: cfg.triggers.clone(),
            router: handle.downgrade(),
            default_time_zone: cfg.default_time_zone,
            store: store.clone(),
            related: cfg.related,
            hygiene: cfg.hygiene,
            board: cfg.board,
            segments: cfg.segments.clone(),
            segment_defs: cfg.segment_defs.clone(),
        };
        let router = Router {
            store,
            writer,
            metrics,
            affinity_half_life_ms: cfg.affinity_half_life_ms,
            idle_timeout: cfg.idle_timeout,
            products: Registry::new(cfg.triggers),
            customers: Registry::new(Arc::new(shared)),
            producers: ProducerLog::default(),
            orders: orders::OrderRoutes::default(),
            next_ticket: 0,
            ids: Counters {
                next_trigger_id,
                next_outbox_seq,
                next_notice_id: last_notice.map_or(1, |n| n + 1),
                next_cancel_id: last_cancel.map_or(1, |n| n + 1),
                next_placed_id: last_placed.map_or(1, |n| n + 1),
            },
            outbox_notify: cfg.outbox_notify,
            fanout_notify: cfg.fanout_notify,
            max_active: cfg.max_active.max(1),
            last_trim: Instant::now(),
            segments: cfg.segments.clone(),
        };
        Ok((handle, tokio::spawn(router.run(rx))))
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut dispatched: FuturesOrdered<Pending> = FuturesOrdered::new();
        let mut durable: FuturesOrdered<BoxFuture<'static, ()>> = FuturesOrdered::new();
        let mut sweep =
            tokio::time::interval((self.idle_timeout / 4).max(Duration::from_millis(250)));
        // Checks the max_active limit (cheap when under it) between bursts too.
        let mut limit = tokio::time::interval(Duration::from_millis(250));
        limit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut open = true;
        loop {
            tokio::select! {
                cmd = rx.recv(), if open => match cmd {
                    Some(cmd) => {
                        if let Some(d) = self.command(cmd).await {
                            dispatched.push_back(wait_replies(d).boxed());
                        }
                    }
                    None => open = false,
                },
                Some(done) = dispatched.next() => {
                    if let Some(wait) = self.persist(done) {
                        durable.push_back(wait);
                    }
                }
                Some(()) = durable.next() => {}
                _ = sweep.tick() => self.passivate_idle(),
                _ = limit.tick() => self.enforce_limit(),
                else => break,
            }
            if !open && dispatched.is_empty() && durable.is_empty() {
                break;
            }
        }
        self.products.stop_all();
        self.customers.stop_all();
        self.metrics.set_active_actors(0, 0);
    }

    /// Starts one command; returns the dispatch whose actor replies must be awaited.
    async fn command(&mut self, cmd: Command) -> Option<Dispatched> {
        match cmd {
            Command::Ingest { batch, reply } => self.on_ingest(batch, reply).await,
            Command::Internal { items, reply } => {
                let (products, customers) = split(items);
                self.dispatch(products, customers, DispatchKind::Internal { reply })
                    .await
            }
            Command::Handoff { handoff, reply } => self.on_handoff(handoff, reply).await,
            Command::Timers { timers, reply } => self.on_timers(timers, reply).await,
            Command::GetProduct { sku, reply } => {
                self.get(&self.products, sku, reply);
                None
            }
            Command::GetCustomer { id, reply } => {
                self.get(&self.customers, id, reply);
                None
            }
            Command::Ping { reply } => {
                let probed = self.writer.probe();
                tokio::spawn(async move {
                    if probed.await.is_ok() {
                        let _ = reply.send(Ok(()));
                    }
                });
                None
            }
        }
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// Queues the write of a dispatch whose actors all answered, in dispatch order, and
    /// returns a future that answers the caller once the write is durable and wakes
    /// whoever follows what it added.
    fn persist(&mut self, mut a: Answered) -> Option<BoxFuture<'static, ()>> {
        let planned = plan(&mut a, &mut self.ids, self.affinity_half_life_ms);
        if planned.failed {
            // An actor died mid-batch: its memory may be ahead of the store. Stop taking
            // work; a restart reloads every actor from the durable state.
            self.metrics
                .set_fatal("an actor stopped while applying a batch");
            a.kind.refuse();
            return None;
        }
        self.count(&planned);
        let ack = BatchAck {
            duplicate: false,
            applied: planned.applied,
            rejections: planned.rejections,
        };
        if let Some((producer, record)) = planned.producer {
            self.metrics
                .add_batch(u64::from(ack.applied), ack.rejections.len() as u64);
            self.producers.answered(producer, record);
        }
        let wait = self.writer.submit(planned.batch, a.ticket);
        let (segments, rows) = (self.segments.clone(), planned.rows);
        let outbox = (!planned.queued.is_empty()).then(|| self.outbox_notify.clone());
        let fanout = (!planned.triggers.is_empty() || planned.notices > 0)
            .then(|| self.fanout_notify.clone());
        Some(
            async move {
                let ok = matches!(wait.await, Ok(Ok(())));
                if ok && !rows.is_empty() {
                    // Durable now. The writer completes tickets in queue order and this
                    // future is woken in that order, so a customer's rows land in order.
                    segments.put_all(rows);
                }
                match a.kind {
                    DispatchKind::Batch { reply, .. }
                    | DispatchKind::Internal { reply }
                    | DispatchKind::Handoff { reply, .. } => drop(reply.send(durable(ok, ack))),
                    DispatchKind::Duplicate { ack, reply } => drop(reply.send(durable(ok, ack))),
                    DispatchKind::Timers { reply, .. } => drop(reply.send(durable(ok, ()))),
                }
                if ok {
                    for n in outbox.iter().chain(fanout.iter()) {
                        n.notify_one();
                    }
                }
            }
            .boxed(),
        )
    }

    fn count(&self, p: &persist::Planned) {
        for kind in &p.triggers {
            self.metrics.add_trigger(*kind);
        }
        if let Some(id) = p.last_trigger_id {
            self.metrics.last_trigger_id.fetch_max(id, Relaxed);
        }
        for scenario in &p.queued {
            self.metrics
                .scenario(*scenario)
                .queued
                .fetch_add(1, Relaxed);
        }
        for (scenario, reason) in &p.suppressed {
            self.metrics.add_suppressed(*scenario, *reason, 1);
        }
        for c in &p.credits {
            self.metrics.add_attribution(c.scenario, &c.tally);
        }
    }

    /// Above `max_active` of a kind, passivates its least recently used (durable) actors
    /// down to 90% of the limit, so memory stays bounded during a burst that touches more
    /// customers or products than the idle timeout would let go in time.
    fn enforce_limit(&mut self) {
        let max = self.max_active;
        let over = self.products.len() > max || self.customers.len() > max;
        if over && self.last_trim.elapsed() >= Duration::from_millis(100) {
            self.last_trim = Instant::now();
            let durable = self.writer.durable_ticket();
            let keep = max - max / 10;
            let n = self.products.trim_to(keep, durable) + self.customers.trim_to(keep, durable);
            if n > 0 {
                tracing::debug!(
                    passivated = n,
                    max_active = max,
                    "Passivated the least recently used actors over the limit."
                );
                self.metrics.passivated.fetch_add(n as u64, Relaxed);
            }
        }
        self.metrics
            .set_active_actors(self.products.len(), self.customers.len());
    }

    fn passivate_idle(&mut self) {
        let Some(cutoff) = Instant::now().checked_sub(self.idle_timeout) else {
            return;
        };
        let durable = self.writer.durable_ticket();
        let n = self.products.passivate_idle(cutoff, durable)
            + self.customers.passivate_idle(cutoff, durable);
        if n > 0 {
            tracing::debug!(
                passivated = n,
                products = self.products.len(),
                customers = self.customers.len(),
                "Passivated idle actors."
            );
            self.metrics
                .set_active_actors(self.products.len(), self.customers.len());
            self.metrics.passivated.fetch_add(n as u64, Relaxed);
        }
    }
}

fn unavailable<T>() -> Result<T, RouterError> {
    Err(RouterError::Unavailable)
}

/// The answer for work whose write is durable (`ok`) or was refused.
fn durable<T>(ok: bool, value: T) -> Result<T, RouterError> {
    if ok {
        Ok(value)
    } else {
        unavailable()
    }
}

type Groups<T> = Vec<(String, Vec<T>)>;

/// Groups items by the actor they are for (order items were routed before: `orders.rs`).
fn split(items: Vec<IngestItem>) -> (Groups<Item>, Groups<CustomerItem>) {
    let mut products = Vec::with_capacity(items.len());
    let mut customers = Vec::new();
    for i in items {
        match i {
            IngestItem::Product { sku, item } => products.push((sku, item)),
            IngestItem::Customer { id, item } => customers.push((id, item)),
            IngestItem::Order { item, .. } => {
                tracing::error!(
                    order_id = item.event.order_id(),
                    "An order event reached the actors unrouted; it is dropped."
                );
            }
        }
    }
    (group(products.into_iter()), group(customers.into_iter()))
}

async fn wait_replies(d: Dispatched) -> Answered {
    let mut products = Vec::with_capacity(d.products.len());
    for (key, rx) in d.products {
        products.push((key, rx.await.ok()));
    }
    let mut customers = Vec::with_capacity(d.customers.len());
    for (key, rx) in d.customers {
        customers.push((key, rx.await.ok()));
    }
    Answered {
        ticket: d.ticket,
        products,
        customers,
        kind: d.kind,
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
