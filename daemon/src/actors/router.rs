//! The Router owns the actor registries (products, customers) and puts every change in
//! one order: batches and timer firings are dispatched to actors in arrival order, and
//! their writes go to the group-commit writer in that same order. Actor mailboxes are
//! FIFO and the writer completes in queue order, so whatever prefix of writes survives a
//! crash is consistent, and a producer's sequence is stored atomically with its batch.
//! Persisting what actors return (state, triggers, timers, interest merges) is in
//! `persist.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::customer::{
    CustomerActor, CustomerApplied, CustomerItem, CustomerMsg, CustomerShared, Links,
};
use super::product::{Applied, Item, ProductActor, ProductMsg};
use super::registry::{group, Registry, Replies};
use crate::domain::decide::Offer;
use crate::domain::product::ProductState;
use crate::domain::profile::{CustomerEvent, CustomerState};
use crate::domain::TimerKind;
use crate::domain::{ProductEvent, Rejection, TriggerConfig};
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::schema::{self, ProducerRecord, TimerKey};
use crate::store::writer::{Batch, Writer};
use crate::store::{Cf, Store, StoreError};

/// One validated event and the actor it is for.
#[derive(Debug, Clone)]
pub enum IngestItem {
    Product { sku: String, item: Item },
    Customer { id: String, item: CustomerItem },
}

/// The result of a batch, before it is turned into a protobuf `Ack`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchAck {
    pub duplicate: bool,
    pub applied: u32,
    pub rejections: Vec<(u32, String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("stockbelld is shutting down or stopped after an internal error; retry later")]
    Unavailable,
}

type Reply<T> = oneshot::Sender<Result<T, RouterError>>;

enum Command {
    Ingest {
        producer: String,
        sequence: u64,
        items: Vec<IngestItem>,
        early: Vec<(u32, Rejection)>,
        reply: Reply<BatchAck>,
    },
    Timers {
        timers: Vec<TimerKey>,
        reply: oneshot::Sender<()>,
    },
    GetProduct {
        sku: String,
        reply: Reply<Option<(ProductState, bool)>>,
    },
    GetCustomer {
        id: String,
        reply: Reply<Option<(CustomerState, bool)>>,
    },
    /// Customer events from inside the daemon (one-click unsubscribe, bounces).
    Internal {
        items: Vec<IngestItem>,
        reply: Reply<BatchAck>,
    },
    /// The watchdog's liveness probe: answered once a no-op went through the writer too.
    Ping { reply: oneshot::Sender<()> },
    /// The fan-out of triggers up to `cursor`: offers per customer.
    Offers {
        cursor: u64,
        offers: Vec<(String, Offer)>,
        meta: MetaOps,
        reply: Reply<BatchAck>,
    },
}

