//! The outbox after creation: one owner changes existing entries. The Router creates
//! entries (with the decision that made them); every later change — an attempt's
//! result, a cancellation, an operator's retry, the removal of stale due keys — is a
//! request to [`OutboxOwner`], whose task applies queued requests in arrival order to
//! the entries as stored (one read, one write per group), so two changes to one entry
//! never overwrite each other. Reads (`reads.rs`) need no owner. At start, before any
//! request, the owner moves due keys written before per-lane queues into their lanes.

pub mod changes;
pub mod reads;

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

pub use changes::{Changed, OutboxPolicy, RetryPolicy};
pub use reads::{Census, DueScan, OutboxPage};

use crate::delivery::SendError;
use crate::domain::customer::Channel;
use crate::domain::message::{OutboxEntry, OutboxStatus};
use crate::domain::Millis;
use crate::store::outbox::{Due, LegacyOutboxDue, Outbox, OutboxDue};
use crate::store::writer::Writer;
use crate::store::{Batch, Store, StoreError};

/// Most requests applied in one write.
const MAX_GROUP: usize = 512;
/// Due keys from before lanes moved per write at start.
const MIGRATE_CHUNK: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox entry {0} does not exist")]
    NotFound(u64),
    #[error("outbox entry {seq} is {status:?}; only Failed or Pending entries can be retried")]
    NotRetryable { seq: u64, status: OutboxStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot store the outbox change: {0}")]
    Write(String),
    #[error("the outbox owner has stopped (the daemon is shutting down)")]
    Stopped,
}

type Reply<T> = oneshot::Sender<Result<T, OutboxError>>;

enum Request {
    Record {
        seq: u64,
        result: Result<(), SendError>,
        at_ms: Millis,
        reply: Reply<Option<OutboxEntry>>,
    },
    Cancel {
        seq: u64,
        why: String,
        reply: Reply<Option<OutboxEntry>>,
    },
    CancelMarketing {
        customer_id: String,
        channel: Option<Channel>,
        reply: Reply<usize>,
    },
    Retry {
        seq: u64,
        at_ms: Millis,
        reply: Reply<(OutboxStatus, OutboxEntry)>,
    },
    RemoveStale {
        keys: Vec<Due>,
        reply: Reply<()>,
    },
}

/// Handle to the owner of outbox entry updates; cheap to clone.
#[derive(Clone)]
pub struct OutboxOwner {
    tx: mpsc::Sender<Request>,
}

impl OutboxOwner {
    /// Starts the owner's task; it ends when every handle is dropped.
    pub fn start(
        store: Store,
        writer: Writer,
        policy: impl Into<OutboxPolicy>,
    ) -> (OutboxOwner, tokio::task::JoinHandle<()>) {
        let policy = policy.into();
        let (tx, rx) = mpsc::channel(4096);
        let task = tokio::spawn(run(store, writer, policy, rx));
        (OutboxOwner { tx }, task)
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, OutboxError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| OutboxError::Stopped)?;
        rx.await.map_err(|_| OutboxError::Stopped)?
    }

    /// Records an attempt's result against the entry as stored now. `None` when the entry
    /// is gone or no longer Pending (cancelled or retried meanwhile) and the result is a
    /// failure: then nothing is written. A delivery is always recorded, since it happened.
    pub async fn record(
        &self,
        seq: u64,
        result: Result<(), SendError>,
        at_ms: Millis,
    ) -> Result<Option<OutboxEntry>, OutboxError> {
        self.ask(|reply| Request::Record {
            seq,
            result,
            at_ms,
            reply,
        })
        .await
    }

    /// Cancels one Pending entry, saying why in its `last_error`; `None` when it is gone
    /// or no longer Pending.
    pub async fn cancel(&self, seq: u64, why: String) -> Result<Option<OutboxEntry>, OutboxError> {
        self.ask(|reply| Request::Cancel { seq, why, reply }).await
    }

    /// Cancels the customer's Pending marketing entries (on `channel`, or every channel);
    /// returns how many.
    pub async fn cancel_marketing(
        &self,
        customer_id: String,
        channel: Option<Channel>,
    ) -> Result<usize, OutboxError> {
        self.ask(|reply| Request::CancelMarketing {
            customer_id,
            channel,
            reply,
        })
        .await
    }

    /// Makes a Failed or Pending entry Pending again and due at `at_ms`, with a fresh
    /// attempt count; returns the status it had and the entry as written.
    pub async fn retry(
        &self,
        seq: u64,
        at_ms: Millis,
    ) -> Result<(OutboxStatus, OutboxEntry), OutboxError> {
        self.ask(|reply| Request::Retry { seq, at_ms, reply }).await
    }

    /// Deletes due keys a scan found stale (`reads::scan_due`).
    pub async fn remove_stale(&self, keys: Vec<Due>) -> Result<(), OutboxError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.ask(|reply| Request::RemoveStale { keys, reply }).await
    }
}

