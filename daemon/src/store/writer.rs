//! Group-commit writer: one thread owns all writes. Callers send a `Batch` and await its
//! completion; the thread merges everything queued into one RocksDB write (one WAL append,
//! one fsync when `sync` is on) and completes the callers in the order they were queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use rocksdb::{WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot};

use super::batch::Kind;
use super::{Batch, Store, StoreError};

/// Most callers merged into one RocksDB write.
const MAX_GROUP: usize = 256;

struct Job {
    batch: Batch,
    /// Caller's position in the ingest order; published as durable once written.
    ticket: u64,
    done: oneshot::Sender<Result<(), String>>,
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Job>,
    durable: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread. It stops when every `Writer` handle is dropped, after
    /// writing what was queued.
    pub fn start(store: Store, sync: bool) -> (Writer, thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let durable = Arc::new(AtomicU64::new(0));
        let d = durable.clone();
        let handle = thread::Builder::new()
            .name("stockbell-writer".into())
            .spawn(move || run(store, sync, rx, d))
            .unwrap_or_else(|e| panic!("cannot start the writer thread: {e}"));
        (Writer { tx, durable }, handle)
    }

    /// Queues `batch`; the returned receiver completes once it is durable. Queue order is
    /// write order, so a later batch is never durable before an earlier one.
    pub fn submit(&self, batch: Batch, ticket: u64) -> oneshot::Receiver<Result<(), String>> {
        let (done, rx) = oneshot::channel();
        // If the thread is gone the receiver reports it as a closed channel.
        let _ = self.tx.send(Job {
            batch,
            ticket,
            done,
        });
        rx
    }

    /// Writes `batch` and waits until it is durable.
    pub async fn write(&self, batch: Batch, ticket: u64) -> Result<(), StoreError> {
        match self.submit(batch, ticket).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Corrupt {
                cf: "write",
                reason: e,
            }),
            Err(_) => Err(StoreError::Closed),
        }
    }

    /// Highest ticket whose batch is durable.
    pub fn durable_ticket(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }
}

fn run(store: Store, sync: bool, mut rx: mpsc::UnboundedReceiver<Job>, durable: Arc<AtomicU64>) {
    let mut opts = WriteOptions::default();
    opts.set_sync(sync);
    let db = store.db();
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut wb = WriteBatch::default();
        let mut missing = None;
        for job in &jobs {
            for op in &job.batch.ops {
                let Some(h) = db.cf_handle(op.cf.name()) else {
                    missing = Some(op.cf.name());
                    continue;
                };
                match op.kind {
                    Kind::Put => wb.put_cf(h, &op.key, &op.value),
                    Kind::Delete => wb.delete_cf(h, &op.key),
                    Kind::Merge => wb.merge_cf(h, &op.key, &op.value),
                }
            }
        }
        let result = match missing {
            Some(name) => Err(format!("column family {name} is missing")),
            None => db.write_opt(wb, &opts).map_err(|e| e.to_string()),
        };
        if result.is_ok() {
            if let Some(max) = jobs.iter().map(|j| j.ticket).max() {
                durable.fetch_max(max, Ordering::AcqRel);
            }
        } else if let Err(e) = &result {
            tracing::error!(error = %e, batches = jobs.len(), "The store refused a write; the daemon cannot acknowledge these batches.");
        }
        for job in jobs.drain(..) {
            let _ = job.done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::ProducerRecord;
    use crate::store::records::Producers;
    use crate::store::test_db::TestDb;

    fn record(n: u64) -> ProducerRecord {
        ProducerRecord {
            last_sequence: n,
            ..ProducerRecord::default()
        }
    }

    #[tokio::test]
    async fn queued_batches_are_all_written_in_order() {
        let db = TestDb::new();
        let (writer, handle) = Writer::start(db.store.clone(), false);
        let mut waits = Vec::new();
        for i in 0u64..100 {
            let mut b = Batch::default();
            // Every batch overwrites the same key: the last one queued must win.
            b.put::<Producers>("k", &record(i));
            b.put::<Producers>(&format!("k{i}"), &record(1));
            waits.push(writer.submit(b, i + 1));
        }
        for w in waits {
            assert_eq!(w.await.ok(), Some(Ok(())));
        }
        assert_eq!(writer.durable_ticket(), 100);
        let v = db.store.get::<Producers>("k").expect("read");
        assert_eq!(v, Some(record(99)));
        assert!(db.store.get::<Producers>("k57").expect("read").is_some());
        drop(writer);
        handle.join().expect("writer thread");
    }
}
