//! Customers and the vocabulary of delivery control: channels, scenarios, consent, the
//! ledger of what was sent, and candidates waiting for the per-customer rules.

use serde::{Deserialize, Serialize};

use super::message::MessageClass;
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

/// A notification scenario: the four stock scenarios (one per trigger kind, marketing),
/// the order updates (transactional) and the cross-sell offers (marketing). Its class is
/// a property of the scenario, never a flag passed alongside it.
///
/// Stored (bincode, by variant index) in ledgers, outbox entries and the trigger log:
/// new variants go at the end, never in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scenario {
    BackInStock,
    LowStock,
    PriceDrop,
    NewArrival,
    /// Right after an order with waiting lines: what waits, the ship window, a cancel link.
    BackorderConfirmation,
    /// Every `update_every` while a line waits, with the current promise.
    BackorderUpdate,
    /// Arrived units were allocated to the customer's waiting lines.
    Arrived,
    /// A delay notice (the shop's, or a promise that passed): reason, window, options.
    Delayed,
    /// Carrier, tracking number and link.
    Shipped,
    /// `after` delivery: "how is it?" with a review link.
    DeliveredFollowup,
    /// Related products `after` an order (marketing).
    CrossSellOrder,
    /// Related products `after` delivery, with an optional coupon (marketing).
    CrossSellDelivery,
    /// A cart left untouched: its lines with their current prices (marketing).
    CartAbandoned,
    /// A checkout started and not finished: the cart's lines (marketing).
    CheckoutAbandoned,
    /// List hygiene: "do you still want to hear from us?" to a customer who stopped
    /// engaging, before marketing pauses (marketing).
    LastChance,
    /// In-stock products from the customer's categories once their own repurchase
    /// interval has lapsed (marketing, once per lapse).
    WinBack,
    /// On the customer's birthday in their time zone, with an optional coupon (marketing,
    /// once a year).
    Birthday,
}

impl Scenario {
    pub const ALL: [Scenario; 17] = [
        Scenario::BackInStock,
        Scenario::LowStock,
        Scenario::PriceDrop,
        Scenario::NewArrival,
        Scenario::BackorderConfirmation,
        Scenario::BackorderUpdate,
        Scenario::Arrived,
        Scenario::Delayed,
        Scenario::Shipped,
        Scenario::DeliveredFollowup,
        Scenario::CrossSellOrder,
        Scenario::CrossSellDelivery,
        Scenario::CartAbandoned,
        Scenario::CheckoutAbandoned,
        Scenario::LastChance,
        Scenario::WinBack,
        Scenario::Birthday,
    ];

    /// The scenarios a trigger fires: interest thresholds, audiences, reach, batching.
    pub const STOCK: [Scenario; 4] = [
        Scenario::BackInStock,
        Scenario::LowStock,
        Scenario::PriceDrop,
        Scenario::NewArrival,
    ];

    /// The scenarios about a customer's own orders: transactional order updates, then the
    /// two cross-sell offers.
    pub const ORDER: [Scenario; 8] = [
        Scenario::BackorderConfirmation,
        Scenario::BackorderUpdate,
        Scenario::Arrived,
        Scenario::Delayed,
        Scenario::Shipped,
        Scenario::DeliveredFollowup,
        Scenario::CrossSellOrder,
        Scenario::CrossSellDelivery,
    ];

    /// The abandonment journeys' scenarios (the customer's cart, `lifecycle::journey`).
    pub const JOURNEY: [Scenario; 2] = [Scenario::CartAbandoned, Scenario::CheckoutAbandoned];

