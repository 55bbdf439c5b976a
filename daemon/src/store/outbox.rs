//! Outbox column families.
//!
//! ```text
//! outbox               seq u64 BE                                → OutboxEntry (v2; v1 read)
//! outbox_due           next_attempt_ms (sign-flipped i64) BE · seq u64 BE → ()  (Pending entries only)
//! outbox_by_customer   len u16 · customer_id · seq u64 BE          → ()
//! ```
//! An entry is created (all three keys) in the same write as the cap-ledger update that
//! decided it. The dispatcher moves `outbox_due` keys as attempts fail and removes them
//! when an entry is delivered, failed or cancelled.

use serde::Deserialize;

use super::codec;
use super::interest::pair_prefix;
use super::StoreError;
use crate::delivery::{MessageContext, OutboxEntry, OutboxStatus, Rendered};
use crate::domain::customer::{Channel, Scenario};
use crate::domain::Millis;

/// v1 stored the rendered subject, text and HTML as well.
const V1: u8 = 1;
/// v2 stores the message context only; the dispatcher renders at send time.
const V2: u8 = 2;

/// The v1 layout, read so entries queued by an older build still go out (rendered again
/// from their context, which v1 also stored).
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct EntryV1 {
    seq: u64,
    customer_id: String,
    channel: Channel,
    address: String,
    scenario: Scenario,
    marketing: bool,
    context: MessageContext,
    #[allow(dead_code)]
    rendered: Rendered,
    status: OutboxStatus,
    attempts: u32,
    next_attempt_ms: Millis,
    created_ms: Millis,
    delivered_ms: Option<Millis>,
    last_error: Option<String>,
}

impl From<EntryV1> for OutboxEntry {
    fn from(e: EntryV1) -> OutboxEntry {
        OutboxEntry {
            seq: e.seq,
            customer_id: e.customer_id,
            channel: e.channel,
            address: e.address,
            scenario: e.scenario,
            marketing: e.marketing,
            context: e.context,
            status: e.status,
            attempts: e.attempts,
            next_attempt_ms: e.next_attempt_ms,
            created_ms: e.created_ms,
            delivered_ms: e.delivered_ms,
            last_error: e.last_error,
        }
    }
}

pub fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn decode_key(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.get(..8)?.try_into().ok()?))
}

pub fn encode_entry(e: &OutboxEntry) -> Vec<u8> {
    codec::encode(V2, e)
}

pub fn decode_entry(b: &[u8]) -> Result<OutboxEntry, StoreError> {
    match b.first() {
        Some(&V1) => codec::decode::<EntryV1>("outbox", V1, b).map(OutboxEntry::from),
        _ => codec::decode("outbox", V2, b),
    }
}

fn flip(t: Millis) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn due_key(next_attempt_ms: Millis, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(16);
    k.extend_from_slice(&flip(next_attempt_ms));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// (next_attempt_ms, seq) of a `outbox_due` key.
pub fn decode_due_key(k: &[u8]) -> Option<(Millis, u64)> {
    let t = u64::from_be_bytes(k.get(..8)?.try_into().ok()?) ^ (1 << 63);
    Some((t as i64, u64::from_be_bytes(k.get(8..16)?.try_into().ok()?)))
}

/// First `outbox_due` key after everything due at `now`.
pub fn due_bound(now: Millis) -> Vec<u8> {
    flip(now.saturating_add(1)).to_vec()
}

pub fn by_customer_key(customer_id: &str, seq: u64) -> Vec<u8> {
    let mut k = pair_prefix(customer_id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn by_customer_prefix(customer_id: &str) -> Vec<u8> {
    pair_prefix(customer_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_time_then_seq_and_round_trip() {
        assert!(due_key(5, 9) < due_key(6, 1));
        assert!(due_key(6, 1) < due_key(6, 2));
        assert!(due_key(6, 2) < due_bound(6) && due_bound(6) <= due_key(7, 0));
        assert_eq!(decode_due_key(&due_key(-3, 42)), Some((-3, 42)));
        assert!(by_customer_key("c1", 3).starts_with(&by_customer_prefix("c1")));
        assert!(!by_customer_key("c10", 3).starts_with(&by_customer_prefix("c1")));
    }

    /// An entry queued by a build that stored rendered text reads as the same entry.
    #[test]
    fn v1_entries_are_read_and_v2_round_trips_without_the_rendered_text() {
        use crate::delivery::test_support::sample_entry;

        let e = sample_entry(7, Channel::Email, true);
        let old = codec::encode(
            V1,
            &EntryV1 {
                seq: e.seq,
                customer_id: e.customer_id.clone(),
                channel: e.channel,
                address: e.address.clone(),
                scenario: e.scenario,
                marketing: e.marketing,
                context: e.context.clone(),
                rendered: Rendered {
                    subject: "s".repeat(40),
                    text: "t".repeat(900),
                    html: "h".repeat(2500),
                },
                status: e.status,
                attempts: e.attempts,
                next_attempt_ms: e.next_attempt_ms,
                created_ms: e.created_ms,
                delivered_ms: e.delivered_ms,
                last_error: e.last_error.clone(),
            },
        );
        assert_eq!(decode_entry(&old).expect("v1 decodes"), e);
        let new = encode_entry(&e);
        assert_eq!(new[0], V2);
        assert_eq!(decode_entry(&new).expect("v2 decodes"), e);
        assert!(
            new.len() + 3000 < old.len(),
            "{} vs {}",
            new.len(),
            old.len()
        );
        let err = decode_entry(&[9, 0, 0]).expect_err("unknown version");
        assert!(err.to_string().contains("schema version 9"), "{err}");
    }
}
