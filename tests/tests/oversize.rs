//! Message size limit: with `server.max_message_bytes = 65536` a 1 MiB batch is refused
//! with RESOURCE_EXHAUSTED or OUT_OF_RANGE and applies nothing; a batch under the limit
//! still applies afterwards, on a new connection and on the old one.

use anyhow::{ensure, Result};
use prost::Message;
use stockbell_tests::pb::{Event, EventBatch, ProductUpsert};
use stockbell_tests::{
    batch, catalog, expect_code, last_sequence, product, product_error, publish_ok, stock_set,
    upsert, Daemon, DaemonOptions,
};
use tonic::Code;

const LIMIT: usize = 65_536;
const P: &str = "oversize";

/// `n` upserts with ~4 KB titles (the per-field text limit).
fn fat_upserts(prefix: &str, n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let sku = format!("{prefix}-{i}");
            upsert(ProductUpsert {
                title: "x".repeat(4_000),
                ..catalog(&sku, 100)
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_batch_is_refused_and_the_daemon_keeps_working() -> Result<()> {
    let opts = DaemonOptions::new().set("server", "max_message_bytes", LIMIT as i64);
    let daemon = Daemon::start(opts).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;

    let big: EventBatch = batch(P, 1, fat_upserts("big", 262));
    ensure!(
        big.encoded_len() > 1 << 20,
        "test batch is only {} bytes",
        big.encoded_len()
    );
    let status = expect_code(
        ingest.publish(big).await,
        &[Code::ResourceExhausted, Code::OutOfRange],
    )?;
    ensure!(!status.message().is_empty(), "refusal without a message");
    ensure!(
        product_error(&mut admin, "big-0").await == Some(Code::NotFound),
        "part of the refused batch applied"
    );
    ensure!(
        last_sequence(&mut admin, P).await? == 0,
        "refused batch moved the sequence"
    );

    // Just under the limit applies, with sequence 1 (never consumed by the refused batch).
    let mut events = fat_upserts("ok", 14);
    events.push(stock_set("ok-0", 4));
    let fits = batch(P, 1, events);
    ensure!(
        fits.encoded_len() < LIMIT - 1_024,
        "{} bytes",
        fits.encoded_len()
    );
    let ack = publish_ok(&mut ingest, fits).await?;
    ensure!(!ack.duplicate, "{ack:?}");
    ensure!(product(&mut admin, "ok-0").await?.stock == 4, "ok-0 stock");

    // A fresh connection works too.
    let mut ingest2 = daemon.ingest_client().await?;
    publish_ok(&mut ingest2, batch(P, 2, vec![stock_set("ok-1", 2)])).await?;
    ensure!(product(&mut admin, "ok-1").await?.stock == 2, "ok-1 stock");
    ensure!(last_sequence(&mut admin, P).await? == 2);
    Ok(())
}
