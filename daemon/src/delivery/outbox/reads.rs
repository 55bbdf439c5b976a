//! Reading the outbox: what is due in a lane, one entry, pages for the admin API, and the
//! census by status. Blocking RocksDB reads: async code calls them through `Store::read`.

use crate::domain::message::{Lane, OutboxEntry, OutboxStatus};
use crate::domain::Millis;
use crate::store::outbox::{Due, LegacyDue, LegacyOutboxDue, Outbox, OutboxByCustomer, OutboxDue};
use crate::store::{Seek, Store, StoreError};

/// Most rows a filtered page looks at before returning what it found.
const MAX_LIST_SCAN: usize = 10_000;

/// What one look at `outbox_due` found.
#[derive(Debug, Default)]
pub struct DueScan {
    /// Pending entries due now, oldest due first.
    pub entries: Vec<OutboxEntry>,
    /// Due keys whose entry is missing, no longer Pending or due at another time: they
    /// are safe to delete.
    pub stale: Vec<Due>,
}

/// Pending entries of `lane` due at `now_ms`, at most `limit`, oldest due first, skipping
/// seqs for which `want` is false (before their entries are read); reports stale due keys.
pub fn scan_due(
    store: &Store,
    lane: Lane,
    now_ms: Millis,
    limit: usize,
    mut want: impl FnMut(u64) -> bool,
) -> Result<DueScan, StoreError> {
    let mut keys = Vec::new();
    for row in store.iter_prefix::<OutboxDue>(lane, Seek::First)? {
        let (due, ()) = match row {
            Ok(row) => row,
            Err(e) => {
                tracing::error!(error = %e, "Skipping an unreadable outbox_due key.");
                continue;
            }
        };
        if due.at_ms > now_ms || keys.len() >= limit {
            break;
        }
        if want(due.seq) {
            keys.push(due);
        }
    }
    let mut scan = DueScan::default();
    let values = store.multi_get::<Outbox>(keys.iter().map(|d| d.seq));
    for (due, value) in keys.into_iter().zip(values?) {
        match value {
            // A key left over from an earlier schedule would send the entry early.
            Some(e) if e.status == OutboxStatus::Pending && e.next_attempt_ms == due.at_ms => {
                scan.entries.push(e)
            }
            _ => scan.stale.push(due),
        }
    }
    Ok(scan)
}

/// Pending entries due at `now_ms` in every lane (in [`Lane::ALL`] order, oldest due
/// first within each), at most `limit`.
pub fn due(store: &Store, now_ms: Millis, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut out = Vec::new();
    for lane in Lane::ALL {
        let room = limit.saturating_sub(out.len());
        out.extend(scan_due(store, lane, now_ms, room, |_| true)?.entries);
    }
    Ok(out)
}

/// Due keys written before lanes, at most `limit` (see `store::outbox`).
pub fn legacy_due(store: &Store, limit: usize) -> Result<Vec<LegacyDue>, StoreError> {
    store
        .iter::<LegacyOutboxDue>(Seek::From(LegacyDue::FIRST))?
        .take(limit)
        .map(|row| row.map(|(key, ())| key))
        .collect()
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
    for row in store.iter::<Outbox>(Seek::First)? {
        match row?.1.status {
            OutboxStatus::Pending => c.pending += 1,
            OutboxStatus::Delivered => c.delivered += 1,
            OutboxStatus::Failed => c.failed += 1,
            OutboxStatus::Cancelled => c.cancelled += 1,
        }
    }
    Ok(c)
}

/// Pending entries due at `now_ms` over every lane, counted up to `max`.
pub fn count_due(store: &Store, now_ms: Millis, max: u64) -> Result<u64, StoreError> {
    let mut n = 0u64;
    for lane in Lane::ALL {
        for row in store.iter_prefix::<OutboxDue>(lane, Seek::First)? {
            if row?.0.at_ms > now_ms || n >= max {
                break;
            }
            n += 1;
        }
    }
    Ok(n)
}

/// One page of [`list`], newest first.
#[derive(Debug, Default)]
pub struct OutboxPage {
    pub entries: Vec<OutboxEntry>,
    /// Pass as `before_seq` for the next page; `None` when the outbox has no more.
    pub next_before: Option<u64>,
}

/// Adds entries to `page` until it holds `limit` or `MAX_LIST_SCAN` rows were looked at.
fn fill(
    page: &mut OutboxPage,
    rows: impl Iterator<Item = Result<OutboxEntry, StoreError>>,
    status: Option<OutboxStatus>,
    limit: usize,
) -> Result<(), StoreError> {
    for (scanned, e) in rows.enumerate() {
        let e = e?;
        let seq = e.seq;
        if status.is_none_or(|s| s == e.status) {
            page.entries.push(e);
        }
        if page.entries.len() >= limit || scanned + 1 >= MAX_LIST_SCAN {
            page.next_before = (seq > 0).then_some(seq);
            return Ok(());
        }
    }
    Ok(())
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
    let seek = match before_seq {
        Some(0) => return Ok(page),
        Some(s) => Seek::Back(s - 1),
        None => Seek::Last,
    };
    let rows = store.iter::<Outbox>(seek)?.map(|r| r.map(|(_, e)| e));
    fill(&mut page, rows, status, limit)?;
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
    let mut page = OutboxPage::default();
    let seek = match before_seq {
        Some(0) => return Ok(page),
        Some(s) => Seek::Back((customer_id, s - 1)),
        None => Seek::Last,
    };
    let seqs = store.iter_prefix::<OutboxByCustomer>(customer_id, seek)?;
    let rows = seqs.filter_map(|row| match row {
        Ok(((_, seq), ())) => store.get::<Outbox>(seq).transpose(),
        Err(e) => Some(Err(e)),
    });
    fill(&mut page, rows, status, limit)?;
    Ok(page)
}

/// The seqs of a customer's entries, oldest first.
pub fn customer_seqs(store: &Store, customer_id: &str) -> Result<Vec<u64>, StoreError> {
    store
        .iter_prefix::<OutboxByCustomer>(customer_id, Seek::First)?
        .map(|row| row.map(|((_, seq), ())| seq))
        .collect()
}

/// One entry, if it exists.
pub fn load(store: &Store, seq: u64) -> Result<Option<OutboxEntry>, StoreError> {
    store.get::<Outbox>(seq)
}
