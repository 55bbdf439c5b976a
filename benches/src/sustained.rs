//! `stockbell-load sustained`: disk, memory and crash-restart time of a daemon under
//! sustained full-speed ingest (issue 8, defect 8).
//!
//! A fresh daemon (loopback, temporary data directory) gets the catalogue (`--products`
//! upserts + stock sets) and then the mix phase of `stockbell-load run` over and over, as
//! fast as it acknowledges, until `--seconds` have passed since the load began. Every
//! `--sample-every` seconds, and at the end, it records the data directory on disk (write-
//! ahead log `*.log`, SST files `*.sst`, the rest; allocated blocks, like `du`) and the
//! daemon's RSS. Then it kills the daemon with SIGKILL, times the restart until the ready
//! file names the address (WAL replay included), measures the directory again and stops
//! the daemon with SIGTERM. The last stdout line is one JSON object.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};
use stockbell_proto::v1::EventBatch;

use crate::compare::generate_timed;
use crate::daemon::{self, mib, set, BenchDir, Daemon, Memory};
use crate::driver;
use crate::mix::Mix;
use crate::report::round2;
use crate::workload::Spec;

const PRODUCER: &str = "stockbell-load-sustained";
/// Batches of the mix pool streamed per `Ingest.Stream` call, so that the deadline is
/// checked about once a second at full speed.
const CHUNK: usize = 200;

#[derive(Args)]
pub struct SustainedArgs {
    /// How long to load the daemon, in seconds (catalogue included).
    #[arg(long, default_value_t = 240)]
    seconds: u64,
    /// Also sample disk and memory this often, in seconds (0: only at the end).
    #[arg(long, default_value_t = 60)]
    sample_every: u64,
    #[arg(long, default_value_t = 100_000)]
    products: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Mix events generated once and sent again and again (renumbered).
    #[arg(long, default_value_t = 1_000_000)]
    pool: usize,
    /// Batches sent but not yet acknowledged, at most.
    #[arg(long, default_value_t = 8)]
    inflight: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The daemon's storage.max_wal_bytes (default: the daemon's own; a daemon that
    /// predates the key refuses it).
    #[arg(long)]
    max_wal_bytes: Option<u64>,
    /// The daemon's storage.max_memtable_bytes (default: the daemon's own).
    #[arg(long)]
    max_memtable_bytes: Option<u64>,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

/// The data directory on disk, in allocated bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Disk {
    wal: u64,
    sst: u64,
    other: u64,
    wal_files: usize,
}

impl Disk {
    fn total(&self) -> u64 {
        self.wal + self.sst + self.other
    }

    fn json(&self) -> Value {
        json!({
            "total_mib": mib(self.total()),
            "wal_mib": mib(self.wal),
            "wal_files": self.wal_files,
            "sst_mib": mib(self.sst),
            "other_mib": mib(self.other),
        })
    }
}

/// Sizes of the files under `dir`; files RocksDB deletes while we look are skipped.
fn disk(dir: &Path) -> anyhow::Result<Disk> {
    let mut d = Disk::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let entries =
            std::fs::read_dir(&p).with_context(|| format!("cannot list {}", p.display()))?;
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
                continue;
            }
            let bytes = meta.blocks() * 512;
            match e.path().extension().and_then(|x| x.to_str()) {
                Some("log") => {
                    d.wal += bytes;
                    d.wal_files += 1;
                }
                Some("sst") => d.sst += bytes,
                _ => d.other += bytes,
            }
        }
    }
    Ok(d)
}

struct Sample {
    at_s: f64,
    events: u64,
    disk: Disk,
    mem: Memory,
}

impl Sample {
    fn take(started: Instant, events: u64, data: &Path, daemon: &Daemon) -> anyhow::Result<Self> {
        Ok(Sample {
            at_s: started.elapsed().as_secs_f64(),
            events,
            disk: disk(data)?,
            mem: daemon.memory()?,
        })
    }

    fn line(&self) -> String {
        format!(
            "{:>6.1} s  {:>10} events   data {:>8.1} MiB (WAL {:>8.1} MiB in {:>3} files, SST {:>7.1} MiB, other {:>5.1} MiB)   RSS {:>7.1} MiB (peak {:>7.1})",
            self.at_s,
            self.events,
            mib(self.disk.total()),
            mib(self.disk.wal),
            self.disk.wal_files,
            mib(self.disk.sst),
            mib(self.disk.other),
            mib(self.mem.rss),
            mib(self.mem.hwm),
        )
    }