/// `meta` puts (Some) and deletes (None) written with a fan-out.
pub type MetaOps = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A handle that does not keep the router alive (held by the router's own actors).
#[derive(Clone)]
pub struct WeakRouter {
    tx: mpsc::WeakSender<Command>,
}

impl WeakRouter {
    /// The product's current state, if the router is still running and knows it.
    pub async fn get_product(&self, sku: String) -> Option<(ProductState, bool)> {
        let handle = RouterHandle {
            tx: self.tx.upgrade()?,
        };
        handle.get_product(sku).await.ok().flatten()
    }
}

/// Handle to the router task; cheap to clone.
#[derive(Clone)]
pub struct RouterHandle {
    tx: mpsc::Sender<Command>,
}

impl RouterHandle {
    /// Applies a batch; resolves once its effects are durable.
    pub async fn ingest(
        &self,
        producer: String,
        sequence: u64,
        items: Vec<IngestItem>,
        early: Vec<(u32, Rejection)>,
    ) -> Result<BatchAck, RouterError> {
        self.submit(producer, sequence, items, early).await?.await
    }

    /// Queues a batch (waiting only for room in the router's queue) and returns a future
    /// for its ack. Batches queued one after another are applied in that order.
    pub async fn submit(
        &self,
        producer: String,
        sequence: u64,
        items: Vec<IngestItem>,
        early: Vec<(u32, Rejection)>,
    ) -> Result<
        impl std::future::Future<Output = Result<BatchAck, RouterError>> + Send + 'static,
        RouterError,
    > {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Ingest {
            producer,
            sequence,
            items,
            early,
            reply,
        };
        self.tx
            .send(cmd)
            .await
            .map_err(|_| RouterError::Unavailable)?;
        Ok(async move { rx.await.map_err(|_| RouterError::Unavailable)? })
    }

    /// Fires due timers; resolves once their effects (and the timers' removal) are durable.
    pub async fn fire_timers(&self, timers: Vec<TimerKey>) -> Result<(), RouterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Timers { timers, reply })
            .await
            .map_err(|_| RouterError::Unavailable)?;
        rx.await.map_err(|_| RouterError::Unavailable)
    }

    /// The product's state and whether its actor is in memory.
    pub async fn get_product(
        &self,
        sku: String,
    ) -> Result<Option<(ProductState, bool)>, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::GetProduct { sku, reply })
            .await
            .map_err(|_| RouterError::Unavailable)?;
        rx.await.map_err(|_| RouterError::Unavailable)?
    }

    /// Hands the fan-out of every trigger up to `cursor` to the customers; the cursor is
    /// stored with their decisions, so a restart resumes after it.
    pub async fn offers(
        &self,
        cursor: u64,
        offers: Vec<(String, Offer)>,
        meta: MetaOps,
    ) -> Result<BatchAck, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Offers {
                cursor,
                offers,
                meta,
                reply,
            })
            .await
            .map_err(|_| RouterError::Unavailable)?;
        rx.await.map_err(|_| RouterError::Unavailable)?
    }

    /// Applies customer events raised inside the daemon; resolves once durable.
    pub async fn internal(&self, items: Vec<IngestItem>) -> Result<BatchAck, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Internal { items, reply })
            .await
            .map_err(|_| RouterError::Unavailable)?;
        rx.await.map_err(|_| RouterError::Unavailable)?
    }

    /// Resolves once a no-op has gone through the router's queue and then the writer's
    /// (an answer from the writer, even an error such as a full disk, counts): the
    /// systemd watchdog's proof that both are making progress.
    pub async fn ping(&self) -> Result<(), RouterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Ping { reply })
            .await
            .map_err(|_| RouterError::Unavailable)?;
        rx.await.map_err(|_| RouterError::Unavailable)
    }

    /// The customer's state and whether its actor is in memory.
    pub async fn get_customer(
        &self,
        id: String,
    ) -> Result<Option<(CustomerState, bool)>, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::GetCustomer { id, reply })
            .await
            .map_err(|_| RouterError::Unavailable)?;
        rx.await.map_err(|_| RouterError::Unavailable)?
    }
}

type Pending = BoxFuture<'static, Answered>;

/// Work whose actor replies are awaited in dispatch order.
pub(super) struct Dispatched {
    pub ticket: u64,
    pub products: Replies<Applied>,
    pub customers: Replies<CustomerApplied>,
    pub kind: DispatchKind,
}

/// A dispatch with every actor's answer (`None`: the actor died).
pub(super) struct Answered {
    pub ticket: u64,
    pub products: Vec<(String, Option<Applied>)>,
    pub customers: Vec<(String, Option<CustomerApplied>)>,
    pub kind: DispatchKind,
}

pub(super) enum DispatchKind {
    Batch {
        producer: String,
        sequence: u64,
        early: Vec<(u32, Rejection)>,
        reply: Reply<BatchAck>,
    },
    Duplicate {
        ack: BatchAck,
        reply: Reply<BatchAck>,
    },
    Internal {
        reply: Reply<BatchAck>,
    },
    Fanout {
        cursor: u64,
        meta: MetaOps,
        reply: Reply<BatchAck>,
    },
    Timers {
        timers: Vec<TimerKey>,
        reply: oneshot::Sender<()>,
    },
}

