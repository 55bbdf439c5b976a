//! Typed schemas: one per kind of record, each naming its column family, its key layout
//! (key codec) and its value encoding (value codec). Everything outside `store/` reads
//! with `store.get::<S>(key)` and writes with `batch.put::<S>(key, &value)`; no raw
//! bytes or byte keys cross the store's API.
//!
//! ```text
//! products             sku                                        → ProductState    (v2; v1 read)
//! customers            customer_id                                → CustomerState   (v5; v4 … v1 read)
//! producers            producer_id                                → ProducerRecord  (v1)
//! triggers             id u64 BE                                  → FiredTrigger    (v2; v1 read)
//! trigger_by_sku       len u16 · sku · id u64 BE                  → ()
//! timers               due_ms (sign-flipped i64 BE) · kind u8 · key → ()            (v1)
//! interest             len u16 · sku · customer_id                → InterestEdge    (merge)
//! interest_by_customer len u16 · customer_id · sku                → InterestEdge    (merge)
//! category_interest    len u16 · category · customer_id           → Affinity        (merge)
//! outbox               seq u64 BE                                 → OutboxEntry     (v2; v1 read)
//! outbox_due           class u8 · channel u8 · next_attempt_ms (sign-flipped) · seq u64 BE
//!                                                                 → ()  (Pending entries, per lane)
//! outbox_by_customer   len u16 · customer_id · seq u64 BE         → ()
//! order_indexes        order_id                                   → OrderIndex      (v1)
//! line_notices         id u64 BE                                  → LineNotice      (v1)
//! cancel_requests      id u64 BE                                  → CancelRequest   (v1)
//! backorder_board      sku                                        → BoardRow        (v1)
//! late_lines           len u16 · order_id · line_id               → LateLine        (v1)
//! placed_orders        id u64 BE                                  → PlacedOrder     (v1)
//! related              sku                                        → CoPurchase      (v1)
//! category_sellers     category id                                → CategoryBestSellers (v1)
//! scenario_attribution scenario name                              → Tally           (merge)
//! segment_history      len u16 · segment name · day u32 BE        → Snapshot        (v1)
//! segment_members      len u16 · segment name · customer_id       → entered_ms i64  (v1)
//! segment_changes      id u64 BE                                  → MembershipChange (v1)
//! meta                 "fanout_cursor"                            → u64 BE
//!                      "notice_cursor"                            → u64 BE
//!                      "shop_webhook_cancel_cursor"               → u64 BE
//!                      "shop_webhook_notice_cursor"               → u64 BE
//!                      "shop_webhook_segment_cursor"              → u64 BE
//!                      "backorder_board_built"                    → u64 BE
//!                      "related_cursor"                           → u64 BE
//!                      "order_total"                              → OrderTotal      (v1)
//!                      "scenario_overrides"                       → Overrides (JSON)
//!                      "segment_definitions"                      → API-defined segments (JSON)
//!                      "unsubscribe_secret"                       → secret bytes
//!                      "release:" · trigger id u64 BE             → Release         (v1)
//! ```
//! Big-endian integers keep RocksDB's byte order equal to numeric order, so scans run in
//! id / due-time order; the `len u16` prefix makes all keys of one first part sort
//! together. Values carry a schema-version byte (`codec.rs`).

use std::marker::PhantomData;

