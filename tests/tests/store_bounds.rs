//! The write-ahead log stays within `storage.max_wal_bytes` under sustained ingest (issue
//! 8, defect 8): with a 4 MiB bound, tens of MiB of writes leave at most a few MiB of log
//! at any time, because RocksDB flushes the column families whose unflushed writes keep
//! the oldest log file alive. Without the bound the small column families (producers,
//! timers, meta) pin every log file and the log grows with everything written. The sizes
//! are measured after each batch; nothing here is timed.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{AdjustReason, ProductUpsert};
use stockbell_tests::{
    batch, catalog, last_sequence, publish_ok, stock_adjust, upsert, Daemon, DaemonOptions,
};

const BOUND: u64 = 4 << 20;
const PRODUCTS: usize = 2_000;
const BATCHES: u64 = 250;
const EVENTS_PER_BATCH: usize = 500;
const PRODUCER: &str = "wal-bound";

fn sku(i: usize) -> String {
    format!("wal-{i:05}")
}

/// Bytes in the write-ahead log files (`*.log`) of a RocksDB directory, as written.
fn wal_bytes(data: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(data).with_context(|| format!("listing {}", data.display()))? {
        let Ok(e) = e else { continue };
        if e.path().extension().is_some_and(|x| x == "log") {
            // A file RocksDB deletes meanwhile counts as empty.
            total += e.metadata().map_or(0, |m| m.len());
        }
    }
    Ok(total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_within_the_configured_bound() -> Result<()> {
    let opts = DaemonOptions::new()
        .set("storage", "max_wal_bytes", BOUND as i64)
        .set("storage", "max_memtable_bytes", BOUND as i64);
    let mut daemon = Daemon::start(opts).await?;
    let data = daemon.dir().join("data");
    ensure!(data.is_dir(), "no data dir at {}", data.display());
    let mut ingest = daemon.ingest_client().await?;
    let setup = (0..PRODUCTS)
        .map(|i| {
            upsert(ProductUpsert {
                backorderable: true,
                title: format!("{} {}", sku(i), "t".repeat(200)),
                ..catalog(&sku(i), 1_000)
            })
        })
        .collect();
    publish_ok(&mut ingest, batch("wal-bound-setup", 1, setup)).await?;

    // Each batch rewrites 500 product states (~0.2 MB of log).
    let mut peak = 0;
    for seq in 1..=BATCHES {
        let events = (0..EVENTS_PER_BATCH)
            .map(|k| {
                let i = (seq as usize * EVENTS_PER_BATCH + k) % PRODUCTS;
                stock_adjust(&sku(i), 1, AdjustReason::Correction)
            })
            .collect();
        publish_ok(&mut ingest, batch(PRODUCER, seq, events)).await?;
        peak = peak.max(wal_bytes(&data)?);
    }
    let log = daemon.log_tail();
    eprintln!(
        "store_bounds: peak write-ahead log {:.1} MiB with storage.max_wal_bytes = {} MiB",
        peak as f64 / f64::from(1 << 20),
        BOUND >> 20
    );
    // The bound is checked as writes come, and the flush it asks for runs alongside
    // them: allow twice the bound plus a write buffer's worth.
    ensure!(
        peak <= 2 * BOUND + BOUND / 4 + (1 << 20),
        "the write-ahead log reached {peak} bytes with storage.max_wal_bytes = {BOUND}\n{log}"
    );

    // A crash now replays at most that much; everything acknowledged is there.
    daemon.kill9().await?;
    daemon.restart().await?;
    let mut admin = daemon.admin_client().await?;
    ensure!(last_sequence(&mut admin, PRODUCER).await? == BATCHES);
    daemon.terminate().await?;
    Ok(())
}
