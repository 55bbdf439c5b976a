//! One order as its customer's actor follows it: every line's status, promise and
//! shipment, and what the customer should be told when. Pure: `apply` (shop events,
//! `events.rs`), `line_verdicts` (the products said which lines wait), `arrived`
//! (an allocation covered lines) and `tick` (timers; these three in `internal.rs`)
//! take the time as a parameter and return `Effects`: notices (the lead maps them to
//! scenarios), book removals for the products, and when the order next needs a `tick`.
//! A refused call changes nothing.
//!
//! Line statuses: `Pending` (unmarked, its product has not ruled yet) → `Waiting` or
//! `InStock`; `Waiting` → `Allocated` (stock arrived); `Pending`/`Waiting`/`Allocated`/
//! `InStock` → `Shipped` → `Delivered`; `Cancelled` from any state before `Shipped`;
//! `Refunded` from any state. Rules a change must keep:
//! - Nothing transactional names a line once it is shipped, cancelled or refunded, except
//!   the delivered follow-up (shipped → delivered → follow-up).
//! - The backorder confirmation is decided once, when no line is `Pending`: sent when a
//!   line waits. Updates go only while a line is `Waiting`, never sooner than
//!   `update_every` after the last confirmation, update or delay notice (a delay, manual
//!   or automatic, restarts the clock).
//! - A promise passed: a line not yet shipped (any open status, not only `Waiting`: the
//!   customer was promised a ship date either way) whose window's `latest_ms` has passed
//!   with no delay notice since that window was given gets one automatic delay notice and
//!   the `past_promise` flag. A delay event with a new window clears the flag.
//! - The follow-up and the cross-sell after delivery are once per order, timed from the
//!   first delivery; the cross-sell after the order from its placement. Marketing timers
//!   stop when every line is cancelled or refunded.

use serde::{Deserialize, Serialize};

use super::{OrderLine, Promise};
use crate::domain::{Millis, Rejection};

mod cancel;
mod events;
mod internal;
pub use cancel::{request_cancel, CancelOutcome, CancelRequest};
pub use events::apply;
pub use internal::{arrived, line_verdicts, tick};

/// A refused event or call, naming the field and the fix; the state is unchanged.
pub type Refusal = Rejection;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// When order notices fall due (the `[orders]` timings, in ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCadence {
    pub update_every_ms: i64,
    pub followup_after_ms: i64,
    pub cross_sell_after_order_ms: i64,
    pub cross_sell_after_delivery_ms: i64,
}

impl Default for OrderCadence {
    fn default() -> Self {
        OrderCadence {
            update_every_ms: 10 * DAY_MS,
            followup_after_ms: 3 * DAY_MS,
            cross_sell_after_order_ms: HOUR_MS,
            cross_sell_after_delivery_ms: 7 * DAY_MS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineStatus {
    /// Not marked by the shop; its product has not said yet whether it waits.
    Pending,
    Waiting,
    Allocated,
    InStock,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

impl LineStatus {
    /// Not shipped, cancelled or refunded: transactional notices may still name it.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            LineStatus::Pending | LineStatus::Waiting | LineStatus::Allocated | LineStatus::InStock
        )
    }

    /// The line may be in its SKU's backorder book.
    fn may_be_in_book(self) -> bool {
        matches!(
            self,
            LineStatus::Pending | LineStatus::Waiting | LineStatus::Allocated
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LineStatus::Pending => "pending",
            LineStatus::Waiting => "waiting",
            LineStatus::Allocated => "allocated",
            LineStatus::InStock => "in_stock",
            LineStatus::Shipped => "shipped",
            LineStatus::Delivered => "delivered",
            LineStatus::Cancelled => "cancelled",
            LineStatus::Refunded => "refunded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub at_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineState {
    /// The line as placed.
    pub placed: OrderLine,
    pub status: LineStatus,
    /// The current promise: the placed window, or the last delay event's.
    pub promise: Promise,
    pub waiting_since_ms: Option<Millis>,
    pub allocated_ms: Option<Millis>,
    pub shipment: Option<Shipment>,
    pub delivered_ms: Option<Millis>,
    /// When it was cancelled or refunded, and the shop's reason for a cancel.
    pub closed_ms: Option<Millis>,
    pub cancel_reason: Option<String>,
    /// The last delay notice about this line (manual or automatic).
    pub last_delay_ms: Option<Millis>,
    /// The shop's reason in the last delay event; `None` after an automatic delay.
    pub delay_reason: Option<String>,
    /// Its promise passed with neither shipment nor delay notice (operators see it).
    pub past_promise: bool,
}

impl LineState {
    pub fn id(&self) -> &str {
        &self.placed.line_id
    }

    /// Its promise has passed by `at_ms` with neither shipment nor delay notice.
    fn promise_missed(&self, at_ms: Millis) -> bool {
        self.promise_due_ms().is_some_and(|due| at_ms >= due)
    }

    /// When this line's promise counts as passed with no delay notice, if it can.
    fn promise_due_ms(&self) -> Option<Millis> {
        let Promise::Window(w) = self.promise else {
            return None;
        };
        let told = self.last_delay_ms.is_some_and(|d| d >= w.latest_ms);
        (self.status.is_open() && !told).then(|| w.latest_ms.saturating_add(1))
    }
}

/// Whether the backorder confirmation was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Confirmation {
    /// Some line is `Pending`.
    Awaiting,
    Sent {
        at_ms: Millis,
    },
    /// No line waited when every line was decided.
    NotNeeded,
}

/// A once-per-order timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Once {
    NotYet,
    Due { at_ms: Millis },
    Done,
}

impl Once {
    fn due_ms(self) -> Option<Millis> {
        match self {
            Once::Due { at_ms } => Some(at_ms),
            Once::NotYet | Once::Done => None,
        }
    }

    /// Schedules it if it was never scheduled.
    fn schedule(&mut self, at_ms: Millis) {
        if *self == Once::NotYet {
            *self = Once::Due { at_ms };
        }
    }

    /// True once, when it is due at `now`.
    fn fire(&mut self, now: Millis) -> bool {
        let due = self.due_ms().is_some_and(|d| d <= now);
        if due {
            *self = Once::Done;
        }
        due
    }

    fn stop(&mut self) {
        *self = Once::Done;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub at_ms: Millis,
    pub lines: Vec<String>,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    pub order_id: String,
    pub customer_id: String,
    pub placed_ms: Millis,
    pub currency: String,
    /// Empty = no coupon.
    pub coupon_code: String,
    pub lines: Vec<LineState>,
    pub confirmation: Confirmation,
    /// The last confirmation, update or delay notice: the backorder-update clock.
    pub last_notice_ms: Option<Millis>,
    pub followup: Once,
    pub cross_sell_after_order: Once,
    pub cross_sell_after_delivery: Once,
    pub refunds: Vec<Refund>,
    /// When the customer asked (through the signed cancel link) for the order to be
    /// cancelled; the shop decides and sends `order_cancelled`. `None`: never asked.
    pub cancel_requested_at_ms: Option<Millis>,
}

/// What the customer should be told; the lead maps each to a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderNotice {
    Confirmation,
    Update,
    Arrived,
    /// `auto`: the promise passed with no word from the shop.
    Delayed {
        auto: bool,
    },
    Shipped,
    DeliveredFollowUp,
    CrossSellAfterOrder,
    CrossSellAfterDelivery,
}

impl OrderNotice {
    /// Order updates (their own lane, not marketing caps or consent) vs cross-sell.
    pub fn is_transactional(self) -> bool {
        !matches!(
            self,
            OrderNotice::CrossSellAfterOrder | OrderNotice::CrossSellAfterDelivery
        )
    }
}

/// A notice and the lines it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: OrderNotice,
    pub lines: Vec<String>,
}

/// Why a line leaves its SKU's backorder book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineExit {
    Shipped,
    Cancelled,
    Refunded,
}

