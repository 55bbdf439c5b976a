//! Group-commit writer: one thread owns all writes. Callers send a `Batch` and await its
//! completion; the thread merges everything queued into one RocksDB write (one WAL append,
//! one fsync when `sync` is on) and completes the callers in the order they were queued.
//!
//! A write RocksDB refuses (a full disk, a read-only file system) is held and retried
//! until it succeeds, while later batches wait in the queue behind it: callers change
//! memory (actors, the Router's producer sequences) before their write, so a write that
//! is reported failed and dropped would leave memory ahead of the store. RocksDB writes a
//! batch whole or not at all and resumes by itself once space is back, so the retry
//! applies it exactly once. `StoreHealth` tells the rest of the daemon meanwhile, and the
//! thread keeps answering liveness probes between retries (it is waiting, not wedged).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use rocksdb::{ErrorKind, WriteBatch, WriteOptions, DB};
use tokio::sync::{mpsc, oneshot};

use super::batch::Kind;
use super::health::StoreHealth;
use super::{Batch, Store, StoreError};

/// Most callers merged into one RocksDB write.
const MAX_GROUP: usize = 256;
/// A refused write is retried after this, doubling up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// While writes stay refused, a reminder is logged this often.
const STILL_REFUSING_LOG: Duration = Duration::from_secs(60);

struct Job {
    batch: Batch,
    /// Caller's position in the ingest order; published as durable once written.
    ticket: u64,
    done: oneshot::Sender<Result<(), String>>,
}

enum Msg {
    Write(Job),
    /// "Is the thread running its loop?" — answered at once, even between retries.
    Probe(oneshot::Sender<()>),
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Msg>,
    durable: Arc<AtomicU64>,
    health: StoreHealth,
    give_up_at: Arc<OnceLock<Instant>>,
}

impl Writer {
    /// Starts the writer thread. It stops when every `Writer` handle is dropped, after
    /// writing what was queued.
    pub fn start(store: Store, sync: bool) -> (Writer, thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            tx,
            durable: Arc::new(AtomicU64::new(0)),
            health: StoreHealth::default(),
            give_up_at: Arc::new(OnceLock::new()),
        };
        let thread = WriterThread {
            store,
            sync,
            durable: writer.durable.clone(),
            health: writer.health.clone(),
            give_up_at: writer.give_up_at.clone(),
            rx,
            backlog: VecDeque::new(),
        };
        let handle = thread::Builder::new()
            .name("stockbell-writer".into())
            .spawn(move || thread.run())
            .unwrap_or_else(|e| panic!("cannot start the writer thread: {e}"));
        (writer, handle)
    }

    /// Whether the store takes writes (and since when it refuses them).
    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// For shutdown: a write still refused `grace` from now is given up, and so is every
    /// later one RocksDB refuses; their callers get an error (they were never
    /// acknowledged). Until then the writer keeps retrying. The first call counts.
    pub fn stop_retrying_after(&self, grace: Duration) {
        let _ = self.give_up_at.set(Instant::now() + grace);
    }

    /// Queues `batch`; the returned receiver completes once it is durable. Queue order is
    /// write order, so a later batch is never durable before an earlier one.
    pub fn submit(&self, batch: Batch, ticket: u64) -> oneshot::Receiver<Result<(), String>> {
        let (done, rx) = oneshot::channel();
        // If the thread is gone the receiver reports it as a closed channel.
        let _ = self.tx.send(Msg::Write(Job {
            batch,
            ticket,
            done,
        }));
        rx
    }

    /// Resolves once the writer thread has looked at its queue: it is running (writing,
    /// idle, or waiting to retry a refused write), not stuck. For the watchdog.
    pub fn probe(&self) -> oneshot::Receiver<()> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Msg::Probe(done));
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

struct WriterThread {
    store: Store,
    sync: bool,
    durable: Arc<AtomicU64>,
    health: StoreHealth,
    give_up_at: Arc<OnceLock<Instant>>,
    rx: mpsc::UnboundedReceiver<Msg>,
    /// Writes received while a refused write was held, in queue order.
    backlog: VecDeque<Job>,
}

/// The current episode of refused writes, for logging once per episode.
struct Refused {
    since: Instant,
    reminded: Instant,
}

impl WriterThread {
    /// The next write in queue order, answering probes on the way; `None` once every
    /// handle is gone and the queue is empty.
    fn next_job(&mut self, block: bool) -> Option<Job> {
        if let Some(job) = self.backlog.pop_front() {
            return Some(job);
        }
        loop {
            let msg = if block {
                self.rx.blocking_recv()?
            } else {
                self.rx.try_recv().ok()?
            };
            match msg {
                Msg::Write(job) => return Some(job),
                Msg::Probe(done) => drop(done.send(())),
            }
        }
    }

