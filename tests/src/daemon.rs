//! A real `stockbelld` process for one test: its temp dir (config, data, log, ready file),
//! start-up until the ready file names the bound address, signals, restarts, and gRPC
//! clients pointed at it.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_proto::v1::{admin_client, ingest_client};
use tempfile::TempDir;
use tokio::time::Instant;
use toml::Table;
use tonic::transport::{Channel, Endpoint};

use crate::client::{AdminClient, Bearer, IngestClient};
use crate::options::{first_token, DaemonOptions};

/// How long a daemon may take to write its ready file.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERM'd daemon may take to exit.
pub const TERM_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
const LOG_TAIL_LINES: usize = 60;

/// A running (or stopped, between [`Daemon::kill9`]/[`Daemon::terminate`] and
/// [`Daemon::restart`]) `stockbelld`. Dropping it kills the process.
/// A failing test (panicking thread) keeps the temp dir and prints where it is.
pub struct Daemon {
    // Declared first so that it is dropped (killed) before the temp dir is removed.
    proc: Option<Proc>,
    dir: TempDir,
    config_path: PathBuf,
    config: Table,
    addr: SocketAddr,
}

/// How a daemon that was expected to refuse to start ended.
#[derive(Debug)]
pub struct StartRefused {
    pub status: ExitStatus,
    /// Everything it wrote to stdout and stderr.
    pub log: String,
}

impl Daemon {
    /// Writes the config into a fresh temp dir, spawns `stockbelld run` and waits until it
    /// is ready (or fails with the tail of its log).
    pub async fn start(opts: DaemonOptions) -> Result<Self> {
        let (dir, config_path, config) = prepare(&opts)?;
        let (proc, addr) = spawn_ready(dir.path(), &config_path).await?;
        Ok(Self {
            dir,
            config_path,
            config,
            proc: Some(proc),
            addr,
        })
    }