async fn run(store: Store, writer: Writer, policy: OutboxPolicy, mut rx: mpsc::Receiver<Request>) {
    match migrate(&store, &writer).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            moved = n,
            "Moved outbox due keys into per-lane queues (written by an older version)."
        ),
        Err(e) => {
            tracing::error!(error = %e, "Cannot move old outbox due keys into per-lane queues; their entries wait until the next start.")
        }
    }
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        apply_group(&store, &writer, &policy, std::mem::take(&mut group)).await;
    }
}

/// Moves every due key written before lanes into its entry's lane (a key whose entry is
/// gone, no longer Pending or due at another time is dropped); returns how many moved.
pub async fn migrate(store: &Store, writer: &Writer) -> Result<usize, OutboxError> {
    let mut moved = 0;
    loop {
        let (keys, entries) = store
            .read(|s| {
                let keys = reads::legacy_due(s, MIGRATE_CHUNK)?;
                let entries = s.multi_get::<Outbox>(keys.iter().map(|k| k.seq))?;
                Ok((keys, entries))
            })
            .await?;
        let mut batch = Batch::default();
        for (key, entry) in keys.iter().zip(entries) {
            batch.delete::<LegacyOutboxDue>(*key);
            let current = entry.filter(|e| e.next_attempt_ms == key.at_ms);
            if let Some(due) = current.as_ref().and_then(Due::of) {
                batch.put::<OutboxDue>(due, &());
                moved += 1;
            }
        }
        if !batch.is_empty() {
            writer
                .write(batch, 0)
                .await
                .map_err(|e| OutboxError::Write(e.to_string()))?;
        }
        if keys.len() < MIGRATE_CHUNK {
            return Ok(moved);
        }
    }
}

/// The entries a group of requests reads: by seq, and every entry of the customers
/// whose marketing is cancelled.
async fn load(store: &Store, group: &[Request]) -> Result<HashMap<u64, OutboxEntry>, StoreError> {
    let mut seqs = Vec::new();
    let mut customers = Vec::new();
    for r in group {
        match r {
            Request::Record { seq, .. }
            | Request::Cancel { seq, .. }
            | Request::Retry { seq, .. } => seqs.push(*seq),
            Request::CancelMarketing { customer_id, .. } => customers.push(customer_id.clone()),
            Request::RemoveStale { keys, .. } => seqs.extend(keys.iter().map(|k| k.seq)),
        }
    }
    store
        .read(move |s| {
            for c in &customers {
                seqs.extend(reads::customer_seqs(s, c)?);
            }
            seqs.sort_unstable();
            seqs.dedup();
            let entries = s.multi_get::<Outbox>(seqs.iter().copied())?;
            Ok(seqs
                .into_iter()
                .zip(entries)
                .filter_map(|(seq, e)| Some((seq, e?)))
                .collect())
        })
        .await
}

/// An answer to send once the group's write is durable.
type Answer = Box<dyn FnOnce(Result<(), OutboxError>) + Send>;

fn answer<T: Send + 'static>(reply: Reply<T>, value: Result<T, OutboxError>) -> Answer {
    Box::new(move |written| {
        let _ = reply.send(written.and(value));
    })
}

fn refused<T>(why: &str) -> Result<T, OutboxError> {
    Err(OutboxError::Write(why.to_owned()))
}

