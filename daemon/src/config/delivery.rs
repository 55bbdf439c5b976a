//! The `[delivery]`, `[http]`, `[email]`, `[line]` and `[webhook]` config sections: the
//! dispatcher's pacing and retries, the public HTTP server, and the channels' settings,
//! with checks that name the offending key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::Config;
use crate::delivery::channels::Channels;
use crate::delivery::dispatcher::DispatcherConfig;
use crate::delivery::email::dkim::{DkimSettings, DkimSigner};
use crate::delivery::email::{EmailConfig, EmailSender, SmtpConfig};
use crate::delivery::line::{LineConfig, LineSender};
use crate::delivery::outbox::{OutboxPolicy, RetryPolicy};
use crate::delivery::webhook::{WebhookConfig, WebhookSender};
use crate::delivery::ChannelConfigError;
use crate::settings::{invalid, ConfigError, Dur};

fn channel_error(e: ChannelConfigError) -> ConfigError {
    invalid(e.key, e.message)
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Signs unsubscribe links; empty = generated once and kept in the database.
    pub unsubscribe_secret: String,
    /// How long an unsubscribe link in a message stays valid.
    pub unsubscribe_ttl: Dur,
    pub poll_interval: Dur,
    pub batch_size: usize,
    pub retry_base: Dur,
    pub retry_max: Dur,
    pub max_attempts: u32,
    /// Transactional messages are retried until they are this old.
    pub transactional_max_age: Dur,
    pub email_concurrency: usize,
    pub line_concurrency: usize,
    pub webhook_concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            unsubscribe_secret: String::new(),
            unsubscribe_ttl: Dur(Duration::from_secs(60 * 86_400)),
            poll_interval: Dur(Duration::from_millis(100)),
            batch_size: 256,
            retry_base: Dur(Duration::from_secs(30)),
            retry_max: Dur(Duration::from_secs(3_600)),
            max_attempts: 8,
            transactional_max_age: Dur(Duration::from_millis(
                crate::delivery::outbox::changes::TRANSACTIONAL_MAX_AGE_MS as u64,
            )),
            email_concurrency: 8,
            line_concurrency: 8,
            webhook_concurrency: 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// The unsubscribe page and `/healthz`. Loopback unless `allow_public`.
    pub listen: String,
    pub allow_public: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            allow_public: false,
        }
    }
}

/// `[email]`: like [`EmailConfig`], but `eml_dir` defaults to `{storage.path}/eml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSection {
    pub from: String,
    pub smtp: Option<SmtpConfig>,
    pub eml_dir: Option<PathBuf>,
    /// `[email.dkim]`: sign every message; unset = unsigned.
    pub dkim: Option<DkimSettings>,
}

impl Default for EmailSection {
    fn default() -> Self {
        EmailSection {
            from: EmailConfig::default().from,
            smtp: None,
            eml_dir: None,
            dkim: None,
        }
    }
}

impl EmailSection {
    /// The channel's config; a relative `eml_dir` is under `storage_path`.
    pub fn resolve(&self, storage_path: &Path) -> EmailConfig {
        let eml_dir = match &self.eml_dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => storage_path.join(d),
            None => storage_path.join("eml"),
        };
        EmailConfig {
            from: self.from.clone(),
            smtp: self.smtp.clone(),
            eml_dir,
        }
    }

    /// The DKIM signer `[email.dkim]` describes (reads the key file), or `None`.
    pub fn dkim_signer(&self) -> Result<Option<DkimSigner>, ChannelConfigError> {
        let Some(settings) = &self.dkim else {
            return Ok(None);
        };
        let from: lettre::message::Mailbox = self.from.parse().map_err(|e| {
            ChannelConfigError::new(
                "email.from",
                format!(
                    "{:?} is not a mailbox ({e}); write e.g. \"Shop <news@shop.example>\"",
                    self.from
                ),
            )
        })?;
        DkimSigner::load(settings, &from).map(Some)
    }
}

impl DeliveryConfig {
    pub fn dispatcher(&self) -> DispatcherConfig {
        DispatcherConfig {
            poll: self.poll_interval.0,
            batch: self.batch_size,
            retry: OutboxPolicy {
                retry: RetryPolicy {
                    base_ms: self.retry_base.ms(),
                    max_ms: self.retry_max.ms(),
                    max_attempts: self.max_attempts,
                },
                transactional_max_age_ms: self.transactional_max_age.ms(),
            },
            email_concurrency: self.email_concurrency,
            line_concurrency: self.line_concurrency,
            webhook_concurrency: self.webhook_concurrency,
        }
    }
}

