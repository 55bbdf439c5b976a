//! The four triggers end to end, read back through `Admin.ListTriggers`. A "does not fire"
//! is checked after a later trigger of the same product has fired (triggers of one product
//! are produced in event order), never by sleeping.

use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{AdjustReason, ProductUpsert, Trigger, TriggerKind};
use stockbell_tests::{
    catalog, now_ms, poll_until, price_set, product, publish_ok, stock_adjust, stock_set, triggers,
    upsert, window, AdminClient, Daemon, DaemonOptions, EventExt, Sequencer,
};

const WAIT: Duration = Duration::from_secs(15);

/// Polls until `sku` has at least `n` triggers of `kind`; returns them oldest first.
async fn wait_for(
    admin: &AdminClient,
    kind: TriggerKind,
    sku: &str,
    n: usize,
) -> Result<Vec<Trigger>> {
    poll_until(WAIT, || {
        let mut admin = admin.clone();
        async move {
            let mut ts = triggers(&mut admin, Some(kind), Some(sku)).await?;
            ensure!(
                ts.len() >= n,
                "{sku}: {} {kind:?} triggers, want {n}: {ts:?}",
                ts.len()
            );
            ensure!(
                ts.iter().all(|t| t.kind() == kind && t.sku == sku),
                "filter ignored: {ts:?}"
            );
            ensure!(
                ts.windows(2).all(|w| w[0].id > w[1].id),
                "not newest first: {ts:?}"
            );
            ts.reverse();
            Ok(ts)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_in_stock_needs_the_minimum_restock() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new().set("triggers", "min_restock_qty", 3)).await?;
    let (mut ingest, mut admin) = (daemon.ingest_client().await?, daemon.admin_client().await?);
    let mut seq = Sequencer::new("bis");
    let mut send = |events| seq.batch(events);
    publish_ok(
        &mut ingest,
        send(vec![
            upsert(catalog("b-a", 100)),
            stock_set("b-a", 4),
            upsert(catalog("b-b", 100)),
            stock_set("b-b", 4),
        ]),
    )
    .await?;
    publish_ok(
        &mut ingest,
        send(vec![stock_set("b-a", 0), stock_set("b-b", 0)]),
    )
    .await?;
    publish_ok(
        &mut ingest,
        send(vec![stock_set("b-a", 5), stock_set("b-b", 2)]),
    )
    .await?;

    let a = wait_for(&admin, TriggerKind::BackInStock, "b-a", 1).await?;
    ensure!(
        a.len() == 1 && a[0].old_stock == 0 && a[0].new_stock == 5,
        "b-a: {a:?}"
    );
    let b = product(&mut admin, "b-b").await?;
    ensure!(
        b.arming.unwrap_or_default().back_in_stock,
        "b-b at 2 should still wait: {b:?}"
    );

    publish_ok(&mut ingest, send(vec![stock_set("b-b", 4)])).await?;
    let b = wait_for(&admin, TriggerKind::BackInStock, "b-b", 1).await?;
    ensure!(b.len() == 1, "0 → 2 (below the minimum of 3) fired: {b:?}");
    ensure!(b[0].old_stock == 2 && b[0].new_stock == 4, "b-b: {b:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_fires_once_per_episode() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let (mut ingest, admin) = (daemon.ingest_client().await?, daemon.admin_client().await?);
    let mut seq = Sequencer::new("low");
    let fix = |d| stock_adjust("l-a", d, AdjustReason::Correction);
    publish_ok(
        &mut ingest,
        seq.batch(vec![upsert(catalog("l-a", 100)), stock_set("l-a", 10)]),
    )
    .await?;
    // 10 → 5 → 3 (fires) → 2 → 1 → 0, corrections only so no sales velocity is involved.
    publish_ok(
        &mut ingest,
        seq.batch(vec![fix(-5), fix(-2), fix(-1), fix(-1), fix(-1)]),
    )
    .await?;
    // Barrier: back in stock comes after all of those in this product's trigger order.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("l-a", 10)])).await?;
    wait_for(&admin, TriggerKind::BackInStock, "l-a", 1).await?;
    let low = wait_for(&admin, TriggerKind::LowStock, "l-a", 1).await?;
    ensure!(
        low.len() == 1,
        "low stock fired more than once in one episode: {low:?}"
    );
    ensure!(low[0].old_stock == 5 && low[0].new_stock == 3, "{low:?}");

    // Restocked: a new episode fires again.
    publish_ok(&mut ingest, seq.batch(vec![fix(-8)])).await?;
    let low = wait_for(&admin, TriggerKind::LowStock, "l-a", 2).await?;
    ensure!(low[1].old_stock == 10 && low[1].new_stock == 2, "{low:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_drop_fires_only_after_the_price_held() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new().set("triggers", "stable_for", "1s")).await?;
    let (mut ingest, mut admin) = (daemon.ingest_client().await?, daemon.admin_client().await?);
    let mut seq = Sequencer::new("price");
    let mut setup = Vec::new();
    for sku in ["p-drop", "p-flicker", "p-small"] {
        setup.extend([upsert(catalog(sku, 1000)), stock_set(sku, 10)]);
    }
    publish_ok(&mut ingest, seq.batch(setup)).await?;

    let t0 = now_ms();
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            price_set("p-drop", 800).at(t0),
            price_set("p-flicker", 800).at(t0),
            price_set("p-flicker", 1000).at(t0 + 100),
            price_set("p-small", 950).at(t0), // 5 %: below min_drop_pct
        ]),
    )
    .await?;
    for sku in ["p-flicker", "p-small"] {
        let p = product(&mut admin, sku).await?;
        let arming = p.arming.unwrap_or_default();
        ensure!(
            arming.price_drop_pending_minor == 0,
            "{sku} should have no pending drop: {p:?}"
        );
    }

    let d = wait_for(&admin, TriggerKind::PriceDrop, "p-drop", 1).await?;
    let seen_at = now_ms();
    ensure!(
        seen_at >= t0 + 1_000,
        "fired before the price held 1 s ({} ms)",
        seen_at - t0
    );
    ensure!(
        d[0].at_ms >= t0 + 1_000,
        "fired at {} for a drop at {t0}",
        d[0].at_ms
    );
    ensure!(
        d[0].old_price_minor == 1000 && d[0].new_price_minor == 800,
        "{d:?}"
    );
    let p = product(&mut admin, "p-drop").await?;
    ensure!(
        p.reference_price_minor == 800,
        "the held price becomes the reference: {p:?}"
    );

    // Barrier for the flicker: a real drop of the same product, later than the flicker.
    let t1 = now_ms().max(t0 + 200);
    publish_ok(
        &mut ingest,
        seq.batch(vec![price_set("p-flicker", 700).at(t1)]),
    )
    .await?;
    let f = wait_for(&admin, TriggerKind::PriceDrop, "p-flicker", 1).await?;
    ensure!(f.len() == 1, "the 800 flicker that recovered fired: {f:?}");
    ensure!(
        f[0].old_price_minor == 1000 && f[0].new_price_minor == 700,
        "{f:?}"
    );
    let d = wait_for(&admin, TriggerKind::PriceDrop, "p-drop", 1).await?;
    ensure!(d.len() == 1, "p-drop fired twice: {d:?}");
    let s = triggers(&mut admin, Some(TriggerKind::PriceDrop), Some("p-small")).await?;
    ensure!(s.is_empty(), "a 5 % cut fired: {s:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_arrival_needs_visibility_and_stock() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let (mut ingest, mut admin) = (daemon.ingest_client().await?, daemon.admin_client().await?);
    let mut seq = Sequencer::new("arrival");
    let t0 = now_ms();
    let soon = t0 + 1_500;
    let shown_from = |sku, start| {
        upsert(ProductUpsert {
            display_window: window(start, 0),
            ..catalog(sku, 100)
        })
    };
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            upsert(catalog("n-visible", 100)),
            stock_set("n-visible", 5),
            shown_from("n-future", t0 + 86_400_000),
            stock_set("n-future", 5),
            shown_from("n-soon", soon),
            stock_set("n-soon", 5),
            upsert(catalog("n-late", 100)),
        ]),
    )
    .await?;

    let v = wait_for(&admin, TriggerKind::NewArrival, "n-visible", 1).await?;
    ensure!(v.len() == 1 && v[0].new_stock == 5, "n-visible: {v:?}");
    let late = product(&mut admin, "n-late").await?;
    ensure!(
        late.arming.unwrap_or_default().new_arrival,
        "unstocked n-late should wait: {late:?}"
    );
    let future = product(&mut admin, "n-future").await?;
    ensure!(!future.visible, "n-future is not shown yet: {future:?}");
    ensure!(
        future.arming.unwrap_or_default().new_arrival,
        "n-future should wait: {future:?}"
    );

    // Stock arriving later (within the grace period) announces it then.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("n-late", 3)])).await?;
    let l = wait_for(&admin, TriggerKind::NewArrival, "n-late", 1).await?;
    ensure!(l.len() == 1 && l[0].new_stock == 3, "n-late: {l:?}");

    // Shown from `soon`: announced by its durable timer once the window opens, not before.
    let s = wait_for(&admin, TriggerKind::NewArrival, "n-soon", 1).await?;
    ensure!(
        s.len() == 1 && s[0].at_ms >= soon,
        "n-soon fired before its window: {s:?}"
    );
    let f = triggers(&mut admin, Some(TriggerKind::NewArrival), Some("n-future")).await?;
    ensure!(f.is_empty(), "n-future fired while hidden: {f:?}");
    for sku in ["n-visible", "n-late"] {
        let n = triggers(&mut admin, Some(TriggerKind::NewArrival), Some(sku)).await?;
        ensure!(n.len() == 1, "{sku} announced twice: {n:?}");
    }
    Ok(())
}

