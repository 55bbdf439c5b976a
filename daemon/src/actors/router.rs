//! The Router owns the product-actor registry and puts every change in one order:
//! batches (and timer firings) are dispatched to actors in arrival order, and their writes
//! go to the group-commit writer in that same order. Since actor mailboxes are FIFO and
//! the writer completes in queue order, whatever prefix of writes survives a crash is a
//! consistent state, and a producer's sequence is stored atomically with its batch.
//!
//! Actors are activated from RocksDB on first use (one multi-get per batch) and
//! passivated when idle, but only once their last write is durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{FuturesOrdered, StreamExt};
use ractor::{Actor, ActorRef};
use tokio::sync::{mpsc, oneshot};

use super::product::{Applied, Item, ProductActor, ProductArgs, ProductMsg};
use crate::domain::product::ProductState;
use crate::domain::{Rejection, TriggerConfig};
use crate::metrics::Metrics;
use crate::store::schema::{self, ProducerRecord, TimerKey};
use crate::store::writer::{Batch, Writer};
use crate::store::{Cf, Store, StoreError};

/// One validated event addressed to a product.
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub sku: String,
    pub item: Item,
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

enum Command {
    Ingest {
        producer: String,
        sequence: u64,
        items: Vec<IngestItem>,
        early: Vec<(u32, Rejection)>,
        reply: oneshot::Sender<Result<BatchAck, RouterError>>,
    },
    Timers {
        timers: Vec<TimerKey>,
        reply: oneshot::Sender<()>,
    },
    GetProduct {
        sku: String,
        reply: oneshot::Sender<Result<Option<(ProductState, bool)>, RouterError>>,
    },
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
}

struct Slot {
    actor: ActorRef<ProductMsg>,
    last_ticket: u64,
    last_used: Instant,
}

type Pending = BoxFuture<'static, (Dispatched, Vec<(String, Option<Applied>)>)>;

/// Work whose actor replies are awaited in dispatch order.
struct Dispatched {
    ticket: u64,
    replies: Vec<(String, oneshot::Receiver<Applied>)>,
    kind: DispatchKind,
}

enum DispatchKind {
    Batch {
        producer: String,
        sequence: u64,
        early: Vec<(u32, Rejection)>,
        reply: oneshot::Sender<Result<BatchAck, RouterError>>,
    },
    Duplicate {
        ack: BatchAck,
        reply: oneshot::Sender<Result<BatchAck, RouterError>>,
    },
    Timers {
        timers: Vec<TimerKey>,
        reply: oneshot::Sender<()>,
    },
}

pub struct Router {
    store: Store,
    writer: Writer,
    cfg: Arc<TriggerConfig>,
    idle_timeout: Duration,
    metrics: Arc<Metrics>,
    registry: HashMap<String, Slot>,
    /// Last sequence dispatched per producer, and the ack it produced.
    producers: HashMap<String, ProducerRecord>,
    next_ticket: u64,
    next_trigger_id: u64,
}

