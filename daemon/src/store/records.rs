//! The schemas of product, customer and producer records, the trigger log and its
//! per-sku index, and durable timers (layouts in `schema.rs`).

use serde::{Deserialize, Serialize};

use super::codec;
use super::schema::{
    bad_key, be_u64, flip, pair_key, pair_prefix, split_pair, unflip, utf8, Cf, PrefixSchema,
    Schema,
};
use super::StoreError;
use crate::domain::customer::{Channel, Consent, Locale, Sent};
use crate::domain::decide::{Deferred, Offer};
use crate::domain::lifecycle::aggregates::Aggregates;
use crate::domain::lifecycle::attribution::Attribution;
use crate::domain::lifecycle::engagement::Engagement;
use crate::domain::lifecycle::hygiene::Hygiene;
use crate::domain::lifecycle::journey::Journey;
use crate::domain::lifecycle::lapse::Lapse;
use crate::domain::lifecycle::Lifecycle;
use crate::domain::order::backorder::BackorderBook;
use crate::domain::order::state::{Confirmation, LineState, Once, OrderState, Refund};
use crate::domain::product::{Arming, PricePoint, ProductState};
use crate::domain::profile::CustomerState;
use crate::domain::velocity::Velocity;
use crate::domain::{Catalogue, FiredTrigger, Millis, TimerKind, TriggerKind};

const V1: u8 = 1;
const V2: u8 = 2;

