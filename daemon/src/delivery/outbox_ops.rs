//! Reading and changing outbox entries after they are created: what is due, recording a
//! send's result, cancelling marketing on unsubscribe, listing and retrying for the admin
//! API. Every change to an existing entry goes through here, under a per-seq lock.

use std::collections::BTreeSet;

use tokio::sync::{Mutex, MutexGuard};

use super::backoff;
use super::{OutboxEntry, OutboxStatus, SendError};
use crate::domain::customer::Channel;
use crate::domain::Millis;
use crate::store::outbox;
use crate::store::writer::{Batch, Writer};
use crate::store::{Cf, Store, StoreError};

/// Read-modify-write of an existing entry holds its stripe, so a send's result and an
/// unsubscribe's cancellation never overwrite each other.
const STRIPES: usize = 64;
static LOCKS: [Mutex<()>; STRIPES] = [const { Mutex::const_new(()) }; STRIPES];

fn stripe(seq: u64) -> usize {
    (seq % STRIPES as u64) as usize
}

/// Locks the stripes of `seqs` in ascending order (so two callers cannot deadlock).
async fn lock_seqs(seqs: impl IntoIterator<Item = u64>) -> Vec<MutexGuard<'static, ()>> {
    let stripes: BTreeSet<usize> = seqs.into_iter().map(stripe).collect();
    let mut guards = Vec::with_capacity(stripes.len());
    for s in stripes {
        guards.push(LOCKS[s].lock().await);
    }
    guards
}

