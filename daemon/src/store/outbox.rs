//! Outbox column families.
//!
//! ```text
//! outbox               seq u64 BE                                → OutboxEntry (v3; v1, v2 read)
//! outbox_due           class u8 · channel u8 · next_attempt_ms (sign-flipped i64) BE · seq u64 BE
//!                                                                → ()  (Pending entries only)
//! outbox_by_customer   len u16 · customer_id · seq u64 BE          → ()
//! ```
//! `outbox_due` is one index per lane (message class and channel), each in due order, so
//! the dispatcher reads a lane alone: a backlog or an outage on one channel never hides
//! another's due entries. Keys written before lanes (`next_attempt_ms · seq`, 16 bytes,
//! [`LegacyOutboxDue`]) sort after every lane key (flipped positive times start at 0x80)
//! and are moved into their lanes at start (`delivery::outbox::migrate`).
//!
//! An entry is created (all three keys, [`create`]) in the same write as the cap-ledger
//! update that decided it. The dispatcher moves `outbox_due` keys as attempts fail and
//! removes them when an entry is delivered, failed or cancelled.

use serde::Deserialize;

use super::codec;
use super::schema::{
    bad_key, be_u64, flip, pair_key, pair_prefix, split_pair, unflip, Cf, PrefixSchema, Schema,
};
use super::{Batch, StoreError};
use crate::domain::customer::{Channel, Locale, Scenario};
use crate::domain::message::{
    ItemContext, Lane, MessageClass, MessageContext, OutboxEntry, OutboxStatus,
};
use crate::domain::Millis;

/// v1 stored the rendered subject, text and HTML as well.
const V1: u8 = 1;
/// v2 stores the message context only; the dispatcher renders at send time.
const V2: u8 = 2;
/// v3: the context may carry an order (`MessageContext::order`), and the class is the
/// scenario's (no `marketing` flag).
const V3: u8 = 3;

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

/// The message context of v1 and v2 entries: stock scenarios only, no order.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct ContextV2 {
    scenario: Scenario,
    locale: Locale,
    customer_id: String,
    items: Vec<ItemContext>,
    unsubscribe_url: String,
}

impl From<ContextV2> for MessageContext {
    fn from(c: ContextV2) -> MessageContext {
        MessageContext {
            scenario: c.scenario,
            locale: c.locale,
            customer_id: c.customer_id,
            items: c.items,
            unsubscribe_url: c.unsubscribe_url,
            order: None,
        }
    }
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
    /// Always true (every scenario was marketing); the class is now the scenario's.
    #[allow(dead_code)]
    marketing: bool,
    context: ContextV2,
    #[allow(dead_code)]
    rendered: RenderedV1,
    status: OutboxStatus,
    attempts: u32,
    next_attempt_ms: Millis,
    created_ms: Millis,
    delivered_ms: Option<Millis>,
    last_error: Option<String>,
}

/// The v2 layout: v1 without the rendered text.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct EntryV2 {
    seq: u64,
    customer_id: String,
    channel: Channel,
    address: String,
    scenario: Scenario,
    #[allow(dead_code)]
    marketing: bool,
    context: ContextV2,
    status: OutboxStatus,
    attempts: u32,
    next_attempt_ms: Millis,
    created_ms: Millis,
    delivered_ms: Option<Millis>,
    last_error: Option<String>,
}

/// Both older layouts carry the same fields apart from v1's rendered text.
macro_rules! from_older {
    ($old:ty) => {
        impl From<$old> for OutboxEntry {
            fn from(e: $old) -> OutboxEntry {
                OutboxEntry {
                    seq: e.seq,
                    customer_id: e.customer_id,
                    channel: e.channel,
                    address: e.address,
                    scenario: e.scenario,
                    context: e.context.into(),
                    status: e.status,
                    attempts: e.attempts,
                    next_attempt_ms: e.next_attempt_ms,
                    created_ms: e.created_ms,
                    delivered_ms: e.delivered_ms,
                    last_error: e.last_error,
                }
            }
        }
    };
}

from_older!(EntryV1);
from_older!(EntryV2);

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
        codec::encode(V3, e)
    }
    fn decode_value(b: &[u8]) -> Result<OutboxEntry, StoreError> {
        match b.first() {
            Some(&V1) => codec::decode::<EntryV1>("outbox", V1, b).map(OutboxEntry::from),
            Some(&V2) => codec::decode::<EntryV2>("outbox", V2, b).map(OutboxEntry::from),
            _ => codec::decode("outbox", V3, b),
        }
    }
}

