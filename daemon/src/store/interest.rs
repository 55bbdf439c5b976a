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
use crate::domain::interest::{Affinity, InterestEdge, InterestOp};
use crate::domain::Millis;

const V1: u8 = 1;
const EDGE_CF: &str = "interest";
const AFFINITY_CF: &str = "category_interest";

/// `len(a) · a · b`: all keys of one `a` share a prefix and sort together.
pub fn pair_key(a: &str, b: &str) -> Vec<u8> {
    let mut k = pair_prefix(a);
    k.extend_from_slice(b.as_bytes());
    k
}

pub fn pair_prefix(a: &str) -> Vec<u8> {
    let len = u16::try_from(a.len()).unwrap_or(u16::MAX);
    let mut k = Vec::with_capacity(2 + a.len() + 16);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(a.as_bytes());
    k
}

/// The first part of a `pair_key` (raw bytes).
pub fn pair_first(key: &[u8]) -> Option<&[u8]> {
    let len = usize::from(u16::from_be_bytes(key.get(..2)?.try_into().ok()?));
    key.get(2..2 + len)
}

/// The second part of a `pair_key`.
pub fn pair_second(key: &[u8]) -> Option<&str> {
    let len = usize::from(u16::from_be_bytes(key.get(..2)?.try_into().ok()?));
    std::str::from_utf8(key.get(2 + len..)?).ok()
}

/// One affinity increment; carries its half-life so the merge needs no config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AffinityOp {
    pub weight: f64,
    pub at_ms: Millis,
    pub half_life_ms: i64,
}

pub fn encode_edge_ops(ops: &[InterestOp]) -> Vec<u8> {
    codec::encode(V1, &ops)
}

pub fn encode_affinity_ops(ops: &[AffinityOp]) -> Vec<u8> {
    codec::encode(V1, &ops)
}

pub fn decode_edge(bytes: &[u8]) -> Result<InterestEdge, super::StoreError> {
    codec::decode(EDGE_CF, V1, bytes)
}

pub fn decode_affinity(bytes: &[u8]) -> Result<Affinity, super::StoreError> {
    codec::decode(AFFINITY_CF, V1, bytes)
}

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
