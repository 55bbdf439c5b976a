//! Child processes the harness owns — `stockbelld`, the SMTP server, the load generator's
//! sinks: spawned under a name, waited for with a deadline (failing at once when the
//! process exits first), stopped with SIGTERM or SIGKILL, and SIGKILLed and reaped when
//! dropped while still running, so that no test or benchmark leaves one behind.

use std::fs::{self, OpenOptions};
use std::future::ready;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus};
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};

use crate::poll::{give_up, poll_until};

/// How long a SIGKILLed process may take to be reaped.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// A running (or exited, not yet dropped) child process.
pub struct Process {
    name: String,
    child: Child,
    exit: Option<ExitStatus>,
    /// Printed to stderr as "{note}: killing the {name}" when dropping kills the process.
    kill_note: Option<String>,
}

impl Process {
    /// Spawns `cmd`; `name` ("stockbelld", "SMTP server", …) is used in messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Process> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start the {name} ({:?})", cmd.get_program()))?;
        Ok(Process {
            name: name.to_string(),
            child,
            exit: None,
            kill_note: None,
        })
    }

    /// Says "{prefix}: killing the {name}" on stderr if dropping has to kill the process
    /// (a tool wants that on an early exit; tests kill their daemons on drop routinely).
    pub fn say_when_killed_on_drop(mut self, prefix: &str) -> Process {
        self.kill_note = Some(prefix.to_string());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id, while the process has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.exit.is_none().then(|| self.child.id())
    }

    /// The process's stdout, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The exit status if the process has exited (reaping it), `None` while it runs.
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for the {}", self.name))?;
        }
        Ok(self.exit)
    }

    /// Fails if the process has exited; the error ends a [`poll_until`] at once.
    pub fn check_running(&mut self) -> Result<()> {
        match self.try_exit()? {
            None => Ok(()),
            Some(status) => Err(give_up(anyhow!("the {} exited ({status})", self.name))),
        }
    }

    /// Sends `sig` unless the process has been reaped (so its pid cannot have been reused).
    pub fn signal(&mut self, sig: libc::c_int) -> Result<()> {
        if self.try_exit()?.is_some() {
            return Ok(());
        }
        let pid = libc::pid_t::try_from(self.child.id()).context("pid out of range")?;
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our unreaped child.
        let rc = unsafe { libc::kill(pid, sig) };
        ensure!(
            rc == 0,
            "cannot send signal {sig} to the {} (pid {pid}): {}",
            self.name,
            std::io::Error::last_os_error()
        );
        Ok(())
    }

    /// Waits up to `timeout` for the process to exit; `None` if it still runs.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let name = self.name.clone();
        let waited = poll_until(timeout, || {
            ready(match self.try_exit() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(anyhow!("the {name} still runs")),
                Err(e) => Err(give_up(e)),
            })
        })
        .await;
        match waited {
            Ok(status) => Ok(Some(status)),
            // Timed out (`None`), or the error of waiting for it again.
            Err(_) => self.try_exit(),
        }
    }

    /// Sends SIGTERM and waits up to `grace` for the exit. A process still running then is
    /// SIGKILLed and an error returned.
    pub async fn terminate(&mut self, grace: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.try_exit()? {
            return Ok(status);
        }
        self.signal(libc::SIGTERM)?;
        if let Some(status) = self.wait_exit(grace).await? {
            return Ok(status);
        }
        self.kill9().await?;
        bail!(
            "the {} did not exit within {grace:?} of SIGTERM; killed it",
            self.name
        )
    }

    /// Sends SIGKILL and reaps the process.
    pub async fn kill9(&mut self) -> Result<ExitStatus> {
        self.signal(libc::SIGKILL)?;
        match self.wait_exit(KILL_TIMEOUT).await? {
            Some(status) => Ok(status),
            None => bail!(
                "the {} did not die within {KILL_TIMEOUT:?} of SIGKILL",
                self.name
            ),
        }
    }

    /// Runs `check` every 20 ms until it returns `Ok` (an `Err` means "not yet"), for up to
    /// `timeout`; fails at once if the process exits first. `what` names the wait in
    /// that error ("the {name} exited (…) before {what}").
    pub async fn wait_until<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        poll_until(timeout, || {
            ready(match self.try_exit() {
                Ok(Some(status)) => Err(give_up(anyhow!(
                    "the {} exited ({status}) before {what}",
                    self.name
                ))),
                Ok(None) => check(),
                Err(e) => Err(give_up(e)),
            })
        })
        .await
    }

    /// Waits until `ready_file` holds an address (a daemon's or a sink's `--ready-file`:
    /// written once it listens) and returns it.
    pub async fn wait_ready_file(
        &mut self,
        ready_file: &Path,
        timeout: Duration,
    ) -> Result<SocketAddr> {
        self.wait_until("it was ready", timeout, || {
            let text = fs::read_to_string(ready_file).unwrap_or_default();
            text.trim()
                .parse()
                .map_err(|_| anyhow!("no address in {} yet ({text:?})", ready_file.display()))
        })
        .await
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.try_exit(), Ok(None)) {
            if let Some(note) = &self.kill_note {
                eprintln!("{note}: killing the {}", self.name);
            }
            if self.signal(libc::SIGKILL).is_ok() {
                let _ = self.child.wait();
            }
        }
    }
}

