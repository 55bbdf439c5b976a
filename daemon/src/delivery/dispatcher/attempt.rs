//! One delivery attempt: re-read the entry, cancel it if its scenario was disabled, drop
//! it if it expired or no longer holds (`late.rs`), render it, send it, tell the channel's
//! health what the send found, give the channel slot back, and hand the result to the
//! outbox's owner; a permanent failure that blames the address suppresses it through the
//! port, and a soft bounce (the server refused this message for now) is reported to the
//! customer's owner, which suppresses the address after a run of them (list hygiene).

use std::sync::atomic::Ordering::Relaxed;

use super::late::{prepare, Ready};
use super::Shared;
use crate::clock::now_ms;
use crate::delivery::health::{Outcome, SendKind};
use crate::delivery::SendError;
use crate::domain::customer::SuppressReason;
use crate::domain::lifecycle::hygiene_rates::Event as RateEvent;
use crate::domain::message::{OutboxEntry, OutboxStatus};
use crate::domain::profile::CustomerEvent;

/// One attempt at one entry (as scanned), from the re-read to the recorded result. The
/// channel slot (`permit`) is given back as soon as the send itself is over, so the next
/// send starts while this result is being written; the entry stays in flight until it is
/// recorded.
pub(super) async fn deliver(
    shared: &Shared,
    scanned: &OutboxEntry,
    permit: tokio::sync::OwnedSemaphorePermit,
    kind: SendKind,
) {
    let channel = scanned.channel;
    let Some(ready) = prepare(shared, scanned.seq).await else {
        // Nothing went out: a probe gives its slot back for the next entry.
        shared
            .stats
            .health
            .record(channel, kind, Outcome::NotSent, now_ms());
        return;
    };
    // Tracked links are rendered, never stored: the redirector finds each link again in
    // the stored entry (`click_link::tracked_links`).
    let tracked = shared
        .clicks
        .as_ref()
        .and_then(|c| c.rewrite(&ready.entry, ready.to_send(), now_ms()));
    let to_send = tracked.as_ref().unwrap_or(ready.to_send());
    let result = match shared.templates.render(&to_send.context) {
        Ok(rendered) => shared.channels.send(to_send, &rendered).await,
        Err(e) => Err(SendError::Unrenderable(format!(
            "{e}; fix the template override and retry the entry"
        ))),
    };
    let now = now_ms();
    shared
        .stats
        .health
        .record(channel, kind, Outcome::of(&result), now);
    drop(permit);
    shared.slot_free.notify_one();
    let Ready { entry, dropped, .. } = ready;
    let recorded = shared.outbox.record(entry.seq, result.clone(), now).await;
    let updated = match recorded {
        Ok(Some(updated)) => updated,
        Ok(None) => {
            shared.stats.skipped.fetch_add(1, Relaxed);
            return;
        }
        Err(e) => {
            // The send is not recorded: the entry goes out again (same Message-ID).
            tracing::error!(seq = entry.seq, error = %e, "Cannot record a delivery result.");
            return;
        }
    };
    soft_bounce(shared, &entry, &result).await;
    match (&result, updated.status) {
        (Ok(()), _) => {
            shared.stats.record_delivery(now - entry.created_ms);
            shared
                .metrics
                .histograms
                .observe_delivery(channel.as_str(), now - entry.created_ms);
            shared
                .board
                .record(entry.scenario, channel, RateEvent::Delivered, now);
            shared
                .metrics
                .scenario(entry.scenario)
                .sent
                .fetch_add(1, Relaxed);
            // Items a late re-check left out count once the message went without them.
            if dropped > 0 {
                let n = u64::try_from(dropped).unwrap_or(u64::MAX);
                shared
                    .metrics
                    .add_suppressed(entry.scenario, SuppressReason::Stale, n);
            }
            tracing::debug!(seq = entry.seq, channel = channel.as_str(), "Delivered.");
        }
        (Err(e), OutboxStatus::Pending) if e.channel_down() => {
            // The channel's state change is logged once by its health board.
            shared.stats.channel_down.fetch_add(1, Relaxed);
            tracing::debug!(seq = entry.seq, channel = channel.as_str(), error = %e, "Channel down; the message waits.");
        }
        (Err(e), OutboxStatus::Pending) => {
            shared.stats.retried.fetch_add(1, Relaxed);
            tracing::info!(seq = entry.seq, channel = channel.as_str(), attempts = updated.attempts, next_attempt_ms = updated.next_attempt_ms, error = %e, "Delivery failed; will retry.");
        }
        (Err(e), _) => {
            tracing::warn!(seq = entry.seq, channel = channel.as_str(), customer_id = %entry.customer_id, attempts = updated.attempts, error = %e, "Delivery failed for good.");
            // Neither a template error nor a channel the operator has not set up says
            // anything about the address.
            if e.blames_address() && shared.channels.configured(channel) {
                shared
                    .board
                    .record(entry.scenario, channel, RateEvent::HardBounce, now);
                suppress(shared, &entry).await;
            }
            // Counted once fully handled (suppression included).
            shared.stats.failed.fetch_add(1, Relaxed);
            shared
                .metrics
                .scenario(entry.scenario)
                .failed
                .fetch_add(1, Relaxed);
        }
    }
}

/// Most (customer, channel) pairs remembered with a soft bounce; past it, a delivery to a
/// new one does not end its run (the run then over-counts, never under-counts).
const MAX_SOFT_BOUNCED: usize = 100_000;

/// Reports a soft bounce (`Transient`: the server answered, refusing this message for
/// now) to the customer's owner, and the first delivery after one (the run ends). Only
/// pairs with a soft bounce since start are told of a delivery, so a delivery costs the
/// customer's actor nothing otherwise; after a restart, a run stored before it ends at
/// the next delivery that follows a new soft bounce.
async fn soft_bounce(shared: &Shared, entry: &OutboxEntry, result: &Result<(), SendError>) {
    let key = (entry.customer_id.clone(), entry.channel);
    let event = match result {
        Err(SendError::Transient(_)) if shared.channels.configured(entry.channel) => {
            if let Ok(mut set) = shared.soft_bounced.lock() {
                if set.len() < MAX_SOFT_BOUNCED {
                    set.insert(key);
                }
            }
            CustomerEvent::SoftBounce {
                channel: entry.channel,
            }
        }
        Ok(()) => {
            let was = shared
                .soft_bounced
                .lock()
                .map(|mut set| set.remove(&key))
                .unwrap_or(false);
            if !was {
                return;
            }
            CustomerEvent::Delivered {
                channel: entry.channel,
            }
        }
        Err(_) => return,
    };
    let done = shared
        .port
        .customer_event(entry.customer_id.clone(), event)
        .await;
    if let Err(e) = done {
        tracing::warn!(customer_id = %entry.customer_id, error = %e, "Could not record a soft bounce or the delivery after one.");
    }
}

async fn suppress(shared: &Shared, entry: &OutboxEntry) {
    let event = CustomerEvent::Suppress {
        channel: entry.channel,
    };
    let done = shared
        .port
        .customer_event(entry.customer_id.clone(), event)
        .await;
    if let Err(e) = done {
        tracing::warn!(customer_id = %entry.customer_id, error = %e, "Could not suppress the channel.");
    }
}