    /// The name the config, the API, the templates and the logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::BackInStock => TriggerKind::BackInStock.as_str(),
            Scenario::LowStock => TriggerKind::LowStock.as_str(),
            Scenario::PriceDrop => TriggerKind::PriceDrop.as_str(),
            Scenario::NewArrival => TriggerKind::NewArrival.as_str(),
            Scenario::BackorderConfirmation => "backorder_confirmation",
            Scenario::BackorderUpdate => "backorder_update",
            Scenario::Arrived => "arrived",
            Scenario::Delayed => "delayed",
            Scenario::Shipped => "shipped",
            Scenario::DeliveredFollowup => "delivered_followup",
            Scenario::CrossSellOrder => "cross_sell_order",
            Scenario::CrossSellDelivery => "cross_sell_delivery",
            Scenario::CartAbandoned => "cart_abandoned",
            Scenario::CheckoutAbandoned => "checkout_abandoned",
            Scenario::LastChance => "last_chance",
            Scenario::WinBack => "win_back",
            Scenario::Birthday => "birthday",
        }
    }

    /// The scenario named `name` (as [`Scenario::as_str`] spells it).
    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Marketing (consent, caps, cooldowns, one-click unsubscribe, may go stale) or
    /// transactional (about the customer's own order: none of those).
    pub fn class(self) -> MessageClass {
        match self {
            Scenario::BackInStock
            | Scenario::LowStock
            | Scenario::PriceDrop
            | Scenario::NewArrival
            | Scenario::CrossSellOrder
            | Scenario::CrossSellDelivery
            | Scenario::CartAbandoned
            | Scenario::CheckoutAbandoned
            | Scenario::LastChance
            | Scenario::WinBack
            | Scenario::Birthday => MessageClass::Marketing,
            Scenario::BackorderConfirmation
            | Scenario::BackorderUpdate
            | Scenario::Arrived
            | Scenario::Delayed
            | Scenario::Shipped
            | Scenario::DeliveredFollowup => MessageClass::Transactional,
        }
    }

    pub fn is_marketing(self) -> bool {
        self.class() == MessageClass::Marketing
    }

    /// An abandoned cart or checkout reminder.
    pub fn is_journey(self) -> bool {
        Scenario::JOURNEY.contains(&self)
    }

    /// The trigger kind behind a stock scenario; `None` for the order scenarios.
    pub fn trigger(self) -> Option<TriggerKind> {
        match self {
            Scenario::BackInStock => Some(TriggerKind::BackInStock),
            Scenario::LowStock => Some(TriggerKind::LowStock),
            Scenario::PriceDrop => Some(TriggerKind::PriceDrop),
            Scenario::NewArrival => Some(TriggerKind::NewArrival),
            _ => None,
        }
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
    /// A cross-sell offer came due with no related product left to show (none visible,
    /// on sale and in stock that the customer has not bought and the order does not hold).
    NothingToOffer,
    /// The scenario's holdout kept the customer from it (`holdout_pct`), for comparison.
    Holdout,
    /// A journey step came due with no cart line left to show (all sold out, no longer
    /// on sale, or gone from the catalogue).
    NothingLeft,
    /// The sunset policy paused marketing to a customer who stopped engaging.
    Inactive,
    /// The customer complained about a message (feedback loop or the shop).
    Complaint,
    /// The scenario was paused for its complaint / hard-bounce rate.
    Paused,
    /// The customer is outside the scenario's segment audience (not in an
    /// `include_segments` segment, or in an `exclude_segments` one).
    Segment,
}

impl SuppressReason {
    pub const ALL: [SuppressReason; 19] = [
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
        SuppressReason::NothingToOffer,
        SuppressReason::Holdout,
        SuppressReason::NothingLeft,
        SuppressReason::Inactive,
        SuppressReason::Complaint,
        SuppressReason::Paused,
        SuppressReason::Segment,
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
            SuppressReason::NothingToOffer => "nothing_to_offer",
            SuppressReason::Holdout => "holdout",
            SuppressReason::NothingLeft => "nothing_left",
            SuppressReason::Inactive => "inactive",
            SuppressReason::Complaint => "complaint",
            SuppressReason::Paused => "paused",
            SuppressReason::Segment => "segment",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_one_name_and_the_groups_split_all() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.as_str()), Some(s));
            let in_stock = Scenario::STOCK.contains(&s);
            let groups = [
                in_stock,
                Scenario::ORDER.contains(&s),
                s.is_journey(),
                s == Scenario::LastChance,
                matches!(s, Scenario::WinBack | Scenario::Birthday),
            ];
            assert_eq!(groups.iter().filter(|g| **g).count(), 1, "{s:?}");
            assert_eq!(s.trigger().is_some(), in_stock, "{s:?}");
        }
        let mut names: Vec<&str> = Scenario::ALL.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Scenario::ALL.len());
        assert_eq!(Scenario::parse("flash_sale"), None);
    }

    #[test]
    fn order_updates_are_transactional_and_offers_marketing() {
        let transactional: Vec<&str> = Scenario::ALL
            .into_iter()
            .filter(|s| s.class() == MessageClass::Transactional)
            .map(Scenario::as_str)
            .collect();
        assert_eq!(
            transactional,
            [
                "backorder_confirmation",
                "backorder_update",
                "arrived",
                "delayed",
                "shipped",
                "delivered_followup"
            ]
        );
        for s in Scenario::STOCK {
            assert!(s.is_marketing(), "{s:?}");
        }
        assert!(Scenario::CrossSellOrder.is_marketing());
        assert!(Scenario::CrossSellDelivery.is_marketing());
    }

    /// Ledgers and outbox entries store the variant index: the stock scenarios keep theirs.
    #[test]
    fn stored_variant_indices_do_not_move() {
        let cfg = bincode::config::standard();
        let index =
            |s: Scenario| bincode::serde::encode_to_vec(s, cfg).expect("a unit variant encodes");
        assert_eq!(index(Scenario::BackInStock), [0]);
        assert_eq!(index(Scenario::NewArrival), [3]);
        assert_eq!(index(Scenario::BackorderConfirmation), [4]);
        assert_eq!(index(Scenario::CrossSellDelivery), [11]);
    }
}
