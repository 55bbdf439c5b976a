//! The row of a customer record: profile fields and the aggregates kept in the record.

use super::Row;
use crate::domain::customer::{Channel, Locale};
use crate::domain::profile::CustomerState;

/// The customer's [`Row`] as of their record.
pub fn row_of(c: &CustomerState) -> Row {
    Row {
        customer_id: c.id.clone(),
        email: c.email.clone(),
        orders: Vec::new(),
        earlier: None,
        subscribed: false,
        tags: c.tags.clone(),
        consent: [
            c.consent.get(Channel::Email),
            c.consent.get(Channel::Line),
            c.consent.get(Channel::Webhook),
        ],
        locale: match c.locale {
            Locale::Ja => "ja",
            Locale::En => "en",
        }
        .to_owned(),
        time_zone: c.time_zone.clone(),
        last_click_ms: None,
        bought: Vec::new(),
    }
}
