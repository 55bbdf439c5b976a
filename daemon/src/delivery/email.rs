//! Email: the MIME message for an outbox entry (deterministic Message-ID, RFC 8058
//! one-click unsubscribe headers for marketing) and sending it over a pooled SMTP
//! connection or, with no SMTP configured, as `{seq:020}.eml` into a directory.
//!
//! The SMTP pool is ours, on lettre's connections: lettre's pooled transport writes a
//! message and its final `CRLF.CRLF` in two writes on a socket with Nagle's algorithm
//! on, so the small second write waits for the server's delayed ACK (40 ms on Linux) —
//! about 20 messages per second per connection whatever the server. Here the message
//! and its terminator go out in one write, and a connection used moments ago is reused
//! without lettre's NOOP round trip.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Noop, Quit, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Message;
use serde::Deserialize;

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
    Smtp(SmtpPool),
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

    pub fn build_message(
        &self,
        entry: &OutboxEntry,
        rendered: &Rendered,
    ) -> Result<Message, SendError> {
        build_message(&self.from, &self.domain, entry, rendered)
    }

    pub async fn send(&self, entry: &OutboxEntry, rendered: &Rendered) -> Result<(), SendError> {
        let message = self.build_message(entry, rendered)?;
        match &self.transport {
            Transport::Smtp(pool) => pool.send(message.envelope(), &message.formatted()).await,
            Transport::Eml(dir) => write_eml(dir, entry.seq, &message.formatted()).await,
        }
    }
}

/// A parked connection is used without a NOOP check if it was used this recently (if it
/// died meanwhile, MAIL FROM fails before anything is sent and a new connection is used).
const FRESH: Duration = Duration::from_secs(30);

/// How a send failed, before it is classified for the dispatcher.
enum Failure {
    Smtp(lettre::transport::smtp::Error),
    Timeout(&'static str),
    /// Refused by us before sending (e.g. 8-bit content the server cannot take).
    Unsendable(String),
}

impl Failure {
    fn into_send_error(self, timeout: Duration) -> SendError {
        match self {
            Failure::Smtp(e) if e.is_permanent() => SendError::Permanent(format!("SMTP: {e}")),
            // 4xx, refused connections, TLS trouble: try again later.
            Failure::Smtp(e) => SendError::Transient(format!("SMTP: {e}")),
            Failure::Timeout(step) => SendError::Transient(format!(
                "SMTP: no answer to {step} within {} s",
                timeout.as_secs_f64()
            )),
            Failure::Unsendable(why) => SendError::Permanent(format!("SMTP: {why}")),
        }
    }
}

/// Up to `max_idle` open connections to one SMTP server, most recently used first.
struct SmtpPool {
    host: String,
    port: u16,
    tls: SmtpTls,
    tls_params: Option<TlsParameters>,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

/// An open SMTP connection and whether its server takes pipelined commands (RFC 2920).
struct Conn {
    smtp: AsyncSmtpConnection,
    pipelining: bool,
}

impl std::fmt::Debug for SmtpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpPool")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("auth", &self.credentials.is_some())
            .field("timeout", &self.timeout)
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

impl SmtpPool {
    /// Runs one step under the per-command deadline.
    async fn step<T>(
        &self,
        what: &'static str,
        f: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(Failure::Smtp),
            Err(_) => Err(Failure::Timeout(what)),
        }
    }