    /// Between retries: answers probes and keeps new writes, in order, for later.
    fn drain_while_held(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Write(job) => self.backlog.push_back(job),
                Msg::Probe(done) => drop(done.send(())),
            }
        }
    }

    fn run(mut self) {
        let mut opts = WriteOptions::default();
        opts.set_sync(self.sync);
        let mut jobs: Vec<Job> = Vec::with_capacity(MAX_GROUP);
        let mut refused: Option<Refused> = None;
        while let Some(first) = self.next_job(true) {
            jobs.push(first);
            while jobs.len() < MAX_GROUP {
                match self.next_job(false) {
                    Some(job) => jobs.push(job),
                    None => break,
                }
            }
            let result = self.write_until_taken(&jobs, &opts, &mut refused);
            match &result {
                Ok(()) => {
                    if let Some(max) = jobs.iter().map(|j| j.ticket).max() {
                        self.durable.fetch_max(max, Ordering::AcqRel);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, batches = jobs.len(), "The store did not take a write; the daemon cannot acknowledge these batches.");
                }
            }
            for job in jobs.drain(..) {
                let _ = job.done.send(result.clone());
            }
        }
    }

    /// Writes the group as one RocksDB write. A refused write is retried (with backoff)
    /// until RocksDB takes it, or until shutdown gives up; an error no retry can mend
    /// (corruption, a missing column family) is final and marks the store failed.
    fn write_until_taken(
        &mut self,
        jobs: &[Job],
        opts: &WriteOptions,
        refused: &mut Option<Refused>,
    ) -> Result<(), String> {
        let mut delay = RETRY_FIRST;
        loop {
            let db = self.store.db();
            let wb = match merge(db, jobs) {
                Ok(wb) => wb,
                Err(e) => {
                    self.health.failed(&e);
                    return Err(e);
                }
            };
            let e = match db.write_opt(wb, opts) {
                Ok(()) => {
                    if let Some(r) = refused.take() {
                        self.health.taking();
                        tracing::warn!(refused_for = ?r.since.elapsed(), "The store takes writes again; the held batches are written and the daemon is serving.");
                    }
                    return Ok(());
                }
                Err(e) => e,
            };
            if !retryable(e.kind()) {
                let e = e.to_string();
                self.health.failed(&e);
                return Err(e);
            }
            match refused {
                None => {
                    let now = Instant::now();
                    *refused = Some(Refused {
                        since: now,
                        reminded: now,
                    });
                    self.health.refusing(e.as_ref());
                    tracing::error!(error = %e, "The store refuses writes (full disk or read-only file system): new batches are refused, those in flight wait, and writing resumes by itself once space is freed.");
                }
                Some(r) if r.reminded.elapsed() >= STILL_REFUSING_LOG => {
                    r.reminded = Instant::now();
                    tracing::error!(error = %e, refusing_for = ?r.since.elapsed(), "The store still refuses writes; free space in storage.path.");
                }
                Some(_) => {}
            }
            if self.give_up_at.get().is_some_and(|t| Instant::now() >= *t) {
                return Err(format!(
                    "the store refused writes until shutdown, this batch was not written: {e}"
                ));
            }
            self.drain_while_held();
            thread::sleep(delay);
            delay = (delay * 2).min(RETRY_MAX);
        }
    }
}

/// Errors RocksDB may stop returning once the cause is gone: I/O errors (a full disk
/// or a read-only file system stop the database until its background recovery resumes
/// it) and transient conditions.
fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::IOError
            | ErrorKind::Busy
            | ErrorKind::TryAgain
            | ErrorKind::TimedOut
            | ErrorKind::Incomplete
            | ErrorKind::Aborted
    )
}

/// One `WriteBatch` with every job's operations, in queue order.
fn merge(db: &DB, jobs: &[Job]) -> Result<WriteBatch, String> {
    let mut wb = WriteBatch::default();
    for job in jobs {
        for op in &job.batch.ops {
            let h = db
                .cf_handle(op.cf.name())
                .ok_or_else(|| format!("column family {} is missing", op.cf.name()))?;
            match op.kind {
                Kind::Put => wb.put_cf(h, &op.key, &op.value),
                Kind::Delete => wb.delete_cf(h, &op.key),
                Kind::Merge => wb.merge_cf(h, &op.key, &op.value),
            }
        }
    }
    Ok(wb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{ProducerRecord, Producers};
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
            if i % 10 == 0 {
                writer.probe().await.expect("the thread answers a probe");
            }
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
