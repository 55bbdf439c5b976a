//! Clean restart: SIGTERM makes the daemon exit 0, and everything it knew — stock, prices
//! and price history, arming (including a pending price drop's durable timer), sales
//! velocity, fired triggers and producer sequences — is the same after it starts again on
//! the same data dir.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{Product, Trigger, TriggerKind};
use stockbell_tests::{
    catalog, last_sequence, now_ms, poll_until, price_set, product, publish, publish_ok, sale,
    stock_set, triggers, upsert, AdminClient, Daemon, DaemonOptions, Sequencer,
};

const SKUS: [&str; 4] = ["r-sold", "r-low", "r-back", "r-drop"];
const PRODUCER: &str = "restart-test";

/// What the daemon reports, taken at `at_ms`.
struct Snapshot {
    at_ms: i64,
    products: BTreeMap<String, Product>,
    triggers: Vec<Trigger>,
    last_sequence: u64,
}

async fn snapshot(admin: &mut AdminClient) -> Result<Snapshot> {
    let at_ms = now_ms();
    let mut products = BTreeMap::new();
    for sku in SKUS {
        products.insert(sku.to_owned(), product(admin, sku).await?);
    }
    Ok(Snapshot {
        at_ms,
        products,
        triggers: triggers(admin, None, None).await?,
        last_sequence: last_sequence(admin, PRODUCER).await?,
    })
}

/// The product without the fields that move with the clock or the actor's residency.
fn settled(p: &Product) -> Product {
    Product {
        velocity_per_day: 0.0,
        predicted_sellout_ms: 0,
        active: false,
        ..p.clone()
    }
}

fn has(ts: &[Trigger], kind: TriggerKind, sku: &str) -> bool {
    ts.iter().any(|t| t.kind() == kind && t.sku == sku)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_clean_restart() -> Result<()> {
    let mut daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    let mut seq = Sequencer::new(PRODUCER);

    publish_ok(
        &mut ingest,
        seq.batch(vec![
            upsert(catalog("r-sold", 1200)),
            stock_set("r-sold", 20),
            upsert(catalog("r-low", 800)),
            stock_set("r-low", 10),
            upsert(catalog("r-back", 500)),
            stock_set("r-back", 2),
            upsert(catalog("r-drop", 1000)),
            stock_set("r-drop", 50),
        ]),
    )
    .await?;
    let last_batch = seq.batch(vec![
        sale("r-sold", 2),
        sale("r-sold", 3),
        sale("r-low", 8),
        sale("r-back", 2),
        stock_set("r-back", 6),
        price_set("r-drop", 700),
    ]);
    publish_ok(&mut ingest, last_batch.clone()).await?;

    // Wait for the triggers these events must fire, then take the "before" picture.
    poll_until(Duration::from_secs(10), || {
        let mut admin = admin.clone();
        async move {
            let ts = triggers(&mut admin, None, None).await?;
            ensure!(
                has(&ts, TriggerKind::LowStock, "r-low"),
                "no low stock yet: {ts:?}"
            );
            ensure!(
                has(&ts, TriggerKind::BackInStock, "r-back"),
                "no back in stock yet: {ts:?}"
            );
            for sku in SKUS {
                ensure!(
                    has(&ts, TriggerKind::NewArrival, sku),
                    "no new arrival for {sku}: {ts:?}"
                );
            }
            Ok(())
        }
    })
    .await?;
    let before = snapshot(&mut admin).await?;
    let sold = &before.products["r-sold"];
    ensure!(sold.stock == 15, "r-sold stock {}", sold.stock);
    ensure!(
        sold.velocity_per_day > 0.0,
        "r-sold has no velocity: {sold:?}"
    );
    ensure!(
        sold.predicted_sellout_ms > before.at_ms,
        "r-sold sell-out: {sold:?}"
    );
    let drop = &before.products["r-drop"];
    ensure!(drop.price_minor == 700, "r-drop price {}", drop.price_minor);
    let arming = drop.arming.unwrap_or_default();
    ensure!(
        arming.price_drop_pending_minor == 700 && arming.price_drop_due_ms > before.at_ms,
        "r-drop should wait for its 1h stable period: {arming:?}"
    );
    ensure!(
        before.last_sequence == 2,
        "last sequence {}",
        before.last_sequence
    );

    let status = daemon.terminate().await?;
    ensure!(
        status.code() == Some(0),
        "SIGTERM should exit 0, got {status}\n{}",
        daemon.log_tail()
    );
    daemon.restart().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    let after = snapshot(&mut admin).await?;

    for sku in SKUS {
        let (b, a) = (&before.products[sku], &after.products[sku]);
        assert_eq!(settled(a), settled(b), "{sku} changed across the restart");
        let decay_ok =
            (a.velocity_per_day - b.velocity_per_day).abs() <= 1e-3 * b.velocity_per_day.max(1e-9);
        assert!(
            decay_ok,
            "{sku} velocity {} → {}",
            b.velocity_per_day, a.velocity_per_day
        );
        assert_eq!(
            a.predicted_sellout_ms == 0,
            b.predicted_sellout_ms == 0,
            "{sku} sell-out prediction appeared or vanished: {b:?} → {a:?}"
        );
        if b.predicted_sellout_ms != 0 {
            let slack = (after.at_ms - before.at_ms)
                + (b.predicted_sellout_ms - before.at_ms) / 100
                + 1_000;
            let diff = (a.predicted_sellout_ms - b.predicted_sellout_ms).abs();
            assert!(diff <= slack, "{sku} sell-out moved by {diff} ms");
        }
    }
    assert_eq!(after.triggers, before.triggers, "trigger list changed");
    assert_eq!(
        after.last_sequence, before.last_sequence,
        "producer sequence"
    );

    // The restarted daemon still knows what it applied, and goes on applying.
    let dup = publish(&mut ingest, last_batch).await?;
    assert!(dup.duplicate, "re-sent batch after restart: {dup:?}");
    // A duplicate applies nothing now: a producer summing `applied` must not over-count.
    assert_eq!(dup.applied, 0, "re-sent batch after restart: {dup:?}");
    publish_ok(&mut ingest, seq.batch(vec![stock_set("r-sold", 30)])).await?;
    assert_eq!(product(&mut admin, "r-sold").await?.stock, 30);
    assert_eq!(last_sequence(&mut admin, PRODUCER).await?, 3);
    Ok(())
}