/// A schema keyed by a plain string (sku, customer id, producer id). With `v2 $legacy`
/// values are written as version 2, and version 1 is read as `$legacy` and converted.
macro_rules! string_keyed {
    ($(#[$doc:meta])* $name:ident, $cf:expr, $value:ty) => {
        string_keyed!(@schema $(#[$doc])* $name, $cf, $value,
            |v: &$value| codec::encode(V1, v),
            |b: &[u8]| codec::decode(Cf::name($cf), V1, b));
    };
    ($(#[$doc:meta])* $name:ident, $cf:expr, $value:ty, v2 $legacy:ty) => {
        string_keyed!(@schema $(#[$doc])* $name, $cf, $value,
            |v: &$value| codec::encode(V2, v),
            |b: &[u8]| match b.first() {
                Some(&V1) => codec::decode::<$legacy>(Cf::name($cf), V1, b).map(Into::into),
                _ => codec::decode(Cf::name($cf), V2, b),
            });
    };
    (@schema $(#[$doc:meta])* $name:ident, $cf:expr, $value:ty, $enc:expr, $dec:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl Schema for $name {
            const CF: Cf = $cf;
            type Key = String;
            type KeyRef<'a> = &'a str;
            type Value = $value;

            fn encode_key(key: &str) -> Vec<u8> {
                key.as_bytes().to_vec()
            }
            fn decode_key(bytes: &[u8]) -> Result<String, StoreError> {
                utf8(Self::CF, bytes)
            }
            fn encode_value(value: &$value) -> Vec<u8> {
                $enc(value)
            }
            fn decode_value(bytes: &[u8]) -> Result<$value, StoreError> {
                $dec(bytes)
            }
        }
    };
}

string_keyed!(
    /// A product's state, by sku (v2: with its backorder book; v1 is read as an empty book).
    Products,
    Cf::Products,
    ProductState,
    v2 ProductStateV1
);

/// A product state as stored before products kept a backorder book.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct ProductStateV1 {
    sku: String,
    catalogue: Catalogue,
    price_minor: i64,
    price_since_ms: Millis,
    reference_price_minor: i64,
    price_history: Vec<PricePoint>,
    stock: i64,
    velocity: Velocity,
    arming: Arming,
    created_ms: Millis,
    updated_ms: Millis,
}

impl From<ProductStateV1> for ProductState {
    fn from(p: ProductStateV1) -> ProductState {
        ProductState {
            sku: p.sku,
            catalogue: p.catalogue,
            price_minor: p.price_minor,
            price_since_ms: p.price_since_ms,
            reference_price_minor: p.reference_price_minor,
            price_history: p.price_history,
            stock: p.stock,
            velocity: p.velocity,
            arming: p.arming,
            created_ms: p.created_ms,
            updated_ms: p.updated_ms,
            book: BackorderBook::default(),
        }
    }
}

/// A customer's state, by customer id (v5: with the order aggregates; v4 is read with
/// aggregates seeded from its orders, see `CustomerStateV4`; v4: with the lifecycle
/// part — engagement, cart journey, hygiene, lapses, attribution; v3 is read with an
/// empty one, v2 as orders never asked to be cancelled, v1 as a customer without orders).
pub struct Customers;

const V3: u8 = 3;
const V4: u8 = 4;
const V5: u8 = 5;

impl Schema for Customers {
    const CF: Cf = Cf::Customers;
    type Key = String;
    type KeyRef<'a> = &'a str;
    type Value = CustomerState;

    fn encode_key(key: &str) -> Vec<u8> {
        key.as_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<String, StoreError> {
        utf8(Self::CF, bytes)
    }
    fn encode_value(value: &CustomerState) -> Vec<u8> {
        codec::encode(V5, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<CustomerState, StoreError> {
        let cf = Cf::Customers.name();
        match bytes.first() {
            Some(&V1) => codec::decode::<CustomerStateV1>(cf, V1, bytes).map(Into::into),
            Some(&V2) => codec::decode::<CustomerStateV2>(cf, V2, bytes).map(Into::into),
            Some(&V3) => codec::decode::<CustomerStateV3>(cf, V3, bytes).map(Into::into),
            Some(&V4) => codec::decode::<CustomerStateV4>(cf, V4, bytes).map(Into::into),
            _ => codec::decode(cf, V5, bytes),
        }
    }
}

/// A customer state as stored before the order aggregates (customers v4).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct CustomerStateV4 {
    id: String,
    email: Option<String>,
    line_user_id: Option<String>,
    locale: Locale,
    time_zone: String,
    consent: Consent,
    tags: Vec<String>,
    suppressed: Vec<Channel>,
    ledger: Vec<Sent>,
    pending: Vec<Offer>,
    pending_due_ms: Option<Millis>,
    deferred: Vec<Deferred>,
    created_ms: Millis,
    updated_ms: Millis,
    orders: Vec<OrderState>,
    lifecycle: LifecycleV4,
}

/// The lifecycle part as stored in v4 (no aggregates).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct LifecycleV4 {
    engagement: Engagement,
    journey: Journey,
    hygiene: Hygiene,
    lapse: Lapse,
    attribution: Attribution,
}

impl From<CustomerStateV4> for CustomerState {
    /// Aggregates are seeded from what v4 kept: its orders and the lapse part's order
    /// times (`Aggregates::seeded`). Forgotten orders, purchases' amounts, SKUs and ids,
    /// and the newsletter flag (never stored before v5) cannot be recovered.
    fn from(c: CustomerStateV4) -> CustomerState {
        let l = c.lifecycle;
        let aggregates = Aggregates::seeded(&c.orders, &l.lapse.order_times);
        CustomerState {
            id: c.id,
            email: c.email,
            line_user_id: c.line_user_id,
            locale: c.locale,
            time_zone: c.time_zone,
            consent: c.consent,
            tags: c.tags,
            suppressed: c.suppressed,
            ledger: c.ledger,
            pending: c.pending,
            pending_due_ms: c.pending_due_ms,
            deferred: c.deferred,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
            orders: c.orders,
            lifecycle: Lifecycle {
                engagement: l.engagement,
                journey: l.journey,
                hygiene: l.hygiene,
                lapse: l.lapse,
                attribution: l.attribution,
                aggregates,
            },
        }
    }
}

/// A customer state as stored before the lifecycle part.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct CustomerStateV3 {
    id: String,
    email: Option<String>,
    line_user_id: Option<String>,
    locale: Locale,
    time_zone: String,
    consent: Consent,
    tags: Vec<String>,
    suppressed: Vec<Channel>,
    ledger: Vec<Sent>,
    pending: Vec<Offer>,
    pending_due_ms: Option<Millis>,
    deferred: Vec<Deferred>,
    created_ms: Millis,
    updated_ms: Millis,
    orders: Vec<OrderState>,
}

impl From<CustomerStateV3> for CustomerState {
    fn from(c: CustomerStateV3) -> CustomerState {
        CustomerState {
            id: c.id,
            email: c.email,
            line_user_id: c.line_user_id,
            locale: c.locale,
            time_zone: c.time_zone,
            consent: c.consent,
            tags: c.tags,
            suppressed: c.suppressed,
            ledger: c.ledger,
            pending: c.pending,
            pending_due_ms: c.pending_due_ms,
            deferred: c.deferred,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
            lifecycle: Lifecycle {
                aggregates: Aggregates::seeded(&c.orders, &[]),
                ..Lifecycle::default()
            },
            orders: c.orders,
        }
    }
}

/// A customer state as stored before orders kept the customer's cancel request.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct CustomerStateV2 {
    id: String,
    email: Option<String>,
    line_user_id: Option<String>,
    locale: Locale,
    time_zone: String,
    consent: Consent,
    tags: Vec<String>,
    suppressed: Vec<Channel>,
    ledger: Vec<Sent>,
    pending: Vec<Offer>,
    pending_due_ms: Option<Millis>,
    deferred: Vec<Deferred>,
    created_ms: Millis,
    updated_ms: Millis,
    orders: Vec<OrderStateV2>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct OrderStateV2 {
    order_id: String,
    customer_id: String,
    placed_ms: Millis,
    currency: String,
    coupon_code: String,
    lines: Vec<LineState>,
    confirmation: Confirmation,
    last_notice_ms: Option<Millis>,
    followup: Once,
    cross_sell_after_order: Once,
    cross_sell_after_delivery: Once,
    refunds: Vec<Refund>,
}

impl From<OrderStateV2> for OrderState {
    fn from(o: OrderStateV2) -> OrderState {
        OrderState {
            order_id: o.order_id,
            customer_id: o.customer_id,
            placed_ms: o.placed_ms,
            currency: o.currency,
            coupon_code: o.coupon_code,
            lines: o.lines,
            confirmation: o.confirmation,
            last_notice_ms: o.last_notice_ms,
            followup: o.followup,
            cross_sell_after_order: o.cross_sell_after_order,
            cross_sell_after_delivery: o.cross_sell_after_delivery,
            refunds: o.refunds,
            cancel_requested_at_ms: None,
        }
    }
}

impl From<CustomerStateV2> for CustomerState {
    fn from(c: CustomerStateV2) -> CustomerState {
        CustomerStateV3 {
            id: c.id,
            email: c.email,
            line_user_id: c.line_user_id,
            locale: c.locale,
            time_zone: c.time_zone,
            consent: c.consent,
            tags: c.tags,
            suppressed: c.suppressed,
            ledger: c.ledger,
            pending: c.pending,
            pending_due_ms: c.pending_due_ms,
            deferred: c.deferred,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
            orders: c.orders.into_iter().map(Into::into).collect(),
        }
        .into()
    }
}

/// A customer state as stored before customers owned their orders.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct CustomerStateV1 {
    id: String,
    email: Option<String>,
    line_user_id: Option<String>,
    locale: Locale,
    time_zone: String,
    consent: Consent,
    tags: Vec<String>,
    suppressed: Vec<Channel>,
    ledger: Vec<Sent>,
    pending: Vec<Offer>,
    pending_due_ms: Option<Millis>,
    deferred: Vec<Deferred>,
    created_ms: Millis,
    updated_ms: Millis,
}

impl From<CustomerStateV1> for CustomerState {
    fn from(c: CustomerStateV1) -> CustomerState {
        CustomerStateV2 {
            id: c.id,
            email: c.email,
            line_user_id: c.line_user_id,
            locale: c.locale,
            time_zone: c.time_zone,
            consent: c.consent,
            tags: c.tags,
            suppressed: c.suppressed,
            ledger: c.ledger,
            pending: c.pending,
            pending_due_ms: c.pending_due_ms,
            deferred: c.deferred,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
            orders: Vec::new(),
        }
        .into()
    }
}

string_keyed!(
    /// What each producer last had applied (idempotent ingest), by producer id.
    Producers,
    Cf::Producers,
    ProducerRecord
);

/// One event a batch refused: where it was in the batch, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub index: u32,
    pub field: String,
    pub reason: String,
}

/// What a producer last had applied, and the ack it got (returned again on a re-send).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerRecord {
    pub last_sequence: u64,
    pub last_applied: u32,
    pub last_rejections: Vec<Rejected>,
}

