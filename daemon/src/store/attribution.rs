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
use super::schema::{v1_by_name, Cf, MergeSchema};
use super::StoreError;
use crate::domain::customer::Scenario;
use crate::domain::lifecycle::attribution::Tally;

/// The values' schema version: operands and merged values are encoded alike, as the
/// stored value `v1_by_name!` reads.
const V1: u8 = 1;

v1_by_name!(
    /// A scenario's counters, by scenario name.
    ScenarioAttribution,
    Cf::ScenarioAttribution,
    Tally
);

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
    let cf = Cf::ScenarioAttribution.name();
    let mut total: Tally = match existing {
        Some(b) => codec::decode(cf, V1, b).ok()?,
        None => Tally::default(),
    };
    for operand in operands {
        let t: Tally = codec::decode(cf, V1, operand).ok()?;
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

    /// The record's bytes as first written (before `v1_by_name!` made the impl): the
    /// scenario name as the key; version byte 1, then bincode, as the value and as each
    /// merge operand.
    #[test]
    fn the_layout_is_unchanged() {
        use crate::store::schema::Schema;
        let t = Tally {
            orders: 3,
            revenue: vec![Revenue {
                currency: "JPY".into(),
                minor: 1_500,
            }],
            ..Tally::default()
        };
        assert_eq!(
            ScenarioAttribution::encode_key("price_drop"),
            b"price_drop".to_vec()
        );
        let bytes = ScenarioAttribution::encode_value(&t);
        assert_eq!(bytes, codec::encode(1, &t));
        assert_eq!(ScenarioAttribution::encode_operand(&t), bytes);
        assert_eq!(
            codec::decode::<Tally>("scenario_attribution", 1, &bytes).expect("v1"),
            t
        );
        assert_eq!(
            ScenarioAttribution::decode_key(b"price_drop").expect("utf-8"),
            "price_drop"
        );
    }

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
