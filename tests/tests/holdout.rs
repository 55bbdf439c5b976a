//! Holdout and attribution counters over a real daemon: with `holdout_pct = 5`, a
//! back-in-stock restock to 10,000 interested customers (ingested over gRPC in batches)
//! holds out 5 % ± 1 point of them — counted as suppression `holdout`, exactly the
//! customers the documented hash names; sent and held-out customers who then order
//! convert on their side of the split; the counters survive a restart and a re-sent
//! order is counted once.

use std::time::Duration;

use anyhow::{ensure, Result};
use sha2::{Digest, Sha256};
use stockbell_tests::pb::{HoldoutStats, ProductUpsert, ScenarioStats};
use stockbell_tests::{
    catalog, fanned_out, notify_me, order_placed, poll_until, publish_ok, scenario_stats, shopper,
    stock_set, upsert, AdminClient, Daemon, DaemonOptions, Sequencer,
};

const CUSTOMERS: usize = 10_000;
const PER_BATCH: usize = 1_000;
const HOLDOUT_PCT: f64 = 5.0;
const WAIT: Duration = Duration::from_secs(120);

fn options(eml: &std::path::Path) -> DaemonOptions {
    DaemonOptions::new()
        .set("email", "eml_dir", eml.display().to_string())
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
        .toml(&format!(
            "[scenarios.back_in_stock]\nholdout_pct = {HOLDOUT_PCT:.1}\n"
        ))
}

fn id(i: usize) -> String {
    format!("h{i:05}")
}

/// The README's hash: SHA-256("stockbell.holdout.v1\0" + scenario + "\0" + customer),
/// first 8 bytes big-endian, mod 10,000, below holdout_pct × 100.
fn held_out(customer: &str) -> bool {
    let mut h = Sha256::new();
    h.update(b"stockbell.holdout.v1\0back_in_stock\0");
    h.update(customer.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first) % 10_000 < (HOLDOUT_PCT * 100.0) as u64
}

fn holdout_count(s: &ScenarioStats) -> u64 {
    s.suppressed
        .iter()
        .find(|c| c.reason == "holdout")
        .map_or(0, |c| c.count)
}

fn holdout(s: &ScenarioStats) -> HoldoutStats {
    s.holdout.unwrap_or_default()
}

/// Waits until every customer of the audience was decided: queued or held out.
async fn decided(admin: &AdminClient) -> Result<ScenarioStats> {
    poll_until(WAIT, || async {
        let s = scenario_stats(admin, "back_in_stock").await?;
        let done = s.queued + holdout_count(&s);
        ensure!(
            s.audience == CUSTOMERS as u64 && done == s.audience,
            "audience {}, queued {}, held out {}",
            s.audience,
            s.queued,
            holdout_count(&s)
        );
        Ok(s)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holdout_keeps_its_share_and_conversions_are_counted_once_across_a_restart(
) -> Result<()> {
    let eml = tempfile::tempdir()?;
    let mut daemon = Daemon::start(options(eml.path())).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    // Stocked and sold out (an imported product: no new-arrival announcement).
    let product = ProductUpsert {
        imported: true,
        ..catalog("A", 1_000)
    };
    publish_ok(
        &mut ingest,
        seq.batch(vec![upsert(product), stock_set("A", 5)]),
    )
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("A", 0)])).await?;
    for chunk in (0..CUSTOMERS).collect::<Vec<_>>().chunks(PER_BATCH / 2) {
        let events = chunk
            .iter()
            .flat_map(|&i| [shopper(&id(i)), notify_me(&id(i), "A")])
            .collect();
        publish_ok(&mut ingest, seq.batch(events)).await?;
    }
    publish_ok(&mut ingest, seq.batch(vec![stock_set("A", 100)])).await?;
    fanned_out(&admin, 1, WAIT).await?;
    let s = decided(&admin).await?;

    let expected = (0..CUSTOMERS).filter(|&i| held_out(&id(i))).count() as u64;
    let held = holdout_count(&s);
    let share = held as f64 * 100.0 / s.audience as f64;
    ensure!(
        (share - HOLDOUT_PCT).abs() <= 1.0,
        "{held} of {} held out: {share:.2} %, want {HOLDOUT_PCT} % ± 1 point",
        s.audience
    );
    eprintln!("held out {held} of {} ({share:.2} %)", s.audience);
    ensure!(
        held == expected,
        "{held} held out; the documented hash names {expected}"
    );
    let h = holdout(&s);
    ensure!(
        (h.held_customers, h.sent_customers, s.messages) == (held, s.queued, s.queued),
        "holdout stats {h:?}, messages {}, queued {}",
        s.messages,
        s.queued
    );
    ensure!((h.holdout_pct - HOLDOUT_PCT).abs() < 1e-9, "{h:?}");

    // Two sent customers and one held-out customer order within the window.
    let sent: Vec<String> = (0..CUSTOMERS)
        .map(id)
        .filter(|c| !held_out(c))
        .take(2)
        .collect();
    let kept = (0..CUSTOMERS)
        .map(id)
        .find(|c| held_out(c))
        .unwrap_or_default();
    let orders = vec![
        order_placed("o-1", &sent[0], &[("1", "A", 1)]),
        order_placed("o-2", &sent[1], &[("1", "A", 2)]),
        order_placed("o-3", &kept, &[("1", "A", 1)]),
    ];
    publish_ok(&mut ingest, seq.batch(orders.clone())).await?;
    let converted = |s: &ScenarioStats| {
        let h = holdout(s);
        (h.sent_converted, h.held_converted)
    };
    let s = poll_until(WAIT, || async {
        let s = scenario_stats(&admin, "back_in_stock").await?;
        ensure!(converted(&s) == (2, 1), "{:?}", holdout(&s));
        Ok(s)
    })
    .await?;
    let h = holdout(&s);
    ensure!(
        h.has_lift
            && (h.lift - ((2.0 / h.sent_customers as f64) / (1.0 / h.held_customers as f64) - 1.0))
                .abs()
                < 1e-9,
        "{h:?}"
    );
    eprintln!("after the orders: {h:?}");
    // No click: no order is credited to the scenario.
    ensure!(s.attributed_orders == 0, "{s:?}");

    // Restart: the counters are read back; the same orders sent again (a new batch)
    // count nothing more.
    daemon.terminate().await?;
    daemon.restart().await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let after = scenario_stats(&admin, "back_in_stock").await?;
    ensure!(
        holdout(&after) == h && after.messages == s.messages,
        "after a restart: {:?} (messages {}), before {h:?} (messages {})",
        holdout(&after),
        after.messages,
        s.messages
    );
    publish_ok(&mut ingest, seq.batch(orders)).await?;
    // A marker the daemon applied the re-sent batch: a later customer's order converts.
    let late = (0..CUSTOMERS)
        .map(id)
        .filter(|c| !held_out(c))
        .nth(2)
        .unwrap_or_default();
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_placed("o-4", &late, &[("1", "A", 1)])]),
    )
    .await?;
    let last = poll_until(WAIT, || async {
        let s = scenario_stats(&admin, "back_in_stock").await?;
        ensure!(holdout(&s).sent_converted >= 3, "{:?}", holdout(&s));
        Ok(s)
    })
    .await?;
    ensure!(
        converted(&last) == (3, 1),
        "the re-sent orders were counted again: {:?}",
        holdout(&last)
    );
    daemon.terminate().await?;
    Ok(())
}
