//! `stockbelld backup` (online, through `Admin.CreateBackup`) and `stockbelld restore`
//! (offline, `store::backup::restore`): the operator's side of backups.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use stockbell_proto::auth::Bearer;
use stockbell_proto::v1::{admin_client, Backup, CreateBackupRequest};
use stockbelld::config::Config;
use stockbelld::store::backup::{self, Restored};
use tonic::transport::Endpoint;

/// The daemon's default `server.listen`.
const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

/// `stockbelld backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup directory on the daemon's host: must not exist, its parent must (a
    /// relative path is taken from the current directory).
    #[arg(long)]
    pub to: PathBuf,
    /// The daemon's config: its `server.listen` and first `auth.admin_tokens` entry are
    /// the defaults of --addr and --token.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The daemon's gRPC address (`host:port` or `http://host:port`).
    #[arg(long, env = "STOCKBELL_ADDR")]
    pub addr: Option<String>,
    /// Admin bearer token (one of the daemon's `auth.admin_tokens`).
    #[arg(long, env = "STOCKBELL_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// `stockbelld restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup directory (with its `stockbell-backup.json`).
    #[arg(long)]
    pub from: PathBuf,
    /// The data directory to restore into (the daemon's `storage.path`); the daemon must
    /// be stopped.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Restore even if --data-dir is not empty: the old directory is kept, renamed to
    /// `<data-dir>.replaced-<ms>`.
    #[arg(long)]
    pub force: bool,
}

/// Where a client reaches a server listening on `listen`: the wildcard addresses are
/// reached on loopback.
fn client_addr(listen: &str) -> String {
    let local = listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:");
    if local.contains("://") {
        local
    } else {
        format!("http://{local}")
    }
}

/// The address and token to use: the flags, else the config's, else the defaults.
fn target(args: &BackupArgs) -> Result<(String, Option<String>)> {
    let cfg = match &args.config {
        Some(path) => Some(Config::load(path).map_err(|e| anyhow!("--config: {e}"))?),
        None => None,
    };
    let addr = match (&args.addr, &cfg) {
        (Some(a), _) => client_addr(a),
        (None, Some(c)) => client_addr(&c.server.listen),
        (None, None) => DEFAULT_ADDR.to_string(),
    };
    let token = args.token.clone().or_else(|| {
        cfg.as_ref()
            .and_then(|c| c.auth.admin_tokens.first().cloned())
    });
    Ok((addr, token))
}

/// Asks the daemon for a backup into `args.to` and returns its answer.
pub async fn backup(args: &BackupArgs) -> Result<Backup> {
    let to =
        std::path::absolute(&args.to).with_context(|| format!("--to: {}", args.to.display()))?;
    let Some(dir) = to.to_str() else {
        bail!("--to: {} is not UTF-8: choose another path", to.display());
    };
    let (addr, token) = target(args)?;
    let bearer =
        Bearer::new(token.as_deref()).map_err(|e| anyhow!("--token (or the config's): {e}"))?;
    let channel = Endpoint::from_shared(addr.clone())
        .map_err(|_| anyhow!("--addr: {addr:?} is not an address; write e.g. {DEFAULT_ADDR}"))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("--addr: cannot connect to {addr}"))?;
    let mut admin = admin_client::AdminClient::with_interceptor(channel, bearer);
    let answer = admin
        .create_backup(CreateBackupRequest { dir: dir.into() })
        .await
        .map_err(|s| anyhow!("Admin.CreateBackup: {:?}: {}", s.code(), s.message()))?;
    Ok(answer.into_inner())
}

/// The lines `stockbelld backup` prints.
pub fn backup_summary(b: &Backup) -> String {
    let mut out = format!(
        "backup {}: {} files, {} bytes, taken_ms {}, stockbelld {}, {} ms\n",
        b.dir, b.files, b.bytes, b.taken_ms, b.stockbelld_version, b.elapsed_ms
    );
    for p in &b.producers {
        out.push_str(&format!(
            "producer {} sequence {}\n",
            p.producer_id, p.sequence
        ));
    }
    out
}

/// Verifies the backup and restores it (offline).
pub fn restore(args: &RestoreArgs) -> Result<Restored> {
    backup::restore(
        &args.from,
        &args.data_dir,
        args.force,
        stockbelld::clock::now_ms(),
    )
    .map_err(|e| anyhow!("{e}"))
}

/// The lines `stockbelld restore` prints.
pub fn restore_summary(from: &Path, r: &Restored) -> String {
    let m = &r.manifest;
    let mut out = format!(
        "restored {} -> {}: {} files, {} bytes, taken_ms {}, stockbelld {}\n",
        from.display(),
        r.data_dir.display(),
        m.files.len(),
        m.bytes(),
        m.taken_ms,
        m.stockbelld_version
    );
    if let Some(old) = &r.replaced {
        out.push_str(&format!("previous data dir kept as {}\n", old.display()));
    }
    for p in &m.producers {
        out.push_str(&format!(
            "producer {} sequence {}\n",
            p.producer_id, p.sequence
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_are_reached_on_loopback() {
        assert_eq!(client_addr("0.0.0.0:50051"), "http://127.0.0.1:50051");
        assert_eq!(client_addr("[::]:7"), "http://[::1]:7");
        assert_eq!(client_addr("127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(client_addr("http://h:1"), "http://h:1");
    }

    #[test]
    fn flags_win_over_the_config() {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = dir.path().join("c.toml");
        std::fs::write(
            &cfg,
            "[server]\nlisten = \"127.0.0.1:6000\"\n[auth]\nadmin_tokens = \
             [\"admin-token-0123456789\"]\n",
        )
        .expect("write");
        let mut args = BackupArgs {
            to: "/x".into(),
            config: Some(cfg),
            addr: None,
            token: None,
        };
        assert_eq!(
            target(&args).expect("target"),
            (
                "http://127.0.0.1:6000".to_string(),
                Some("admin-token-0123456789".to_string())
            )
        );
        args.addr = Some("127.0.0.1:7000".into());
        args.token = Some("other-token-0123456789".into());
        assert_eq!(
            target(&args).expect("target"),
            (
                "http://127.0.0.1:7000".to_string(),
                Some("other-token-0123456789".to_string())
            )
        );
    }
}
