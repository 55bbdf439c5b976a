//! One delivery attempt: re-read the entry, cancel it if its scenario was disabled,
//! render it, send it, give the channel slot back, and hand the result to the outbox's
//! owner; a permanent failure that blames the address suppresses it through the port.

use std::sync::atomic::Ordering::Relaxed;

use super::Shared;
use crate::clock::now_ms;
use crate::delivery::outbox::reads;
use crate::delivery::SendError;
use crate::domain::message::{OutboxEntry, OutboxStatus};
use crate::domain::profile::CustomerEvent;

/// One attempt at one entry, from the re-read to the recorded result. The channel slot
/// (`permit`) is given back as soon as the send itself is over, so the next send starts
/// while this result is being written; the entry stays in flight until it is recorded.
pub(super) async fn deliver(shared: &Shared, seq: u64, permit: tokio::sync::OwnedSemaphorePermit) {
    // Re-read: an unsubscribe may have cancelled it since the poll.
    let entry = match shared.store.read(move |s| reads::load(s, seq)).await {
        Ok(Some(e)) if e.status == OutboxStatus::Pending => e,
        Ok(_) => {
            shared.stats.skipped.fetch_add(1, Relaxed);
            return;
        }
        Err(e) => {
            tracing::error!(seq, error = %e, "Cannot read an outbox entry; it stays Pending.");
            return;
        }
    };
    if !shared.rules.get().enabled(entry.scenario) {
        let why = format!(
            "not sent: scenario {} was disabled by an operator",
            entry.scenario.as_str()
        );
        match shared.outbox.cancel(seq, why).await {
            Ok(Some(_)) => {
                shared.metrics.outbox_cancelled.fetch_add(1, Relaxed);
                tracing::info!(
                    seq,
                    scenario = entry.scenario.as_str(),
                    "Cancelled a queued message of a disabled scenario."
                );
            }
            Ok(None) => {
                shared.stats.skipped.fetch_add(1, Relaxed);
            }
            Err(e) => {
                tracing::error!(seq, error = %e, "Cannot cancel an outbox entry; it stays Pending.")
            }
        }
        return;
    }
    let result = match shared.templates.render(&entry.context) {
        Ok(rendered) => shared.channels.send(&entry, &rendered).await,
        Err(e) => Err(SendError::Unrenderable(format!(
            "{e}; fix the template override and retry the entry"
        ))),
    };
    drop(permit);
    shared.slot_free.notify_one();
    let now = now_ms();
    let recorded = shared.outbox.record(seq, result.clone(), now).await;
    let updated = match recorded {
        Ok(Some(updated)) => updated,
        Ok(None) => {
            shared.stats.skipped.fetch_add(1, Relaxed);
            return;
        }
        Err(e) => {
            // The send is not recorded: the entry goes out again (same Message-ID).
            tracing::error!(seq, error = %e, "Cannot record a delivery result.");
            return;
        }
    };
    match (&result, updated.status) {
        (Ok(()), _) => {
            shared.stats.record_delivery(now - entry.created_ms);
            let c = shared.metrics.scenario(entry.scenario);
            c.sent.fetch_add(1, Relaxed);
            tracing::debug!(seq, channel = entry.channel.as_str(), "Delivered.");
        }
        (Err(e), OutboxStatus::Pending) => {
            shared.stats.retried.fetch_add(1, Relaxed);
            tracing::info!(seq, channel = entry.channel.as_str(), attempts = updated.attempts, next_attempt_ms = updated.next_attempt_ms, error = %e, "Delivery failed; will retry.");
        }
        (Err(e), _) => {
            tracing::warn!(seq, channel = entry.channel.as_str(), customer_id = %entry.customer_id, attempts = updated.attempts, error = %e, "Delivery failed for good.");
            // Neither a template error nor a channel the operator has not set up says
            // anything about the address.
            if e.blames_address() && shared.channels.configured(entry.channel) {
                suppress(shared, &entry).await;
            }
            // Counted once fully handled (suppression included).
            shared.stats.failed.fetch_add(1, Relaxed);
            let c = shared.metrics.scenario(entry.scenario);
            c.failed.fetch_add(1, Relaxed);
        }
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
