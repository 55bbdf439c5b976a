//! `stockbell-load compare`: runs the same seeded workload first against a fresh sink (this
//! binary's `sink` subcommand) and then against a fresh `stockbelld` with a throw-away data
//! directory, and reports both plus the daemon/sink throughput ratio of the mix phase.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use stockbell_tests::launch::spawn_ready;

use crate::daemon::{ingest_config, resolve_bin, stderr_stdio, BenchDir, Daemon};
use crate::driver;
use crate::report::{round2, RunReport};
use crate::workload::{self, Spec, Workload};

/// How long the sink may take to write its ready file.
const READY_DEADLINE: Duration = Duration::from_secs(60);
/// How long the sink may take to exit after SIGTERM.
const SINK_GRACE: Duration = Duration::from_secs(10);

/// What `compare` runs.
pub struct Options {
    pub spec: Spec,
    pub inflight: usize,
    pub daemon_bin: Option<PathBuf>,
    pub keep_dir: bool,
}

/// Generates the workload, telling how long that took (it is not part of any measurement).
pub fn generate_timed(spec: &Spec) -> Workload {
    let started = Instant::now();
    let w = workload::generate(spec);
    eprintln!(
        "stockbell-load: generated {} catalogue + {} mix events in {} + {} batches in {:.2} s",
        w.catalogue_events,
        w.mix_events,
        w.catalogue.len(),
        w.mix.len(),
        started.elapsed().as_secs_f64()
    );
    w
}

async fn run_sink(exe: &Path, dir: &Path, opts: &Options) -> anyhow::Result<RunReport> {
    let workload = generate_timed(&opts.spec);
    let ready = dir.join("sink.ready");
    let mut cmd = Command::new(exe);
    cmd.arg("sink")
        .args(["--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(stderr_stdio()?);
    let (sink, addr) = spawn_ready("sink", &mut cmd, &ready, READY_DEADLINE).await?;
    let mut sink = sink.say_when_killed_on_drop("stockbell-load");
    let addr = addr.to_string();
    let report = driver::execute(&addr, None, &opts.spec.producer_id, workload, opts.inflight)
        .await
        .context("run against the sink")?;
    if let Err(e) = sink.terminate(SINK_GRACE).await {
        eprintln!("stockbell-load: warning: {e:#}");
    }
    Ok(report)
}

/// Runs against a fresh daemon; also says whether it exited cleanly (0) after SIGTERM.
async fn run_daemon(bin: &Path, dir: &Path, opts: &Options) -> anyhow::Result<(RunReport, bool)> {
    let workload = generate_timed(&opts.spec);
    let daemon = Daemon::start(bin, dir, &ingest_config(dir)?).await?;
    let report = driver::execute(
        &daemon.addr,
        None,
        &opts.spec.producer_id,
        workload,
        opts.inflight,
    )
    .await
    .context("run against the daemon")?;
    Ok((report, daemon.stop().await))
}

/// Runs the comparison and prints both summaries and, last, one JSON line.
pub async fn compare(opts: Options) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the current executable")?;
    let daemon_bin = resolve_bin(opts.daemon_bin.clone())?;
    // With --keep-dir the directory survives even a failed run, for post-mortems.
    let dir = BenchDir::new("stockbell-compare-", opts.keep_dir)?;
    let dir = &dir.path;

    let sink = run_sink(&exe, dir, &opts).await?;
    println!("{}", sink.summary("sink"));
    let (daemon, clean_exit) = run_daemon(&daemon_bin, dir, &opts).await?;
    println!("{}", daemon.summary("daemon"));

    let (sink_eps, daemon_eps) = (sink.mix.eps(), daemon.mix.eps());
    let ratio = if sink_eps > 0.0 {
        daemon_eps / sink_eps
    } else {
        0.0
    };
    println!(
        "daemon/sink throughput ratio (mix phase): {ratio:.3} ({daemon_eps:.0} / {sink_eps:.0} events/s)"
    );
    let line = json!({
        "mode": "compare",
        "products": opts.spec.products,
        "batch": opts.spec.batch,
        "events": daemon.mix.events,
        "inflight": opts.inflight,
        "seed": opts.spec.seed,
        "mix": opts.spec.mix.to_string(),
        "sink_eps": round2(sink_eps),
        "sink_catalogue_eps": sink.catalogue_eps().map(round2),
        "sink_ack_p99_ms": round2(sink.mix.quantile_ms(0.99)),
        "daemon_eps": round2(daemon_eps),
        "daemon_catalogue_eps": daemon.catalogue_eps().map(round2),
        "ratio": (ratio * 10_000.0).round() / 10_000.0,
        "ack_p50_ms": round2(daemon.mix.quantile_ms(0.5)),
        "ack_p99_ms": round2(daemon.mix.quantile_ms(0.99)),
        "ack_max_ms": round2(daemon.mix.max_ms()),
        "daemon_rejected": daemon.rejected(),
        "daemon_duplicates": daemon.duplicates(),
        "daemon_clean_exit": clean_exit,
    });
    println!("{line}");
    Ok(())
}
