//! LINE Messaging API push: one text message per outbox entry, with an `X-Line-Retry-Key`
//! derived from the entry's seq so a resend after a crash is recognised (409) by LINE.

use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
use hyper::Uri;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::http::{classify, parse_url, HttpPoster};
use super::{ChannelConfigError, Rendered, SendError};
use crate::domain::message::OutboxEntry;
use crate::settings::Dur;

/// LINE rejects text messages longer than this many characters.
pub const MAX_TEXT_CHARS: usize = 5000;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    /// API root; tests and proxies point it elsewhere.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Long-lived channel access token from the LINE Developers console.
    pub channel_token: String,
    /// Deadline for one push, connection included.
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
}

fn default_base_url() -> String {
    "https://api.line.me".into()
}

fn default_timeout() -> Dur {
    Dur(std::time::Duration::from_secs(10))
}

impl std::fmt::Debug for LineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineConfig")
            .field("base_url", &self.base_url)
            .field("channel_token", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct LineSender {
    http: HttpPoster,
    push_uri: Uri,
    auth: HeaderValue,
}

impl LineSender {
    pub fn new(config: &LineConfig) -> Result<LineSender, ChannelConfigError> {
        let push = format!(
            "{}/v2/bot/message/push",
            config.base_url.trim_end_matches('/')
        );
        let push_uri = parse_url("line.base_url", &push)?;
        if config.channel_token.trim().is_empty() {
            return Err(ChannelConfigError::new(
                "line.channel_token",
                "is empty; set the channel access token from the LINE Developers console",
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.channel_token.trim()))
            .map_err(|_| {
                ChannelConfigError::new(
                    "line.channel_token",
                    "contains characters not allowed in an HTTP header; paste the token alone",
                )
            })?;
        auth.set_sensitive(true);
        Ok(LineSender {
            http: HttpPoster::new(config.timeout.0, "line")?,
            push_uri,
            auth,
        })
    }

    /// Pushes the entry's rendered text to the LINE user id in `entry.address`.
    pub async fn send(&self, entry: &OutboxEntry, rendered: &Rendered) -> Result<(), SendError> {
        let body = serde_json::json!({
            "to": entry.address,
            "messages": [{ "type": "text", "text": truncate_chars(&rendered.text, MAX_TEXT_CHARS) }],
        });
        let body = serde_json::to_vec(&body)
            .map_err(|e| SendError::Permanent(format!("cannot encode LINE message: {e}")))?;
        let retry_key = HeaderValue::from_str(&retry_key(entry.seq))
            .map_err(|e| SendError::Permanent(format!("bad retry key: {e}")))?;
        let headers = [
            (AUTHORIZATION, self.auth.clone()),
            (HeaderName::from_static("x-line-retry-key"), retry_key),
        ];
        let reply = self.http.post_json(&self.push_uri, &headers, body).await?;
        // 409: a request with this retry key was already accepted, i.e. delivered.
        classify(&reply, true)
    }
}

/// The `X-Line-Retry-Key` for an outbox seq: a version-4-shaped UUID taken from a hash of
/// the seq, so it is the same on every attempt and unrelated across entries.
pub fn retry_key(seq: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"stockbell/line-retry-key/");
    hasher.update(seq.to_be_bytes());
    let digest = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = super::http::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
