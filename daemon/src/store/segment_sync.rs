//! What the membership sync keeps: each webhook segment's members at its last sweep
//! (`segment_members`, `len u16 · segment · customer_id → entered_ms`) and the log of
//! entered / left changes the shop webhook follows (`segment_changes`, id u64 BE).

use super::codec;
use super::schema::{
    bad_key, pair_key, pair_prefix, split_pair, utf8, v1_log, Cf, PrefixSchema, Schema,
};
use super::StoreError;
use crate::domain::segments::sync::MembershipChange;
use crate::domain::Millis;

const V1: u8 = 1;

/// A segment's member as of the last sweep, with when it entered.
pub struct SegmentMembers;

impl Schema for SegmentMembers {
    const CF: Cf = Cf::SegmentMembers;
    type Key = (String, String);
    type KeyRef<'a> = (&'a str, &'a str);
    type Value = Millis;

    fn encode_key((segment, customer): (&str, &str)) -> Vec<u8> {
        pair_key(segment, customer.as_bytes())
    }
    fn decode_key(bytes: &[u8]) -> Result<(String, String), StoreError> {
        let (a, b) = split_pair(bytes).ok_or_else(|| bad_key(Self::CF, "not a pair"))?;
        Ok((a.to_owned(), utf8(Self::CF, b)?))
    }
    fn encode_value(value: &Millis) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<Millis, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

impl PrefixSchema for SegmentMembers {
    type Prefix<'a> = &'a str;
    fn encode_prefix(segment: &str) -> Vec<u8> {
        pair_prefix(segment)
    }
}

v1_log!(
    /// Customers entering and leaving webhook segments, in the order the sweeps found
    /// them.
    SegmentChanges,
    Cf::SegmentChanges,
    MembershipChange
);