pub struct Router {
    pub(super) store: Store,
    pub(super) writer: Writer,
    pub(super) metrics: Arc<Metrics>,
    /// Half-life of category affinity, carried on every affinity merge.
    pub(super) affinity_half_life_ms: i64,
    idle_timeout: Duration,
    products: Registry<ProductActor>,
    customers: Registry<CustomerActor>,
    /// Last sequence dispatched per producer, and the ack it produced.
    pub(super) producers: HashMap<String, ProducerRecord>,
    next_ticket: u64,
    pub(super) next_trigger_id: u64,
    pub(super) next_outbox_seq: u64,
    /// Woken when new outbox entries are durable.
    pub(super) outbox_notify: Arc<tokio::sync::Notify>,
    pub(super) fanout_notify: Arc<tokio::sync::Notify>,
    /// Most actors of each kind kept in memory (`actors.max_active`).
    max_active: usize,
    last_trim: Instant,
}

/// What the Router needs besides the store and writer.
pub struct RouterConfig {
    pub triggers: Arc<TriggerConfig>,
    pub idle_timeout: Duration,
    pub affinity_half_life_ms: i64,
    pub rules: Arc<LiveRules>,
    pub links: Links,
    pub outbox_notify: Arc<tokio::sync::Notify>,
    /// Woken once new triggers are durable (the fan-out follows the trigger log).
    pub fanout_notify: Arc<tokio::sync::Notify>,
    /// Most product actors, and most customer actors, kept in memory at once.
    pub max_active: usize,
}

impl Router {
    /// Starts the router task. It ends after every handle is dropped and its work is durable.
    pub fn start(
        store: Store,
        writer: Writer,
        cfg: RouterConfig,
        metrics: Arc<Metrics>,
    ) -> Result<(RouterHandle, tokio::task::JoinHandle<()>), StoreError> {
        let next_trigger_id = match store.last_key(Cf::Triggers)? {
            Some(k) => schema::decode_trigger_key(&k).map_or(1, |id| id + 1),
            None => 1,
        };
        metrics.last_trigger_id.store(
            next_trigger_id.saturating_sub(1),
            std::sync::atomic::Ordering::Relaxed,
        );
        let next_outbox_seq = match store.last_key(Cf::Outbox)? {
            Some(k) => crate::store::outbox::decode_key(&k).map_or(1, |s| s + 1),
            None => 1,
        };
        let (tx, rx) = mpsc::channel(1024);
        let shared = CustomerShared {
            rules: cfg.rules,
            links: cfg.links,
            triggers: cfg.triggers.clone(),
            router: WeakRouter { tx: tx.downgrade() },
        };
        let router = Router {
            store,
            writer,
            metrics,
            affinity_half_life_ms: cfg.affinity_half_life_ms,
            idle_timeout: cfg.idle_timeout,
            products: Registry::new(cfg.triggers),
            customers: Registry::new(Arc::new(shared)),
            producers: HashMap::new(),
            next_ticket: 0,
            next_trigger_id,
            next_outbox_seq,
            outbox_notify: cfg.outbox_notify,
            fanout_notify: cfg.fanout_notify,
            max_active: cfg.max_active.max(1),
            last_trim: Instant::now(),
        };
        Ok((RouterHandle { tx }, tokio::spawn(router.run(rx))))
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
                    Some(cmd) => self.command(cmd, &mut dispatched).await,
                    None => open = false,
                },
                Some(done) = dispatched.next() => {
                    if let Some(wait) = self.persist(done) {
                        durable.push_back(wait);
                    }
                }
                Some(()) = durable.next() => {}
                _ = sweep.tick() => self.passivate_idle(),
                _ = limit.tick() => {
                    self.enforce_limit();
                    self.metrics
                        .set_active_actors(self.products.len(), self.customers.len());
                }
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

