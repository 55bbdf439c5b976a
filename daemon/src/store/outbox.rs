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
use super::schema::{
    bad_key, be_u64, flip, pair_key, pair_prefix, split_pair, unflip, Cf, PrefixSchema, Schema,
};
use super::StoreError;
use crate::domain::customer::{Channel, Scenario};
use crate::domain::message::{MessageContext, OutboxEntry, OutboxStatus};
use crate::domain::Millis;

/// v1 stored the rendered subject, text and HTML as well.
const V1: u8 = 1;
/// v2 stores the message context only; the dispatcher renders at send time.
const V2: u8 = 2;

/// The rendered text v1 entries carried (never read back: entries render at send time).
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct RenderedV1 {
    #[allow(dead_code)]
    subject: String,
    #[allow(dead_code)]
    text: String,
    #[allow(dead_code)]
    html: String,
}

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
    rendered: RenderedV1,
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

/// Outbox entries, by seq.
pub struct Outbox;

impl Schema for Outbox {
    const CF: Cf = Cf::Outbox;
    type Key = u64;
    type KeyRef<'a> = u64;
    type Value = OutboxEntry;

    fn encode_key(seq: u64) -> Vec<u8> {
        seq.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<u64, StoreError> {
        be_u64(bytes).ok_or_else(|| bad_key(Self::CF, "not a seq"))
    }
    fn encode_value(e: &OutboxEntry) -> Vec<u8> {
        codec::encode(V2, e)
    }
    fn decode_value(b: &[u8]) -> Result<OutboxEntry, StoreError> {
        match b.first() {
            Some(&V1) => codec::decode::<EntryV1>("outbox", V1, b).map(OutboxEntry::from),
            _ => codec::decode("outbox", V2, b),
        }
    }
}

/// When a Pending entry is due: (next attempt, seq) → (), in due order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Due {
    pub at_ms: Millis,
    pub seq: u64,
}

/// Pending entries by due time.
pub struct OutboxDue;

impl Schema for OutboxDue {
    const CF: Cf = Cf::OutboxDue;
    type Key = Due;
    type KeyRef<'a> = Due;
    type Value = ();

    fn encode_key(d: Due) -> Vec<u8> {
        let mut k = Vec::with_capacity(16);
        k.extend_from_slice(&flip(d.at_ms));
        k.extend_from_slice(&d.seq.to_be_bytes());
        k
    }
    fn decode_key(bytes: &[u8]) -> Result<Due, StoreError> {
        let bad = || bad_key(Self::CF, "not (time, seq)");
        Ok(Due {
            at_ms: unflip(bytes).ok_or_else(bad)?,
            seq: be_u64(bytes.get(8..).ok_or_else(bad)?).ok_or_else(bad)?,
        })
    }
    fn encode_value(_: &()) -> Vec<u8> {
        Vec::new()
    }
    fn decode_value(_: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A customer's entries: (customer id, seq) → ().
pub struct OutboxByCustomer;

impl Schema for OutboxByCustomer {
    const CF: Cf = Cf::OutboxByCustomer;
    type Key = (String, u64);
    type KeyRef<'a> = (&'a str, u64);
    type Value = ();

    fn encode_key((customer, seq): (&str, u64)) -> Vec<u8> {
        pair_key(customer, &seq.to_be_bytes())
    }
    fn decode_key(bytes: &[u8]) -> Result<(String, u64), StoreError> {
        let (c, rest) = split_pair(bytes).ok_or_else(|| bad_key(Self::CF, "no customer"))?;
        let seq = be_u64(rest).ok_or_else(|| bad_key(Self::CF, "no seq"))?;
        Ok((c.to_owned(), seq))
    }
    fn encode_value(_: &()) -> Vec<u8> {
        Vec::new()
    }
    fn decode_value(_: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
}

impl PrefixSchema for OutboxByCustomer {
    type Prefix<'a> = &'a str;
    fn encode_prefix(customer: &str) -> Vec<u8> {
        pair_prefix(customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(at_ms: Millis, seq: u64) -> Vec<u8> {
        OutboxDue::encode_key(Due { at_ms, seq })
    }

    #[test]
    fn due_keys_sort_by_time_then_seq_and_round_trip() {
        assert!(due(5, 9) < due(6, 1));
        assert!(due(6, 1) < due(6, 2));
        assert!(due(-6, 2) < due(0, 0));
        let d = Due { at_ms: -3, seq: 42 };
        assert_eq!(
            OutboxDue::decode_key(&OutboxDue::encode_key(d)).ok(),
            Some(d)
        );
        let mine = OutboxByCustomer::encode_prefix("c1");
        assert!(OutboxByCustomer::encode_key(("c1", 3)).starts_with(&mine));
        assert!(!OutboxByCustomer::encode_key(("c10", 3)).starts_with(&mine));
        assert_eq!(
            OutboxByCustomer::decode_key(&OutboxByCustomer::encode_key(("c1", 3))).ok(),
            Some(("c1".to_owned(), 3))
        );
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
                rendered: RenderedV1 {
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
        assert_eq!(Outbox::decode_value(&old).expect("v1 decodes"), e);
        let new = Outbox::encode_value(&e);
        assert_eq!(new[0], V2);
        assert_eq!(Outbox::decode_value(&new).expect("v2 decodes"), e);
        assert!(
            new.len() + 3000 < old.len(),
            "{} vs {}",
            new.len(),
            old.len()
        );
        let err = Outbox::decode_value(&[9, 0, 0]).expect_err("unknown version");
        assert!(err.to_string().contains("schema version 9"), "{err}");
    }
}
