//! A throw-away `stockbelld` for the delivery benchmarks (`restock-fanout`, `smtp-rate`,
//! `interest-rss`): a temporary directory, a config built as a TOML table (loopback only,
//! port 0 for gRPC and HTTP, rules that decide at once), the daemon started with the
//! test harness's process harness (`stockbell_tests::launch`), its memory from `/proc`,
//! and a "black hole" SMTP server that accepts connections and never answers, which holds
//! the dispatcher without touching the outbox.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use stockbell_tests::launch::{run_command, sibling_bin, spawn_ready};
use stockbell_tests::poll::give_up;
use stockbell_tests::Process;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::driver::MAX_MESSAGE_BYTES;

/// How long the daemon may take to open its store and bind.
const READY_DEADLINE: Duration = Duration::from_secs(120);
/// How long the daemon may take to exit after SIGTERM.
const DAEMON_GRACE: Duration = Duration::from_secs(120);

/// The benchmark's temporary directory; removed on drop unless kept.
pub struct BenchDir {
    pub path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl BenchDir {
    /// A fresh directory under `$TMPDIR`; `keep` leaves it behind (its path is printed).
    pub fn new(prefix: &str, keep: bool) -> anyhow::Result<BenchDir> {
        let tmp = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .context("cannot create a temporary directory")?;
        if keep {
            let path = tmp.keep();
            eprintln!("stockbell-load: keeping {}", path.display());
            Ok(BenchDir { path, _tmp: None })
        } else {
            Ok(BenchDir {
                path: tmp.path().to_path_buf(),
                _tmp: Some(tmp),
            })
        }
    }
}

/// The daemon binary: `explicit`, or `stockbelld` next to this executable.
pub fn resolve_bin(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let bin = match explicit {
        Some(p) => p,
        None => sibling_bin("stockbelld")?,
    };
    if !bin.is_file() {
        bail!(
            "daemon binary {} not found: run `cargo build --release -p stockbelld` \
             (with the same CARGO_TARGET_DIR) or pass --daemon-bin PATH",
            bin.display()
        );
    }
    Ok(bin)
}

/// Our stderr, for a child's stdout, so that our stdout carries only the results.
pub fn stderr_stdio() -> anyhow::Result<Stdio> {
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot duplicate stderr")?;
    Ok(Stdio::from(fd))
}

/// Sets `section.key` (one level of nesting: `"email.smtp"` is a section) in `root`.
pub fn set(root: &mut toml::Table, section: &str, key: &str, value: impl Into<toml::Value>) {
    let mut table = root;
    for part in section.split('.') {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let Some(t) = entry.as_table_mut() else {
            return;
        };
        table = t;
    }
    table.insert(key.to_string(), value.into());
}

fn utf8(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not valid UTF-8", p.display()))
}

/// How the daemon delivers email during a benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Delivery {
    /// SMTP to a local server that accepts and never answers: the dispatcher's one
    /// connection waits, nothing is sent or marked, the outbox stays as written.
    Hold,
    /// `.eml` files into the benchmark directory (the dispatcher runs at full speed).
    Eml,
}

/// The ingest config every benchmark's daemon starts from: loopback, port 0 (gRPC and
/// HTTP), 64 MiB messages, no fsync, data under `dir/data`, warnings only.
pub fn ingest_config(dir: &Path) -> anyhow::Result<toml::Table> {
    let mut c = toml::Table::new();
    set(&mut c, "server", "listen", "127.0.0.1:0");
    set(
        &mut c,
        "server",
        "max_message_bytes",
        i64::try_from(MAX_MESSAGE_BYTES)?,
    );
    set(&mut c, "storage", "path", utf8(&dir.join("data"))?);
    set(&mut c, "storage", "sync", false);
    set(&mut c, "http", "listen", "127.0.0.1:0");
    set(&mut c, "log", "level", "warn");
    Ok(c)
}

/// The delivery benchmarks' config: [`ingest_config`] with a 5 s shutdown grace and rules
/// that decide at once (no arbitration window, no quiet hours) and release a
/// back-in-stock audience whole (`per_unit = 0`).
pub fn base_config(dir: &Path) -> anyhow::Result<toml::Table> {
    let mut c = ingest_config(dir)?;
    set(&mut c, "server", "shutdown_grace", "5s");
    set(&mut c, "rules", "arbitration_window", "0s");
    set(&mut c, "rules", "quiet_start", "00:00");
    set(&mut c, "rules", "quiet_end", "00:00");
    set(&mut c, "scenarios.back_in_stock", "per_unit", 0);
    Ok(c)
}

