//! Outbox column families.
//!
//! ```text
//! outbox               seq u64 BE                                → OutboxEntry (v1)
//! outbox_due           next_attempt_ms (sign-flipped i64) BE · seq u64 BE → ()  (Pending entries only)
//! outbox_by_customer   len u16 · customer_id · seq u64 BE          → ()
//! ```
//! An entry is created (all three keys) in the same write as the cap-ledger update that
//! decided it. The dispatcher moves `outbox_due` keys as attempts fail and removes them
//! when an entry is delivered, failed or cancelled.

use super::codec;
use super::interest::pair_prefix;
use super::StoreError;
use crate::delivery::OutboxEntry;
use crate::domain::Millis;

const V1: u8 = 1;

pub fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn decode_key(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.get(..8)?.try_into().ok()?))
}

pub fn encode_entry(e: &OutboxEntry) -> Vec<u8> {
    codec::encode(V1, e)
}

pub fn decode_entry(b: &[u8]) -> Result<OutboxEntry, StoreError> {
    codec::decode("outbox", V1, b)
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
}