use super::StoreError;
use crate::domain::Millis;

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
    OrderIndexes,
    LineNotices,
    CancelRequests,
    BackorderBoard,
    LateLines,
    PlacedOrders,
    Related,
    CategorySellers,
    ScenarioAttribution,
    SegmentHistory,
    SegmentMembers,
    SegmentChanges,
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
        Cf::OrderIndexes,
        Cf::LineNotices,
        Cf::CancelRequests,
        Cf::BackorderBoard,
        Cf::LateLines,
        Cf::PlacedOrders,
        Cf::Related,
        Cf::CategorySellers,
        Cf::ScenarioAttribution,
        Cf::SegmentHistory,
        Cf::SegmentMembers,
        Cf::SegmentChanges,
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
            Cf::OrderIndexes => "order_indexes",
            Cf::LineNotices => "line_notices",
            Cf::CancelRequests => "cancel_requests",
            Cf::BackorderBoard => "backorder_board",
            Cf::LateLines => "late_lines",
            Cf::PlacedOrders => "placed_orders",
            Cf::Related => "related",
            Cf::CategorySellers => "category_sellers",
            Cf::ScenarioAttribution => "scenario_attribution",
            Cf::SegmentHistory => "segment_history",
            Cf::SegmentMembers => "segment_members",
            Cf::SegmentChanges => "segment_changes",
        }
    }
}

/// One kind of record: where it lives and how its key and value are encoded.
pub trait Schema: Sized + 'static {
    const CF: Cf;
    /// The key as read back.
    type Key: Send + 'static;
    /// The key as written (borrowed where that saves a copy).
    type KeyRef<'a>: Copy;
    type Value: Send + 'static;

    fn encode_key(key: Self::KeyRef<'_>) -> Vec<u8>;
    fn decode_key(bytes: &[u8]) -> Result<Self::Key, StoreError>;
    fn encode_value(value: &Self::Value) -> Vec<u8>;
    fn decode_value(bytes: &[u8]) -> Result<Self::Value, StoreError>;
}

/// A schema whose keys group by a leading part, so one group can be scanned alone.
pub trait PrefixSchema: Schema {
    type Prefix<'a>: Copy;
    fn encode_prefix(prefix: Self::Prefix<'_>) -> Vec<u8>;
}

/// A schema whose column family has a merge operator: writes may be operands that
/// RocksDB folds into the stored value, so they need no read.
pub trait MergeSchema: Schema {
    type Operand: ?Sized;
    fn encode_operand(operand: &Self::Operand) -> Vec<u8>;
}

/// A value already encoded for schema `S` (by the actor that owns it, off the write path).
pub struct Encoded<S: Schema> {
    bytes: Vec<u8>,
    schema: PhantomData<fn() -> S>,
}

impl<S: Schema> Clone for Encoded<S> {
    fn clone(&self) -> Self {
        Encoded {
            bytes: self.bytes.clone(),
            schema: PhantomData,
        }
    }
}

impl<S: Schema> std::fmt::Debug for Encoded<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encoded<{}>({} bytes)", S::CF.name(), self.bytes.len())
    }
}

