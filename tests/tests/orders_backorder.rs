//! Backorders against a real daemon and a real SMTP server: a restock of 10 units of a
//! product with 8 units owed to waiting order lines releases back-in-stock notices for
//! the 2 units left — in both ways shops keep such stock (allowed to go negative, −8 →
//! restocked to 2; or held at 0 with the owed units only in orders → restocked to 10) —
//! and a restock that only covers what is owed releases none. Arrived units go to the
//! oldest waiting lines first, each whole, and GetProduct shows the allocation.

use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{AdjustReason, ProductUpsert};
use stockbell_tests::{
    catalog, fanned_out, notify_me, order_placed, poll_until, publish_ok, sale, scenario_stats,
    shopper, stock_adjust, stock_set, upsert, AdminClient, Daemon, DaemonOptions, IngestClient,
    Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml(
            r#"
[scenarios.back_in_stock]
per_unit = 1
batch_interval = "1h"
"#,
        )
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

/// The shop's two ways to keep a backordered product's stock.
#[derive(Clone, Copy, Debug)]
enum Model {
    /// Each order's units are sold from stock, which goes below zero.
    Negative,
    /// Stock stays at 0; the owed units are only in the orders.
    HeldAtZero,
}

/// A backorderable `sku`, sold out, 5 customers asking to be told, then 3 orders
/// (3 + 3 + 2 units) waiting for it.
async fn eight_owed(
    ingest: &mut IngestClient,
    seq: &mut Sequencer,
    sku: &str,
    model: Model,
) -> Result<()> {
    let product = ProductUpsert {
        imported: true,
        backorderable: true,
        ..catalog(sku, 3_000)
    };
    let mut events = vec![upsert(product), stock_set(sku, 1)];
    for i in 0..5 {
        events.push(shopper(&format!("{sku}-n{i}")));
    }
    for i in 0..3 {
        events.push(shopper(&format!("{sku}-buyer{i}")));
    }
    publish_ok(ingest, seq.batch(events)).await?;
    publish_ok(ingest, seq.batch(vec![sale(sku, 1)])).await?;
    let mut asks = Vec::new();
    for i in 0..5 {
        asks.push(notify_me(&format!("{sku}-n{i}"), sku));
    }
    publish_ok(ingest, seq.batch(asks)).await?;
    for (i, qty) in [3, 3, 2].into_iter().enumerate() {
        let buyer = format!("{sku}-buyer{i}");
        let mut events = vec![order_placed(
            &format!("{sku}-order{i}"),
            &buyer,
            &[("1", sku, qty)],
        )];
        if let Model::Negative = model {
            events.push(sale(sku, qty));
        }
        publish_ok(ingest, seq.batch(events)).await?;
    }
    Ok(())
}

/// Back-in-stock messages queued, once `triggers` triggers are written and fanned out.
async fn back_in_stock_queued(admin: &AdminClient, triggers: u64) -> Result<u64> {
    fanned_out(admin, triggers, WAIT).await?;
    Ok(scenario_stats(admin, "back_in_stock").await?.queued)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restock_of_10_with_8_owed_announces_2_units_in_both_models() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    eight_owed(&mut ingest, &mut seq, "neg", Model::Negative).await?;
    let stock = stockbell_tests::product(&mut admin.clone(), "neg")
        .await?
        .stock;
    ensure!(
        stock == -8,
        "negative model: stock {stock} before the restock"
    );
    let restock = stock_adjust("neg", 10, AdjustReason::Restock);
    publish_ok(&mut ingest, seq.batch(vec![restock])).await?;
    let n = back_in_stock_queued(&admin, 1).await?;
    ensure!(n == 2, "negative model: {n} back-in-stock messages, want 2");

    eight_owed(&mut ingest, &mut seq, "zero", Model::HeldAtZero).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("zero", 10)])).await?;
    let n = back_in_stock_queued(&admin, 2).await?;
    ensure!(
        n == 4,
        "held-at-zero model: {} back-in-stock messages, want 2",
        n - 2
    );

    // Exactly what is owed arrives: nothing left for back in stock. Triggers are written
    // with the batch, before its ack.
    eight_owed(&mut ingest, &mut seq, "exact", Model::HeldAtZero).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("exact", 8)])).await?;
    let fired = stockbell_tests::triggers(&mut admin.clone(), None, Some("exact")).await?;
    ensure!(
        fired.is_empty(),
        "a restock that covers only what is owed fired {fired:?}"
    );

    // Units for two of three waiting orders: the two oldest are covered, the third waits,
    // and the warehouse sees which is which.
    eight_owed(&mut ingest, &mut seq, "part", Model::HeldAtZero).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("part", 6)])).await?;
    let p = stockbell_tests::product(&mut admin.clone(), "part").await?;
    let book = p.backorders.unwrap_or_default();
    let lines: Vec<(&str, &str)> = book
        .lines
        .iter()
        .map(|l| (l.order_id.as_str(), l.state.as_str()))
        .collect();
    ensure!(
        lines
            == [
                ("part-order2", "waiting"),
                ("part-order0", "allocated"),
                ("part-order1", "allocated")
            ],
        "backorder lines of part: {lines:?}"
    );
    ensure!(
        (p.available, book.owed_units) == (0, 8),
        "part: available {}, owed {}",
        p.available,
        book.owed_units
    );

    // The notices reach the notify-me customers, and only 4 of the 20 (the buyers get
    // their order updates meanwhile).
    poll_until(WAIT, || async {
        let asked = |m: &&stockbell_tests::ReceivedMail| m.to.iter().any(|t| t.contains("-n"));
        let got = smtp.messages().iter().filter(asked).count();
        ensure!(got == 4, "{got} back-in-stock messages received, want 4");
        Ok(())
    })
    .await?;
    Ok(())
}