    async fn connect(&self) -> Result<Conn, Failure> {
        let implicit = match self.tls {
            SmtpTls::Implicit => self.tls_params.clone(),
            SmtpTls::None | SmtpTls::StartTls => None,
        };
        let server = (self.host.as_str(), self.port);
        let connect = AsyncSmtpConnection::connect_tokio1(
            server,
            Some(self.timeout),
            &self.hello,
            implicit,
            None,
        );
        let mut conn = self.step("connecting", connect).await?;
        if let (SmtpTls::StartTls, Some(params)) = (self.tls, &self.tls_params) {
            self.step("STARTTLS", conn.starttls(params.clone(), &self.hello))
                .await?;
        }
        // lettre keeps only the EHLO keywords it knows, and PIPELINING is not one of them:
        // ask again (before AUTH, so the repeated EHLO cannot reset a login).
        let ehlo = self
            .step("EHLO", conn.command(Ehlo::new(self.hello.clone())))
            .await?;
        let pipelining = ehlo.message().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        });
        if let Some(credentials) = &self.credentials {
            self.step("AUTH", conn.auth(DEFAULT_MECHANISMS, credentials))
                .await?;
        }
        Ok(Conn {
            smtp: conn,
            pipelining,
        })
    }

    /// The most recently parked connection, NOOP-checked if it idled for long.
    async fn checkout(&self) -> Option<Conn> {
        loop {
            let (mut conn, since) = self.idle.lock().ok()?.pop()?;
            if since.elapsed() < FRESH {
                return Some(conn);
            }
            if let Ok(Ok(_)) = tokio::time::timeout(self.timeout, conn.smtp.command(Noop)).await {
                return Some(conn);
            }
        }
    }

    /// Parks a healthy connection, or says goodbye to it if the pool is full.
    fn checkin(&self, mut conn: Conn) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.max_idle {
                idle.push((conn, Instant::now()));
                return;
            }
        }
        let timeout = self.timeout;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(timeout, conn.smtp.command(Quit)).await;
        });
    }

    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let Some(data) = dot_stuffed(message) else {
            return Err(SendError::Permanent(
                "SMTP: the built message is not UTF-8".into(),
            ));
        };
        let mut parked = self.checkout().await;
        loop {
            let reused = parked.is_some();
            let mut conn = match parked.take() {
                Some(c) => c,
                None => self
                    .connect()
                    .await
                    .map_err(|f| f.into_send_error(self.timeout))?,
            };
            match self.transaction(&mut conn, envelope, &data).await {
                Ok(()) => {
                    self.checkin(conn);
                    return Ok(());
                }
                // A parked connection the server closed meanwhile: nothing was sent;
                // try once more on a new one.
                Err((true, Failure::Smtp(e))) if reused && e.status().is_none() => {
                    tracing::debug!(error = %e, "A pooled SMTP connection was closed; reconnecting.");
                }
                // Any other failure: the connection is dropped (closed), not reused.
                Err((_, f)) => return Err(f.into_send_error(self.timeout)),
            }
        }
    }

    /// MAIL, RCPT, DATA (pipelined when the server offers it), then the message with its
    /// terminator in one write. The error says whether it happened at MAIL FROM (before
    /// the server took anything).
    async fn transaction(
        &self,
        conn: &mut Conn,
        envelope: &Envelope,
        data: &str,
    ) -> Result<(), (bool, Failure)> {
        let pipelining = conn.pipelining;
        let conn = &mut conn.smtp;
        let info = conn.server_info();
        let mut params = Vec::new();
        let non_ascii_address = envelope
            .from()
            .is_some_and(|a| !AsRef::<str>::as_ref(a).is_ascii())
            || envelope
                .to()
                .iter()
                .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii_address {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                let why = "an address is not ASCII and the server does not offer SMTPUTF8";
                return Err((false, Failure::Unsendable(why.into())));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !data.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                let why = "the message is not ASCII and the server does not offer 8BITMIME";
                return Err((false, Failure::Unsendable(why.into())));
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(envelope.from().cloned(), params);
        if pipelining {
            // MAIL, every RCPT and DATA in one write, then their replies in order: two
            // round trips per message instead of four. Any refusal drops the connection,
            // so replies still unread after it do not matter.
            let mut commands = mail.to_string();
            for to in envelope.to() {
                commands.push_str(&Rcpt::new(to.clone(), Vec::new()).to_string());
            }
            commands.push_str(&Data.to_string());
            self.step("MAIL FROM", conn.command(commands))
                .await
                .map_err(|f| (true, f))?;
            for _ in envelope.to() {
                self.step("RCPT TO", conn.read_response())
                    .await
                    .map_err(|f| (false, f))?;
            }
            self.step("DATA", conn.read_response())
                .await
                .map_err(|f| (false, f))?;
        } else {
            self.step("MAIL FROM", conn.command(mail))
                .await
                .map_err(|f| (true, f))?;
            for to in envelope.to() {
                let rcpt = Rcpt::new(to.clone(), Vec::new());
                self.step("RCPT TO", conn.command(rcpt))
                    .await
                    .map_err(|f| (false, f))?;
            }
            self.step("DATA", conn.command(Data))
                .await
                .map_err(|f| (false, f))?;
        }
        self.step("the message", conn.command(data))
            .await
            .map_err(|f| (false, f))?;
        Ok(())
    }
}