/// When a Pending entry is due, in its lane: (lane, next attempt, seq) → (), in due
/// order within the lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Due {
    pub lane: Lane,
    pub at_ms: Millis,
    pub seq: u64,
}

impl Due {
    /// The due key of `entry` as it is (`None` unless it is Pending).
    pub fn of(entry: &OutboxEntry) -> Option<Due> {
        (entry.status == OutboxStatus::Pending).then_some(Due {
            lane: entry.lane(),
            at_ms: entry.next_attempt_ms,
            seq: entry.seq,
        })
    }
}

fn class_byte(c: MessageClass) -> u8 {
    match c {
        MessageClass::Transactional => 0,
        MessageClass::Marketing => 1,
    }
}

fn channel_byte(c: Channel) -> u8 {
    match c {
        Channel::Email => 0,
        Channel::Line => 1,
        Channel::Webhook => 2,
    }
}

fn lane_bytes(lane: Lane) -> [u8; 2] {
    [class_byte(lane.class), channel_byte(lane.channel)]
}

fn lane_of(bytes: &[u8]) -> Option<Lane> {
    let class = MessageClass::ALL
        .into_iter()
        .find(|c| Some(&class_byte(*c)) == bytes.first())?;
    let channel = Channel::ALL
        .into_iter()
        .find(|c| Some(&channel_byte(*c)) == bytes.get(1))?;
    Some(Lane::new(class, channel))
}

/// Pending entries by lane and due time.
pub struct OutboxDue;

impl Schema for OutboxDue {
    const CF: Cf = Cf::OutboxDue;
    type Key = Due;
    type KeyRef<'a> = Due;
    type Value = ();

    fn encode_key(d: Due) -> Vec<u8> {
        let mut k = Vec::with_capacity(18);
        k.extend_from_slice(&lane_bytes(d.lane));
        k.extend_from_slice(&flip(d.at_ms));
        k.extend_from_slice(&d.seq.to_be_bytes());
        k
    }
    fn decode_key(bytes: &[u8]) -> Result<Due, StoreError> {
        let bad = || bad_key(Self::CF, "not (lane, time, seq)");
        if bytes.len() != 18 {
            return Err(bad());
        }
        Ok(Due {
            lane: lane_of(bytes).ok_or_else(bad)?,
            at_ms: unflip(bytes.get(2..).ok_or_else(bad)?).ok_or_else(bad)?,
            seq: be_u64(bytes.get(10..).ok_or_else(bad)?).ok_or_else(bad)?,
        })
    }
    fn encode_value(_: &()) -> Vec<u8> {
        Vec::new()
    }
    fn decode_value(_: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
}

impl PrefixSchema for OutboxDue {
    type Prefix<'a> = Lane;
    fn encode_prefix(lane: Lane) -> Vec<u8> {
        lane_bytes(lane).to_vec()
    }
}

/// A due key as written before lanes: (next attempt, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LegacyDue {
    pub at_ms: Millis,
    pub seq: u64,
}

/// `outbox_due` keys written before lanes (16 bytes). Read from [`LegacyDue::FIRST`]
/// onwards: every lane key sorts before it.
pub struct LegacyOutboxDue;

impl LegacyDue {
    /// The smallest legacy key of a real entry (times are never before 1970).
    pub const FIRST: LegacyDue = LegacyDue { at_ms: 0, seq: 0 };
}

impl Schema for LegacyOutboxDue {
    const CF: Cf = Cf::OutboxDue;
    type Key = LegacyDue;
    type KeyRef<'a> = LegacyDue;
    type Value = ();

    fn encode_key(d: LegacyDue) -> Vec<u8> {
        let mut k = Vec::with_capacity(16);
        k.extend_from_slice(&flip(d.at_ms));
        k.extend_from_slice(&d.seq.to_be_bytes());
        k
    }
    fn decode_key(bytes: &[u8]) -> Result<LegacyDue, StoreError> {
        let bad = || bad_key(Self::CF, "not a (time, seq) key from before lanes");
        if bytes.len() != 16 {
            return Err(bad());
        }
        Ok(LegacyDue {
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

/// The writes that create `entry`: the entry, its due key (if Pending) and its key in
/// the customer's index.
pub fn create(batch: &mut Batch, entry: &OutboxEntry) {
    batch.put::<Outbox>(entry.seq, entry);
    if let Some(due) = Due::of(entry) {
        batch.put::<OutboxDue>(due, &());
    }
    batch.put::<OutboxByCustomer>((&entry.customer_id, entry.seq), &());
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
#[path = "outbox_tests.rs"]
mod tests;