    async fn command(&mut self, cmd: Command, dispatched: &mut FuturesOrdered<Pending>) {
        match cmd {
            Command::Ingest {
                producer,
                sequence,
                items,
                early,
                reply,
            } => match self.last_record(&producer).await {
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
                Ok(last) if sequence <= last.last_sequence => {
                    self.metrics.add_duplicate();
                    let ack = if sequence == last.last_sequence {
                        BatchAck {
                            duplicate: true,
                            applied: last.last_applied,
                            rejections: last.last_rejections,
                        }
                    } else {
                        BatchAck {
                            duplicate: true,
                            ..BatchAck::default()
                        }
                    };
                    let ticket = self.ticket();
                    let d = Dispatched {
                        ticket,
                        products: Vec::new(),
                        customers: Vec::new(),
                        kind: DispatchKind::Duplicate { ack, reply },
                    };
                    dispatched.push_back(wait_replies(d).boxed());
                }
                Ok(_) => {
                    let (products, customers) = split(items);
                    let ticket = self.ticket();
                    match self.dispatch(products, customers, ticket).await {
                        Ok((products, customers)) => {
                            // The in-memory record moves now so a re-send is recognised
                            // even before this batch is durable; `persist` fills the ack.
                            self.producers.insert(
                                producer.clone(),
                                ProducerRecord {
                                    last_sequence: sequence,
                                    ..ProducerRecord::default()
                                },
                            );
                            let kind = DispatchKind::Batch {
                                producer,
                                sequence,
                                early,
                                reply,
                            };
                            dispatched.push_back(
                                wait_replies(Dispatched {
                                    ticket,
                                    products,
                                    customers,
                                    kind,
                                })
                                .boxed(),
                            );
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e.into()));
                        }
                    }
                }
            },
            Command::Internal { items, reply } => {
                let (products, customers) = split(items);
                let ticket = self.ticket();
                match self.dispatch(products, customers, ticket).await {
                    Ok((products, customers)) => {
                        let d = Dispatched {
                            ticket,
                            products,
                            customers,
                            kind: DispatchKind::Internal { reply },
                        };
                        dispatched.push_back(wait_replies(d).boxed());
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Offers {
                cursor,
                offers,
                meta,
                reply,
            } => {
                let mut per_customer: HashMap<String, Vec<Offer>> = HashMap::new();
                for (id, o) in offers {
                    per_customer.entry(id).or_default().push(o);
                }
                let now = crate::clock::now_ms();
                let customers: Vec<(String, Vec<CustomerItem>)> = per_customer
                    .into_iter()
                    .map(|(id, offers)| {
                        (
                            id,
                            vec![CustomerItem {
                                index: 0,
                                at_ms: now,
                                event: CustomerEvent::Offers(offers),
                            }],
                        )
                    })
                    .collect();
                let ticket = self.ticket();
                match self.dispatch(Vec::new(), customers, ticket).await {
                    Ok((products, customers)) => {
                        let d = Dispatched {
                            ticket,
                            products,
                            customers,
                            kind: DispatchKind::Fanout {
                                cursor,
                                meta,
                                reply,
                            },
                        };
                        dispatched.push_back(wait_replies(d).boxed());
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Timers { timers, reply } => {
                let is_customer = |k: TimerKind| {
                    matches!(k, TimerKind::CustomerArbitrate | TimerKind::CustomerQuiet)
                };
                let product_items = timers.iter().filter(|t| !is_customer(t.kind)).map(|t| {
                    (
                        t.sku.clone(),
                        Item {
                            index: 0,
                            at_ms: t.due_ms,
                            event: ProductEvent::Timer(t.kind),
                        },
                    )
                });
                let customer_items = timers.iter().filter(|t| is_customer(t.kind)).map(|t| {
                    (
                        t.sku.clone(),
                        CustomerItem {
                            index: 0,
                            at_ms: t.due_ms,
                            event: CustomerEvent::Timer(t.kind),
                        },
                    )
                });
                let ticket = self.ticket();
                match self
                    .dispatch(group(product_items), group(customer_items), ticket)
                    .await
                {
                    Ok((products, customers)) => {
                        let d = Dispatched {
                            ticket,
                            products,
                            customers,
                            kind: DispatchKind::Timers { timers, reply },
                        };
                        dispatched.push_back(wait_replies(d).boxed());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Due timers could not be loaded; they stay queued and are retried.")
                    }
                }
            }
            Command::GetProduct { sku, reply } => {
                let active = self.products.get(&sku);
                let store = self.store.clone();
                tokio::spawn(async move {
                    let res = match active {
                        Some(actor) => ractor::call!(actor, |reply| ProductMsg::Get { reply })
                            .map(|s| s.map(|s| (s, true)))
                            .map_err(|_| RouterError::Unavailable),
                        None => load(store, Cf::Products, sku, schema::decode_product)
                            .await
                            .map(|s| s.map(|s| (s, false))),
                    };
                    let _ = reply.send(res);
                });
            }
            Command::Ping { reply } => {
                let written = self.writer.submit(Batch::default(), 0);
                tokio::spawn(async move {
                    if written.await.is_ok() {
                        let _ = reply.send(());
                    }
                });
            }
            Command::GetCustomer { id, reply } => {
                let active = self.customers.get(&id);
                let store = self.store.clone();
                tokio::spawn(async move {
                    let res = match active {
                        Some(actor) => ractor::call!(actor, |reply| CustomerMsg::Get { reply })
                            .map(|s| s.map(|s| (s, true)))
                            .map_err(|_| RouterError::Unavailable),
                        None => load(store, Cf::Customers, id, schema::decode_customer)
                            .await
                            .map(|s| s.map(|s| (s, false))),
                    };
                    let _ = reply.send(res);
                });
            }
        }
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    async fn last_record(&mut self, producer: &str) -> Result<ProducerRecord, StoreError> {
        if let Some(r) = self.producers.get(producer) {
            return Ok(r.clone());
        }
        let rec = load(
            self.store.clone(),
            Cf::Producers,
            producer.to_owned(),
            schema::decode_producer,
        )
        .await
        .map_err(|e| match e {
            RouterError::Store(s) => s,
            RouterError::Unavailable => StoreError::Closed,
        })?;
        let rec = rec.unwrap_or_default();
        self.producers.insert(producer.to_owned(), rec.clone());
        Ok(rec)
    }

    async fn dispatch(
        &mut self,
        products: Vec<(String, Vec<Item>)>,
        customers: Vec<(String, Vec<CustomerItem>)>,
        ticket: u64,
    ) -> Result<(Replies<Applied>, Replies<CustomerApplied>), StoreError> {
        let p = self
            .products
            .dispatch(&self.store, products, ticket)
            .await?;
        let c = if customers.is_empty() {
            Vec::new()
        } else {
            self.customers
                .dispatch(&self.store, customers, ticket)
                .await?
        };
        self.enforce_limit();
        self.metrics
            .set_active_actors(self.products.len(), self.customers.len());
        Ok((p, c))
    }

    /// Above `max_active` of a kind, passivates its least recently used (durable) actors
    /// down to 90% of the limit, so memory stays bounded during a burst that touches more
    /// customers or products than the idle timeout would let go in time.
    fn enforce_limit(&mut self) {
        let max = self.max_active;
        if (self.products.len() <= max && self.customers.len() <= max)
            || self.last_trim.elapsed() < Duration::from_millis(100)
        {
            return;
        }
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
            self.metrics
                .passivated
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
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
            self.metrics
                .passivated
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Reads and decodes one record on a blocking thread.
async fn load<T: Send + 'static>(
    store: Store,
    cf: Cf,
    key: String,
    decode: fn(&[u8]) -> Result<T, StoreError>,
) -> Result<Option<T>, RouterError> {
    tokio::task::spawn_blocking(move || {
        store
            .get_raw(cf, key.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    })
    .await
    .map_err(|_| RouterError::Unavailable)?
    .map_err(RouterError::from)
}

type Groups<T> = Vec<(String, Vec<T>)>;

fn split(items: Vec<IngestItem>) -> (Groups<Item>, Groups<CustomerItem>) {
    let mut products = Vec::with_capacity(items.len());
    let mut customers = Vec::new();
    for i in items {
        match i {
            IngestItem::Product { sku, item } => products.push((sku, item)),
            IngestItem::Customer { id, item } => customers.push((id, item)),
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