/// Writes outside the ingest order use ticket 0 (it never moves the durable watermark).
const TICKET: u64 = 0;
/// Rows read per RocksDB call when a scan has to filter by value.
const CHUNK: usize = 256;
/// Most rows a filtered `list` looks at before returning what it found.
const MAX_LIST_SCAN: usize = 10_000;

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_ms: i64,
    pub max_ms: i64,
    /// Transient failures after which the entry is `Failed`.
    pub max_attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox entry {0} does not exist")]
    NotFound(u64),
    #[error("outbox entry {seq} is {status:?}; only Failed or Pending entries can be retried")]
    NotRetryable { seq: u64, status: OutboxStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one look at `outbox_due` found.
#[derive(Debug, Default)]
pub struct DueScan {
    /// Pending entries due now, oldest due first.
    pub entries: Vec<OutboxEntry>,
    /// `outbox_due` keys whose entry is missing or no longer Pending; safe to delete.
    pub stale: Vec<Vec<u8>>,
}

/// Pending entries due at `now_ms`, at most `limit`, oldest due first.
pub fn due(store: &Store, now_ms: Millis, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
    Ok(scan_due(store, now_ms, limit, |_| true)?.entries)
}

/// Like [`due`], skipping seqs for which `want` is false (before their entries are read)
/// and reporting stale index keys.
pub fn scan_due(
    store: &Store,
    now_ms: Millis,
    limit: usize,
    mut want: impl FnMut(u64) -> bool,
) -> Result<DueScan, StoreError> {
    let bound = outbox::due_bound(now_ms);
    let mut wanted = 0;
    let rows = store.scan_raw(Cf::OutboxDue, &[], true, usize::MAX, |k| {
        if k >= bound.as_slice() {
            return false;
        }
        if outbox::decode_due_key(k).is_some_and(|(_, seq)| want(seq)) {
            wanted += 1;
        }
        wanted <= limit
    })?;
    let mut keys = Vec::new();
    for (k, _) in rows {
        match outbox::decode_due_key(&k) {
            Some((at, seq)) if want(seq) => keys.push((k.into_vec(), at, seq)),
            Some(_) => {}
            None => {
                tracing::error!(key = ?k, "Skipping an unreadable outbox_due key.");
            }
        }
    }
    let seqs: Vec<u64> = keys.iter().map(|(_, _, seq)| *seq).collect();
    let mut scan = DueScan::default();
    for ((due_key, at, seq), value) in keys.into_iter().zip(load_raw(store, &seqs)?) {
        match value.map(|v| outbox::decode_entry(&v)).transpose() {
            // A key left over from an earlier schedule would send the entry early.
            Ok(Some(e)) if e.status == OutboxStatus::Pending && e.next_attempt_ms == at => {
                scan.entries.push(e)
            }
            Ok(_) => scan.stale.push(due_key),
            Err(e) => {
                // One unreadable entry must not stop every other delivery.
                tracing::error!(seq, error = %e, "Skipping an unreadable outbox entry.");
            }
        }
    }
    Ok(scan)
}

fn load_raw(store: &Store, seqs: &[u64]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    let keys: Vec<Vec<u8>> = seqs.iter().map(|s| outbox::key(*s).to_vec()).collect();
    store.multi_get_raw(Cf::Outbox, &keys)
}

/// One entry, if it exists.
pub fn load(store: &Store, seq: u64) -> Result<Option<OutboxEntry>, StoreError> {
    store
        .get_raw(Cf::Outbox, &outbox::key(seq))?
        .map(|v| outbox::decode_entry(&v))
        .transpose()
}

fn put_entry(batch: &mut Batch, e: &OutboxEntry) {
    batch.put(Cf::Outbox, outbox::key(e.seq), outbox::encode_entry(e));
}

/// The entry after one attempt at `now_ms`, and the write that records it: delivered
/// (with no `last_error`: an earlier attempt's error no longer describes it),
/// rescheduled with backoff jittered by `draw` (a uniformly random number,
/// [`backoff::draw`]), or failed (permanently, or after `max_attempts` tries).
pub fn record_result(
    entry: &OutboxEntry,
    result: &Result<(), SendError>,
    now_ms: Millis,
    policy: &RetryPolicy,
    draw: u64,
) -> (OutboxEntry, Batch) {
    let mut e = entry.clone();
    let mut batch = Batch::default();
    let old_due = outbox::due_key(entry.next_attempt_ms, entry.seq);
    match result {
        Ok(()) => {
            e.status = OutboxStatus::Delivered;
            e.delivered_ms = Some(now_ms);
            e.attempts = e.attempts.saturating_add(1);
            e.last_error = None;
            batch.delete(Cf::OutboxDue, old_due);
        }
        Err(err) => {
            e.attempts = e.attempts.saturating_add(1);
            e.last_error = Some(err.reason().to_string());
            batch.delete(Cf::OutboxDue, old_due);
            if err.is_permanent() || e.attempts >= policy.max_attempts {
                e.status = OutboxStatus::Failed;
            } else {
                e.next_attempt_ms =
                    backoff::next_attempt(e.attempts, now_ms, policy.base_ms, policy.max_ms, draw);
                batch.put(
                    Cf::OutboxDue,
                    outbox::due_key(e.next_attempt_ms, e.seq),
                    Vec::new(),
                );
            }
        }
    }
    put_entry(&mut batch, &e);
    (e, batch)
}

/// Records an attempt's result against the entry as stored now. `None` when the entry
/// is gone or no longer Pending (cancelled or retried meanwhile) and the result is a
/// failure: then nothing is written. A delivery is always recorded, since it happened.
pub async fn commit_result(
    store: &Store,
    writer: &Writer,
    seq: u64,
    result: &Result<(), SendError>,
    now_ms: Millis,
    policy: &RetryPolicy,
) -> Result<Option<OutboxEntry>, StoreError> {
    let _guard = lock_seqs([seq]).await;
    let Some(current) = load(store, seq)? else {
        return Ok(None);
    };
    let pending = current.status == OutboxStatus::Pending;
    if !pending && (result.is_err() || current.status == OutboxStatus::Delivered) {
        return Ok(None);
    }
    // Cancelled while the send was in flight but sent all the same: say so.
    let (updated, batch) = record_result(&current, result, now_ms, policy, backoff::draw());
    writer.write(batch, TICKET).await?;
    Ok(Some(updated))
}

/// Cancels the customer's Pending marketing entries (on `channel`, or every channel) in
/// one write; returns how many.
pub async fn cancel_marketing(
    store: &Store,
    writer: &Writer,
    customer_id: &str,
    channel: Option<Channel>,
) -> Result<usize, StoreError> {
    let prefix = outbox::by_customer_prefix(customer_id);
    let seqs: Vec<u64> = store
        .scan_raw(Cf::OutboxByCustomer, &prefix, true, usize::MAX, |k| {
            k.starts_with(&prefix)
        })?
        .iter()
        .filter_map(|(k, _)| outbox::decode_key(k.get(prefix.len()..)?))
        .collect();
    let _guards = lock_seqs(seqs.iter().copied()).await;
    let mut batch = Batch::default();
    let mut cancelled = 0;
    for chunk in seqs.chunks(CHUNK) {
        for value in load_raw(store, chunk)?.into_iter().flatten() {
            let mut e = outbox::decode_entry(&value)?;
            let matches = e.customer_id == customer_id
                && e.marketing
                && e.status == OutboxStatus::Pending
                && channel.is_none_or(|c| c == e.channel);
            if matches {
                batch.delete(Cf::OutboxDue, outbox::due_key(e.next_attempt_ms, e.seq));
                e.status = OutboxStatus::Cancelled;
                put_entry(&mut batch, &e);
                cancelled += 1;
            }
        }
    }
    if cancelled > 0 {
        writer.write(batch, TICKET).await?;
    }
    Ok(cancelled)
}

/// Cancels one Pending entry, saying why in its `last_error`; `None` when it is gone or
/// no longer Pending.
pub async fn cancel_one(
    store: &Store,
    writer: &Writer,
    seq: u64,
    why: &str,
) -> Result<Option<OutboxEntry>, StoreError> {
    let _guard = lock_seqs([seq]).await;
    let Some(mut e) = load(store, seq)? else {
        return Ok(None);
    };
    if e.status != OutboxStatus::Pending {
        return Ok(None);
    }
    let mut batch = Batch::default();
    batch.delete(Cf::OutboxDue, outbox::due_key(e.next_attempt_ms, e.seq));
    e.status = OutboxStatus::Cancelled;
    e.last_error = Some(why.to_owned());
    put_entry(&mut batch, &e);
    writer.write(batch, TICKET).await?;
    Ok(Some(e))
}

/// Entries by status over the whole outbox (one scan; at start, for the overview).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
    pub cancelled: u64,
}

