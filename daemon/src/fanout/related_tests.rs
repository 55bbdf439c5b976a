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

/// How fast the follower counts: 10,000 orders of 2-5 products among 2,000 products in
/// 100 categories. Run by hand (numbers in the report):
/// `cargo test --release -p stockbelld --lib counts_ten_thousand_orders -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn counts_ten_thousand_orders() {
    use crate::domain::product::{apply, Effects};
    use crate::domain::{Catalogue, ProductEvent, TriggerConfig};
    use crate::store::records::Products;
    let ts = TestStore::new();
    let tcfg = TriggerConfig::default();
    let mut b = Batch::default();
    for i in 0..2_000 {
        let sku = format!("P{i}");
        let (mut st, mut fx) = (None, Effects::default());
        let upsert = ProductEvent::Upsert {
            catalogue: Catalogue {
                category_ids: vec![format!("c{}", i % 100)],
                ..Default::default()
            },
            price_minor: 1000,
            imported: true,
        };
        assert!(apply(&mut st, &sku, &upsert, T0, &tcfg, &mut fx).is_ok());
        b.put::<Products>(&sku, &st.expect("product"));
    }
    let mut x: u64 = 7;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for id in 1..=10_000u64 {
        let n = 2 + next(4);
        // Skewed: low numbers sell more, so pairs repeat.
        let skus = (0..n)
            .map(|_| {
                let top = next(2_000) + 1;
                format!("P{}", next(top))
            })
            .collect();
        let order = PlacedOrder {
            order_id: format!("o{id}"),
            at_ms: T0 + id as i64,
            skus,
        };
        b.put::<PlacedOrders>(id, &order);
    }
    ts.writer.write(b, 0).await.expect("write");
    let f = follower(&ts).await;
    let started = std::time::Instant::now();
    assert_eq!(drain(&f).await, 10_000);
    let took = started.elapsed();
    eprintln!(
        "counted 10000 orders in {:?} ({:.0} orders/s)",
        took,
        10_000.0 / took.as_secs_f64()
    );
    drop(f);
    ts.close().await;
}
