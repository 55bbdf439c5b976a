//! A real `stockbelld` process for one test: its temp dir (config, data, log, ready file),
//! start-up until the ready file names the bound address, signals, restarts, and gRPC
//! clients pointed at it.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use stockbell_proto::v1::{admin_client, ingest_client};
use tempfile::TempDir;
use toml::Table;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::client::{AdminClient, Bearer, IngestClient};
use crate::launch::{run_command, spawn_fresh, stockbelld_bin};
use crate::options::{first_token, DaemonOptions};
use crate::poll::{give_up, poll_until};
use crate::process::{log_tail, log_to, Process};

/// How long a daemon may take to write its ready file.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERM'd daemon may take to exit.
pub const TERM_TIMEOUT: Duration = Duration::from_secs(20);
const LOG_TAIL_LINES: usize = 60;

/// A running (or stopped, between [`Daemon::kill9`]/[`Daemon::terminate`] and
/// [`Daemon::restart`]) `stockbelld`. Dropping it kills the process.
/// A failing test (panicking thread) keeps the temp dir and prints where it is.
pub struct Daemon {
    // Declared first so that it is dropped (killed) before the temp dir is removed.
    proc: Option<Process>,
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
        let (proc, addr) = spawn_ready_daemon(dir.path(), &config_path).await?;
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
        let ready = dir.path().join("ready");
        let mut proc = spawn(dir.path(), &config_path)?;
        let exited = poll_until(READY_TIMEOUT, || {
            std::future::ready(match proc.try_exit() {
                Ok(Some(status)) => Ok(status),
                Ok(None) if ready.exists() => Err(give_up(anyhow!("it became ready"))),
                Ok(None) => Err(anyhow!("it neither became ready nor exited")),
                Err(e) => Err(give_up(e)),
            })
        })
        .await;
        match exited {
            Ok(status) => Ok(StartRefused {
                status,
                log: fs::read_to_string(log_path(dir.path())).unwrap_or_default(),
            }),
            Err(e) => {
                proc.kill9().await?;
                bail!(
                    "stockbelld was expected to refuse to start but {e:#}\n{}",
                    log_tail(&log_path(dir.path()), LOG_TAIL_LINES)
                )
            }
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
        let (proc, addr) = spawn_ready_daemon(self.dir.path(), &self.config_path).await?;
        self.proc = Some(proc);
        self.addr = addr;
        Ok(())
    }

    /// Sends SIGKILL and reaps the process.
    pub async fn kill9(&mut self) -> Result<()> {
        match self.proc.as_mut() {
            Some(proc) => proc.kill9().await.map(drop),
            None => Ok(()),
        }
    }

    /// Sends SIGTERM and waits (up to [`TERM_TIMEOUT`]) for the process to exit.
    pub async fn terminate(&mut self) -> Result<ExitStatus> {
        let Some(proc) = self.proc.as_mut() else {
            bail!("terminate: the daemon was never started");
        };
        proc.terminate(TERM_TIMEOUT)
            .await
            .map_err(|e| anyhow!("{e:#}\n{}", self.log_tail()))
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
        log_tail(&log_path(self.dir.path()), LOG_TAIL_LINES)
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

    /// A new TLS connection to the daemon (`https://127.0.0.1:PORT`) with `tls`. The
    /// server may refuse a client certificate only after this returns (TLS 1.3), so a
    /// refused certificate shows on the first call.
    pub async fn tls_channel(&self, tls: ClientTlsConfig) -> Result<Channel> {
        Endpoint::from_shared(format!("https://{}", self.addr))
            .context("endpoint URI")?
            .tls_config(tls)
            .context("client TLS config")?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .connect()
            .await
            .with_context(|| format!("connecting over TLS to stockbelld at {}", self.addr))
    }

    /// An Ingest client over TLS (`tls`), sending `token` (or none).
    pub async fn tls_ingest_client(
        &self,
        tls: ClientTlsConfig,
        token: Option<&str>,
    ) -> Result<IngestClient> {
        let channel = self.tls_channel(tls).await?;
        Ok(ingest_client::IngestClient::with_interceptor(
            channel,
            Bearer::new(token)?,
        ))
    }

    /// An Admin client over TLS (`tls`), sending `token` (or none).
    pub async fn tls_admin_client(
        &self,
        tls: ClientTlsConfig,
        token: Option<&str>,
    ) -> Result<AdminClient> {
        let channel = self.tls_channel(tls).await?;
        Ok(admin_client::AdminClient::with_interceptor(
            channel,
            Bearer::new(token)?,
        ))
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
async fn spawn_ready_daemon(dir: &Path, config_path: &Path) -> Result<(Process, SocketAddr)> {
    let mut proc = spawn(dir, config_path)?;
    match proc
        .wait_ready_file(&dir.join("ready"), READY_TIMEOUT)
        .await
    {
        Ok(addr) => Ok((proc, addr)),
        Err(e) => {
            drop(proc);
            bail!("{e:#}\n{}", log_tail(&log_path(dir), LOG_TAIL_LINES))
        }
    }
}

/// Spawns `stockbelld run`, logging to `daemon.log`, without waiting for it.
fn spawn(dir: &Path, config_path: &Path) -> Result<Process> {
    let ready = dir.join("ready");
    let mut cmd = run_command(&stockbelld_bin()?, config_path, &ready);
    log_to(&mut cmd, &log_path(dir))?;
    spawn_fresh("stockbelld", &mut cmd, &ready)
}

/// Everything the daemon wrote to stdout and stderr, over all its runs.
fn log_path(dir: &Path) -> PathBuf {
    dir.join("daemon.log")
}