impl HttpConfig {
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            invalid(
                "http.listen",
                format!(
                    "{:?} is not an address; write e.g. \"127.0.0.1:8080\"",
                    self.listen
                ),
            )
        })
    }
}

/// The senders for the configured channels. With SMTP this must run inside a Tokio
/// runtime; nothing connects yet.
pub fn channels(cfg: &Config) -> Result<Channels, ChannelConfigError> {
    Ok(Channels {
        email: EmailSender::new(&cfg.email.resolve(&cfg.storage.path))?
            .with_dkim(cfg.email.dkim_signer()?.map(std::sync::Arc::new)),
        line: cfg.line.as_ref().map(LineSender::new).transpose()?,
        webhook: cfg.webhook.as_ref().map(WebhookSender::new).transpose()?,
    })
}

/// The host of a URL (`scheme://[user@]host[:port]/…`), without brackets for IPv6.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host_port.split(':').next().unwrap_or("")
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A warning when customers would reach `templates.public_url` over plain HTTP: it is
/// not `https://` and its host is not loopback. `None` when it is fine or empty.
pub fn public_url_warning(public_url: &str) -> Option<String> {
    let url = public_url.trim();
    if url.is_empty() || url.to_ascii_lowercase().starts_with("https://") {
        return None;
    }
    if is_loopback_host(url_host(url)) {
        return None;
    }
    Some(format!(
        "templates.public_url: {url:?} is not https:// — unsubscribe, one-click (RFC 8058), click and cancel links would travel in clear text and mail providers distrust them; put a TLS proxy in front of http.listen (README: \"HTTPS in front of the public endpoints\") and set public_url to its https:// address"
    ))
}

/// Warnings (not errors) about the delivery sections and templates.public_url; the
/// config is usable as it is. Call after [`validate`] succeeded.
pub fn warnings(cfg: &Config, out: &mut Vec<String>) {
    out.extend(public_url_warning(&cfg.templates.public_url));
    if let Ok(Some(signer)) = cfg.email.dkim_signer() {
        if let Some(bits) = signer.rsa_bits().filter(|&b| b < dkim_good_bits()) {
            out.push(format!(
                "email.dkim.key_file: the RSA key has {bits} bits; receivers expect at least {} (RFC 8301): make a 2048-bit key and publish it under a new selector",
                dkim_good_bits()
            ));
        }
    }
}

fn dkim_good_bits() -> usize {
    crate::delivery::email::dkim::GOOD_RSA_BITS
}

