//! What a customer's actor keeps about the customer's life with the shop beyond stock
//! offers and orders: engagement (clicks, orders, marketing received), the cart and its
//! abandonment journey, list hygiene, lapses (win-back, birthday) and attribution.
//!
//! One part per concern, each a plain struct with its own rules in its own module; the
//! customer record stores them together as `CustomerState::lifecycle` (customers v5:
//! the order aggregates segments read, since v5).

pub mod aggregates;
pub mod attribution;
pub mod engagement;
pub mod hygiene;
pub mod hygiene_rates;
pub mod journey;
pub mod lapse;

use serde::{Deserialize, Serialize};

/// A customer's lifecycle state (customers v4, aggregates since v5; earlier versions
/// read as the default, v4 with seeded aggregates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub engagement: engagement::Engagement,
    pub journey: journey::Journey,
    pub hygiene: hygiene::Hygiene,
    pub lapse: lapse::Lapse,
    pub attribution: attribution::Attribution,
    /// Order aggregates and the newsletter flag, for segments (customers v5).
    pub aggregates: aggregates::Aggregates,
}