    fn json(&self) -> Value {
        json!({
            "at_s": round2(self.at_s),
            "events": self.events,
            "disk": self.disk.json(),
            "rss_mib": mib(self.mem.rss),
            "peak_rss_mib": mib(self.mem.hwm),
        })
    }
}

/// `pool` renumbered to continue after `next_seq`, cut into chunks of [`CHUNK`] batches.
fn renumber(pool: &[EventBatch], from: usize, next_seq: u64) -> Vec<EventBatch> {
    pool.iter()
        .skip(from)
        .take(CHUNK)
        .zip(next_seq..)
        .map(|(b, seq)| EventBatch {
            sequence: seq,
            ..b.clone()
        })
        .collect()
}

pub async fn run(args: SustainedArgs) -> anyhow::Result<()> {
    let spec = Spec {
        producer_id: PRODUCER.into(),
        products: args.products.max(1),
        batch: args.batch.max(1),
        events: args.pool.max(1),
        seed: args.seed,
        mix: Mix::default(),
        catalogue: true,
        new_arrivals: false,
    };
    let workload = generate_timed(&spec);
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-sustained-", args.keep_dir)?;
    let data = dir.path.join("data");
    let mut config = daemon::base_config(&dir.path)?;
    if let Some(n) = args.max_wal_bytes {
        set(&mut config, "storage", "max_wal_bytes", i64::try_from(n)?);
    }
    if let Some(n) = args.max_memtable_bytes {
        set(
            &mut config,
            "storage",
            "max_memtable_bytes",
            i64::try_from(n)?,
        );
    }
    let mut daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let mut client = driver::connect(&daemon.addr, None).await?;

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let every = Duration::from_secs(args.sample_every);
    let mut next_sample = (args.sample_every > 0).then(|| started + every);
    let mut samples = Vec::new();
    let mut events = workload.catalogue_events as u64;
    let mut next_seq = workload.catalogue.len() as u64 + 1;
    driver::run_phase(&mut client, PRODUCER, workload.catalogue, args.inflight)
        .await
        .context("catalogue phase")?;
    let mut from = 0;
    while Instant::now() < deadline {
        let chunk = renumber(&workload.mix, from, next_seq);
        next_seq += chunk.len() as u64;
        from = (from + chunk.len()) % workload.mix.len().max(1);
        let stats = driver::run_phase(&mut client, PRODUCER, chunk, args.inflight)
            .await
            .context("mix phase")?;
        events += stats.events as u64;
        if next_sample.is_some_and(|t| Instant::now() >= t) {
            let s = Sample::take(started, events, &data, &daemon)?;
            println!("{}", s.line());
            samples.push(s);
            next_sample = next_sample.map(|t| t + every);
        }
        daemon.check_running()?;
    }
    let end = Sample::take(started, events, &data, &daemon)?;
    if samples.last().is_some_and(|s| s.events == end.events) {
        samples.pop();
    }
    println!("{}   <- end of load", end.line());
    drop(client);

    daemon.kill9().await?;
    let killed = disk(&data)?;
    let restart_at = Instant::now();
    let daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let restart_s = restart_at.elapsed().as_secs_f64();
    let after = disk(&data)?;
    let mem_after = daemon.memory()?;
    let clean = daemon.stop().await;
    let stopped = disk(&data)?;
    println!(
        "kill -9 -> ready in {restart_s:.2} s; data {:.1} MiB (WAL {:.1} MiB) when killed, {:.1} MiB (WAL {:.1} MiB) once ready, {:.1} MiB after SIGTERM; RSS once ready {:.1} MiB",
        mib(killed.total()),
        mib(killed.wal),
        mib(after.total()),
        mib(after.wal),
        mib(stopped.total()),
        mib(mem_after.rss),
    );
    let line = json!({
        "mode": "sustained",
        "seconds": args.seconds,
        "products": spec.products,
        "batch": spec.batch,
        "inflight": args.inflight,
        "max_wal_bytes": args.max_wal_bytes,
        "max_memtable_bytes": args.max_memtable_bytes,
        "events": events,
        "eps": round2(events as f64 / end.at_s.max(1e-9)),
        "samples": samples.iter().map(Sample::json).collect::<Vec<_>>(),
        "end": end.json(),
        "restart_s": round2(restart_s),
        "disk_after_restart": after.json(),
        "rss_after_restart_mib": mib(mem_after.rss),
        "disk_after_stop": stopped.json(),
        "daemon_clean_exit": clean,
    });
    println!("{line}");
    Ok(())
}
