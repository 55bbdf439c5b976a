//! Generic webhook: the outbox entry as JSON POSTed to one configured URL, signed with
//! HMAC-SHA256 (`X-Stockbell-Signature`) and tagged with its seq (`X-Stockbell-Delivery`).
//! An order scenario's message also carries its order (lines, promises, parcel, links).

use hmac::{Hmac, Mac};
use hyper::header::{HeaderName, HeaderValue};
use hyper::Uri;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::http::{classify, hex, parse_url, HttpPoster};
use super::{ChannelConfigError, Rendered, SendError};
use crate::domain::message::{
    ItemContext, OrderContext, OrderLineContext, OutboxEntry, ShipmentContext,
};
use crate::domain::order::Promise;
use crate::domain::Millis;
use crate::settings::Dur;

pub const SIGNATURE_HEADER: &str = "x-stockbell-signature";
pub const DELIVERY_HEADER: &str = "x-stockbell-delivery";

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where every webhook message is POSTed.
    pub url: String,
    /// Shared secret for the `X-Stockbell-Signature` HMAC; the receiver must verify it.
    pub secret: String,
    /// Deadline for one POST, connection included.
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
}

fn default_timeout() -> Dur {
    Dur(std::time::Duration::from_secs(10))
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The JSON body. Field names are the receiver's contract: add, never rename.
#[derive(Debug, Serialize, PartialEq)]
pub struct WebhookPayload<'a> {
    pub id: u64,
    pub customer_id: &'a str,
    pub scenario: &'a str,
    /// "marketing" or "transactional" (an order update).
    pub class: &'a str,
    pub items: &'a [ItemContext],
    /// The order an order scenario is about; left out for the stock scenarios.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderJson<'a>>,
    pub subject: &'a str,
    pub text: &'a str,
    pub created_ms: Millis,
}

/// An order as the webhook sends it (empty strings: none).
#[derive(Debug, Serialize, PartialEq)]
pub struct OrderJson<'a> {
    pub order_id: &'a str,
    pub time_zone: &'a str,
    pub lines: Vec<LineJson<'a>>,
    pub delay_reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment: Option<&'a ShipmentContext>,
    pub cancel_url: &'a str,
    pub review_url: &'a str,
    pub coupon_code: &'a str,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct LineJson<'a> {
    pub line_id: &'a str,
    pub sku: &'a str,
    pub title: &'a str,
    pub quantity: i64,
    pub url: &'a str,
    pub image_url: &'a str,
    pub waited: bool,
    pub promise: PromiseJson,
}

/// `{"kind":"window","earliest_ms":…,"latest_ms":…}`, `{"kind":"unknown"}` or
/// `{"kind":"none"}`.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromiseJson {
    None,
    Window {
        earliest_ms: Millis,
        latest_ms: Millis,
    },
    Unknown,
}

impl From<Promise> for PromiseJson {
    fn from(p: Promise) -> Self {
        match p {
            Promise::None => PromiseJson::None,
            Promise::Window(w) => PromiseJson::Window {
                earliest_ms: w.earliest_ms,
                latest_ms: w.latest_ms,
            },
            Promise::Unknown => PromiseJson::Unknown,
        }
    }
}

impl<'a> OrderJson<'a> {
    fn of(o: &'a OrderContext) -> Self {
        let line = |l: &'a OrderLineContext| LineJson {
            line_id: &l.line_id,
            sku: &l.sku,
            title: &l.title,
            quantity: l.quantity,
            url: &l.url,
            image_url: &l.image_url,
            waited: l.waited,
            promise: l.promise.into(),
        };
        OrderJson {
            order_id: &o.order_id,
            time_zone: &o.time_zone,
            lines: o.lines.iter().map(line).collect(),
            delay_reason: &o.delay_reason,
            shipment: o.shipment.as_ref(),
            cancel_url: &o.cancel_url,
            review_url: &o.review_url,
            coupon_code: &o.coupon_code,
        }
    }
}

impl<'a> WebhookPayload<'a> {
    pub fn from_entry(entry: &'a OutboxEntry, rendered: &'a Rendered) -> Self {
        WebhookPayload {
            id: entry.seq,
            customer_id: &entry.customer_id,
            scenario: entry.scenario.as_str(),
            class: entry.class().as_str(),
            items: &entry.context.items,
            order: entry.context.order.as_ref().map(OrderJson::of),
            subject: &rendered.subject,
            text: &rendered.text,
            created_ms: entry.created_ms,
        }
    }
}

#[derive(Clone)]
pub struct WebhookSender {
    http: HttpPoster,
    uri: Uri,
    secret: Vec<u8>,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSender")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl WebhookSender {
    pub fn new(config: &WebhookConfig) -> Result<WebhookSender, ChannelConfigError> {
        let uri = parse_url("webhook.url", &config.url)?;
        if config.secret.is_empty() {
            return Err(ChannelConfigError::new(
                "webhook.secret",
                "is empty; set a shared secret so the receiver can verify X-Stockbell-Signature",
            ));
        }
        Ok(WebhookSender {
            http: HttpPoster::new(config.timeout.0, "webhook")?,
            uri,
            secret: config.secret.as_bytes().to_vec(),
        })
    }

    pub async fn send(&self, entry: &OutboxEntry, rendered: &Rendered) -> Result<(), SendError> {
        let body = serde_json::to_vec(&WebhookPayload::from_entry(entry, rendered))
            .map_err(|e| SendError::Permanent(format!("cannot encode webhook body: {e}")))?;
        let signature = HeaderValue::from_str(&sign(&self.secret, &body))
            .map_err(|e| SendError::Permanent(format!("bad signature header: {e}")))?;
        let headers = [
            (HeaderName::from_static(SIGNATURE_HEADER), signature),
            (
                HeaderName::from_static(DELIVERY_HEADER),
                HeaderValue::from(entry.seq),
            ),
        ];
        let reply = self.http.post_json(&self.uri, &headers, body).await?;
        classify(&reply, false)
    }
}

/// The `X-Stockbell-Signature` value: `sha256=` and the hex HMAC-SHA256 of the exact body.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this never takes the error branch.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex(&mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// Receiver-side check, constant-time in the signature: what a subscriber should do.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(sig) = header
        .strip_prefix("sha256=")
        .and_then(|h| decode_hex(h.trim()))
    else {
        return false;
    };
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            mac.verify_slice(&sig).is_ok()
        }
        Err(_) => false,
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
