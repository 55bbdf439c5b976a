//! Segments' daily metric snapshots (`segment_history`,
//! `len u16 · segment name · day u32 BE → Snapshot`, the day counted from 1970-01-01
//! UTC). The snapshot task writes at most one per segment and day (a later one the same
//! day replaces it) and deletes those older than `[segment_settings] history_days`.

use serde::{Deserialize, Serialize};

use super::codec;
use super::schema::{bad_key, pair_key, pair_prefix, split_pair, Cf, PrefixSchema, Schema};
use super::StoreError;
use crate::domain::segments::metrics::Metrics;
use crate::domain::Millis;

const V1: u8 = 1;
const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since 1970-01-01) of an instant; 0 before 1970.
pub fn day_of(ms: Millis) -> u32 {
    u32::try_from(ms.div_euclid(DAY_MS)).unwrap_or(if ms < 0 { 0 } else { u32::MAX })
}

/// A segment's metrics as computed at `computed_at_ms` (the derived values, as the API
/// shows them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub size: u64,
    pub buyers: u64,
    pub repeaters: u64,
    pub repeat_rate: f64,
    pub aov_per_customer_minor: f64,
    pub aov_per_order_minor: f64,
    pub avg_orders: f64,
    pub ltv_minor: f64,
    pub spend_minor: i64,
    pub orders: u64,
    pub avg_repurchase_interval_ms: i64,
    pub avg_lifetime_ms: i64,
    pub computed_at_ms: Millis,
}

impl Snapshot {
    pub fn of(m: &Metrics, computed_at_ms: Millis) -> Snapshot {
        Snapshot {
            size: m.size,
            buyers: m.buyers,
            repeaters: m.repeaters,
            repeat_rate: m.repeat_rate(),
            aov_per_customer_minor: m.aov_per_customer_minor(),
            aov_per_order_minor: m.aov_per_order_minor(),
            avg_orders: m.avg_orders(),
            ltv_minor: m.ltv_minor(),
            spend_minor: m.spend_minor,
            orders: m.orders,
            avg_repurchase_interval_ms: m.avg_repurchase_interval_ms(),
            avg_lifetime_ms: m.avg_lifetime_ms(),
            computed_at_ms,
        }
    }
}

/// A segment's snapshot of one day (`""` = every customer).
pub struct SegmentHistory;

impl Schema for SegmentHistory {
    const CF: Cf = Cf::SegmentHistory;
    type Key = (String, u32);
    type KeyRef<'a> = (&'a str, u32);
    type Value = Snapshot;

    fn encode_key((segment, day): (&str, u32)) -> Vec<u8> {
        pair_key(segment, &day.to_be_bytes())
    }
    fn decode_key(bytes: &[u8]) -> Result<(String, u32), StoreError> {
        let (a, b) = split_pair(bytes).ok_or_else(|| bad_key(Self::CF, "not a pair"))?;
        let day = <[u8; 4]>::try_from(b).map_err(|_| bad_key(Self::CF, "day is not a u32"))?;
        Ok((a.to_owned(), u32::from_be_bytes(day)))
    }
    fn encode_value(value: &Snapshot) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<Snapshot, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

impl PrefixSchema for SegmentHistory {
    type Prefix<'a> = &'a str;
    fn encode_prefix(segment: &str) -> Vec<u8> {
        pair_prefix(segment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_by_segment_then_day() {
        let k = SegmentHistory::encode_key(("vip", 20_000));
        assert_eq!(
            SegmentHistory::decode_key(&k).expect("decodes"),
            ("vip".to_owned(), 20_000)
        );
        assert!(SegmentHistory::encode_key(("vip", 9)) < SegmentHistory::encode_key(("vip", 10)));
        assert!(SegmentHistory::decode_key(&pair_key("vip", &[1, 2])).is_err());
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY_MS * 3 + 5), 3);
        assert_eq!(day_of(-5), 0);
        let s = Snapshot {
            size: 3,
            ltv_minor: 1.5,
            ..Snapshot::default()
        };
        let v = SegmentHistory::encode_value(&s);
        assert_eq!(SegmentHistory::decode_value(&v).expect("decodes"), s);
    }
}
