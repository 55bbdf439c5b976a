//! Child processes (the sink, the daemon) under a guard: waiting for their ready file,
//! stopping them with SIGTERM, and killing them with SIGKILL whenever the guard is dropped
//! without a clean stop (an error anywhere in the load generator).

use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// How often a ready file or an exit is polled.
const POLL: Duration = Duration::from_millis(50);

/// Owns a child process; dropping it kills and reaps the child if it still runs.
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
}

impl ChildGuard {
    /// Spawns `cmd`; `name` is used in messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> anyhow::Result<Self> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start the {name} ({:?})", cmd.get_program()))?;
        Ok(ChildGuard {
            name: name.to_string(),
            child: Some(child),
        })
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The child's stdout, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Whether the child has exited (it is reaped then).
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let status = self.child()?.try_wait()?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    fn child(&mut self) -> anyhow::Result<&mut Child> {
        let name = &self.name;
        self.child
            .as_mut()
            .with_context(|| format!("the {name} was already stopped"))
    }

    /// Polls until `ready_file` exists and is non-empty, returning its trimmed content (the
    /// bound address). Fails if the child exits first or `deadline` passes.
    pub async fn wait_ready(
        &mut self,
        ready_file: &Path,
        deadline: Duration,
    ) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(ready_file) {
                let addr = text.trim();
                if !addr.is_empty() {
                    return Ok(addr.to_string());
                }
            }
            if let Some(status) = self.child()?.try_wait()? {
                self.child = None;
                bail!("the {} exited before it was ready ({status})", self.name);
            }
            if started.elapsed() > deadline {
                bail!(
                    "the {} did not write {} within {} s",
                    self.name,
                    ready_file.display(),
                    deadline.as_secs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sends SIGTERM and waits up to `grace` for the exit; after that the child is killed and
    /// an error returned.
    pub async fn terminate(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        let name = self.name.clone();
        let child = self.child()?;
        if let Some(status) = child.try_wait()? {
            self.child = None;
            return Ok(status);
        }
        let pid = libc::pid_t::try_from(child.id()).context("child pid out of range")?;
        // SAFETY: kill(2) has no memory effects; the pid is our own child, not yet reaped
        // (we hold its `Child` and `try_wait` just saw it running), so it cannot be reused.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            bail!("cannot send SIGTERM to the {name} (pid {pid}): {err}");
        }
        let started = Instant::now();
        loop {
            if let Some(status) = self.child()?.try_wait()? {
                self.child = None;
                return Ok(status);
            }
            if started.elapsed() > grace {
                self.kill();
                bail!(
                    "the {name} did not exit within {} s of SIGTERM; killed it",
                    grace.as_secs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILLs and reaps the child if it still runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.child.is_some() {
            eprintln!("stockbell-load: killing the {}", self.name);
            self.kill();
        }
    }
}