/// The trigger log, by trigger id (increasing).
pub struct Triggers;

/// A trigger as logged before it carried its product's catalogue.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct TriggerV1 {
    kind: TriggerKind,
    sku: String,
    at_ms: Millis,
    old_stock: i64,
    new_stock: i64,
    velocity_per_day: f64,
    cover_days: Option<f64>,
    old_price_minor: i64,
    new_price_minor: i64,
    reason: String,
}

impl From<TriggerV1> for FiredTrigger {
    fn from(t: TriggerV1) -> FiredTrigger {
        FiredTrigger {
            kind: t.kind,
            sku: t.sku,
            at_ms: t.at_ms,
            old_stock: t.old_stock,
            new_stock: t.new_stock,
            velocity_per_day: t.velocity_per_day,
            cover_days: t.cover_days,
            old_price_minor: t.old_price_minor,
            new_price_minor: t.new_price_minor,
            reason: t.reason,
            catalogue: None,
        }
    }
}

impl Schema for Triggers {
    const CF: Cf = Cf::Triggers;
    type Key = u64;
    type KeyRef<'a> = u64;
    type Value = FiredTrigger;

    fn encode_key(id: u64) -> Vec<u8> {
        id.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<u64, StoreError> {
        be_u64(bytes).ok_or_else(|| bad_key(Self::CF, "not a u64"))
    }
    fn encode_value(t: &FiredTrigger) -> Vec<u8> {
        codec::encode(V2, t)
    }
    fn decode_value(bytes: &[u8]) -> Result<FiredTrigger, StoreError> {
        match bytes.first() {
            Some(&V1) => codec::decode::<TriggerV1>(Self::CF.name(), V1, bytes).map(Into::into),
            _ => codec::decode(Self::CF.name(), V2, bytes),
        }
    }
}

/// Index of the trigger log by sku: (sku, trigger id) → ().
pub struct TriggerBySku;

impl Schema for TriggerBySku {
    const CF: Cf = Cf::TriggerBySku;
    type Key = (String, u64);
    type KeyRef<'a> = (&'a str, u64);
    type Value = ();