/// Checks the five sections.
pub fn validate(
    delivery: &DeliveryConfig,
    http: &HttpConfig,
    email: &EmailSection,
    line: Option<&LineConfig>,
    webhook: Option<&WebhookConfig>,
) -> Result<(), ConfigError> {
    let d = delivery;
    let secret = &d.unsubscribe_secret;
    if !secret.is_empty() && secret.len() < 16 {
        return Err(invalid(
            "delivery.unsubscribe_secret",
            "must be at least 16 characters, or empty to have one generated",
        ));
    }
    if d.unsubscribe_ttl.0 < Duration::from_secs(86_400) {
        return Err(invalid(
            "delivery.unsubscribe_ttl",
            "must be at least \"1d\"",
        ));
    }
    if d.poll_interval.0 < Duration::from_millis(10) || d.poll_interval.0 > Duration::from_secs(60)
    {
        return Err(invalid(
            "delivery.poll_interval",
            "must be from \"10ms\" to \"60s\"",
        ));
    }
    if d.batch_size == 0 {
        return Err(invalid("delivery.batch_size", "must be at least 1"));
    }
    if d.retry_base.0 < Duration::from_millis(10) {
        return Err(invalid("delivery.retry_base", "must be at least \"10ms\""));
    }
    if d.retry_max.0 < d.retry_base.0 {
        return Err(invalid(
            "delivery.retry_max",
            "must be at least delivery.retry_base",
        ));
    }
    if d.max_attempts == 0 {
        return Err(invalid("delivery.max_attempts", "must be at least 1"));
    }
    if d.transactional_max_age.0 < Duration::from_secs(60)
        || d.transactional_max_age.0 < d.retry_max.0
    {
        return Err(invalid(
            "delivery.transactional_max_age",
            "must be at least \"1m\" and at least delivery.retry_max (e.g. \"5d\")",
        ));
    }
    for (key, n) in [
        ("delivery.email_concurrency", d.email_concurrency),
        ("delivery.line_concurrency", d.line_concurrency),
        ("delivery.webhook_concurrency", d.webhook_concurrency),
    ] {
        if !(1..=1024).contains(&n) {
            return Err(invalid(key, "must be from 1 to 1024"));
        }
    }
    let addr = http.listen_addr()?;
    if !addr.ip().is_loopback() && !http.allow_public {
        return Err(invalid(
            "http.listen",
            format!("{addr} is not a loopback address; set http.allow_public = true to serve the unsubscribe page there (usually behind a TLS proxy)"),
        ));
    }
    email
        .from
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| {
            invalid(
                "email.from",
                format!(
                    "{:?} is not a mailbox ({e}); write e.g. \"Shop <news@shop.example>\"",
                    email.from
                ),
            )
        })?;
    if let Some(smtp) = &email.smtp {
        if smtp.host.trim().is_empty() {
            return Err(invalid(
                "email.smtp.host",
                "is empty; set the SMTP server's host name, or remove [email.smtp] to write .eml files",
            ));
        }
        if smtp.pool_size == 0 {
            return Err(invalid("email.smtp.pool_size", "must be at least 1"));
        }
        if smtp.username.is_some() != smtp.password.is_some() {
            return Err(invalid(
                "email.smtp.username",
                "username and password must be set together",
            ));
        }
        if let Some(path) = &smtp.ca_file {
            crate::delivery::email::load_ca_file(path).map_err(channel_error)?;
        }
    }
    // Reads and checks the DKIM key, as the daemon does at start.
    email.dkim_signer().map_err(channel_error)?;
    // Building a sender checks its URL, token and TLS setup; nothing connects yet.
    if let Some(l) = line {
        LineSender::new(l).map_err(channel_error)?;
    }
    if let Some(w) = webhook {
        WebhookSender::new(w).map_err(channel_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn err(text: &str) -> String {
        Config::parse(text)
            .expect("parses")
            .validate()
            .expect_err(text)
            .to_string()
    }

    #[test]
    fn defaults_are_valid_and_eml_follows_storage() {
        let cfg = Config::parse("[storage]\npath = \"/data/sb\"\n").expect("parses");
        cfg.validate().expect("valid");
        let email = cfg.email.resolve(&cfg.storage.path);
        assert_eq!(email.eml_dir, std::path::Path::new("/data/sb/eml"));
        let retry = cfg.delivery.dispatcher().retry;
        assert_eq!(retry.retry.max_attempts, 8);
        assert_eq!(retry.transactional_max_age_ms, 5 * 86_400_000);
    }

    #[test]
    fn example_config_documents_the_defaults() {
        let cfg = Config::parse(include_str!("../../../deploy/stockbelld.toml")).expect("parses");
        assert_eq!(cfg.delivery, super::DeliveryConfig::default());
        assert_eq!(cfg.http, super::HttpConfig::default());
        assert_eq!(cfg.email.from, super::EmailSection::default().from);
        assert!(cfg.email.smtp.is_none() && cfg.email.eml_dir.is_none());
        assert!(cfg.line.is_none() && cfg.webhook.is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (
                "[delivery]\nunsubscribe_secret = \"short\"\n",
                "delivery.unsubscribe_secret",
            ),
            ("[delivery]\nmax_attempts = 0\n", "delivery.max_attempts"),
            (
                "[delivery]\ntransactional_max_age = \"30s\"\n",
                "delivery.transactional_max_age",
            ),
            (
                "[delivery]\nretry_max = \"2h\"\ntransactional_max_age = \"1h\"\n",
                "delivery.transactional_max_age",
            ),
            ("[delivery]\nretry_base = \"2h\"\n", "delivery.retry_max"),
            (
                "[delivery]\nline_concurrency = 0\n",
                "delivery.line_concurrency",
            ),
            ("[http]\nlisten = \"0.0.0.0:8080\"\n", "http.listen"),
            ("[http]\nlisten = \"here\"\n", "http.listen"),
            ("[email]\nfrom = \"not a mailbox\"\n", "email.from"),
            ("[email.smtp]\nhost = \"\"\n", "email.smtp.host"),
            (
                "[email.smtp]\nhost = \"mx\"\nusername = \"u\"\n",
                "email.smtp.username",
            ),
            ("[line]\nchannel_token = \"\"\n", "line.channel_token"),
            (
                "[webhook]\nurl = \"ftp://x/\"\nsecret = \"s\"\n",
                "webhook.url",
            ),
        ] {
            let e = err(text);
            assert!(e.starts_with(key), "{text}: {e}");
        }
    }

    #[test]
    fn public_http_needs_allow_public() {
        let e = err("[http]\nlisten = \"0.0.0.0:8080\"\n");
        assert!(e.contains("http.allow_public"), "{e}");
        let cfg = Config::parse("[http]\nlisten = \"0.0.0.0:8080\"\nallow_public = true\n")
            .expect("parses");
        cfg.validate().expect("allowed");
    }

    #[test]
    fn public_url_warns_when_not_https_outside_loopback() {
        use super::public_url_warning as w;
        for quiet in [
            "",
            "https://shop.example",
            "HTTPS://Shop.Example/sb",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:8080/x",
            "http://LOCALHOST.",
            "http://dev.localhost",
            "http://[::1]:8080/",
        ] {
            assert_eq!(w(quiet), None, "{quiet}");
        }
        for loud in [
            "http://shop.example",
            "http://10.0.0.5:8080",
            "http://localhost@shop.example/",
            "http://[2001:db8::1]/",
            "shop.example",
            "http://localhost.shop.example",
        ] {
            let msg = w(loud).unwrap_or_default();
            assert!(
                msg.starts_with("templates.public_url: ") && msg.contains("https://"),
                "{loud}: {msg}"
            );
        }
    }

    #[test]
    fn config_warnings_are_listed_not_refused() {
        let cfg = Config::parse("").expect("parses");
        assert_eq!(cfg.warnings(), Vec::<String>::new());
        let cfg =
            Config::parse("[templates]\npublic_url = \"http://shop.example\"\n").expect("parses");
        cfg.validate().expect("a warning, not an error");
        let warnings = cfg.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("templates.public_url"));

        // A 1024-bit RSA key signs but is warned about.
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("k.pem");
        std::fs::write(
            &key,
            include_str!("../delivery/email/dkim_testdata/rsa1024-pkcs1.pem"),
        )
        .expect("write");
        let text = format!(
            "[email]\nfrom = \"Shop <news@shop.example>\"\n[email.dkim]\nselector = \"s1\"\ndomain = \"shop.example\"\nkey_file = {:?}\n",
            key.display().to_string()
        );
        let cfg = Config::parse(&text).expect("parses");
        cfg.validate().expect("valid");
        let warnings = cfg.warnings();
        assert!(
            warnings.len() == 1
                && warnings[0].starts_with("email.dkim.key_file: the RSA key has 1024 bits"),
            "{warnings:?}"
        );
    }

    #[test]
    fn dkim_section_is_checked_by_validate() {
        let dkim = "[email.dkim]\nselector = \"s1\"\ndomain = \"shop.example\"\nkey_file = \"/nonexistent/dkim.pem\"\n";
        let e = err(&format!(
            "[email]\nfrom = \"Shop <news@shop.example>\"\n{dkim}"
        ));
        assert!(
            e.starts_with("email.dkim.key_file") && e.contains("/nonexistent/dkim.pem"),
            "{e}"
        );
        // The default From (stockbell@localhost) is not in shop.example.
        let e = err(dkim);
        assert!(
            e.starts_with("email.dkim.domain") && e.contains("\"localhost\""),
            "{e}"
        );
        for (text, named) in [
            (
                format!("{dkim}algorithm = \"rsa-sha1\"\n"),
                "`ed25519-sha256`",
            ),
            (
                format!("{dkim}canonicalization = \"simple\"\n"),
                "canonicalization",
            ),
            ("[email.dkim]\nselector = \"s1\"\n".to_string(), "`domain`"),
        ] {
            let e = Config::parse(&text).expect_err(&text);
            assert!(e.contains(named), "{text}: {e}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        for text in [
            "[delivery]\nretries = 3\n",
            "[http]\nport = 1\n",
            "[email]\nto = \"x\"\n",
        ] {
            assert!(Config::parse(text).is_err(), "{text}");
        }
    }
}