    /// Spawns a daemon that must refuse to start: it has to exit before writing its ready
    /// file. Returns its exit status and log; fails if it became ready or did not exit.
    pub async fn start_expecting_refusal(opts: DaemonOptions) -> Result<StartRefused> {
        let (dir, config_path, _) = prepare(&opts)?;
        let mut proc = spawn(dir.path(), &config_path)?;
        let ready = dir.path().join("ready");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = proc.try_exit()? {
                return Ok(StartRefused {
                    status,
                    log: read_log(dir.path()),
                });
            }
            if ready.exists() || Instant::now() >= deadline {
                proc.kill9().await?;
                bail!(
                    "stockbelld was expected to refuse to start but {}\n{}",
                    if ready.exists() {
                        "it became ready"
                    } else {
                        "it neither became ready nor exited"
                    },
                    log_tail(dir.path())
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Starts the daemon again on the same data dir and config. The previous process must
    /// have been stopped with [`Daemon::kill9`] or [`Daemon::terminate`].
    pub async fn restart(&mut self) -> Result<()> {
        if let Some(proc) = self.proc.as_mut() {
            ensure!(
                proc.try_exit()?.is_some(),
                "restart: the daemon is still running; stop it first"
            );
        }
        self.proc = None;
        let (proc, addr) = spawn_ready(self.dir.path(), &self.config_path).await?;
        self.proc = Some(proc);
        self.addr = addr;
        Ok(())
    }

    /// Sends SIGKILL and reaps the process.
    pub async fn kill9(&mut self) -> Result<()> {
        match self.proc.as_mut() {
            Some(proc) => proc.kill9().await,
            None => Ok(()),
        }
    }

    /// Sends SIGTERM and waits (up to [`TERM_TIMEOUT`]) for the process to exit.
    pub async fn terminate(&mut self) -> Result<ExitStatus> {
        let Some(proc) = self.proc.as_mut() else {
            bail!("terminate: the daemon was never started");
        };
        if let Some(status) = proc.try_exit()? {
            return Ok(status);
        }
        proc.signal(libc::SIGTERM)?;
        if let Some(status) = proc.wait_exit(TERM_TIMEOUT).await? {
            return Ok(status);
        }
        proc.kill9().await?;
        bail!(
            "stockbelld did not exit within {TERM_TIMEOUT:?} of SIGTERM\n{}",
            self.log_tail()
        )
    }

    /// The address the daemon bound, from its ready file.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the daemon's HTTP server (unsubscribe page, `/healthz`), from the
    /// `ready.http` file it writes next to the ready file.
    pub fn http_addr(&self) -> Result<SocketAddr> {
        let path = self.dir.path().join("ready.http");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("{} holds {text:?}, not an address", path.display()))
    }

    /// The test's temp dir (config, `data/`, `daemon.log`, `ready`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The config as written.
    pub fn config(&self) -> &Table {
        &self.config
    }

    /// The last lines the daemon wrote to stdout/stderr, over all its runs.
    pub fn log_tail(&self) -> String {
        log_tail(self.dir.path())
    }

    /// A new connection to the daemon.
    pub async fn channel(&self) -> Result<Channel> {
        Endpoint::from_shared(format!("http://{}", self.addr))
            .context("endpoint URI")?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .connect()
            .await
            .with_context(|| format!("connecting to stockbelld at {}", self.addr))
    }

    /// An Ingest client sending the configured ingest token, if any.
    pub async fn ingest_client(&self) -> Result<IngestClient> {
        let token = first_token(&self.config, "ingest_tokens");
        self.ingest_client_with_token(token.as_deref()).await
    }

    /// An Ingest client sending `token` (or none).
    pub async fn ingest_client_with_token(&self, token: Option<&str>) -> Result<IngestClient> {
        let bearer = Bearer::new(token)?;
        Ok(
            ingest_client::IngestClient::with_interceptor(self.channel().await?, bearer)
                .max_decoding_message_size(64 << 20),
        )
    }

    /// An Admin client sending the configured admin token, if any.
    pub async fn admin_client(&self) -> Result<AdminClient> {
        let token = first_token(&self.config, "admin_tokens");
        self.admin_client_with_token(token.as_deref()).await
    }

    /// An Admin client sending `token` (or none).
    pub async fn admin_client_with_token(&self, token: Option<&str>) -> Result<AdminClient> {
        let bearer = Bearer::new(token)?;
        Ok(
            admin_client::AdminClient::with_interceptor(self.channel().await?, bearer)
                .max_decoding_message_size(64 << 20),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.proc = None;
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "test failed: stockbelld's dir kept at {}\n{}",
                self.dir.path().display(),
                self.log_tail()
            );
        }
    }
}

/// Creates the temp dir and writes the config file into it.
fn prepare(opts: &DaemonOptions) -> Result<(TempDir, PathBuf, Table)> {
    let dir = tempfile::Builder::new()
        .prefix("stockbell-test-")
        .tempdir()
        .context("creating the test's temp dir")?;
    let config = opts.render(dir.path())?;
    let config_path = dir.path().join("stockbelld.toml");
    let text = toml::to_string(&config).context("serialising the config")?;
    fs::write(&config_path, text).with_context(|| format!("writing {}", config_path.display()))?;
    Ok((dir, config_path, config))
}

/// Spawns `stockbelld run` and waits until its ready file holds the bound address.
async fn spawn_ready(dir: &Path, config_path: &Path) -> Result<(Proc, SocketAddr)> {
    let mut proc = spawn(dir, config_path)?;
    let ready = dir.join("ready");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = proc.try_exit()? {
            bail!(
                "stockbelld exited ({status}) before it was ready\n{}",
                log_tail(dir)
            );
        }
        if let Some(addr) = read_ready(&ready) {
            return Ok((proc, addr));
        }
        if Instant::now() >= deadline {
            proc.kill9().await?;
            bail!(
                "stockbelld was not ready within {READY_TIMEOUT:?} (no address in {})\n{}",
                ready.display(),
                log_tail(dir)
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Removes a stale ready file and spawns the daemon, logging to `<dir>/daemon.log`.
fn spawn(dir: &Path, config_path: &Path) -> Result<Proc> {
    let bin = stockbelld_bin()?;
    let ready = dir.join("ready");
    match fs::remove_file(&ready) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", ready.display())),
    }
    let log_path = dir.join("daemon.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let child = Command::new(&bin)
        .arg("run")
        .arg("--config")
        .arg(config_path)
        .arg("--ready-file")
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("cloning the log file handle")?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("spawning {}", bin.display()))?;
    Ok(Proc { child, exit: None })
}

/// The bound address, once the ready file exists and holds one.
fn read_ready(path: &Path) -> Option<SocketAddr> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The `stockbelld` binary: `$STOCKBELLD_BIN`, else next to the test binary's profile dir
/// (`<target>/release/deps/<test>` → `<target>/release/stockbelld`).
pub fn stockbelld_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("STOCKBELLD_BIN") {
        let p = PathBuf::from(p);
        ensure!(p.is_file(), "STOCKBELLD_BIN={} is not a file", p.display());
        return Ok(p);
    }
    let exe = std::env::current_exe().context("locating the test binary")?;
    let mut dir = exe.parent().context("test binary has no parent dir")?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps dir has no parent")?;
    }
    let bin = dir.join("stockbelld");
    ensure!(
        bin.is_file(),
        "stockbelld binary not found at {}: run `cargo build --release --bins` first \
         (or set STOCKBELLD_BIN)",
        bin.display()
    );
    Ok(bin)
}

fn read_log(dir: &Path) -> String {
    let bytes = fs::read(dir.join("daemon.log")).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn log_tail(dir: &Path) -> String {
    let log = read_log(dir);
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    format!(
        "--- daemon.log (last {} lines) ---\n{}",
        lines.len() - start,
        lines[start..].join("\n")
    )
}

/// A child process that is SIGKILLed and reaped on drop unless it already exited.
struct Proc {
    child: Child,
    exit: Option<ExitStatus>,
}

impl Proc {
    /// The exit status if the process has exited (reaping it).
    fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().context("waiting for stockbelld")?;
        }
        Ok(self.exit)
    }

    /// Sends `sig` unless the process has been reaped (so the pid cannot have been reused).
    fn signal(&mut self, sig: libc::c_int) -> Result<()> {
        if self.try_exit()?.is_some() {
            return Ok(());
        }
        let pid = libc::pid_t::try_from(self.child.id()).context("pid out of range")?;
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our unreaped child.
        let rc = unsafe { libc::kill(pid, sig) };
        ensure!(
            rc == 0,
            "kill({pid}, {sig}): {}",
            std::io::Error::last_os_error()
        );
        Ok(())
    }

    /// Polls for the exit for up to `timeout`; `None` if it is still running.
    async fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn kill9(&mut self) -> Result<()> {
        self.signal(libc::SIGKILL)?;
        match self.wait_exit(Duration::from_secs(10)).await? {
            Some(_) => Ok(()),
            None => bail!("stockbelld did not die within 10 s of SIGKILL"),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.try_exit(), Ok(None)) && self.signal(libc::SIGKILL).is_ok() {
            let _ = self.child.wait();
        }
    }
}
