//! `stockbell-load compare`: runs the same seeded workload first against a fresh sink (this
//! binary's `sink` subcommand) and then against a fresh `stockbelld` with a throw-away data
//! directory, and reports both plus the daemon/sink throughput ratio of the mix phase.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;

use crate::child::ChildGuard;
use crate::driver::{self, MAX_MESSAGE_BYTES};
use crate::report::{round2, RunReport};
use crate::workload::{self, Spec, Workload};

/// How long a child may take to write its ready file.
const READY_DEADLINE: Duration = Duration::from_secs(60);
/// How long the sink / the daemon may take to exit after SIGTERM.
const SINK_GRACE: Duration = Duration::from_secs(10);
const DAEMON_GRACE: Duration = Duration::from_secs(60);

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

/// Our stderr, for a child's stdout, so that our stdout carries only the results.
pub(crate) fn stderr_stdio() -> anyhow::Result<Stdio> {
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot duplicate stderr")?;
    Ok(Stdio::from(fd))
}

/// `stockbelld` next to this executable.
pub(crate) fn default_daemon_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the current executable")?;
    let dir = exe
        .parent()
        .with_context(|| format!("{} has no parent directory", exe.display()))?;
    Ok(dir.join("stockbelld"))
}

/// Writes the daemon's config: loopback, port 0, 64 MiB messages, data under `dir`.
fn write_daemon_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let data = dir.join("data");
    let data = data
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", data.display()))?;
    let mut server = toml::Table::new();
    server.insert("listen".into(), "127.0.0.1:0".into());
    server.insert(
        "max_message_bytes".into(),
        i64::try_from(MAX_MESSAGE_BYTES)?.into(),
    );
    let mut storage = toml::Table::new();
    storage.insert("path".into(), data.into());
    storage.insert("sync".into(), false.into());
    let mut log = toml::Table::new();
    log.insert("level".into(), "warn".into());
    let mut root = toml::Table::new();
    root.insert("server".into(), server.into());
    root.insert("storage".into(), storage.into());
    root.insert("log".into(), log.into());
    let path = dir.join("stockbelld.toml");
    let text = toml::to_string(&root).context("cannot write the daemon config")?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

async fn run_sink(exe: &Path, dir: &Path, opts: &Options) -> anyhow::Result<RunReport> {
    let workload = generate_timed(&opts.spec);
    let ready = dir.join("sink.ready");
    let mut sink = ChildGuard::spawn(
        "sink",
        Command::new(exe)
            .arg("sink")
            .args(["--listen", "127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(stderr_stdio()?),
    )?;
    let addr = sink.wait_ready(&ready, READY_DEADLINE).await?;
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
    let config = write_daemon_config(dir)?;
    let ready = dir.join("ready");
    let mut daemon = ChildGuard::spawn(
        "daemon",
        Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--ready-file")
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(stderr_stdio()?),
    )?;
    let addr = daemon.wait_ready(&ready, READY_DEADLINE).await?;
    let report = driver::execute(&addr, None, &opts.spec.producer_id, workload, opts.inflight)
        .await
        .context("run against the daemon")?;
    let clean = match daemon.terminate(DAEMON_GRACE).await {
        Ok(status) if status.success() => true,
        Ok(status) => {
            eprintln!("stockbell-load: warning: the daemon exited with {status} after SIGTERM");
            false
        }
        Err(e) => {
            eprintln!("stockbell-load: warning: {e:#}");
            false
        }
    };
    Ok((report, clean))
}

/// Runs the comparison and prints both summaries and, last, one JSON line.
pub async fn compare(opts: Options) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the current executable")?;
    let daemon_bin = match &opts.daemon_bin {
        Some(p) => p.clone(),
        None => default_daemon_bin()?,
    };
    if !daemon_bin.is_file() {
        bail!(
            "daemon binary {} not found: run `cargo build --release -p stockbelld` \
             (with the same CARGO_TARGET_DIR) or pass --daemon-bin PATH",
            daemon_bin.display()
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix("stockbell-compare-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    // With --keep-dir the directory survives even a failed run, for post-mortems.
    let (dir, _tmp) = if opts.keep_dir {
        let kept = tmp.keep();
        eprintln!("stockbell-load: keeping {}", kept.display());
        (kept, None)
    } else {
        (tmp.path().to_path_buf(), Some(tmp))
    };

    let sink = run_sink(&exe, &dir, &opts).await?;
    println!("{}", sink.summary("sink"));
    let (daemon, clean_exit) = run_daemon(&daemon_bin, &dir, &opts).await?;
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