impl<S: Schema> Encoded<S> {
    pub fn new(value: &S::Value) -> Encoded<S> {
        Encoded {
            bytes: S::encode_value(value),
            schema: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The error for a key that does not decode.
pub(super) fn bad_key(cf: Cf, what: &str) -> StoreError {
    StoreError::Corrupt {
        cf: cf.name(),
        reason: format!("unreadable key: {what}"),
    }
}

/// `len(a) u16 BE · a`: the prefix every key of first part `a` starts with.
pub fn pair_prefix(a: &str) -> Vec<u8> {
    let len = u16::try_from(a.len()).unwrap_or(u16::MAX);
    let mut k = Vec::with_capacity(2 + a.len() + 16);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(a.as_bytes());
    k
}

/// `len(a) · a · b`.
pub fn pair_key(a: &str, b: &[u8]) -> Vec<u8> {
    let mut k = pair_prefix(a);
    k.extend_from_slice(b);
    k
}

/// The two parts of a `pair_key` (the second as raw bytes).
pub fn split_pair(key: &[u8]) -> Option<(&str, &[u8])> {
    let len = usize::from(u16::from_be_bytes(key.get(..2)?.try_into().ok()?));
    let first = std::str::from_utf8(key.get(2..2 + len)?).ok()?;
    Some((first, key.get(2 + len..)?))
}

pub fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Flipping the sign bit makes negative times sort before positive ones.
pub fn flip(t: Millis) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn unflip(bytes: &[u8]) -> Option<Millis> {
    Some((be_u64(bytes)? ^ (1 << 63)) as i64)
}

pub fn utf8(cf: Cf, bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| bad_key(cf, "not UTF-8"))
}

/// A log keyed by an increasing u64 id (big-endian, so key order is id order) whose value
/// is bincode with schema version 1.
macro_rules! v1_log {
    ($(#[$doc:meta])* $name:ident, $cf:expr, $value:ty) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::store::schema::Schema for $name {
            const CF: $crate::store::schema::Cf = $cf;
            type Key = u64;
            type KeyRef<'a> = u64;
            type Value = $value;

            fn encode_key(id: u64) -> Vec<u8> {
                id.to_be_bytes().to_vec()
            }
            fn decode_key(bytes: &[u8]) -> Result<u64, $crate::store::StoreError> {
                $crate::store::schema::be_u64(bytes)
                    .ok_or_else(|| $crate::store::schema::bad_key(Self::CF, "not a u64"))
            }
            fn encode_value(value: &$value) -> Vec<u8> {
                $crate::store::codec::encode(1, value)
            }
            fn decode_value(bytes: &[u8]) -> Result<$value, $crate::store::StoreError> {
                $crate::store::codec::decode(Self::CF.name(), 1, bytes)
            }
        }
    };
}
pub(crate) use v1_log;

/// A record keyed by a plain string (sku, order id, category) whose value is bincode with
/// schema version 1.
macro_rules! v1_by_name {
    ($(#[$doc:meta])* $name:ident, $cf:expr, $value:ty) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::store::schema::Schema for $name {
            const CF: $crate::store::schema::Cf = $cf;
            type Key = String;
            type KeyRef<'a> = &'a str;
            type Value = $value;

            fn encode_key(key: &str) -> Vec<u8> {
                key.as_bytes().to_vec()
            }
            fn decode_key(bytes: &[u8]) -> Result<String, $crate::store::StoreError> {
                $crate::store::schema::utf8(Self::CF, bytes)
            }
            fn encode_value(value: &$value) -> Vec<u8> {
                $crate::store::codec::encode(1, value)
            }
            fn decode_value(bytes: &[u8]) -> Result<$value, $crate::store::StoreError> {
                $crate::store::codec::decode(Self::CF.name(), 1, bytes)
            }
        }
    };
}
pub(crate) use v1_by_name;

/// A `meta` record stored under one fixed key, with its value's encoding.
macro_rules! meta_singleton {
    ($(#[$doc:meta])* $name:ident, $key:expr, $value:ty, $enc:expr, $dec:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::store::schema::Schema for $name {
            const CF: $crate::store::schema::Cf = $crate::store::schema::Cf::Meta;
            type Key = ();
            type KeyRef<'a> = ();
            type Value = $value;

            fn encode_key(_: ()) -> Vec<u8> {
                $key.to_vec()
            }
            fn decode_key(bytes: &[u8]) -> Result<(), $crate::store::StoreError> {
                if bytes == $key {
                    Ok(())
                } else {
                    Err($crate::store::schema::bad_key(Self::CF, stringify!($name)))
                }
            }
            fn encode_value(value: &$value) -> Vec<u8> {
                $enc(value)
            }
            fn decode_value(bytes: &[u8]) -> Result<$value, $crate::store::StoreError> {
                $dec(bytes)
            }
        }
    };
    // A u64 (big-endian) under a fixed key: cursors and markers.
    ($(#[$doc:meta])* $name:ident, $key:expr, u64) => {
        $crate::store::schema::meta_singleton!(
            $(#[$doc])*
            $name,
            $key,
            u64,
            |c: &u64| c.to_be_bytes().to_vec(),
            |b: &[u8]| $crate::store::schema::be_u64(b).ok_or_else(|| {
                $crate::store::StoreError::Corrupt {
                    cf: $crate::store::schema::Cf::Meta.name(),
                    reason: format!("{}: not a u64", String::from_utf8_lossy($key)),
                }
            })
        );
    };
}
pub(crate) use meta_singleton;
