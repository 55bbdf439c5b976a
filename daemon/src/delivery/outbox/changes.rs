//! How an outbox entry changes after it is created: an attempt's result, a
//! cancellation, an operator's retry. Pure: each takes the entry as stored now and gives
//! the entry to store and how its key in `outbox_due` moves; the owner (`mod.rs`) reads
//! and writes.

use crate::delivery::backoff;
use crate::delivery::SendError;
use crate::domain::message::{OutboxEntry, OutboxStatus};
use crate::domain::Millis;
use crate::store::outbox::{Due, Outbox, OutboxDue};
use crate::store::Batch;

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_ms: i64,
    pub max_ms: i64,
    /// Transient failures after which the entry is `Failed`.
    pub max_attempts: u32,
}

/// An entry after a change, and its due key before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub entry: OutboxEntry,
    pub was_due: Option<Due>,
    pub due: Option<Due>,
}

impl Changed {
    fn new(before: &OutboxEntry, entry: OutboxEntry) -> Changed {
        let due = |e: &OutboxEntry| {
            (e.status == OutboxStatus::Pending).then_some(Due {
                at_ms: e.next_attempt_ms,
                seq: e.seq,
            })
        };
        Changed {
            was_due: due(before),
            due: due(&entry),
            entry,
        }
    }

    /// The writes that store the change.
    pub fn write(&self, batch: &mut Batch) {
        if let Some(d) = self.was_due.filter(|d| Some(*d) != self.due) {
            batch.delete::<OutboxDue>(d);
        }
        if let Some(d) = self.due.filter(|d| Some(*d) != self.was_due) {
            batch.put::<OutboxDue>(d, &());
        }
        batch.put::<Outbox>(self.entry.seq, &self.entry);
    }
}

/// The entry after one attempt at `now_ms`: delivered, rescheduled with backoff, or
/// failed (permanently, or after `max_attempts` tries). `draw` is a uniformly random
/// number ([`backoff::draw`]) that spreads the retry over its window.
pub fn record_result(
    entry: &OutboxEntry,
    result: &Result<(), SendError>,
    now_ms: Millis,
    policy: &RetryPolicy,
    draw: u64,
) -> Changed {
    let mut e = entry.clone();
    e.attempts = e.attempts.saturating_add(1);
    match result {
        Ok(()) => {
            e.status = OutboxStatus::Delivered;
            e.delivered_ms = Some(now_ms);
            // An earlier failed attempt's error no longer describes the entry.
            e.last_error = None;
        }
        Err(err) => {
            e.last_error = Some(err.reason().to_string());
            if err.is_permanent() || e.attempts >= policy.max_attempts {
                e.status = OutboxStatus::Failed;
            } else {
                e.next_attempt_ms =
                    backoff::next_attempt(e.attempts, now_ms, policy.base_ms, policy.max_ms, draw);
            }
        }
    }
    Changed::new(entry, e)
}

/// The entry cancelled, saying why (`None` keeps its last error); `None` when it is not
/// Pending any more.
pub fn cancel(entry: &OutboxEntry, why: Option<&str>) -> Option<Changed> {
    if entry.status != OutboxStatus::Pending {
        return None;
    }
    let mut e = entry.clone();
    e.status = OutboxStatus::Cancelled;
    if let Some(why) = why {
        e.last_error = Some(why.to_owned());
    }
    Some(Changed::new(entry, e))
}

/// A Failed or Pending entry made Pending again, due at `now_ms`, with a fresh attempt
/// count; `None` for Delivered or Cancelled entries.
pub fn retry(entry: &OutboxEntry, now_ms: Millis) -> Option<Changed> {
    if !matches!(entry.status, OutboxStatus::Failed | OutboxStatus::Pending) {
        return None;
    }
    let mut e = entry.clone();
    e.status = OutboxStatus::Pending;
    e.attempts = 0;
    e.next_attempt_ms = now_ms;
    Some(Changed::new(entry, e))
}