pub fn census(store: &Store) -> Result<Census, StoreError> {
    let mut c = Census::default();
    store.visit_raw(Cf::Outbox, &[], |_, v| {
        match outbox::decode_entry(v)?.status {
            OutboxStatus::Pending => c.pending += 1,
            OutboxStatus::Delivered => c.delivered += 1,
            OutboxStatus::Failed => c.failed += 1,
            OutboxStatus::Cancelled => c.cancelled += 1,
        }
        Ok(true)
    })?;
    Ok(c)
}

/// Pending entries due at `now_ms`, counted up to `max`.
pub fn count_due(store: &Store, now_ms: Millis, max: u64) -> Result<u64, StoreError> {
    let end = outbox::due_key(now_ms, u64::MAX);
    let mut n = 0u64;
    store.visit_raw(Cf::OutboxDue, &[], |k, _| {
        if k > end.as_slice() {
            return Ok(false);
        }
        n += 1;
        Ok(n < max)
    })?;
    Ok(n)
}

/// One page of [`list`], newest first.
#[derive(Debug, Default)]
pub struct OutboxPage {
    pub entries: Vec<OutboxEntry>,
    /// Pass as `before_seq` for the next page; `None` when the outbox has no more.
    pub next_before: Option<u64>,
}

/// Entries with seq below `before_seq` (all if `None`), newest first, optionally only
/// those with `status`. A filtered page may hold fewer than `limit` entries when many
/// rows were skipped; `next_before` then says where to continue.
pub fn list(
    store: &Store,
    status: Option<OutboxStatus>,
    limit: usize,
    before_seq: Option<u64>,
) -> Result<OutboxPage, StoreError> {
    let mut page = OutboxPage::default();
    let mut from = match before_seq {
        Some(0) => return Ok(page),
        Some(s) => s - 1,
        None => u64::MAX,
    };
    let mut scanned = 0;
    while page.entries.len() < limit && scanned < MAX_LIST_SCAN {
        let rows = store.scan_raw(Cf::Outbox, &outbox::key(from), false, CHUNK, |_| true)?;
        let Some(last) = rows.last().and_then(|(k, _)| outbox::decode_key(k)) else {
            return Ok(page);
        };
        for (k, v) in &rows {
            let e = outbox::decode_entry(v)?;
            scanned += 1;
            let seq = outbox::decode_key(k).unwrap_or(e.seq);
            if status.is_none_or(|s| s == e.status) {
                page.entries.push(e);
            }
            if page.entries.len() >= limit || scanned >= MAX_LIST_SCAN {
                page.next_before = (seq > 0).then_some(seq);
                return Ok(page);
            }
        }
        if rows.len() < CHUNK || last == 0 {
            return Ok(page);
        }
        from = last - 1;
    }
    Ok(page)
}