impl Router {
    /// Starts the router task. It ends after every handle is dropped and its work is durable.
    pub fn start(
        store: Store,
        writer: Writer,
        cfg: Arc<TriggerConfig>,
        idle_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Result<(RouterHandle, tokio::task::JoinHandle<()>), StoreError> {
        let next_trigger_id = match store.last_key(Cf::Triggers)? {
            Some(k) => schema::decode_trigger_key(&k).map_or(1, |id| id + 1),
            None => 1,
        };
        let (tx, rx) = mpsc::channel(1024);
        let router = Router {
            store,
            writer,
            cfg,
            idle_timeout,
            metrics,
            registry: HashMap::new(),
            producers: HashMap::new(),
            next_ticket: 0,
            next_trigger_id,
        };
        Ok((RouterHandle { tx }, tokio::spawn(router.run(rx))))
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut dispatched: FuturesOrdered<Pending> = FuturesOrdered::new();
        let mut durable: FuturesOrdered<BoxFuture<'static, ()>> = FuturesOrdered::new();
        let mut sweep =
            tokio::time::interval((self.idle_timeout / 4).max(Duration::from_millis(250)));
        let mut open = true;
        loop {
            tokio::select! {
                cmd = rx.recv(), if open => match cmd {
                    Some(cmd) => self.command(cmd, &mut dispatched).await,
                    None => open = false,
                },
                Some(done) = dispatched.next() => {
                    let (d, results): (Dispatched, Vec<(String, Option<Applied>)>) = done;
                    if let Some(wait) = self.persist(d, results) {
                        durable.push_back(wait);
                    }
                }
                Some(()) = durable.next() => {}
                _ = sweep.tick() => self.passivate_idle(),
                else => break,
            }
            if !open && dispatched.is_empty() && durable.is_empty() {
                break;
            }
        }
        for (_, slot) in self.registry.drain() {
            slot.actor.stop(None);
        }
        self.metrics.set_active_actors(0);
    }

    async fn command(&mut self, cmd: Command, dispatched: &mut FuturesOrdered<Pending>) {
        match cmd {
            Command::Ingest {
                producer,
                sequence,
                items,
                early,
                reply,
            } => {
                match self.last_record(&producer).await {
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
                        dispatched.push_back(
                            wait_replies(Dispatched {
                                ticket,
                                replies: Vec::new(),
                                kind: DispatchKind::Duplicate { ack, reply },
                            })
                            .boxed(),
                        );
                    }
                    Ok(_) => {
                        let groups = group(items.into_iter().map(|i| (i.sku, i.item)));
                        let ticket = self.ticket();
                        match self.dispatch(groups, ticket).await {
                            Ok(replies) => {
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
                                        replies,
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
                }
            }
            Command::Timers { timers, reply } => {
                let groups = group(timers.iter().map(|t| {
                    (
                        t.sku.clone(),
                        Item {
                            index: 0,
                            at_ms: t.due_ms,
                            event: crate::domain::ProductEvent::Timer(t.kind),
                        },
                    )
                }));
                let ticket = self.ticket();
                match self.dispatch(groups, ticket).await {
                    Ok(replies) => dispatched.push_back(
                        wait_replies(Dispatched {
                            ticket,
                            replies,
                            kind: DispatchKind::Timers { timers, reply },
                        })
                        .boxed(),
                    ),
                    Err(e) => {
                        tracing::warn!(error = %e, "Due timers could not be loaded; they stay queued and are retried.")
                    }
                }
            }
            Command::GetProduct { sku, reply } => match self.registry.get(&sku) {
                Some(slot) => {
                    let actor = slot.actor.clone();
                    tokio::spawn(async move {
                        let (port, rx) = oneshot::channel();
                        let res = match actor.cast(ProductMsg::Get { reply: port.into() }) {
                            Ok(()) => rx
                                .await
                                .map(|s| s.map(|s| (s, true)))
                                .map_err(|_| RouterError::Unavailable),
                            Err(_) => Err(RouterError::Unavailable),
                        };
                        let _ = reply.send(res);
                    });
                }
                None => {
                    let store = self.store.clone();
                    tokio::spawn(async move {
                        let res = tokio::task::spawn_blocking(move || load_product(&store, &sku))
                            .await
                            .map_err(|_| RouterError::Unavailable)
                            .and_then(|r| {
                                r.map(|s| s.map(|s| (s, false))).map_err(RouterError::from)
                            });
                        let _ = reply.send(res);
                    });
                }
            },
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
        let store = self.store.clone();
        let key = producer.as_bytes().to_vec();
        let raw = tokio::task::spawn_blocking(move || store.get_raw(Cf::Producers, &key))
            .await
            .map_err(|_| StoreError::Closed)??;
        let rec = raw
            .map(|b| schema::decode_producer(&b))
            .transpose()?
            .unwrap_or_default();
        self.producers.insert(producer.to_owned(), rec.clone());
        Ok(rec)
    }

    /// Activates missing actors (one multi-get), then sends each product its events.
    async fn dispatch(
        &mut self,
        groups: Vec<(String, Vec<Item>)>,
        ticket: u64,
    ) -> Result<Vec<(String, oneshot::Receiver<Applied>)>, StoreError> {
        let missing: Vec<Vec<u8>> = groups
            .iter()
            .filter(|(sku, _)| !self.registry.contains_key(sku))
            .map(|(sku, _)| sku.as_bytes().to_vec())
            .collect();
        if !missing.is_empty() {
            let store = self.store.clone();
            let loaded = tokio::task::spawn_blocking(move || {
                let raws = store.multi_get_raw(Cf::Products, &missing)?;
                missing
                    .into_iter()
                    .zip(raws)
                    .map(|(k, raw)| {
                        Ok((
                            String::from_utf8_lossy(&k).into_owned(),
                            raw.map(|b| schema::decode_product(&b)).transpose()?,
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await
            .map_err(|_| StoreError::Closed)??;
            for (sku, state) in loaded {
                let args = ProductArgs {
                    sku: sku.clone(),
                    state,
                    cfg: self.cfg.clone(),
                };
                let (actor, _) = Actor::spawn(None, ProductActor, args).await.map_err(|e| {
                    StoreError::Corrupt {
                        cf: "actors",
                        reason: e.to_string(),
                    }
                })?;
                self.registry.insert(
                    sku,
                    Slot {
                        actor,
                        last_ticket: 0,
                        last_used: Instant::now(),
                    },
                );
            }
            self.metrics.set_active_actors(self.registry.len());
        }
        let now = Instant::now();
        let mut replies = Vec::with_capacity(groups.len());
        for (sku, items) in groups {
            let Some(slot) = self.registry.get_mut(&sku) else {
                continue;
            };
            slot.last_ticket = ticket;
            slot.last_used = now;
            let (port, rx) = oneshot::channel();
            if slot
                .actor
                .cast(ProductMsg::Apply {
                    items,
                    reply: port.into(),
                })
                .is_err()
            {
                return Err(StoreError::Corrupt {
                    cf: "actors",
                    reason: format!("the actor of {sku:?} stopped"),
                });
            }
            replies.push((sku, rx));
        }
        Ok(replies)
    }

    /// Builds the write for a batch whose actors all answered, in dispatch order, and
    /// queues it. Returns a future that answers the caller once the write is durable.
    fn persist(
        &mut self,
        d: Dispatched,
        results: Vec<(String, Option<Applied>)>,
    ) -> Option<BoxFuture<'static, ()>> {
        let mut batch = Batch::default();
        let mut applied = 0;
        let mut rejections: Vec<(u32, String, String)> = Vec::new();
        let mut fired = 0u64;
        let mut failed = false;
        for (sku, result) in results {
            let Some(out) = result else {
                failed = true;
                continue;
            };
            applied += out.applied;
            rejections.extend(
                out.rejections
                    .into_iter()
                    .map(|(i, r)| (i, r.field.to_owned(), r.reason)),
            );
            if let Some(bytes) = out.state {
                batch.put(Cf::Products, sku.as_bytes().to_vec(), bytes);
            }
            for t in &out.effects.timers {
                let key = TimerKey {
                    due_ms: t.due_ms,
                    kind: t.kind,
                    sku: sku.clone(),
                }
                .encode();
                if t.put {
                    batch.put(Cf::Timers, key, schema::timer_value());
                } else {
                    batch.delete(Cf::Timers, key);
                }
            }
            for trig in &out.effects.triggers {
                let id = self.next_trigger_id;
                self.next_trigger_id += 1;
                batch.put(
                    Cf::Triggers,
                    schema::trigger_key(id).to_vec(),
                    schema::encode_trigger(trig),
                );
                batch.put(
                    Cf::TriggerBySku,
                    schema::trigger_by_sku_key(&sku, id),
                    Vec::new(),
                );
                self.metrics.add_trigger(trig.kind);
                fired += 1;
            }
        }
        if failed {
            // An actor died mid-batch: its memory may be ahead of the store. Stop taking
            // work; a restart reloads every product from the durable state.
            self.metrics
                .set_fatal("a product actor stopped while applying a batch");
            if let DispatchKind::Batch { reply, .. } | DispatchKind::Duplicate { reply, .. } =
                d.kind
            {
                let _ = reply.send(Err(RouterError::Unavailable));
            }
            return None;
        }
        match d.kind {
            DispatchKind::Batch {
                producer,
                sequence,
                early,
                reply,
            } => {
                rejections.extend(
                    early
                        .into_iter()
                        .map(|(i, r)| (i, r.field.to_owned(), r.reason)),
                );
                rejections.sort_by_key(|r| r.0);
                let record = ProducerRecord {
                    last_sequence: sequence,
                    last_applied: applied,
                    last_rejections: rejections.clone(),
                };
                batch.put(
                    Cf::Producers,
                    producer.as_bytes().to_vec(),
                    schema::encode_producer(&record),
                );
                self.producers.insert(producer, record);
                self.metrics
                    .add_batch(applied as u64, rejections.len() as u64);
                let ack = BatchAck {
                    duplicate: false,
                    applied,
                    rejections,
                };
                Some(ack_when_durable(
                    self.writer.submit(batch, d.ticket),
                    ack,
                    reply,
                ))
            }
            DispatchKind::Duplicate { ack, reply } => Some(ack_when_durable(
                self.writer.submit(batch, d.ticket),
                ack,
                reply,
            )),
            DispatchKind::Timers { timers, reply } => {
                for t in &timers {
                    batch.delete(Cf::Timers, t.encode());
                }
                tracing::debug!(timers = timers.len(), triggers = fired, "Fired due timers.");
                let wait = self.writer.submit(batch, d.ticket);
                Some(
                    finish(wait, move |_| {
                        let _ = reply.send(());
                    })
                    .boxed(),
                )
            }
        }
    }

    fn passivate_idle(&mut self) {
        let durable = self.writer.durable_ticket();
        let cutoff = Instant::now().checked_sub(self.idle_timeout);
        let Some(cutoff) = cutoff else { return };
        let before = self.registry.len();
        self.registry.retain(|_, slot| {
            let idle = slot.last_used < cutoff && slot.last_ticket <= durable;
            if idle {
                slot.actor.stop(None);
            }
            !idle
        });
        if self.registry.len() != before {
            tracing::debug!(
                passivated = before - self.registry.len(),
                active = self.registry.len(),
                "Passivated idle product actors."
            );
            self.metrics.set_active_actors(self.registry.len());
        }
    }
}

fn load_product(store: &Store, sku: &str) -> Result<Option<ProductState>, StoreError> {
    store
        .get_raw(Cf::Products, sku.as_bytes())?
        .map(|b| schema::decode_product(&b))
        .transpose()
}

/// Groups events by product, keeping each product's events in batch order.
fn group(items: impl Iterator<Item = (String, Item)>) -> Vec<(String, Vec<Item>)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(String, Vec<Item>)> = Vec::new();
    for (sku, item) in items {
        match index.get(&sku) {
            Some(&i) => groups[i].1.push(item),
            None => {
                index.insert(sku.clone(), groups.len());
                groups.push((sku, vec![item]));
            }
        }
    }
    groups
}

async fn wait_replies(d: Dispatched) -> (Dispatched, Vec<(String, Option<Applied>)>) {
    let mut d = d;
    let replies = std::mem::take(&mut d.replies);
    let mut results = Vec::with_capacity(replies.len());
    for (sku, rx) in replies {
        results.push((sku, rx.await.ok()));
    }
    (d, results)
}

/// Answers `reply` with `ack` once the write behind `wait` is durable.
fn ack_when_durable(
    wait: oneshot::Receiver<Result<(), String>>,
    ack: BatchAck,
    reply: oneshot::Sender<Result<BatchAck, RouterError>>,
) -> BoxFuture<'static, ()> {
    finish(wait, move |ok| {
        let _ = reply.send(if ok {
            Ok(ack)
        } else {
            Err(RouterError::Unavailable)
        });
    })
    .boxed()
}

async fn finish(wait: oneshot::Receiver<Result<(), String>>, then: impl FnOnce(bool) + Send) {
    then(matches!(wait.await, Ok(Ok(()))));
}