/// Stores a change in the batch and in the group's view of the entries.
fn apply(entries: &mut HashMap<u64, OutboxEntry>, c: Changed, batch: &mut Batch) -> OutboxEntry {
    c.write(batch);
    entries.insert(c.entry.seq, c.entry.clone());
    c.entry
}

/// Applies a group in arrival order to the stored entries, in one write.
async fn apply_group(store: &Store, writer: &Writer, policy: &OutboxPolicy, group: Vec<Request>) {
    let mut entries = match load(store, &group).await {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(error = %e, "Cannot read outbox entries; their changes are refused.");
            let why = format!("cannot read the entries: {e}");
            for r in group {
                match r {
                    Request::Record { reply, .. } | Request::Cancel { reply, .. } => {
                        drop(reply.send(refused(&why)))
                    }
                    Request::CancelMarketing { reply, .. } => drop(reply.send(refused(&why))),
                    Request::Retry { reply, .. } => drop(reply.send(refused(&why))),
                    Request::RemoveStale { reply, .. } => drop(reply.send(refused(&why))),
                }
            }
            return;
        }
    };
    let mut batch = Batch::default();
    let mut answers: Vec<Answer> = Vec::with_capacity(group.len());
    for r in group {
        match r {
            Request::Record {
                seq,
                result,
                at_ms,
                reply,
            } => {
                // A failure of an entry cancelled or retried meanwhile changes nothing; a
                // delivery is recorded whatever happened meanwhile, since it happened.
                let current = entries.get(&seq).filter(|e| {
                    e.status == OutboxStatus::Pending
                        || (result.is_ok() && e.status != OutboxStatus::Delivered)
                });
                let change = current.map(|e| {
                    let draw = crate::delivery::backoff::draw();
                    changes::record_result(e, &result, at_ms, policy, draw)
                });
                let recorded = change.map(|c| apply(&mut entries, c, &mut batch));
                answers.push(answer(reply, Ok(recorded)));
            }
            Request::Cancel { seq, why, reply } => {
                let change = entries
                    .get(&seq)
                    .and_then(|e| changes::cancel(e, Some(&why)));
                let done = change.map(|c| apply(&mut entries, c, &mut batch));
                answers.push(answer(reply, Ok(done)));
            }
            Request::CancelMarketing {
                customer_id,
                channel,
                reply,
            } => {
                let matching: Vec<Changed> = entries
                    .values()
                    .filter(|e| {
                        e.customer_id == customer_id
                            && e.is_marketing()
                            && channel.is_none_or(|c| c == e.channel)
                    })
                    .filter_map(|e| changes::cancel(e, None))
                    .collect();
                let n = matching.len();
                for c in matching {
                    apply(&mut entries, c, &mut batch);
                }
                answers.push(answer(reply, Ok(n)));
            }
            Request::Retry { seq, at_ms, reply } => {
                let value = match entries.get(&seq) {
                    None => Err(OutboxError::NotFound(seq)),
                    Some(e) => {
                        let was = e.status;
                        match changes::retry(e, at_ms) {
                            None => Err(OutboxError::NotRetryable { seq, status: was }),
                            Some(c) => Ok((was, apply(&mut entries, c, &mut batch))),
                        }
                    }
                };
                answers.push(answer(reply, value));
            }
            Request::RemoveStale { keys, reply } => {
                for k in keys {
                    // A key that became current again in this group stays.
                    let current = entries.get(&k.seq).is_some_and(|e| {
                        e.status == OutboxStatus::Pending && e.next_attempt_ms == k.at_ms
                    });
                    if !current {
                        batch.delete::<OutboxDue>(k);
                    }
                }
                answers.push(answer(reply, Ok(())));
            }
        }
    }
    let written = if batch.is_empty() {
        Ok(())
    } else {
        writer.write(batch, 0).await.map_err(|e| e.to_string())
    };
    if let Err(e) = &written {
        tracing::error!(error = %e, "Cannot write outbox changes; they are refused.");
    }
    for a in answers {
        a(written.clone().map_err(OutboxError::Write));
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
