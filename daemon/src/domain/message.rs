//! The message a decision produces, as the outbox stores it: the products it shows
//! (`ItemContext`), the order it is about (`OrderContext`), everything a template may use
//! (`MessageContext`), the durable outbox entry with its delivery status, and the lane it
//! waits in (its class — the scenario's — and channel). Plain data: delivery renders and
//! sends it.

use serde::{Deserialize, Serialize};

use super::customer::{Channel, Locale, Scenario};
use super::order::Promise;
use super::Millis;

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

impl ItemContext {
    /// A product offered as it is now (cross-sell, win-back): its page, picture and
    /// current price; no old price, no stock figure.
    pub fn offered(sku: String, p: &super::product::ProductState) -> ItemContext {
        ItemContext {
            sku,
            title: p.catalogue.title.clone(),
            url: p.catalogue.url.clone(),
            image_url: p.catalogue.image_url.clone(),
            currency: p.catalogue.currency.clone(),
            price_minor: p.price_minor,
            old_price_minor: None,
            stock_left: None,
        }
    }
}

/// One order line a message is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLineContext {
    pub line_id: String,
    pub sku: String,
    pub title: String,
    pub quantity: i64,
    /// The product page; empty = none.
    pub url: String,
    /// The product picture; empty = none.
    pub image_url: String,
    /// What the shop promises for the line now: a window is shown as a range of local
    /// dates, `Unknown` as "we do not know yet", never as one date the shop did not give.
    pub promise: Promise,
    /// The line waited as a backorder (a shipped notice says "finally on its way").
    pub waited: bool,
}

/// The parcel a shipped notice is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentContext {
    pub carrier: String,
    pub tracking_number: String,
    /// The carrier's tracking page; empty = none.
    pub tracking_url: String,
}

/// The order an order scenario's message is about. Empty strings mean "none", as in the
/// order events the shop sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderContext {
    pub order_id: String,
    /// The customer's IANA time zone when the message was decided: promised windows are
    /// shown as dates there.
    pub time_zone: String,
    /// The lines this message is about (not necessarily the whole order).
    pub lines: Vec<OrderLineContext>,
    /// Why the lines are late, in the shop's words (delayed).
    pub delay_reason: String,
    /// Shipped only.
    pub shipment: Option<ShipmentContext>,
    /// Signed one-click link asking the shop to cancel (confirmation, delayed).
    pub cancel_url: String,
    /// Where to review the order (delivered follow-up).
    pub review_url: String,
    /// A coupon for the next purchase (cross-sell after delivery).
    pub coupon_code: String,
}

/// Everything a template may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    pub scenario: Scenario,
    pub locale: Locale,
    pub customer_id: String,
    /// The products the message shows: the stock scenarios' products, cross-sell's
    /// related products; empty for order updates (their lines are in `order`).
    pub items: Vec<ItemContext>,
    /// One-click unsubscribe page (HTTPS) for this customer and channel. Marketing only:
    /// order updates carry no unsubscribe link.
    pub unsubscribe_url: String,
    /// The order scenarios' order; `None` for the stock scenarios.
    pub order: Option<OrderContext>,
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
    /// Also the entry's class ([`Scenario::class`]).
    pub scenario: Scenario,
    pub context: MessageContext,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_ms: Millis,
    pub created_ms: Millis,
    pub delivered_ms: Option<Millis>,
    pub last_error: Option<String>,
}

/// Marketing (stock scenarios and cross-sell; consent, caps, unsubscribe, may go stale) or
/// transactional (order updates about the customer's own orders; retried for days, never
/// dropped as stale). Each scenario has one ([`Scenario::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageClass {
    Transactional,
    Marketing,
}

impl MessageClass {
    pub const ALL: [MessageClass; 2] = [MessageClass::Transactional, MessageClass::Marketing];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageClass::Transactional => "transactional",
            MessageClass::Marketing => "marketing",
        }
    }
}

/// Where a pending message waits for the dispatcher: one queue per class and channel,
/// so a backlog (or an outage) in one never holds up another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lane {
    pub class: MessageClass,
    pub channel: Channel,
}

impl Lane {
    /// Every lane, transactional ones first (they get free channel slots first).
    pub const ALL: [Lane; 6] = [
        Lane::new(MessageClass::Transactional, Channel::Email),
        Lane::new(MessageClass::Transactional, Channel::Line),
        Lane::new(MessageClass::Transactional, Channel::Webhook),
        Lane::new(MessageClass::Marketing, Channel::Email),
        Lane::new(MessageClass::Marketing, Channel::Line),
        Lane::new(MessageClass::Marketing, Channel::Webhook),
    ];

    pub const fn new(class: MessageClass, channel: Channel) -> Lane {
        Lane { class, channel }
    }
}

impl OutboxEntry {
    /// Its scenario's class.
    pub fn class(&self) -> MessageClass {
        self.scenario.class()
    }

    pub fn is_marketing(&self) -> bool {
        self.scenario.is_marketing()
    }

    pub fn lane(&self) -> Lane {
        Lane::new(self.class(), self.channel)
    }
}

/// A message a customer's decision created, before the Router numbers it: it becomes an
/// [`OutboxEntry`] with its `seq` in the same write as the decision's ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub customer_id: String,
    pub channel: Channel,
    pub address: String,
    pub scenario: Scenario,
    pub context: MessageContext,
    /// When it was decided.
    pub created_ms: Millis,
    /// Its first attempt: `created_ms`, or the end of the customer's quiet hours for an
    /// order update that waits for the morning.
    pub due_ms: Millis,
}

impl NewEntry {
    /// The pending entry `seq`, due at once.
    pub fn numbered(self, seq: u64) -> OutboxEntry {
        OutboxEntry {
            seq,
            customer_id: self.customer_id,
            channel: self.channel,
            address: self.address,
            scenario: self.scenario,
            context: self.context,
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_ms: self.due_ms,
            created_ms: self.created_ms,
            delivered_ms: None,
            last_error: None,
        }
    }
}
