//! The related follower on a temporary store: every placed order is counted once, a
//! round that is planned again from the stored cursor counts nothing twice, and a round
//! whose write never happened (a crash before it) is counted on the next start.

use super::*;
use crate::store::test_db::TestStore;

const T0: i64 = 1_700_000_000_000;

fn cfg() -> RelatedConfig {
    RelatedConfig {
        min_support: 2.0,
        ..RelatedConfig::default()
    }
}

async fn place(ts: &TestStore, id: u64, skus: &[&str]) {
    let mut b = Batch::default();
    let order = PlacedOrder {
        order_id: format!("o{id}"),
        at_ms: T0 + id as i64,
        skus: skus.iter().map(|s| (*s).to_owned()).collect(),
    };
    b.put::<PlacedOrders>(id, &order);
    ts.writer.write(b, 0).await.expect("write the placed order");
}

fn together(s: &Store, a: &str, b: &str) -> f64 {
    s.get::<RelatedRecords>(a)
        .expect("read")
        .and_then(|r| r.pairs.into_iter().find(|p| p.sku == b))
        .map_or(0.0, |p| p.together)
}

async fn follower(ts: &TestStore) -> RelatedFollower {
    RelatedFollower {
        store: ts.store().clone(),
        writer: ts.writer.clone(),
        cfg: cfg(),
    }
}

async fn drain(f: &RelatedFollower) -> u64 {
    let mut cursor = f
        .store
        .get::<RelatedCursor>(())
        .expect("read the cursor")
        .unwrap_or(0);
    while let Some(next) = f.round(cursor).await.expect("round") {
        cursor = next;
    }
    cursor
}

#[tokio::test]
async fn each_order_counts_once_across_rounds_and_restarts() {
    let ts = TestStore::new();
    for id in 1..=3 {
        place(&ts, id, &["X", "Y", "X"]).await;
    }
    let f = follower(&ts).await;
    assert_eq!(drain(&f).await, 3);
    let xy = together(ts.store(), "X", "Y");
    assert!((xy - 3.0).abs() < 1e-6, "three orders of X and Y: {xy}");
    // A restart reads the cursor: nothing is counted again.
    assert_eq!(drain(&f).await, 3);
    assert!((together(ts.store(), "X", "Y") - xy).abs() < 1e-9);
    // A round planned but never written (killed before its write) is simply planned
    // again from the stored cursor.
    place(&ts, 4, &["X", "Y"]).await;
    let planned = plan_round(ts.store(), 3, &cfg()).expect("plan");
    assert!(planned.is_some());
    drop(planned);
    assert_eq!(drain(&f).await, 4);
    let xy4 = together(ts.store(), "X", "Y");
    assert!((xy4 - 4.0).abs() < 1e-6, "four orders: {xy4}");
    let total = ts
        .store()
        .get::<OrderTotals>(())
        .expect("read")
        .unwrap_or_default();
    assert!((total.orders - 4.0).abs() < 1e-6);
    let x = ts
        .store()
        .get::<RelatedRecords>("X")
        .expect("read")
        .expect("X");
    assert_eq!(x.top.first().map(|r| r.sku.as_str()), Some("Y"));
    drop(f);
    ts.close().await;
}
