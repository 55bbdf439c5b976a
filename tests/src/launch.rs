//! Running the `stockbelld` binary: finding it, the `run` command line, spawning it (or
//! any subcommand given `--ready-file`) as a child [`Process`] until the ready file names
//! the address it bound — the tests' [`crate::Daemon`] and the load generator's daemons
//! both start this way — and subcommands that exit on their own (`check-config`).

use std::fs;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::process::Process;

/// The `stockbelld` binary: `$STOCKBELLD_BIN`, else next to the running executable (see
/// [`sibling_bin`]).
pub fn stockbelld_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("STOCKBELLD_BIN") {
        let p = PathBuf::from(p);
        ensure!(p.is_file(), "STOCKBELLD_BIN={} is not a file", p.display());
        return Ok(p);
    }
    let bin = sibling_bin("stockbelld")?;
    ensure!(
        bin.is_file(),
        "stockbelld binary not found at {}: run `cargo build --release --bins` first \
         (or set STOCKBELLD_BIN)",
        bin.display()
    );
    Ok(bin)
}

/// Where the workspace binary `name` is built next to the running executable: its own
/// directory, or for a test binary (`<target>/release/deps/<test>`) the profile directory
/// above it. The file may not exist.
pub fn sibling_bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the current executable")?;
    let mut dir = exe
        .parent()
        .with_context(|| format!("{} has no parent directory", exe.display()))?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps dir has no parent")?;
    }
    Ok(dir.join(name))
}

/// `BIN run --config CONFIG --ready-file READY` with stdin closed; the caller chooses
/// where its output goes.
pub fn run_command(bin: &Path, config: &Path, ready: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .arg("--ready-file")
        .arg(ready)
        .stdin(Stdio::null());
    cmd
}

/// Removes a stale `ready` file, spawns `cmd` (which writes `ready` once it listens) as
/// the process `name`, and waits up to `timeout` for the address in it. A process that
/// exits first fails the wait at once; one not ready in time fails it then (and is killed
/// when the [`Process`] inside the error path is dropped).
pub async fn spawn_ready(
    name: &str,
    cmd: &mut Command,
    ready: &Path,
    timeout: Duration,
) -> Result<(Process, SocketAddr)> {
    let mut proc = spawn_fresh(name, cmd, ready)?;
    let addr = proc.wait_ready_file(ready, timeout).await?;
    Ok((proc, addr))
}

/// Removes a stale `ready` file (so that only the new process's address counts) and
/// spawns `cmd` as the process `name`, without waiting.
pub fn spawn_fresh(name: &str, cmd: &mut Command, ready: &Path) -> Result<Process> {
    match fs::remove_file(ready) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", ready.display())),
    }
    Process::spawn(name, cmd)
}

/// What a finished subcommand printed.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// stdout and stderr together, for "mentions X" checks.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// `stockbelld check-config FILE`.
pub fn check_config(file: &Path) -> Result<CliOutput> {
    let bin = stockbelld_bin()?;
    let out = Command::new(&bin)
        .arg("check-config")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} check-config", bin.display()))?;
    Ok(CliOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
