//! The per-scenario attribution counters and their merge operator.
//!
//! ```text
//! scenario_attribution  scenario name  → Tally  (v1; merge: operand = Tally, summed)
//! ```
//! The customer's actor computes each credit together with the state change that
//! records it (`domain::lifecycle::attribution`); the Router writes the customer's state
//! and a merge of the credit in one batch. So a credit is applied exactly once: never
//! without its state (a failed write drops both), never twice (the state says it was
//! counted). The merge needs no read; sums are associative, so RocksDB may combine
//! operands in any grouping.

use rocksdb::MergeOperands;

use super::codec;
use super::schema::{utf8, Cf, MergeSchema, Schema};
use super::StoreError;
use crate::domain::customer::Scenario;
use crate::domain::lifecycle::attribution::Tally;

const V1: u8 = 1;
const CF: &str = "scenario_attribution";

/// A scenario's counters, by scenario name.
pub struct ScenarioAttribution;

impl Schema for ScenarioAttribution {
    const CF: Cf = Cf::ScenarioAttribution;
    type Key = String;
    type KeyRef<'a> = &'a str;
    type Value = Tally;

    fn encode_key(key: &str) -> Vec<u8> {
        key.as_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<String, StoreError> {
        utf8(Self::CF, bytes)
    }
    fn encode_value(value: &Tally) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<Tally, StoreError> {
        codec::decode(CF, V1, bytes)
    }
}

impl MergeSchema for ScenarioAttribution {
    type Operand = Tally;
    fn encode_operand(t: &Tally) -> Vec<u8> {
        codec::encode(V1, t)
    }
}

/// Every scenario's counters (scenarios this build does not know are skipped).
pub fn read_all(store: &super::Store) -> Result<Vec<(Scenario, Tally)>, StoreError> {
    let mut out = Vec::new();
    for s in Scenario::ALL {
        if let Some(t) = store.get::<ScenarioAttribution>(s.as_str())? {
            out.push((s, t));
        }
    }
    Ok(out)
}

fn sum(existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut total: Tally = match existing {
        Some(b) => codec::decode(CF, V1, b).ok()?,
        None => Tally::default(),
    };
    for operand in operands {
        let t: Tally = codec::decode(CF, V1, operand).ok()?;
        total.add(&t);
    }
    Some(codec::encode(V1, &total))
}

pub fn full_merge(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    sum(existing, operands)
}

pub fn partial_merge(
    _key: &[u8],
    _existing: Option<&[u8]>,
    operands: &MergeOperands,
) -> Option<Vec<u8>> {
    sum(None, operands)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lifecycle::attribution::Revenue;
    use crate::store::test_db::TestStore;
    use crate::store::Batch;

    #[tokio::test]
    async fn merges_sum_the_credits() {
        let db = TestStore::new();
        let credit = |orders, minor| Tally {
            messages: 2,
            orders,
            revenue: vec![Revenue {
                currency: "JPY".into(),
                minor,
            }],
            ..Tally::default()
        };
        for (o, m) in [(1, 100), (0, 0), (2, 250)] {
            let mut b = Batch::default();
            b.merge::<ScenarioAttribution>("back_in_stock", &credit(o, m));
            db.writer.write(b, 0).await.expect("written");
        }
        db.store()
            .flush()
            .expect("flushed: the merge runs again on compaction reads");
        let got = db
            .store()
            .get::<ScenarioAttribution>("back_in_stock")
            .expect("read")
            .expect("present");
        assert_eq!((got.messages, got.orders), (6, 3));
        assert_eq!(
            got.revenue,
            [Revenue {
                currency: "JPY".into(),
                minor: 350
            }]
        );
        assert_eq!(
            db.store()
                .get::<ScenarioAttribution>("price_drop")
                .expect("read"),
            None
        );
        db.close().await;
    }
}
