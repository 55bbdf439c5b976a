//! A full disk (issue 8, defect 2): the store on a 64 MiB tmpfs that a filler file fills
//! while a producer publishes. While RocksDB refuses writes, health is NOT_SERVING (the
//! server and every service), the overview says "store full / read-only" and new batches
//! are refused with UNAVAILABLE; once the filler is deleted ingest resumes by itself, every
//! batch acknowledged before and after is applied exactly once, and SIGTERM exits 0.
//! A SIGTERM while the disk stays full exits 70 and keeps exactly what was acknowledged.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says so and passes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::pb::{AdjustReason, ProductUpsert, WatchOverviewRequest};
use stockbell_tests::{
    batch, catalog, last_sequence, poll_until, product, publish_ok, stock_adjust, upsert,
    AdminClient, Daemon, DaemonOptions, IngestClient,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const TMPFS_SIZE: &str = "64m";
const PRODUCTS: usize = 200;
const PRODUCER: &str = "disk-full";
/// How long each phase may take (poll deadlines, not timing goals).
const PHASE: Duration = Duration::from_secs(60);
/// Batches acknowledged after the space came back before the producer stops.
const AFTER_RECOVERY: u64 = 20;

fn sku(i: usize) -> String {
    format!("full-{i:03}")
}

/// Batch `seq` adjusts every product by 1..=5; not idempotent, so a batch applied twice
/// (or lost) shows in the stock.
fn delta(seq: u64, i: usize) -> i64 {
    ((seq * 7 + i as u64 * 3) % 5) as i64 + 1
}

fn expected_stock(last_seq: u64, i: usize) -> i64 {
    (1..=last_seq).map(|s| delta(s, i)).sum()
}

/// A tmpfs mounted for the test; lazily unmounted on drop.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `Ok(None)` (after saying why) when not root or the mount is refused.
    fn mount() -> Result<Option<Tmpfs>> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED disk_full: mounting a tmpfs needs root (CI runs as root)");
            return Ok(None);
        }
        let dir = tempfile::Builder::new()
            .prefix("stockbell-tmpfs-")
            .tempdir()?;
        let path = dir.path().to_path_buf();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_SIZE}"), "tmpfs"])
            .arg(&path)
            .output()
            .context("running mount")?;
        if !out.status.success() {
            eprintln!(
                "SKIPPED disk_full: cannot mount a tmpfs at {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return Ok(None);
        }
        Ok(Some(Tmpfs { path, _dir: dir }))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes zeros into `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> Result<u64> {
    let mut f = std::fs::File::create(path).context("creating the filler")?;
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => return Err(e).context("writing the filler"),
        }
    }
    Ok(written)
}

/// What the producer task saw.
#[derive(Default)]
struct Seen {
    acked: AtomicU64,
    refused: AtomicU64,
}

/// Publishes batches 1, 2, … (each retried after UNAVAILABLE, like a real producer) until
/// `stop`; returns the last sequence acknowledged. Every ack must be a first application.
async fn produce(mut ingest: IngestClient, seen: Arc<Seen>, stop: Arc<AtomicBool>) -> Result<u64> {
    let mut seq = 0;
    while !stop.load(Ordering::Acquire) {
        seq += 1;
        let events = (0..PRODUCTS)
            .map(|i| stock_adjust(&sku(i), delta(seq, i), AdjustReason::Correction))
            .collect::<Vec<_>>();
        loop {
            match ingest.publish(batch(PRODUCER, seq, events.clone())).await {
                Ok(ack) => {
                    let ack = ack.into_inner();
                    ensure!(
                        !ack.duplicate && ack.applied as usize == PRODUCTS,
                        "batch {seq}: {ack:?}"
                    );
                    seen.acked.store(seq, Ordering::Release);
                    break;
                }
                Err(s) if s.code() == Code::Unavailable => {
                    seen.refused.fetch_add(1, Ordering::AcqRel);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(s) => bail!("batch {seq}: {:?} {}", s.code(), s.message()),
            }
        }
    }
    Ok(seq)
}

/// Waits until the producer has had more than `n` batches acknowledged; fails at once if
/// the producer stops (e.g. a batch acked as a duplicate: applied before, or lost).
async fn acked_beyond(
    seen: &Seen,
    producer: &mut JoinHandle<Result<u64>>,
    n: u64,
    what: &str,
) -> Result<()> {
    let wait = poll_until(PHASE, || async {
        let acked = seen.acked.load(Ordering::Acquire);
        ensure!(acked > n, "{what}: {acked} batches acked");
        Ok(())
    });
    tokio::select! {
        r = wait => r,
        r = producer => bail!("{what}: the producer stopped: {:?}", r.context("producer task")?),
    }
}

/// Fails unless the server ("") and both services report `want`.
async fn expect_health(daemon: &Daemon, want: ServingStatus) -> Result<()> {
    let h = health_of(daemon).await?;
    ensure!(
        h.iter().all(|s| *s == want),
        "health of \"\", Ingest, Admin: {h:?}, want {want:?}"
    );
    Ok(())
}

async fn health_of(daemon: &Daemon) -> Result<Vec<ServingStatus>> {
    let mut health = HealthClient::new(daemon.channel().await?);
    let mut out = Vec::new();
    for service in ["", "stockbell.v1.Ingest", "stockbell.v1.Admin"] {
        let req = HealthCheckRequest {
            service: service.into(),
        };
        out.push(health.check(req).await?.into_inner().status());
    }
    Ok(out)
}

async fn overview_health(admin: &AdminClient) -> Result<String> {
    let req = WatchOverviewRequest { interval_ms: 200 };
    let mut stream = admin.clone().watch_overview(req).await?.into_inner();
    let o = stream
        .message()
        .await?
        .context("the overview stream ended")?;
    Ok(o.health)
}

async fn check_stock(admin: &mut AdminClient, last_seq: u64, when: &str) -> Result<()> {
    for i in 0..PRODUCTS {
        let got = product(admin, &sku(i)).await?.stock;
        let want = expected_stock(last_seq, i);
        ensure!(
            got == want,
            "{when}: {} has stock {got}, want {want} (batches 1..={last_seq} each once)",
            sku(i)
        );
    }
    Ok(())
}

/// A daemon with its store on `tmpfs` (4 MiB write buffers: RocksDB resumes once that
/// much is free again) and the products in place.
async fn start_on(tmpfs: &Tmpfs, opts: DaemonOptions) -> Result<Daemon> {
    let data = tmpfs.path.join("data");
    let opts = opts
        .set("storage", "path", data.to_string_lossy().as_ref())
        .set("storage", "max_memtable_bytes", 16 << 20);
    let daemon = Daemon::start(opts).await?;
    let setup = (0..PRODUCTS)
        .map(|i| {
            let title = format!("{} {}", sku(i), "x".repeat(200));
            upsert(ProductUpsert {
                backorderable: true,
                title,
                ..catalog(&sku(i), 1_000)
            })
        })
        .collect();
    let mut ingest = daemon.ingest_client().await?;
    publish_ok(&mut ingest, batch("disk-full-setup", 1, setup)).await?;
    Ok(daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_then_resumes_by_itself_losing_nothing() -> Result<()> {
    let Some(tmpfs) = Tmpfs::mount()? else {
        return Ok(());
    };
    let filler = tmpfs.path.join("filler");
    let mut daemon = start_on(&tmpfs, DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    expect_health(&daemon, ServingStatus::Serving).await?;

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut producer = tokio::spawn(produce(ingest.clone(), seen.clone(), stop.clone()));
    acked_beyond(&seen, &mut producer, 5, "before the disk fills").await?;

    // Fill the disk; the producer's writes soon fail.
    let filled = fill(&filler)?;
    poll_until(PHASE, || async {
        expect_health(&daemon, ServingStatus::NotServing)
            .await
            .with_context(|| format!("the disk is full ({filled} bytes of filler)"))
    })
    .await?;
    let line = overview_health(&admin).await?;
    ensure!(
        line.starts_with("store full / read-only"),
        "overview health {line:?}"
    );
    // A new batch is refused at the door, at once; reads still work.
    let probe = batch(
        "disk-full-probe",
        1,
        vec![upsert(catalog("full-probe", 100))],
    );
    let started = Instant::now();
    match ingest.publish(probe.clone()).await {
        Err(s) if s.code() == Code::Unavailable => ensure!(
            s.message().contains("store full / read-only"),
            "UNAVAILABLE says {:?}",
            s.message()
        ),
        other => bail!("a batch while the disk is full: {other:?}"),
    }
    ensure!(
        started.elapsed() < Duration::from_secs(5),
        "the refusal took {:?}",
        started.elapsed()
    );
    product(&mut admin, &sku(0)).await?;
    let acked_while_full = seen.acked.load(Ordering::Acquire);

    // Free the space: writes resume without a restart.
    std::fs::remove_file(&filler)?;
    let freed = Instant::now();
    acked_beyond(
        &seen,
        &mut producer,
        acked_while_full,
        "once the space is back",
    )
    .await?;
    let resumed = freed.elapsed();
    let more = acked_while_full + AFTER_RECOVERY;
    acked_beyond(&seen, &mut producer, more, "after recovery").await?;
    eprintln!(
        "disk_full: {acked_while_full} batches acked before the space came back, {} refused, \
         the first ack {resumed:?} after it",
        seen.refused.load(Ordering::Acquire),
    );
    expect_health(&daemon, ServingStatus::Serving).await?;
    let line = overview_health(&admin).await?;
    ensure!(line == "ok", "overview health {line:?} after recovery");
    stop.store(true, Ordering::Release);
    let last = producer.await.context("producer task")??;

    // Every acked batch applied exactly once; the refused probe was never applied.
    ensure!(last_sequence(&mut admin, PRODUCER).await? == last);
    check_stock(&mut admin, last, "after recovery").await?;
    let ack = publish_ok(&mut ingest, probe).await?;
    ensure!(ack.applied == 1, "{ack:?}");

    let status = daemon.terminate().await?;
    ensure!(
        status.code() == Some(0),
        "SIGTERM after recovery: {status}\n{}",
        daemon.log_tail()
    );
    daemon.restart().await?;
    let mut admin = daemon.admin_client().await?;
    check_stock(&mut admin, last, "after a restart").await?;
    daemon.terminate().await?;
    drop(daemon);
    drop(tmpfs);
    Ok(())
}

/// SIGTERM while the disk stays full: the batch waiting on the store gets until
/// `server.shutdown_grace`, is then answered UNAVAILABLE (never acknowledged) and the
/// daemon exits 70; after a restart with space, exactly the acknowledged batches are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_disk_stays_full_exits_70_with_every_ack_kept() -> Result<()> {
    let Some(tmpfs) = Tmpfs::mount()? else {
        return Ok(());
    };
    let filler = tmpfs.path.join("filler");
    let opts = DaemonOptions::new().set("server", "shutdown_grace", "2s");
    let mut daemon = start_on(&tmpfs, opts).await?;
    let ingest = daemon.ingest_client().await?;
    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut producer = tokio::spawn(produce(ingest, seen.clone(), stop));
    acked_beyond(&seen, &mut producer, 5, "before the disk fills").await?;
    fill(&filler)?;
    poll_until(PHASE, || async {
        expect_health(&daemon, ServingStatus::NotServing).await
    })
    .await?;

    let status = daemon.terminate().await?;
    producer.abort();
    let acked = seen.acked.load(Ordering::Acquire);
    let log = daemon.log_tail();
    ensure!(
        status.code() == Some(70),
        "SIGTERM with the disk full: {status}\n{log}"
    );
    ensure!(
        log.contains("the store still refused writes at shutdown"),
        "the exit does not say why\n{log}"
    );

    std::fs::remove_file(&filler)?;
    daemon.restart().await?;
    let mut admin = daemon.admin_client().await?;
    let durable = last_sequence(&mut admin, PRODUCER).await?;
    ensure!(
        durable == acked,
        "{acked} batches were acknowledged, {durable} are in the store"
    );
    check_stock(&mut admin, acked, "after the restart").await?;
    daemon.terminate().await?;
    drop(daemon);
    drop(tmpfs);
    Ok(())
}
