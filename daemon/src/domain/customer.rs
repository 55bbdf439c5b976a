//! Customers and the vocabulary of delivery control: channels, scenarios, consent, the
//! ledger of what was sent, and candidates waiting for the per-customer rules.

use serde::{Deserialize, Serialize};

use super::{Millis, TriggerKind};

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    Email,
    Line,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Line, Channel::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Line => "line",
            Channel::Webhook => "webhook",
        }
    }
}

/// A notification scenario; one per trigger kind today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scenario {
    BackInStock,
    LowStock,
    PriceDrop,
    NewArrival,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::BackInStock,
        Scenario::LowStock,
        Scenario::PriceDrop,
        Scenario::NewArrival,
    ];

    pub fn as_str(self) -> &'static str {
        TriggerKind::from(self).as_str()
    }
}

impl From<TriggerKind> for Scenario {
    fn from(k: TriggerKind) -> Self {
        match k {
            TriggerKind::BackInStock => Scenario::BackInStock,
            TriggerKind::LowStock => Scenario::LowStock,
            TriggerKind::PriceDrop => Scenario::PriceDrop,
            TriggerKind::NewArrival => Scenario::NewArrival,
        }
    }
}

impl From<Scenario> for TriggerKind {
    fn from(s: Scenario) -> Self {
        match s {
            Scenario::BackInStock => TriggerKind::BackInStock,
            Scenario::LowStock => TriggerKind::LowStock,
            Scenario::PriceDrop => TriggerKind::PriceDrop,
            Scenario::NewArrival => TriggerKind::NewArrival,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    Ja,
    En,
}

/// Per-channel opt-in. Marketing needs an explicit yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Consent {
    pub email: bool,
    pub line: bool,
    pub webhook: bool,
}

impl Consent {
    pub fn get(&self, c: Channel) -> bool {
        match c {
            Channel::Email => self.email,
            Channel::Line => self.line,
            Channel::Webhook => self.webhook,
        }
    }

    pub fn set(&mut self, c: Channel, v: bool) {
        match c {
            Channel::Email => self.email = v,
            Channel::Line => self.line = v,
            Channel::Webhook => self.webhook = v,
        }
    }
}

/// One message that went out (or is queued), as the caps and dedupe rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub at_ms: Millis,
    pub scenario: Scenario,
    pub channel: Channel,
    /// Every sku the message was about (several for a digest).
    pub skus: Vec<String>,
}

/// Why a candidate did not become a message. Counted per scenario for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SuppressReason {
    Consent,
    Suppressed,
    NoAddress,
    Dedupe,
    Cap,
    Priority,
    QuietHoursStale,
    Disabled,
    BelowThreshold,
    Purchased,
    /// A queued marketing message older than its scenario's `max_age` when its turn came.
    Expired,
    /// A queued marketing message whose product no longer holds when it was sent late.
    Stale,
}

impl SuppressReason {
    pub const ALL: [SuppressReason; 12] = [
        SuppressReason::Consent,
        SuppressReason::Suppressed,
        SuppressReason::NoAddress,
        SuppressReason::Dedupe,
        SuppressReason::Cap,
        SuppressReason::Priority,
        SuppressReason::QuietHoursStale,
        SuppressReason::Disabled,
        SuppressReason::BelowThreshold,
        SuppressReason::Purchased,
        SuppressReason::Expired,
        SuppressReason::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuppressReason::Consent => "consent",
            SuppressReason::Suppressed => "suppressed",
            SuppressReason::NoAddress => "no_address",
            SuppressReason::Dedupe => "dedupe",
            SuppressReason::Cap => "cap",
            SuppressReason::Priority => "priority",
            SuppressReason::QuietHoursStale => "quiet_hours_stale",
            SuppressReason::Disabled => "disabled",
            SuppressReason::BelowThreshold => "below_threshold",
            SuppressReason::Purchased => "purchased",
            SuppressReason::Expired => "expired",
            SuppressReason::Stale => "stale",
        }
    }
}

/// A trigger offered to one customer, before the per-customer rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub trigger_id: u64,
    pub scenario: Scenario,
    pub sku: String,
    pub at_ms: Millis,
    /// The customer's interest score for this sku (or category affinity).
    pub score: f64,
}
