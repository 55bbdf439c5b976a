//! Delivery: the outbox entry format, rendered messages, and the channels that send them
//! (email over SMTP or to `.eml` files, LINE Messaging API push, signed JSON webhook).

pub mod backoff;
pub mod dispatcher;
pub mod email;
pub mod error;
pub mod http;
pub mod line;
pub mod outbox_ops;
pub mod templates;
#[cfg(test)]
pub(crate) mod test_support;
pub mod unsubscribe;
pub mod webhook;

pub use error::{ChannelConfigError, SendError};

use serde::{Deserialize, Serialize};

use crate::domain::customer::{Channel, Locale, Scenario};
use crate::domain::Millis;

/// One product in a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemContext {
    pub sku: String,
    pub title: String,
    pub url: String,
    pub image_url: String,
    pub currency: String,
    pub price_minor: i64,
    /// The price the customer saw before (price drop), if any.
    pub old_price_minor: Option<i64>,
    /// Units left, when the scenario is about stock (low stock, back in stock).
    pub stock_left: Option<i64>,
}

/// Everything a template may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    pub scenario: Scenario,
    pub locale: Locale,
    pub customer_id: String,
    pub items: Vec<ItemContext>,
    /// One-click unsubscribe page (HTTPS) for this customer and channel.
    pub unsubscribe_url: String,
}

/// A message rendered from its templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxStatus {
    /// Waiting for its next attempt (or the first).
    Pending,
    Delivered,
    /// Permanent failure; the address is suppressed.
    Failed,
    /// Cancelled before sending (e.g. the customer unsubscribed).
    Cancelled,
}

/// A durable outbox entry; its `seq` is the key and the source of the deterministic
/// Message-ID / X-Line-Retry-Key. It holds the message context, not the rendered text:
/// the dispatcher renders each attempt from `context` with the loaded templates, so a
/// decision is small to store (a 100k-customer fan-out writes ~10x less) and costs no
/// template work until it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: u64,
    pub customer_id: String,
    pub channel: Channel,
    /// Email address, LINE user id, or (webhook) the customer id.
    pub address: String,
    pub scenario: Scenario,
    pub marketing: bool,
    pub context: MessageContext,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_ms: Millis,
    pub created_ms: Millis,
    pub delivered_ms: Option<Millis>,
    pub last_error: Option<String>,
}