/// Like [`list`] for one customer, through the `outbox_by_customer` index.
pub fn list_customer(
    store: &Store,
    customer_id: &str,
    status: Option<OutboxStatus>,
    limit: usize,
    before_seq: Option<u64>,
) -> Result<OutboxPage, StoreError> {
    let prefix = outbox::by_customer_prefix(customer_id);
    let mut page = OutboxPage::default();
    let mut from = match before_seq {
        Some(0) => return Ok(page),
        Some(s) => s - 1,
        None => u64::MAX,
    };
    let mut scanned = 0;
    loop {
        let start = outbox::by_customer_key(customer_id, from);
        let rows = store.scan_raw(Cf::OutboxByCustomer, &start, false, CHUNK, |k| {
            k.starts_with(&prefix)
        })?;
        let seqs: Vec<u64> = rows
            .iter()
            .filter_map(|(k, _)| outbox::decode_key(k.get(prefix.len()..)?))
            .collect();
        for (seq, value) in seqs.iter().zip(load_raw(store, &seqs)?) {
            scanned += 1;
            let Some(value) = value else { continue };
            let e = outbox::decode_entry(&value)?;
            if status.is_none_or(|s| s == e.status) {
                page.entries.push(e);
            }
            if page.entries.len() >= limit || scanned >= MAX_LIST_SCAN {
                page.next_before = (*seq > 0).then_some(*seq);
                return Ok(page);
            }
        }
        match seqs.last() {
            Some(&last) if rows.len() == CHUNK && last > 0 => from = last - 1,
            _ => return Ok(page),
        }
    }
}

/// Makes a Failed or Pending entry Pending again and due at `now_ms`, with a fresh
/// attempt count; returns the status it had and the entry as written.
pub async fn retry(
    store: &Store,
    writer: &Writer,
    seq: u64,
    now_ms: Millis,
) -> Result<(OutboxStatus, OutboxEntry), OutboxError> {
    let _guard = lock_seqs([seq]).await;
    let mut e = load(store, seq)?.ok_or(OutboxError::NotFound(seq))?;
    let was = e.status;
    if !matches!(e.status, OutboxStatus::Failed | OutboxStatus::Pending) {
        return Err(OutboxError::NotRetryable {
            seq,
            status: e.status,
        });
    }
    let mut batch = Batch::default();
    batch.delete(Cf::OutboxDue, outbox::due_key(e.next_attempt_ms, seq));
    e.status = OutboxStatus::Pending;
    e.attempts = 0;
    e.next_attempt_ms = now_ms;
    batch.put(Cf::OutboxDue, outbox::due_key(now_ms, seq), Vec::new());
    put_entry(&mut batch, &e);
    writer.write(batch, TICKET).await?;
    Ok((was, e))
}

/// Deletes `outbox_due` keys that [`scan_due`] reported stale.
pub async fn remove_stale(writer: &Writer, stale: Vec<Vec<u8>>) -> Result<(), StoreError> {
    if stale.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::default();
    for k in stale {
        batch.delete(Cf::OutboxDue, k);
    }
    writer.write(batch, TICKET).await
}

/// The write that creates `e` with all three keys, as the fan-out does.
#[cfg(test)]
pub(crate) fn create_batch(e: &OutboxEntry) -> Batch {
    let mut batch = Batch::default();
    put_entry(&mut batch, e);
    if e.status == OutboxStatus::Pending {
        batch.put(
            Cf::OutboxDue,
            outbox::due_key(e.next_attempt_ms, e.seq),
            Vec::new(),
        );
    }
    batch.put(
        Cf::OutboxByCustomer,
        outbox::by_customer_key(&e.customer_id, e.seq),
        Vec::new(),
    );
    batch
}

#[cfg(test)]
#[path = "outbox_ops_tests.rs"]
mod tests;