/// GetProduct shows the reference a drop is measured against as soon as a price has held
/// `stable_for`, not only after the next price change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_price_follows_a_price_that_held() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new().set("triggers", "stable_for", "1s")).await?;
    let (mut ingest, mut admin) = (daemon.ingest_client().await?, daemon.admin_client().await?);
    let mut seq = Sequencer::new("reference");
    publish_ok(
        &mut ingest,
        seq.batch(vec![upsert(catalog("r-up", 1000)), stock_set("r-up", 10)]),
    )
    .await?;
    // A rise is no drop: nothing is pending, yet 1200 becomes the reference once it held.
    let t0 = now_ms();
    publish_ok(&mut ingest, seq.batch(vec![price_set("r-up", 1200).at(t0)])).await?;
    let p = product(&mut admin, "r-up").await?;
    ensure!(
        p.reference_price_minor == 1000 && p.price_minor == 1200,
        "right after the change: {p:?}"
    );
    let p = poll_until(WAIT, || {
        let mut admin = admin.clone();
        async move {
            let p = product(&mut admin, "r-up").await?;
            ensure!(
                p.reference_price_minor == 1200,
                "reference {} after the price held ({} ms)",
                p.reference_price_minor,
                now_ms() - t0
            );
            Ok(p)
        }
    })
    .await?;
    ensure!(now_ms() >= t0 + 1_000, "moved before it held: {p:?}");
    // The trigger logic measures against the same reference: back to 1000 is a drop
    // from 1200 (it would be none from the old reference).
    publish_ok(&mut ingest, seq.batch(vec![price_set("r-up", 1000)])).await?;
    let d = wait_for(&admin, TriggerKind::PriceDrop, "r-up", 1).await?;
    ensure!(
        d[0].old_price_minor == 1200 && d[0].new_price_minor == 1000,
        "{d:?}"
    );
    Ok(())
}
