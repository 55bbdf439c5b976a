//! Segments and lifetime value: each customer's aggregates as one [`Row`] (what
//! segment predicates, metrics, RFM scores and exports read), built from the customer
//! record (`build::row_of`) whenever the record changes, and kept in memory by
//! `segment_board`.
//!
//! Definitions used everywhere (README, "Segments and lifetime value"):
//! - a *counted order* is an order id seen in `order_placed` or `purchase` (once per
//!   id), not wholly cancelled; its amount is the lines' amount less cancelled lines and
//!   refunds;
//! - *buyers* have at least one counted order, *repeaters* at least two.

pub mod build;
pub mod definition;
pub mod metrics;
pub mod parse;
pub mod predicate;
pub mod rfm;
pub mod sync;
pub mod tables;

use crate::domain::Millis;

/// Most orders a row keeps one by one (the newest); older ones are folded into
/// [`Earlier`].
pub const MAX_KEPT_ORDERS: usize = 1000;

/// One customer's aggregates as segments read them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub customer_id: String,
    pub email: Option<String>,
    /// Counted orders kept one by one, oldest first.
    pub orders: Vec<OrderPoint>,
    /// Counted orders older than `orders`, folded.
    pub earlier: Option<Earlier>,
    pub subscribed: bool,
    pub tags: Vec<String>,
    /// Marketing consent: email, LINE, webhook.
    pub consent: [bool; 3],
    pub locale: String,
    pub time_zone: String,
    /// The last counted click on a tracked link.
    pub last_click_ms: Option<Millis>,
    /// SKUs bought, most units first.
    pub bought: Vec<Bought>,
}

/// One counted order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OrderPoint {
    pub at_ms: Millis,
    /// Lines' amount less cancelled lines and refunds (never below 0).
    pub amount_minor: i64,
    pub coupon: bool,
}

/// Counted orders folded out of [`Row::orders`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Earlier {
    pub orders: u32,
    pub spend_minor: i64,
    pub first_ms: Millis,
    pub coupon_orders: u32,
    /// Sum of the gaps between consecutive folded orders and their count, and the gap
    /// from the last folded order to the first kept one.
    pub gaps_ms: i64,
    pub gaps: u32,
}

/// A SKU the customer bought.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bought {
    pub sku: String,
    /// Units, less cancelled and refunded lines.
    pub units: i64,
    /// 1-based indexes of the counted orders holding it, ascending (indexes count the
    /// folded orders too).
    pub order_indexes: Vec<u32>,
    pub first_ms: Millis,
    pub last_ms: Millis,
}

impl Row {
    /// Counted orders, folded ones included.
    pub fn order_count(&self) -> u32 {
        self.earlier.map_or(0, |e| e.orders) + self.orders.len() as u32
    }

    pub fn spend_minor(&self) -> i64 {
        self.earlier.map_or(0, |e| e.spend_minor)
            + self.orders.iter().map(|o| o.amount_minor).sum::<i64>()
    }

    pub fn coupon_orders(&self) -> u32 {
        self.earlier.map_or(0, |e| e.coupon_orders)
            + self.orders.iter().filter(|o| o.coupon).count() as u32
    }

    pub fn first_order_ms(&self) -> Option<Millis> {
        match self.earlier {
            Some(e) if e.orders > 0 => Some(e.first_ms),
            _ => self.orders.first().map(|o| o.at_ms),
        }
    }

    pub fn last_order_ms(&self) -> Option<Millis> {
        self.orders.last().map(|o| o.at_ms)
    }

    /// The customer's mean order value (spend / orders); `None` without orders.
    pub fn mean_order_minor(&self) -> Option<f64> {
        let n = self.order_count();
        (n > 0).then(|| self.spend_minor() as f64 / f64::from(n))
    }

    /// Gaps between consecutive kept orders, in order.
    pub fn kept_gaps(&self) -> impl Iterator<Item = i64> + '_ {
        self.orders.windows(2).map(|w| w[1].at_ms - w[0].at_ms)
    }

    /// Mean gap between consecutive orders; `None` below 2 orders.
    pub fn mean_interval_ms(&self) -> Option<i64> {
        let (sum, n) = self.earlier.map_or((0, 0), |e| (e.gaps_ms, e.gaps));
        let sum = sum + self.kept_gaps().sum::<i64>();
        let n = n + self.orders.len().saturating_sub(1) as u32;
        (n > 0).then(|| sum / i64::from(n))
    }

    /// Median gap between consecutive kept orders (the lower middle of an even count);
    /// `None` below 2 orders (the mean of the folded gaps when only those exist).
    pub fn median_interval_ms(&self) -> Option<i64> {
        let mut gaps: Vec<i64> = self.kept_gaps().collect();
        if gaps.is_empty() {
            return self
                .earlier
                .filter(|e| e.gaps > 0)
                .map(|e| e.gaps_ms / i64::from(e.gaps));
        }
        gaps.sort_unstable();
        Some(gaps[(gaps.len() - 1) / 2])
    }
}

/// The usual named RFM groups (built-in segments `rfm:<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RfmGroup {
    Champions,
    Loyal,
    PotentialLoyalist,
    NewCustomers,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CannotLose,
    Hibernating,
    Lost,
}

impl RfmGroup {
    pub const ALL: [RfmGroup; 11] = [
        RfmGroup::Champions,
        RfmGroup::Loyal,
        RfmGroup::PotentialLoyalist,
        RfmGroup::NewCustomers,
        RfmGroup::Promising,
        RfmGroup::NeedAttention,
        RfmGroup::AboutToSleep,
        RfmGroup::AtRisk,
        RfmGroup::CannotLose,
        RfmGroup::Hibernating,
        RfmGroup::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RfmGroup::Champions => "champions",
            RfmGroup::Loyal => "loyal",
            RfmGroup::PotentialLoyalist => "potential_loyalist",
            RfmGroup::NewCustomers => "new_customers",
            RfmGroup::Promising => "promising",
            RfmGroup::NeedAttention => "need_attention",
            RfmGroup::AboutToSleep => "about_to_sleep",
            RfmGroup::AtRisk => "at_risk",
            RfmGroup::CannotLose => "cannot_lose",
            RfmGroup::Hibernating => "hibernating",
            RfmGroup::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<RfmGroup> {
        RfmGroup::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// A customer's scores over the whole population: RFM quintiles (1..5, 0 without
/// orders), the group, the expected next order and the churn risk (0..1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scores {
    pub recency: u8,
    pub frequency: u8,
    pub monetary: u8,
    pub group: Option<RfmGroup>,
    pub expected_next_ms: Option<Millis>,
    pub churn_risk: f64,
}

/// Scores a row against the population it was computed over (`segment_board` keeps
/// one, refreshed now and then).
pub trait ScoreSource: Send + Sync {
    fn scores(&self, row: &Row, now_ms: Millis) -> Scores;
}

/// Scores nothing (every customer unscored): before the population is known.
pub struct NoScores;

impl ScoreSource for NoScores {
    fn scores(&self, _row: &Row, _now_ms: Millis) -> Scores {
        Scores::default()
    }
}