/// Sends the command's stdout and stderr to `log`, appending (a restarted process adds
/// to the same file).
pub fn log_to(cmd: &mut Command, log: &Path) -> Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    cmd.stdout(file.try_clone().context("cloning the log file handle")?)
        .stderr(file);
    Ok(())
}

/// The last `lines` lines of the log at `path`, under a header naming it.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    format!(
        "--- {} (last {} lines) ---\n{}",
        path.display(),
        all.len() - start,
        all[start..].join("\n")
    )
}

#[cfg(test)]
mod tests {
    use std::process::Stdio;

    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]).stdin(Stdio::null());
        cmd
    }

    #[tokio::test]
    async fn a_process_that_exits_before_it_is_ready_fails_the_wait_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut p = Process::spawn("tool", &mut sh("exit 3")).expect("spawn sh");
        let started = tokio::time::Instant::now();
        let e = p
            .wait_ready_file(&dir.path().join("ready"), Duration::from_secs(30))
            .await
            .expect_err("it exited");
        assert!(started.elapsed() < Duration::from_secs(10));
        let text = format!("{e:#}");
        assert!(
            text.contains("the tool exited") && text.contains("before it was ready"),
            "{text}"
        );
        assert!(p.pid().is_none());
    }

    #[tokio::test]
    async fn the_ready_file_gives_the_address_and_sigterm_stops_the_process() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ready = dir.path().join("ready");
        let script = format!(
            "echo 127.0.0.1:4321 > {0}.tmp && mv {0}.tmp {0} && exec sleep 60",
            ready.display()
        );
        let mut p = Process::spawn("tool", &mut sh(&script)).expect("spawn sh");
        let addr = p
            .wait_ready_file(&ready, Duration::from_secs(10))
            .await
            .expect("ready");
        assert_eq!(addr, "127.0.0.1:4321".parse().expect("addr"));
        p.check_running().expect("still running");
        let status = p.terminate(Duration::from_secs(10)).await.expect("exits");
        assert!(!status.success(), "killed by SIGTERM: {status}");
        assert!(p.check_running().is_err());
    }

    #[tokio::test]
    async fn dropping_a_running_process_kills_it() {
        let p = Process::spawn("tool", &mut sh("exec sleep 60")).expect("spawn sh");
        let pid = libc::pid_t::try_from(p.pid().expect("running")).expect("pid");
        drop(p);
        // SAFETY: signal 0 only checks whether the pid exists; it was reaped on drop.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        assert!(!alive, "pid {pid} survived the drop");
    }
}
