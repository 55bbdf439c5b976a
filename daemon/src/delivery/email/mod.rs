//! Email: sending an outbox entry's message over a pooled SMTP connection (`smtp.rs`)
//! or, with no SMTP configured, as `{seq:020}.eml` into a directory. The message itself
//! (deterministic Message-ID, RFC 8058 one-click unsubscribe headers for marketing) is
//! built in `mime.rs`; with `[email.dkim]` it is signed (`dkim.rs`) right after it is
//! built, so SMTP and `.eml` files get the same signed bytes.

pub mod dkim;
pub(crate) mod mime;
mod smtp;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::Message;
use serde::Deserialize;

pub use mime::{build_message, message_id, unsubscribe_token};

use self::dkim::DkimSigner;
pub use self::smtp::load_ca_file;
use self::smtp::{smtp_transport, SmtpPool};
use super::{ChannelConfigError, Rendered, SendError};
use crate::domain::message::OutboxEntry;
use crate::settings::Dur;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// The From mailbox, e.g. `"Shop <news@shop.example>"`; its domain also names the
    /// Message-ID and the unsubscribe mailto.
    pub from: String,
    /// Send over SMTP; without it every message is written to `eml_dir` instead.
    pub smtp: Option<SmtpConfig>,
    /// Where `.eml` files go when `smtp` is not set.
    pub eml_dir: PathBuf,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            from: "stockbell <stockbell@localhost>".into(),
            smtp: None,
            eml_dir: PathBuf::from("/var/lib/stockbell/eml"),
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Defaults by `tls`: 25 (none), 587 (starttls), 465 (implicit).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Connections kept open and reused.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Deadline for each SMTP command, connecting included.
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    /// PEM CA certificate(s) trusted for the server's certificate with `starttls` /
    /// `implicit`, instead of the public (webpki) roots; unset = the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_pool_size() -> u32 {
    4
}

fn default_timeout() -> Dur {
    Dur(Duration::from_secs(30))
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// `none` is plain text (a local relay); `starttls` upgrades port 587; `implicit` is TLS
/// from the first byte (port 465). Both TLS modes verify against the webpki roots, or
/// against `ca_file` alone when it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum SmtpTls {
    #[serde(rename = "none")]
    None,
    #[default]
    #[serde(rename = "starttls", alias = "start_tls")]
    StartTls,
    #[serde(rename = "implicit")]
    Implicit,
}

enum Transport {
    Smtp(SmtpPool),
    Eml(PathBuf),
}

pub struct EmailSender {
    from: Mailbox,
    domain: String,
    transport: Transport,
    dkim: Option<Arc<DkimSigner>>,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_string(),
            Transport::Eml(dir) => format!("eml:{}", dir.display()),
        };
        f.debug_struct("EmailSender")
            .field("from", &self.from.to_string())
            .field("transport", &transport)
            .field("dkim", &self.dkim)
            .finish()
    }
}

impl EmailSender {
    /// Checks the config and sets up the transport. With SMTP this must run inside a
    /// Tokio runtime (the connection pool starts a task); nothing connects yet.
    pub fn new(config: &EmailConfig) -> Result<EmailSender, ChannelConfigError> {
        let from: Mailbox = config.from.parse().map_err(|e| {
            ChannelConfigError::new(
                "email.from",
                format!(
                    "{:?} is not a mailbox ({e}); write e.g. \"Shop <news@shop.example>\"",
                    config.from
                ),
            )
        })?;
        let domain = from.email.domain().to_string();
        let transport = match &config.smtp {
            Some(smtp) => Transport::Smtp(smtp_transport(smtp)?),
            None => {
                std::fs::create_dir_all(&config.eml_dir).map_err(|e| {
                    ChannelConfigError::new(
                        "email.eml_dir",
                        format!("cannot create {}: {e}", config.eml_dir.display()),
                    )
                })?;
                Transport::Eml(config.eml_dir.clone())
            }
        };
        Ok(EmailSender {
            from,
            domain,
            transport,
            dkim: None,
        })
    }

    /// Signs every message this sender builds with `signer` (none: unsigned).
    pub fn with_dkim(mut self, signer: Option<Arc<DkimSigner>>) -> EmailSender {
        self.dkim = signer;
        self
    }

    /// The file an entry is written to when sending to `.eml` files.
    pub fn eml_path(&self, seq: u64) -> Option<PathBuf> {
        match &self.transport {
            Transport::Eml(dir) => Some(dir.join(format!("{seq:020}.eml"))),
            Transport::Smtp(_) => None,
        }
    }

    /// The message as it goes out: built, and signed when DKIM is configured.
    pub fn build_message(
        &self,
        entry: &OutboxEntry,
        rendered: &Rendered,
    ) -> Result<Message, SendError> {
        let message = build_message(&self.from, &self.domain, entry, rendered)?;
        Ok(match &self.dkim {
            Some(signer) => signer.signed(message),
            None => message,
        })
    }

    /// Builds, signs and sends (SMTP) or writes (`.eml`) one message: every email the
    /// daemon sends passes through here. Signing runs on the blocking pool (an RSA 2048
    /// signature takes about 1 ms, too long for an async worker).
    pub async fn send(&self, entry: &OutboxEntry, rendered: &Rendered) -> Result<(), SendError> {
        let message = build_message(&self.from, &self.domain, entry, rendered)?;
        let message = match &self.dkim {
            Some(signer) => {
                let signer = Arc::clone(signer);
                tokio::task::spawn_blocking(move || signer.signed(message))
                    .await
                    .map_err(|e| {
                        SendError::Transient(format!("DKIM signing did not finish: {e}"))
                    })?
            }
            None => message,
        };
        match &self.transport {
            Transport::Smtp(pool) => pool.send(message.envelope(), &message.formatted()).await,
            Transport::Eml(dir) => write_eml(dir, entry.seq, &message.formatted()).await,
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes through a temp file and a rename, so a reader never sees half a message and a
/// resend of the same entry replaces the same file.
async fn write_eml(dir: &Path, seq: u64, bytes: &[u8]) -> Result<(), SendError> {
    let path = dir.join(format!("{seq:020}.eml"));
    let unique = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{seq:020}.{}.{unique}.tmp", std::process::id()));
    let result = async {
        use tokio::io::AsyncWriteExt;
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&tmp, &path).await
    }
    .await;
    result.map_err(|e| {
        // Best effort: a leftover temp file is harmless (dot-named, never read).
        let _ = std::fs::remove_file(&tmp);
        // A full disk or a directory we may not write stops every message, not this one.
        SendError::ChannelDown(format!("cannot write {}: {e}", path.display()))
    })
}

#[cfg(test)]
mod smtp_errors_tests;
#[cfg(test)]
mod tests;