/// Points email at a [`Blackhole`] (`hold`) or at `.eml` files in `dir/eml`.
pub fn set_delivery(
    c: &mut toml::Table,
    dir: &Path,
    delivery: Delivery,
    hole: Option<&Blackhole>,
) -> anyhow::Result<()> {
    match (delivery, hole) {
        (Delivery::Hold, Some(hole)) => {
            set(c, "email.smtp", "host", "127.0.0.1");
            set(c, "email.smtp", "port", i64::from(hole.port));
            set(c, "email.smtp", "tls", "none");
            set(c, "email.smtp", "pool_size", 1);
            set(c, "email.smtp", "timeout", "1h");
            set(c, "delivery", "email_concurrency", 1);
            set(c, "delivery", "poll_interval", "60s");
        }
        (Delivery::Hold, None) => bail!("hold delivery needs a black-hole SMTP server"),
        (Delivery::Eml, _) => {
            set(c, "email", "eml_dir", utf8(&dir.join("eml"))?);
        }
    }
    Ok(())
}

/// A TCP server on 127.0.0.1 that accepts connections and never writes: an SMTP client
/// waits for the greeting until its timeout. Dropping it closes every connection.
pub struct Blackhole {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Blackhole {
    pub async fn start() -> anyhow::Result<Blackhole> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the black-hole SMTP server on 127.0.0.1")?;
        let port = listener.local_addr()?.port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Ok(Blackhole { port, task })
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Memory of a process from `/proc/<pid>/status`, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss: u64,
    /// Peak resident set size since the process started.
    pub hwm: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let kb = |name: &str| -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{path} has no {name} line"))?;
        let n: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("cannot read {line:?} in {path}"))?;
        Ok(n * 1024)
    };
    Ok(Memory {
        rss: kb("VmRSS:")?,
        hwm: kb("VmHWM:")?,
    })
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("cannot parse {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("cannot parse field {} of {path}", i + 3))
    };
    // utime and stime are fields 14 and 15.
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(total as f64 / if hz > 0 { hz as f64 } else { 100.0 })
}

/// CPU time (user + system) of this process's reaped children so far, in seconds.
pub fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we pass; zeroed is a valid `rusage`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// Total size of the files under `dir`, in bytes.
pub fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("cannot list {}", d.display()))?;
            let meta = e.metadata()?;
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

pub fn mib(bytes: u64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
}

/// A running daemon; SIGKILLed (with a note on stderr) if dropped without [`Daemon::stop`].
pub struct Daemon {
    proc: Process,
    pub addr: String,
    pub pid: u32,
}

impl Daemon {
    /// Writes `config` to `dir/stockbelld.toml` and starts the daemon on it; its output
    /// goes to our stderr.
    pub async fn start(bin: &Path, dir: &Path, config: &toml::Table) -> anyhow::Result<Daemon> {
        let path = dir.join("stockbelld.toml");
        let text = toml::to_string(config).context("cannot write the daemon config")?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let ready = dir.join("ready");
        let mut cmd = run_command(bin, &path, &ready);
        cmd.stdout(stderr_stdio()?);
        let (proc, addr) = spawn_ready("daemon", &mut cmd, &ready, READY_DEADLINE).await?;
        let proc = proc.say_when_killed_on_drop("stockbell-load");
        let pid = proc.pid().context("the daemon exited")?;
        Ok(Daemon {
            proc,
            addr: addr.to_string(),
            pid,
        })
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory(self.pid)
    }

    /// Fails if the daemon has exited (e.g. after a fatal error); the error ends a
    /// `poll_every` at once.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        self.proc
            .check_running()
            .map_err(|e| give_up(anyhow!("{e:#} during the benchmark; see its log above")))
    }

    /// SIGKILL (a crash): nothing is flushed, the next start replays the write-ahead log.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        self.proc.kill9().await.map(drop)
    }

    /// SIGTERM; true if it exited 0 within the grace period.
    pub async fn stop(mut self) -> bool {
        match self.proc.terminate(DAEMON_GRACE).await {
            Ok(status) if status.success() => true,
            Ok(status) => {
                eprintln!("stockbell-load: warning: the daemon exited with {status} after SIGTERM");
                false
            }
            Err(e) => {
                eprintln!("stockbell-load: warning: {e:#}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sections_nest() {
        let mut c = toml::Table::new();
        set(&mut c, "email.smtp", "port", 2525);
        set(&mut c, "email", "from", "a <a@b.c>");
        let text = toml::to_string(&c).unwrap();
        assert!(
            text.contains("[email.smtp]") && text.contains("port = 2525"),
            "{text}"
        );
        assert!(text.contains("from = "), "{text}");
    }

    #[test]
    fn own_memory_and_cpu_are_readable() {
        let pid = std::process::id();
        let m = memory(pid).unwrap();
        assert!(m.rss > 0 && m.hwm >= m.rss);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
    }
}
