//! Turning the actors' answers for one dispatch into one atomic write: product and
//! customer states, fired triggers (log + per-sku index), timer puts and deletes,
//! interest-edge and category-affinity merges, and the producer's sequence and ack.

use futures::future::{BoxFuture, FutureExt};
use tokio::sync::oneshot;

use super::product::Applied;
use super::router::{Answered, BatchAck, DispatchKind, Router, RouterError};
use crate::store::interest::{encode_affinity_ops, encode_edge_ops, pair_key, AffinityOp};
use crate::store::schema::{self, ProducerRecord, TimerKey};
use crate::store::writer::Batch;
use crate::store::{outbox, Cf};

/// `meta` key of the last trigger id whose fan-out is durable.
pub const FANOUT_CURSOR: &[u8] = b"fanout_cursor";

type Rejections = Vec<(u32, String, String)>;

impl Router {
    /// Builds and queues the write of a dispatch whose actors all answered, in dispatch
    /// order. Returns a future that answers the caller once the write is durable.
    pub(super) fn persist(&mut self, a: Answered) -> Option<BoxFuture<'static, ()>> {
        let mut batch = Batch::default();
        let mut applied = 0;
        let mut rejections: Rejections = Vec::new();
        let mut failed = false;
        let mut new_entries = false;
        let first_trigger = self.next_trigger_id;
        for (sku, result) in a.products {
            let Some(mut out) = result else {
                failed = true;
                continue;
            };
            applied += out.applied;
            absorb(&mut rejections, std::mem::take(&mut out.rejections));
            self.write_product(&mut batch, &sku, out);
        }
        for (id, result) in a.customers {
            let Some(out) = result else {
                failed = true;
                continue;
            };
            applied += out.applied;
            absorb(&mut rejections, out.rejections);
            if let Some(bytes) = out.state {
                batch.put(Cf::Customers, id.as_bytes().to_vec(), bytes);
            }
            for (due_ms, kind) in &out.timers {
                let key = TimerKey {
                    due_ms: *due_ms,
                    kind: *kind,
                    sku: id.clone(),
                }
                .encode();
                batch.put(Cf::Timers, key, schema::timer_value());
            }
            for (scenario, reason) in &out.suppressed {
                self.metrics.add_suppressed(*scenario, *reason, 1);
            }
            for mut entry in out.entries {
                entry.seq = self.next_outbox_seq;
                self.next_outbox_seq += 1;
                self.metrics
                    .scenario(entry.scenario)
                    .queued
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                batch.put(
                    Cf::Outbox,
                    outbox::key(entry.seq).to_vec(),
                    outbox::encode_entry(&entry),
                );
                batch.put(
                    Cf::OutboxDue,
                    outbox::due_key(entry.next_attempt_ms, entry.seq),
                    Vec::new(),
                );
                batch.put(
                    Cf::OutboxByCustomer,
                    outbox::by_customer_key(&entry.customer_id, entry.seq),
                    Vec::new(),
                );
                new_entries = true;
            }
        }
        if failed {
            // An actor died mid-batch: its memory may be ahead of the store. Stop taking
            // work; a restart reloads every actor from the durable state.
            self.metrics
                .set_fatal("an actor stopped while applying a batch");
            if let DispatchKind::Batch { reply, .. }
            | DispatchKind::Duplicate { reply, .. }
            | DispatchKind::Internal { reply }
            | DispatchKind::Fanout { reply, .. } = a.kind
            {
                let _ = reply.send(Err(RouterError::Unavailable));
            }
            return None;
        }
        let wait = match a.kind {
            DispatchKind::Batch {
                producer,
                sequence,
                early,
                reply,
            } => {
                absorb(&mut rejections, early);
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
                    .add_batch(u64::from(applied), rejections.len() as u64);
                let ack = BatchAck {
                    duplicate: false,
                    applied,
                    rejections,
                };
                ack_when_durable(self.writer.submit(batch, a.ticket), ack, reply)
            }
            DispatchKind::Duplicate { ack, reply } => {
                ack_when_durable(self.writer.submit(batch, a.ticket), ack, reply)
            }
            DispatchKind::Fanout {
                cursor,
                meta,
                reply,
            } => {
                for (key, value) in meta {
                    match value {
                        Some(v) => batch.put(Cf::Meta, key, v),
                        None => batch.delete(Cf::Meta, key),
                    }
                }
                batch.put(
                    Cf::Meta,
                    FANOUT_CURSOR.to_vec(),
                    cursor.to_be_bytes().to_vec(),
                );
                let ack = BatchAck {
                    duplicate: false,
                    applied,
                    rejections,
                };
                ack_when_durable(self.writer.submit(batch, a.ticket), ack, reply)
            }
            DispatchKind::Internal { reply } => {
                rejections.sort_by_key(|r| r.0);
                let ack = BatchAck {
                    duplicate: false,
                    applied,
                    rejections,
                };
                ack_when_durable(self.writer.submit(batch, a.ticket), ack, reply)
            }
            DispatchKind::Timers { timers, reply } => {
                for t in &timers {
                    batch.delete(Cf::Timers, t.encode());
                }
                let wait = self.writer.submit(batch, a.ticket);
                finish(wait, move |_| {
                    let _ = reply.send(());
                })
                .boxed()
            }
        };
        // Once durable, wake whoever follows what this write added.
        let outbox = new_entries.then(|| self.outbox_notify.clone());
        let fanout = (self.next_trigger_id != first_trigger).then(|| self.fanout_notify.clone());
        if outbox.is_none() && fanout.is_none() {
            return Some(wait);
        }
        Some(
            async move {
                wait.await;
                for n in outbox.iter().chain(fanout.iter()) {
                    n.notify_one();
                }
            }
            .boxed(),
        )
    }

    fn write_product(&mut self, batch: &mut Batch, sku: &str, out: Applied) {
        if let Some(bytes) = out.state {
            batch.put(Cf::Products, sku.as_bytes().to_vec(), bytes);
        }
        for t in &out.effects.timers {
            let key = TimerKey {
                due_ms: t.due_ms,
                kind: t.kind,
                sku: sku.to_owned(),
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
                schema::trigger_by_sku_key(sku, id),
                Vec::new(),
            );
            self.metrics.add_trigger(trig.kind);
            self.metrics
                .last_trigger_id
                .fetch_max(id, std::sync::atomic::Ordering::Relaxed);
        }
        for w in &out.effects.interest {
            let ops = encode_edge_ops(std::slice::from_ref(&w.op));
            batch.merge(Cf::Interest, pair_key(sku, &w.customer_id), ops.clone());
            batch.merge(Cf::InterestByCustomer, pair_key(&w.customer_id, sku), ops);
            let weight = w.op.affinity_weight();
            if weight > 0.0 {
                let op = AffinityOp {
                    weight,
                    at_ms: w.op.at_ms(),
                    half_life_ms: self.affinity_half_life_ms,
                };
                let bytes = encode_affinity_ops(&[op]);
                for cat in &w.categories {
                    batch.merge(
                        Cf::CategoryInterest,
                        pair_key(cat, &w.customer_id),
                        bytes.clone(),
                    );
                }
            }
        }
    }
}

/// Adds an actor's rejections to the batch's, in the ack's (index, field, reason) form.
fn absorb(all: &mut Rejections, from: Vec<(u32, crate::domain::Rejection)>) {
    all.extend(
        from.into_iter()
            .map(|(i, r)| (i, r.field.to_owned(), r.reason)),
    );
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
