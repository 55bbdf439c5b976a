//! One typed schema per column family: its name, key layout and value type.
//!
//! ```text
//! products        sku                                     → ProductState      (v1)
//! producers       producer_id                             → ProducerRecord    (v1)
//! triggers        id u64 BE                               → FiredTrigger      (v1)
//! trigger_by_sku  len(sku) u16 BE · sku · id u64 BE       → ()                (v1)
//! timers          due_ms (i64, sign-flipped) BE · kind u8 · sku  → ()         (v1)
//! meta            name                                    → raw bytes
//! ```
//! Big-endian integers keep RocksDB's byte order equal to numeric order, so scans over
//! `triggers` and `timers` run in id / due-time order.

use serde::{Deserialize, Serialize};

use super::codec;
use super::StoreError;
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerState;
use crate::domain::{FiredTrigger, Millis, TimerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cf {
    Products,
    Producers,
    Triggers,
    TriggerBySku,
    Timers,
    Meta,
    Interest,
    InterestByCustomer,
    CategoryInterest,
    Customers,
    Outbox,
    OutboxDue,
    OutboxByCustomer,
}

impl Cf {
    pub const ALL: &'static [Cf] = &[
        Cf::Products,
        Cf::Producers,
        Cf::Triggers,
        Cf::TriggerBySku,
        Cf::Timers,
        Cf::Meta,
        Cf::Interest,
        Cf::InterestByCustomer,
        Cf::CategoryInterest,
        Cf::Customers,
        Cf::Outbox,
        Cf::OutboxDue,
        Cf::OutboxByCustomer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cf::Products => "products",
            Cf::Producers => "producers",
            Cf::Triggers => "triggers",
            Cf::TriggerBySku => "trigger_by_sku",
            Cf::Timers => "timers",
            Cf::Meta => "meta",
            Cf::Interest => "interest",
            Cf::InterestByCustomer => "interest_by_customer",
            Cf::CategoryInterest => "category_interest",
            Cf::Customers => "customers",
            Cf::Outbox => "outbox",
            Cf::OutboxDue => "outbox_due",
            Cf::OutboxByCustomer => "outbox_by_customer",
        }
    }
}

const V1: u8 = 1;

pub fn encode_product(p: &ProductState) -> Vec<u8> {
    codec::encode(V1, p)
}

pub fn decode_product(bytes: &[u8]) -> Result<ProductState, StoreError> {
    codec::decode(Cf::Products.name(), V1, bytes)
}

pub fn encode_customer(c: &CustomerState) -> Vec<u8> {
    codec::encode(V1, c)
}

pub fn decode_customer(bytes: &[u8]) -> Result<CustomerState, StoreError> {
    codec::decode(Cf::Customers.name(), V1, bytes)
}

/// What a producer last had applied, and the ack it got (returned again on a re-send).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerRecord {
    pub last_sequence: u64,
    pub last_applied: u32,
    /// (index, field, reason) of the last batch's rejected events.
    pub last_rejections: Vec<(u32, String, String)>,
}

pub fn encode_producer(p: &ProducerRecord) -> Vec<u8> {
    codec::encode(V1, p)
}

pub fn decode_producer(bytes: &[u8]) -> Result<ProducerRecord, StoreError> {
    codec::decode(Cf::Producers.name(), V1, bytes)
}

pub fn trigger_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

pub fn decode_trigger_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(..8)?.try_into().ok()?))
}

pub fn encode_trigger(t: &FiredTrigger) -> Vec<u8> {
    codec::encode(V1, t)
}

pub fn decode_trigger(bytes: &[u8]) -> Result<FiredTrigger, StoreError> {
    codec::decode(Cf::Triggers.name(), V1, bytes)
}

/// Prefix of every `trigger_by_sku` key of one sku.
pub fn trigger_by_sku_prefix(sku: &str) -> Vec<u8> {
    let len = u16::try_from(sku.len()).unwrap_or(u16::MAX);
    let mut k = Vec::with_capacity(2 + sku.len() + 8);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(sku.as_bytes());
    k
}

pub fn trigger_by_sku_key(sku: &str, id: u64) -> Vec<u8> {
    let mut k = trigger_by_sku_prefix(sku);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Flipping the sign bit makes negative times sort before positive ones.
fn order_preserving(t: Millis) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn timer_kind_byte(kind: TimerKind) -> u8 {
    match kind {
        TimerKind::PriceStable => 1,
        TimerKind::DisplayStart => 2,
        TimerKind::CustomerArbitrate => 3,
        TimerKind::CustomerQuiet => 4,
    }
}

/// A durable timer: due time, what for, and which product.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimerKey {
    pub due_ms: Millis,
    pub kind: TimerKind,
    pub sku: String,
}

impl TimerKey {
    pub fn encode(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + self.sku.len());
        k.extend_from_slice(&order_preserving(self.due_ms));
        k.push(timer_kind_byte(self.kind));
        k.extend_from_slice(self.sku.as_bytes());
        k
    }

    pub fn decode(key: &[u8]) -> Option<TimerKey> {
        let due: [u8; 8] = key.get(..8)?.try_into().ok()?;
        let due_ms = (u64::from_be_bytes(due) ^ (1 << 63)) as i64;
        let kind = match key.get(8)? {
            1 => TimerKind::PriceStable,
            2 => TimerKind::DisplayStart,
            3 => TimerKind::CustomerArbitrate,
            4 => TimerKind::CustomerQuiet,
            _ => return None,
        };
        let sku = String::from_utf8(key.get(9..)?.to_vec()).ok()?;
        Some(TimerKey { due_ms, kind, sku })
    }

    /// The first key not due at `now` (scan bound).
    pub fn bound(now: Millis) -> Vec<u8> {
        order_preserving(now.saturating_add(1)).to_vec()
    }
}

/// Timer values carry only the version byte; everything is in the key.
pub fn timer_value() -> Vec<u8> {
    vec![V1]
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
