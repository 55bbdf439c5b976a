//! Interest column families and their merge operators.
//!
//! ```text
//! interest              len u16 · sku · customer_id        → InterestEdge  (merge: Vec<InterestOp>)
//! interest_by_customer  len u16 · customer_id · sku        → InterestEdge  (same merge)
//! category_interest     len u16 · category · customer_id   → Affinity      (merge: Vec<AffinityOp>)
//! ```
//! Ingest writes blind merges (no read): an operand is a list of ops, partial merges
//! concatenate lists, a full merge folds them in order onto the stored value.

use rocksdb::MergeOperands;
use serde::{Deserialize, Serialize};

use super::codec;
use super::schema::{
    bad_key, pair_key, pair_prefix, split_pair, utf8, Cf, MergeSchema, PrefixSchema, Schema,
};
use super::StoreError;
use crate::domain::interest::{Affinity, InterestEdge, InterestOp};
use crate::domain::Millis;

const V1: u8 = 1;
const EDGE_CF: &str = "interest";
const AFFINITY_CF: &str = "category_interest";

/// One affinity increment; carries its half-life so the merge needs no config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AffinityOp {
    pub weight: f64,
    pub at_ms: Millis,
    pub half_life_ms: i64,
}

/// A schema keyed by two strings, `len(a) · a · b`, valued by a merged record.
macro_rules! pair_keyed {
    ($(#[$doc:meta])* $name:ident, $cf:expr, $value:ty, $operand:ty) => {
        $(#[$doc])*
        pub struct $name;

        impl Schema for $name {
            const CF: Cf = $cf;
            type Key = (String, String);
            type KeyRef<'a> = (&'a str, &'a str);
            type Value = $value;

            fn encode_key((a, b): (&str, &str)) -> Vec<u8> {
                pair_key(a, b.as_bytes())
            }
            fn decode_key(bytes: &[u8]) -> Result<(String, String), StoreError> {
                let (a, b) = split_pair(bytes).ok_or_else(|| bad_key(Self::CF, "not a pair"))?;
                Ok((a.to_owned(), utf8(Self::CF, b)?))
            }
            fn encode_value(value: &$value) -> Vec<u8> {
                codec::encode(V1, value)
            }
            fn decode_value(bytes: &[u8]) -> Result<$value, StoreError> {
                codec::decode(Self::CF.name(), V1, bytes)
            }
        }

        impl PrefixSchema for $name {
            type Prefix<'a> = &'a str;
            fn encode_prefix(a: &str) -> Vec<u8> {
                pair_prefix(a)
            }
        }

        impl MergeSchema for $name {
            type Operand = [$operand];
            fn encode_operand(ops: &[$operand]) -> Vec<u8> {
                codec::encode(V1, &ops)
            }
        }
    };
}

pair_keyed!(
    /// A customer's interest in a product, by (sku, customer id).
    Interest,
    Cf::Interest,
    InterestEdge,
    InterestOp
);
pair_keyed!(
    /// The same edges by (customer id, sku), for per-customer queries.
    InterestByCustomer,
    Cf::InterestByCustomer,
    InterestEdge,
    InterestOp
);
pair_keyed!(
    /// A customer's affinity for a category, by (category id, customer id).
    CategoryInterest,
    Cf::CategoryInterest,
    Affinity,
    AffinityOp
);

fn fold_edge(existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut edge: InterestEdge = match existing {
        Some(b) => codec::decode(EDGE_CF, V1, b).ok()?,
        None => InterestEdge::default(),
    };
    for operand in operands {
        let ops: Vec<InterestOp> = codec::decode(EDGE_CF, V1, operand).ok()?;
        for op in &ops {
            edge.apply(op);
        }
    }
    Some(codec::encode(V1, &edge))
}

fn fold_affinity(existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut a: Affinity = match existing {
        Some(b) => codec::decode(AFFINITY_CF, V1, b).ok()?,
        None => Affinity::default(),
    };
    for operand in operands {
        let ops: Vec<AffinityOp> = codec::decode(AFFINITY_CF, V1, operand).ok()?;
        for op in ops {
            a.add(op.weight, op.at_ms, op.half_life_ms);
        }
    }
    Some(codec::encode(V1, &a))
}

/// Concatenates operand lists of type `T` (associative, so RocksDB may combine freely).
fn concat<T: Serialize + serde::de::DeserializeOwned>(
    cf: &'static str,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    let mut all: Vec<T> = Vec::new();
    for operand in operands {
        let mut ops: Vec<T> = codec::decode(cf, V1, operand).ok()?;
        all.append(&mut ops);
    }
    Some(codec::encode(V1, &all))
}

pub fn edge_full_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    fold_edge(existing, operands)
}

pub fn edge_partial_merge(
    _key: &[u8],
    _existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    concat::<InterestOp>(EDGE_CF, operands)
}

pub fn affinity_full_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    fold_affinity(existing, operands)
}

pub fn affinity_partial_merge(
    _key: &[u8],
    _existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    concat::<AffinityOp>(AFFINITY_CF, operands)
}

/// The customer's latest interest signal on any product (favourite, view, cart add,
/// notify-me; not removals or purchases), from their edges; `None` = none. One prefix
/// scan: the sunset reads it only when it would pause or keep pausing a customer.
pub fn latest_signal_ms(s: &super::Store, customer_id: &str) -> Result<Option<Millis>, StoreError> {
    let mut latest = None;
    for row in s.iter_prefix::<InterestByCustomer>(customer_id, super::Seek::First)? {
        let (_, edge) = row?;
        if edge.last_ms > 0 {
            latest = latest.max(Some(edge.last_ms));
        }
    }
    Ok(latest)
}