    fn encode_key((sku, id): (&str, u64)) -> Vec<u8> {
        pair_key(sku, &id.to_be_bytes())
    }
    fn decode_key(bytes: &[u8]) -> Result<(String, u64), StoreError> {
        let (sku, rest) = split_pair(bytes).ok_or_else(|| bad_key(Self::CF, "no sku"))?;
        let id = be_u64(rest).ok_or_else(|| bad_key(Self::CF, "no trigger id"))?;
        Ok((sku.to_owned(), id))
    }
    fn encode_value(_: &()) -> Vec<u8> {
        Vec::new()
    }
    fn decode_value(_: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
}

impl PrefixSchema for TriggerBySku {
    type Prefix<'a> = &'a str;
    fn encode_prefix(sku: &str) -> Vec<u8> {
        pair_prefix(sku)
    }
}

fn timer_kind_byte(kind: TimerKind) -> u8 {
    match kind {
        TimerKind::PriceStable => 1,
        TimerKind::DisplayStart => 2,
        TimerKind::CustomerArbitrate => 3,
        TimerKind::CustomerQuiet => 4,
        TimerKind::CustomerOrders => 5,
        TimerKind::CustomerJourney => 6,
        TimerKind::CustomerLapse => 7,
    }
}

fn timer_kind(byte: u8) -> Option<TimerKind> {
    Some(match byte {
        1 => TimerKind::PriceStable,
        2 => TimerKind::DisplayStart,
        3 => TimerKind::CustomerArbitrate,
        4 => TimerKind::CustomerQuiet,
        5 => TimerKind::CustomerOrders,
        6 => TimerKind::CustomerJourney,
        7 => TimerKind::CustomerLapse,
        _ => return None,
    })
}

/// A durable timer: due time, what for, and whose (a sku or a customer id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimerKey {
    pub due_ms: Millis,
    pub kind: TimerKind,
    pub sku: String,
}

/// Durable timers, in due-time order; everything is in the key.
pub struct Timers;

impl Schema for Timers {
    const CF: Cf = Cf::Timers;
    type Key = TimerKey;
    type KeyRef<'a> = &'a TimerKey;
    type Value = ();

    fn encode_key(t: &TimerKey) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + t.sku.len());
        k.extend_from_slice(&flip(t.due_ms));
        k.push(timer_kind_byte(t.kind));
        k.extend_from_slice(t.sku.as_bytes());
        k
    }
    fn decode_key(bytes: &[u8]) -> Result<TimerKey, StoreError> {
        let bad = || bad_key(Self::CF, "not a timer");
        let due_ms = unflip(bytes).ok_or_else(bad)?;
        let kind = bytes.get(8).copied().and_then(timer_kind).ok_or_else(bad)?;
        let sku = utf8(Self::CF, bytes.get(9..).ok_or_else(bad)?)?;
        Ok(TimerKey { due_ms, kind, sku })
    }
    /// Timer values carry only the version byte.
    fn encode_value(_: &()) -> Vec<u8> {
        vec![V1]
    }
    fn decode_value(_: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