/// The message as sent after DATA: lines starting with "." get another one (RFC 5321
/// 4.5.2, as lettre does it), then `CRLF.CRLF`. `None` if it is not UTF-8 (a built
/// message always is: lettre encodes every part as 7-bit ASCII or UTF-8 text).
fn dot_stuffed(message: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(message).ok()?;
    let mut out = String::with_capacity(text.len() + 16);
    // Lines start at the beginning and after each CRLF; a leading dot is doubled. Copies
    // whole runs between such dots (a byte-at-a-time loop here cost 5 % of the CPU of
    // sending mail).
    if text.starts_with('.') {
        out.push('.');
    }
    let mut rest = text;
    while let Some(i) = rest.find("\r\n.") {
        out.push_str(&rest[..i + 2]);
        out.push('.');
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out.push_str("\r\n.\r\n");
    Some(out)
}

fn smtp_transport(smtp: &SmtpConfig) -> Result<SmtpPool, ChannelConfigError> {
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
    let host = smtp.host.trim().to_string();
    let tls_params = match smtp.tls {
        SmtpTls::None => None,
        SmtpTls::StartTls | SmtpTls::Implicit => {
            Some(TlsParameters::new(host.clone()).map_err(|e| {
                ChannelConfigError::new(
                    "email.smtp.tls",
                    format!("cannot set up TLS for {host}: {e}"),
                )
            })?)
        }
    };
    let default_port = match smtp.tls {
        SmtpTls::None => 25,
        SmtpTls::StartTls => 587,
        SmtpTls::Implicit => 465,
    };
    let credentials = match (&smtp.username, &smtp.password) {
        (Some(user), Some(pass)) => Some(Credentials::new(user.clone(), pass.clone())),
        (None, None) => None,
        _ => {
            return Err(ChannelConfigError::new(
                "email.smtp.username",
                "username and password must be set together",
            ))
        }
    };
    Ok(SmtpPool {
        host,
        port: smtp.port.unwrap_or(default_port),
        tls: smtp.tls,
        tls_params,
        credentials,
        hello: ClientId::default(),
        timeout: smtp.timeout.0,
        max_idle: smtp.pool_size as usize,
        idle: Mutex::new(Vec::new()),
    })
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
    rendered: &Rendered,
) -> Result<Message, SendError> {
    let to: Mailbox = entry.address.parse().map_err(|e| {
        SendError::Permanent(format!("{:?} is not an email address: {e}", entry.address))
    })?;
    let created = UNIX_EPOCH + Duration::from_millis(u64::try_from(entry.created_ms).unwrap_or(0));
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.clone())
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
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(part_body(&rendered.text)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(part_body(&rendered.html)),
                ),
        )
        .map_err(|e| SendError::Permanent(format!("cannot build email: {e}")))
}

/// A text part's body: ASCII as lettre sees fit (7bit, or quoted-printable for long
/// lines), anything else (Japanese) base64, which is smaller for it than quoted-printable
/// and several times cheaper to encode.
fn part_body(text: &str) -> Body {
    if text.is_ascii() {
        return Body::new(text.to_owned());
    }
    Body::new_with_encoding(text.to_owned(), ContentTransferEncoding::Base64)
        .unwrap_or_else(Body::new)
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
