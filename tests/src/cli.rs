//! Running `stockbelld` subcommands that exit on their own (`check-config`).

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result};

use crate::daemon::stockbelld_bin;

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
