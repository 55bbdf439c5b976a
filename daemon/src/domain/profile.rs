//! A customer's own state: contact addresses, locale, time zone, consent, suppressions
//! and the ledger of recent sends; and how customer events change it.

use serde::{Deserialize, Serialize};

use super::customer::{Channel, Consent, Locale, Sent};
use super::decide::{Deferred, Offer};
use super::lifecycle::Lifecycle;
use super::order::state::OrderState;
use super::{Millis, Rejection};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerState {
    pub id: String,
    pub email: Option<String>,
    pub line_user_id: Option<String>,
    pub locale: Locale,
    /// IANA name, validated at ingest.
    pub time_zone: String,
    pub consent: Consent,
    pub tags: Vec<String>,
    /// Channels whose address bounced permanently or was unsubscribed one-click.
    pub suppressed: Vec<Channel>,
    /// Recent sends, for caps and dedupe (pruned to the longest cap window).
    pub ledger: Vec<Sent>,
    /// Offers waiting for the arbitration window, and when it ends.
    pub pending: Vec<Offer>,
    pub pending_due_ms: Option<Millis>,
    /// Messages held until quiet hours end.
    pub deferred: Vec<Deferred>,
    pub created_ms: Millis,
    pub updated_ms: Millis,
    /// The customer's orders (this actor is their one owner), oldest first.
    pub orders: Vec<OrderState>,
    /// Engagement, cart journey, list hygiene, lapses, attribution (customers v4).
    pub lifecycle: Lifecycle,
}

/// The contact data of an upsert.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileData {
    pub email: Option<String>,
    pub line_user_id: Option<String>,
    pub locale: Locale,
    pub time_zone: String,
    pub consent: Consent,
    pub tags: Vec<String>,
    /// `None` = none (an upsert without one clears it).
    pub birthday: Option<super::lifecycle::lapse::MonthDay>,
    /// Subscribed to the shop's newsletter (a segment condition, not consent).
    pub subscribed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CustomerEvent {
    Upsert(ProfileData),
    /// `None` = every channel.
    Unsubscribe {
        channel: Option<Channel>,
    },
    /// The channel's address failed permanently (bounce) or was unsubscribed one-click.
    Suppress {
        channel: Channel,
    },
    /// Triggers offered to this customer by the fan-out (handled by `decide`).
    Offers(Vec<Offer>),
    /// A durable customer timer fired (handled by `decide`).
    Timer(super::TimerKind),
    /// A product's word about lines of one of this customer's orders.
    Lines(super::order::LineNotice),
    /// An event about one of this customer's orders, from the shop.
    Order(super::order::OrderEvent),
    /// The customer asked, through the signed cancel link, for one of their orders to be
    /// cancelled (recorded and passed to the shop; the shop decides).
    CancelRequest {
        order_id: String,
    },
    /// The customer followed a tracked link of a marketing message (from the HTTP
    /// redirector; HEAD requests never come here). Goes through the scanner rule.
    Click(super::lifecycle::engagement::ClickReport),
    /// A change to the customer's cart (`lifecycle::journey`): cart add / remove,
    /// checkout started, a purchase.
    Cart(super::lifecycle::journey::CartChange),
    /// A `purchase` (a completed order without the order lifecycle): its SKUs end the
    /// cart's journey; with an order id it also counts as an order (engagement,
    /// attribution, the sunset, the repurchase interval) unless that order id was counted
    /// already (e.g. from its `order_placed`).
    Purchase {
        skus: Vec<String>,
        order: Option<super::lifecycle::attribution::OrderFacts>,
        /// Its items (sku, quantity, amount), for the order aggregates.
        items: Vec<super::lifecycle::aggregates::PurchaseLine>,
    },
    /// A send on `channel` was refused for now (a soft bounce, e.g. SMTP 4xx).
    SoftBounce {
        channel: Channel,
    },
    /// A message on `channel` was delivered after soft bounces: the run ends.
    Delivered {
        channel: Channel,
    },
    /// The customer complained about a message on `channel` (the outbox entry, when the
    /// report named it): marketing stops at once.
    Complaint {
        channel: Channel,
        entry_seq: Option<u64>,
    },
}

impl CustomerState {
    /// A customer known only from an order (no customer_upsert yet): no address, no
    /// consent, the daemon's default time zone. A later upsert fills in the rest.
    pub fn bare(id: &str, time_zone: &str, at: Millis) -> CustomerState {
        CustomerState {
            id: id.to_owned(),
            email: None,
            line_user_id: None,
            locale: Locale::default(),
            time_zone: time_zone.to_owned(),
            consent: Consent::default(),
            tags: Vec::new(),
            suppressed: Vec::new(),
            ledger: Vec::new(),
            pending: Vec::new(),
            pending_due_ms: None,
            deferred: Vec::new(),
            created_ms: at,
            updated_ms: at,
            orders: Vec::new(),
            lifecycle: Lifecycle::default(),
        }
    }

    pub fn order(&self, order_id: &str) -> Option<&OrderState> {
        self.orders.iter().find(|o| o.order_id == order_id)
    }

    pub fn address(&self, c: Channel) -> Option<&str> {
        match c {
            Channel::Email => self.email.as_deref(),
            Channel::Line => self.line_user_id.as_deref(),
            Channel::Webhook => Some(self.id.as_str()),
        }
    }

    pub fn has_address(&self, c: Channel) -> bool {
        self.address(c).is_some_and(|a| !a.is_empty())
    }
}

