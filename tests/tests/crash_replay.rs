//! kill -9 in the middle of a 100,000-event stream: after a restart the producer resumes
//! from `GetProducer.last_sequence`, re-sending every batch; those already applied (every
//! acked one and maybe a few more) come back `duplicate`, and every product's stock equals
//! the model with each non-idempotent delta applied exactly once.

use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use stockbell_tests::pb::{AdjustReason, EventBatch, ProductUpsert};
use stockbell_tests::{
    batch, catalog, last_sequence, next_ack, product, publish_ok, stock_adjust, stock_set, upsert,
    AdminClient, Daemon, DaemonOptions, TestRng,
};
use tokio_stream::wrappers::ReceiverStream;

const PRODUCTS: usize = 1_000;
const BATCHES: usize = 200;
const EVENTS_PER_BATCH: usize = 500;
/// Batches sent ahead of their acks.
const IN_FLIGHT: usize = 8;
/// Acks received before the kill.
const KILL_AFTER: usize = BATCHES / 2;
const PRODUCER: &str = "crash-stream";

fn sku(i: usize) -> String {
    format!("crash-{i:04}")
}

/// The workload: initial stock per product and 200 batches of (product, delta).
struct Model {
    initial: Vec<i64>,
    deltas: Vec<Vec<(usize, i64)>>,
}

impl Model {
    fn new(seed: u64) -> Self {
        let mut rng = TestRng::new(seed);
        let initial = (0..PRODUCTS).map(|_| rng.range(0, 1_000)).collect();
        let deltas = (0..BATCHES)
            .map(|_| {
                (0..EVENTS_PER_BATCH)
                    .map(|_| {
                        let d = rng.range(1, 50);
                        let d = if rng.next_u64() & 1 == 0 { -d } else { d };
                        (rng.index(PRODUCTS), d)
                    })
                    .collect()
            })
            .collect();
        Self { initial, deltas }
    }

    /// Batch `i` (0-based) as sequence `i + 1`.
    fn batch(&self, i: usize) -> EventBatch {
        let events = self.deltas[i]
            .iter()
            .map(|&(p, d)| stock_adjust(&sku(p), d, AdjustReason::Correction))
            .collect();
        batch(PRODUCER, i as u64 + 1, events)
    }

    /// Expected stock once batches `1..=applied` have been applied.
    fn stock_after(&self, applied: usize) -> Vec<i64> {
        let mut stock = self.initial.clone();
        for b in &self.deltas[..applied] {
            for &(p, d) in b {
                stock[p] += d;
            }
        }
        stock
    }
}

async fn check_stock(admin: &mut AdminClient, want: &[i64], when: &str) -> Result<()> {
    let mut wrong = Vec::new();
    for (i, &w) in want.iter().enumerate() {
        let got = product(admin, &sku(i)).await?.stock;
        if got != w {
            wrong.push(format!("{}: {got} (want {w})", sku(i)));
        }
    }
    ensure!(
        wrong.is_empty(),
        "{when}: {} of {PRODUCTS} products have the wrong stock, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_mid_stream_then_resume_applies_each_batch_once() -> Result<()> {
    let model = Model::new(0x5eed_0fc0_ffee);
    let batches: Vec<EventBatch> = (0..BATCHES).map(|i| model.batch(i)).collect();
    let mut daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;

    let mut setup = Vec::with_capacity(2 * PRODUCTS);
    for (i, &stock) in model.initial.iter().enumerate() {
        let s = sku(i);
        setup.push(upsert(ProductUpsert {
            backorderable: true,
            ..catalog(&s, 1_000)
        }));
        setup.push(stock_set(&s, stock));
    }
    publish_ok(&mut ingest, batch("crash-setup", 1, setup)).await?;

    // Stream with IN_FLIGHT batches ahead of the acks; kill -9 on the KILL_AFTER-th ack.
    let (tx, rx) = tokio::sync::mpsc::channel::<EventBatch>(BATCHES);
    for b in &batches[..IN_FLIGHT] {
        tx.send(b.clone())
            .await
            .map_err(|_| anyhow!("request stream closed"))?;
    }
    let mut sent = IN_FLIGHT;
    let mut acks = ingest
        .stream(ReceiverStream::new(rx))
        .await
        .map_err(|s| anyhow!("Ingest.Stream: {} {}", s.code(), s.message()))?
        .into_inner();
    let mut highest_acked = 0u64;
    for n in 1..=KILL_AFTER {
        let ack = next_ack(&mut acks)
            .await
            .context("stream before the kill")?;
        ensure!(ack.sequence == n as u64, "ack {n} out of order: {ack:?}");
        ensure!(
            !ack.duplicate && ack.batch_error.is_empty() && ack.rejected.is_empty(),
            "batch {n} not cleanly applied: {ack:?}"
        );
        ensure!(
            ack.applied as usize == EVENTS_PER_BATCH,
            "batch {n}: {ack:?}"
        );
        highest_acked = ack.sequence;
        if n < KILL_AFTER && sent < BATCHES {
            tx.send(batches[sent].clone())
                .await
                .map_err(|_| anyhow!("request stream closed"))?;
            sent += 1;
        }
    }
    ensure!(sent > KILL_AFTER, "nothing in flight at the kill");
    daemon.kill9().await?;
    drop((acks, tx));

    daemon.restart().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    let last = last_sequence(&mut admin, PRODUCER).await?;
    ensure!(
        last >= highest_acked,
        "acked batch {highest_acked} was lost: last_sequence is {last}"
    );
    ensure!(
        last <= sent as u64,
        "last_sequence {last} but only {sent} batches were sent"
    );
    eprintln!("killed with {highest_acked} acked, {sent} sent; {last} applied at restart");
    // The sequence is stored atomically with the effects: exactly batches 1..=last applied.
    check_stock(
        &mut admin,
        &model.stock_after(last as usize),
        "after the crash",
    )
    .await?;

    // Resume: re-send everything from the start, as a producer that lost its acks would.
    let mut acks = ingest
        .stream(tokio_stream::iter(batches.clone()))
        .await
        .map_err(|s| anyhow!("Ingest.Stream (replay): {} {}", s.code(), s.message()))?
        .into_inner();
    for b in &batches {
        let ack = next_ack(&mut acks).await.context("replay stream")?;
        ensure!(
            ack.sequence == b.sequence,
            "replay ack out of order: {ack:?}"
        );
        ensure!(ack.batch_error.is_empty(), "replay batch refused: {ack:?}");
        if b.sequence <= highest_acked {
            ensure!(
                ack.duplicate,
                "acked-before-crash batch re-applied: {ack:?}"
            );
        } else if b.sequence <= last {
            ensure!(
                ack.duplicate,
                "batch applied before the crash re-applied: {ack:?}"
            );
        } else {
            ensure!(
                !ack.duplicate
                    && ack.rejected.is_empty()
                    && ack.applied as usize == EVENTS_PER_BATCH,
                "unapplied batch not applied on replay: {ack:?}"
            );
        }
    }
    let end = tokio::time::timeout(Duration::from_secs(30), acks.message()).await;
    ensure!(
        matches!(end, Ok(Ok(None))),
        "replay stream should end after {BATCHES} acks: {end:?}"
    );

    ensure!(last_sequence(&mut admin, PRODUCER).await? == BATCHES as u64);
    check_stock(&mut admin, &model.stock_after(BATCHES), "after the replay").await?;
    Ok(())
}