/// Take a line out of its SKU's book (waiting or reserved); the product ignores a line
/// it does not hold. Lines enter the book at placement, by the product's own verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookOp {
    pub sku: String,
    pub order_id: String,
    pub line_id: String,
    pub exit: LineExit,
}

/// A product's verdict on an unmarked line of this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineVerdict {
    pub line_id: String,
    pub waits: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// False for a re-sent event that changed nothing: no write needed.
    pub changed: bool,
    pub notices: Vec<Notice>,
    pub book_ops: Vec<BookOp>,
    /// When the order next needs a `tick`; `None`: no timer.
    pub next_due_ms: Option<Millis>,
}

impl OrderState {
    pub fn line(&self, line_id: &str) -> Option<&LineState> {
        self.lines.iter().find(|l| l.id() == line_id)
    }

    fn ids_where(&self, keep: impl Fn(&LineState) -> bool) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| keep(l))
            .map(|l| l.id().to_owned())
            .collect()
    }

    fn any(&self, status: LineStatus) -> bool {
        self.lines.iter().any(|l| l.status == status)
    }

    /// Every line cancelled or refunded: nothing left to sell on.
    fn all_closed(&self) -> bool {
        self.lines
            .iter()
            .all(|l| matches!(l.status, LineStatus::Cancelled | LineStatus::Refunded))
    }

    /// When the order next needs a `tick`.
    pub fn next_due_ms(&self, cfg: &OrderCadence) -> Option<Millis> {
        let update = self.update_due_ms(cfg);
        let promises = self.lines.iter().filter_map(LineState::promise_due_ms);
        [
            update,
            self.followup.due_ms(),
            self.cross_sell_after_order.due_ms(),
            self.cross_sell_after_delivery.due_ms(),
        ]
        .into_iter()
        .flatten()
        .chain(promises)
        .min()
    }

    fn update_due_ms(&self, cfg: &OrderCadence) -> Option<Millis> {
        let sent = matches!(self.confirmation, Confirmation::Sent { .. });
        let last = self.last_notice_ms?;
        (sent && self.any(LineStatus::Waiting)).then(|| last.saturating_add(cfg.update_every_ms))
    }

    fn told(&mut self, at_ms: Millis) {
        self.last_notice_ms = Some(self.last_notice_ms.map_or(at_ms, |t| t.max(at_ms)));
    }

    /// The confirmation, once no line is `Pending`.
    fn settle_confirmation(&mut self, at_ms: Millis, fx: &mut Effects) {
        if self.confirmation != Confirmation::Awaiting || self.any(LineStatus::Pending) {
            return;
        }
        let waiting = self.ids_where(|l| l.status == LineStatus::Waiting);
        if waiting.is_empty() {
            self.confirmation = Confirmation::NotNeeded;
            return;
        }
        self.confirmation = Confirmation::Sent { at_ms };
        self.told(at_ms);
        fx.notices.push(Notice {
            kind: OrderNotice::Confirmation,
            lines: waiting,
        });
    }

    fn finish(&self, mut fx: Effects, cfg: &OrderCadence) -> Effects {
        fx.next_due_ms = self.next_due_ms(cfg);
        fx
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