/// Applies one customer event at `at`; on `Err` nothing changed.
pub fn apply(
    state: &mut Option<CustomerState>,
    id: &str,
    ev: &CustomerEvent,
    at: Millis,
) -> Result<(), Rejection> {
    match ev {
        CustomerEvent::Upsert(p) => match state {
            Some(st) => {
                // A changed address is a new address: an old bounce no longer applies.
                if st.email != p.email {
                    st.suppressed.retain(|c| *c != Channel::Email);
                }
                if st.line_user_id != p.line_user_id {
                    st.suppressed.retain(|c| *c != Channel::Line);
                }
                st.email = p.email.clone();
                st.line_user_id = p.line_user_id.clone();
                st.locale = p.locale;
                st.time_zone = p.time_zone.clone();
                st.consent = p.consent;
                st.tags = p.tags.clone();
                st.lifecycle.lapse.birthday = p.birthday;
                st.lifecycle.aggregates.subscribed = p.subscribed;
                st.updated_ms = st.updated_ms.max(at);
            }
            None => {
                *state = Some(CustomerState {
                    id: id.to_owned(),
                    email: p.email.clone(),
                    line_user_id: p.line_user_id.clone(),
                    locale: p.locale,
                    time_zone: p.time_zone.clone(),
                    consent: p.consent,
                    tags: p.tags.clone(),
                    suppressed: Vec::new(),
                    ledger: Vec::new(),
                    pending: Vec::new(),
                    pending_due_ms: None,
                    deferred: Vec::new(),
                    created_ms: at,
                    updated_ms: at,
                    orders: Vec::new(),
                    lifecycle: Lifecycle::default(),
                });
                if let Some(st) = state.as_mut() {
                    st.lifecycle.lapse.birthday = p.birthday;
                    st.lifecycle.aggregates.subscribed = p.subscribed;
                }
            }
        },
        CustomerEvent::Unsubscribe { channel } => {
            let Some(st) = state else {
                return Err(Rejection {
                    field: "unsubscribe.customer_id".into(),
                    reason: format!("unknown customer_id {id:?}: send a customer_upsert first"),
                });
            };
            for c in Channel::ALL {
                if channel.is_none_or(|only| only == c) {
                    st.consent.set(c, false);
                }
            }
            st.updated_ms = st.updated_ms.max(at);
        }
        CustomerEvent::Offers(_)
        | CustomerEvent::Timer(_)
        | CustomerEvent::Lines(_)
        | CustomerEvent::Order(_)
        | CustomerEvent::CancelRequest { .. }
        | CustomerEvent::Cart(_)
        | CustomerEvent::Purchase { .. }
        | CustomerEvent::SoftBounce { .. }
        | CustomerEvent::Delivered { .. }
        | CustomerEvent::Complaint { .. } => {}
        CustomerEvent::Suppress { channel } => {
            let Some(st) = state else {
                return Err(Rejection {
                    field: "customer_id".into(),
                    reason: format!("unknown customer_id {id:?}"),
                });
            };
            if !st.suppressed.contains(channel) {
                st.suppressed.push(*channel);
            }
            st.updated_ms = st.updated_ms.max(at);
        }
        CustomerEvent::Click(report) => {
            let Some(st) = state else {
                return Err(Rejection {
                    field: "click.customer_id".into(),
                    reason: format!("unknown customer_id {id:?}"),
                });
            };
            st.lifecycle.engagement.receive_click(report.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(email: &str) -> ProfileData {
        ProfileData {
            email: Some(email.into()),
            line_user_id: None,
            locale: Locale::Ja,
            time_zone: "Asia/Tokyo".into(),
            consent: Consent {
                email: true,
                line: true,
                webhook: false,
            },
            tags: vec![],
            birthday: None,
            subscribed: true,
        }
    }

    #[test]
    fn unsubscribe_withdraws_consent_and_needs_a_known_customer() {
        let mut st = None;
        assert_eq!(
            apply(
                &mut st,
                "c1",
                &CustomerEvent::Unsubscribe { channel: None },
                1
            )
            .map_err(|r| r.field),
            Err("unsubscribe.customer_id".into())
        );
        apply(
            &mut st,
            "c1",
            &CustomerEvent::Upsert(data("a@example.com")),
            1,
        )
        .expect("upsert");
        apply(
            &mut st,
            "c1",
            &CustomerEvent::Unsubscribe {
                channel: Some(Channel::Email),
            },
            2,
        )
        .expect("unsubscribe");
        let c = st.expect("state").consent;
        assert!(!c.email && c.line);
    }

    #[test]
    fn a_new_address_lifts_the_old_suppression() {
        let mut st = None;
        apply(
            &mut st,
            "c1",
            &CustomerEvent::Upsert(data("a@example.com")),
            1,
        )
        .expect("upsert");
        if let Some(s) = st.as_mut() {
            s.suppressed.push(Channel::Email);
        }
        apply(
            &mut st,
            "c1",
            &CustomerEvent::Upsert(data("a@example.com")),
            2,
        )
        .expect("same address");
        assert_eq!(st.as_ref().map(|s| s.suppressed.len()), Some(1));
        apply(
            &mut st,
            "c1",
            &CustomerEvent::Upsert(data("b@example.com")),
            3,
        )
        .expect("new address");
        assert_eq!(st.map(|s| s.suppressed.len()), Some(0));
    }
}
