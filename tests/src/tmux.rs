//! A terminal program driven in a real tmux session: start it at a fixed size, send keys,
//! read the screen. For the console's end-to-end test.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::poll_until;

/// `stockbell-console` next to `stockbelld` in the target profile dir (or
/// `$STOCKBELL_CONSOLE_BIN`).
pub fn console_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("STOCKBELL_CONSOLE_BIN") {
        return Ok(PathBuf::from(p));
    }
    let daemon = crate::stockbelld_bin()?;
    let bin = daemon.with_file_name("stockbell-console");
    if !bin.exists() {
        bail!(
            "{} not found: run `cargo build --release --workspace --bins` first",
            bin.display()
        );
    }
    Ok(bin)
}

fn tmux(args: &[&str]) -> Result<String> {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .context("cannot run tmux (apt-get install -y tmux)")?;
    if !out.status.success() {
        bail!(
            "tmux {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One detached tmux session running one command; killed on drop.
pub struct Tmux {
    name: String,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a `width`×`height` terminal.
    pub fn start(command: &str, width: u16, height: u16) -> Result<Tmux> {
        let name = format!("stockbell-test-{}-{}", std::process::id(), crate::now_ms());
        let (w, h) = (width.to_string(), height.to_string());
        tmux(&[
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            &w,
            "-y",
            &h,
            command,
        ])?;
        // Keep the pane after the program exits, so its last screen can be read.
        tmux(&["set-option", "-t", &name, "remain-on-exit", "on"])?;
        Ok(Tmux { name })
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> Result<String> {
        tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    /// Keys in tmux's notation ("q", "Enter", "Escape", "C-c").
    pub fn keys(&self, keys: &[&str]) -> Result<()> {
        let mut args = vec!["send-keys", "-t", self.name.as_str()];
        args.extend_from_slice(keys);
        tmux(&args).map(|_| ())
    }

    /// Waits until `check` accepts the screen; returns that screen.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&str) -> bool,
    ) -> Result<String> {
        poll_until(timeout, || async {
            let s = self.screen()?;
            if check(&s) {
                Ok(s)
            } else {
                bail!("waiting for {what}; the screen is:\n{s}")
            }
        })
        .await
    }

    /// Whether the program in the pane has exited.
    pub fn exited(&self) -> Result<bool> {
        let out = tmux(&["display-message", "-p", "-t", &self.name, "#{pane_dead}"])?;
        Ok(out.trim() == "1")
    }

    /// The program's process id (while it runs).
    pub fn pid(&self) -> Result<u32> {
        let out = tmux(&["display-message", "-p", "-t", &self.name, "#{pane_pid}"])?;
        out.trim().parse().context("tmux pane_pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.name]);
    }
}
