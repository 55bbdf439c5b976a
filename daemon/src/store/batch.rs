//! A write batch built through the schemas: `batch.put::<S>(key, &value)`. The writer
//! applies a batch atomically (`writer.rs`).

use super::schema::{Cf, Encoded, MergeSchema, Schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Put,
    Delete,
    /// A merge operand, for a column family with a merge operator.
    Merge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Op {
    pub cf: Cf,
    pub kind: Kind,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Writes applied atomically together.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    pub(super) ops: Vec<Op>,
}

impl Batch {
    fn push(&mut self, cf: Cf, kind: Kind, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op {
            cf,
            kind,
            key,
            value,
        });
    }

    pub fn put<S: Schema>(&mut self, key: S::KeyRef<'_>, value: &S::Value) {
        self.push(S::CF, Kind::Put, S::encode_key(key), S::encode_value(value));
    }

    /// Puts a value the caller encoded earlier (e.g. on its own thread).
    pub fn put_encoded<S: Schema>(&mut self, key: S::KeyRef<'_>, value: Encoded<S>) {
        self.push(S::CF, Kind::Put, S::encode_key(key), value.into_bytes());
    }

    pub fn delete<S: Schema>(&mut self, key: S::KeyRef<'_>) {
        self.push(S::CF, Kind::Delete, S::encode_key(key), Vec::new());
    }

    /// Adds a merge operand that RocksDB folds into the stored value (no read).
    pub fn merge<S: MergeSchema>(&mut self, key: S::KeyRef<'_>, operand: &S::Operand) {
        self.push(
            S::CF,
            Kind::Merge,
            S::encode_key(key),
            S::encode_operand(operand),
        );
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Appends `other`'s writes after this batch's.
    pub fn extend(&mut self, other: Batch) {
        self.ops.extend(other.ops);
    }
}
