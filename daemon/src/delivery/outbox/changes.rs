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
    /// Transient failures after which a marketing entry is `Failed`.
    pub max_attempts: u32,
}

/// The retries, and how long a transactional entry is retried: until it is
/// `transactional_max_age_ms` old (like a mail server's queue lifetime), however many
/// attempts that takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxPolicy {
    pub retry: RetryPolicy,
    pub transactional_max_age_ms: i64,
}

/// `delivery.transactional_max_age`'s default: five days.
pub const TRANSACTIONAL_MAX_AGE_MS: i64 = 5 * 86_400_000;

impl From<RetryPolicy> for OutboxPolicy {
    /// The retries with the default transactional max age.
    fn from(retry: RetryPolicy) -> OutboxPolicy {
        OutboxPolicy {
            retry,
            transactional_max_age_ms: TRANSACTIONAL_MAX_AGE_MS,
        }
    }
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
        Changed {
            was_due: Due::of(before),
            due: Due::of(&entry),
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
/// failed (permanently; marketing after `max_attempts` tries; transactional once older
/// than `transactional_max_age_ms`). An attempt that found the channel down is not
/// charged: the entry keeps its attempts and its place, only `last_error` says why it
/// waits (a transactional entry past its max age fails). `draw` is a uniformly random
/// number ([`backoff::draw`]) that spreads a retry over its window.
pub fn record_result(
    entry: &OutboxEntry,
    result: &Result<(), SendError>,
    now_ms: Millis,
    policy: &OutboxPolicy,
    draw: u64,
) -> Changed {
    let mut e = entry.clone();
    let too_old =
        !e.is_marketing() && now_ms.saturating_sub(e.created_ms) >= policy.transactional_max_age_ms;
    match result {
        Ok(()) => {
            e.attempts = e.attempts.saturating_add(1);
            e.status = OutboxStatus::Delivered;
            e.delivered_ms = Some(now_ms);
            // An earlier failed attempt's error no longer describes the entry.
            e.last_error = None;
        }
        Err(err) if err.channel_down() => {
            e.last_error = Some(err.reason().to_string());
            if too_old {
                e.status = OutboxStatus::Failed;
                e.last_error = Some(gave_up(err));
            }
        }
        Err(err) => {
            e.attempts = e.attempts.saturating_add(1);
            e.last_error = Some(err.reason().to_string());
            let out_of_tries = if e.is_marketing() {
                e.attempts >= policy.retry.max_attempts
            } else {
                too_old
            };
            if err.is_permanent() || out_of_tries {
                e.status = OutboxStatus::Failed;
                if too_old && !err.is_permanent() {
                    e.last_error = Some(gave_up(err));
                }
            } else {
                e.next_attempt_ms = backoff::next_attempt(
                    e.attempts,
                    now_ms,
                    policy.retry.base_ms,
                    policy.retry.max_ms,
                    draw,
                );
            }
        }
    }
    Changed::new(entry, e)
}

fn gave_up(err: &SendError) -> String {
    format!(
        "{} (given up: queued longer than delivery.transactional_max_age)",
        err.reason()
    )
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
