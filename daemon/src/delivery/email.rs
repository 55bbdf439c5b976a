//! Email: the MIME message for an outbox entry (deterministic Message-ID, RFC 8058
//! one-click unsubscribe headers for marketing) and sending it over a pooled SMTP
//! connection or, with no SMTP configured, as `{seq:020}.eml` into a directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use super::{ChannelConfigError, OutboxEntry, SendError};
use crate::config::Dur;

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
            .finish()
    }
}

/// `none` is plain text (a local relay); `starttls` upgrades port 587; `implicit` is TLS
/// from the first byte (port 465). Both TLS modes verify against the webpki roots.
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
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Eml(PathBuf),
}

pub struct EmailSender {
    from: Mailbox,
    domain: String,
    transport: Transport,
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
        })
    }

    /// The file an entry is written to when sending to `.eml` files.
    pub fn eml_path(&self, seq: u64) -> Option<PathBuf> {
        match &self.transport {
            Transport::Eml(dir) => Some(dir.join(format!("{seq:020}.eml"))),
            Transport::Smtp(_) => None,
        }
    }

    pub fn build_message(&self, entry: &OutboxEntry) -> Result<Message, SendError> {
        build_message(&self.from, &self.domain, entry)
    }

    pub async fn send(&self, entry: &OutboxEntry) -> Result<(), SendError> {
        let message = self.build_message(entry)?;
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP: {e}"))),
                // 4xx, timeouts, refused connections, TLS trouble: try again later.
                Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
            },
            Transport::Eml(dir) => write_eml(dir, entry.seq, &message.formatted()).await,
        }
    }
}

fn smtp_transport(
    smtp: &SmtpConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, ChannelConfigError> {
    if smtp.host.trim().is_empty() {
        return Err(ChannelConfigError::new(
            "email.smtp.host",
            "is empty; set the SMTP server's host name, or remove [email.smtp] to write .eml files",
        ));
    }
    if smtp.pool_size == 0 {
        return Err(ChannelConfigError::new(
            "email.smtp.pool_size",
            "must be at least 1",
        ));
    }
    let tls_error = |e: lettre::transport::smtp::Error| {
        ChannelConfigError::new(
            "email.smtp.tls",
            format!("cannot set up TLS for {}: {e}", smtp.host),
        )
    };
    let (builder, default_port) = match smtp.tls {
        SmtpTls::None => (
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.trim()),
            25,
        ),
        SmtpTls::StartTls => (
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(smtp.host.trim())
                .map_err(tls_error)?,
            587,
        ),
        SmtpTls::Implicit => (
            AsyncSmtpTransport::<Tokio1Executor>::relay(smtp.host.trim()).map_err(tls_error)?,
            465,
        ),
    };
    let mut builder = builder
        .port(smtp.port.unwrap_or(default_port))
        .timeout(Some(smtp.timeout.0))
        .pool_config(PoolConfig::new().max_size(smtp.pool_size));
    match (&smtp.username, &smtp.password) {
        (Some(user), Some(pass)) => {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        (None, None) => {}
        _ => {
            return Err(ChannelConfigError::new(
                "email.smtp.username",
                "username and password must be set together",
            ))
        }
    }
    Ok(builder.build())
}

pub fn message_id(seq: u64, domain: &str) -> String {
    format!("<stockbell-{seq}@{domain}>")
}

/// Builds the message. The Date is the entry's creation time, so a resend is the same
/// message apart from the MIME boundary.
pub fn build_message(
    from: &Mailbox,
    domain: &str,
    entry: &OutboxEntry,
) -> Result<Message, SendError> {
    let to: Mailbox = entry.address.parse().map_err(|e| {
        SendError::Permanent(format!("{:?} is not an email address: {e}", entry.address))
    })?;
    let created = UNIX_EPOCH + Duration::from_millis(u64::try_from(entry.created_ms).unwrap_or(0));
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(entry.rendered.subject.clone())
        .date(created)
        .message_id(Some(message_id(entry.seq, domain)));
    if entry.marketing {
        let url = header_safe(&entry.context.unsubscribe_url);
        let mailto = url
            .and_then(unsubscribe_token)
            .map(|token| format!("<mailto:unsubscribe@{domain}?subject=unsubscribe-{token}>"));
        let targets: Vec<String> = url
            .map(|u| format!("<{u}>"))
            .into_iter()
            .chain(mailto)
            .collect();
        if !targets.is_empty() {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                targets.join(", "),
            ));
        }
        // RFC 8058: one-click needs an HTTP(S) target that takes the POST.
        if url.is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")) {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
        }
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            entry.rendered.text.clone(),
            entry.rendered.html.clone(),
        ))
        .map_err(|e| SendError::Permanent(format!("cannot build email: {e}")))
}

/// A URL that can go inside `<…>` in a header as is: printable ASCII, no brackets,
/// commas or spaces. Anything else is left out rather than mangled.
fn header_safe(url: &str) -> Option<&str> {
    let ok = !url.is_empty()
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b','));
    ok.then_some(url)
}

/// The customer's unsubscribe token: the `token` query parameter if there is one, else
/// the URL's last path segment. Only unreserved characters, so the mailto needs no escaping.
pub fn unsubscribe_token(url: &str) -> Option<&str> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let from_query = query
        .split(['&', '#'])
        .find_map(|pair| pair.strip_prefix("token="));
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    let from_path = after_scheme
        .split_once('/')
        .and_then(|(_, p)| p.split('#').next())
        .and_then(|p| p.rsplit('/').find(|s| !s.is_empty()));
    let token = from_query.or(from_path)?;
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    (!token.is_empty() && token.chars().all(unreserved)).then_some(token)
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
        SendError::Transient(format!("cannot write {}: {e}", path.display()))
    })
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
