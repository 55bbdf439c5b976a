//! Pure rules of stockbell: product state, sales velocity and stock-linked triggers.
//! No I/O, no actors, no clock reads: time is always a parameter (Unix milliseconds).

pub mod customer;
pub mod decide;
pub mod interest;
pub mod late;
pub mod lifecycle;
pub mod message;
pub mod order;
pub mod product;
pub mod profile;
pub mod release;
pub mod rules;
pub mod segments;
pub mod triggers;
pub mod velocity;
pub mod worth;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Unix time in milliseconds.
pub type Millis = i64;

pub const MS_PER_DAY: f64 = 86_400_000.0;

/// A window `[start, end)`; `None` is open on that side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start_ms: Option<Millis>,
    pub end_ms: Option<Millis>,
}

impl Window {
    pub fn contains(&self, t: Millis) -> bool {
        self.start_ms.is_none_or(|s| t >= s) && self.end_ms.is_none_or(|e| t < e)
    }

    /// Both ends set and the end not after the start.
    pub fn is_inverted(&self) -> bool {
        matches!((self.start_ms, self.end_ms), (Some(s), Some(e)) if e <= s)
    }
}

/// The four stock-linked triggers (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TriggerKind {
    BackInStock,
    LowStock,
    PriceDrop,
    NewArrival,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::BackInStock => "back_in_stock",
            TriggerKind::LowStock => "low_stock",
            TriggerKind::PriceDrop => "price_drop",
            TriggerKind::NewArrival => "new_arrival",
        }
    }
}

/// Why stock changed by a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustReason {
    Sale,
    Restock,
    Return,
    Correction,
}

/// Catalogue data of a product, replaced whole by an upsert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    pub title: String,
    pub url: String,
    pub image_url: String,
    pub category_ids: Vec<String>,
    pub currency: String,
    pub backorderable: bool,
    pub sale_window: Window,
    pub display_window: Window,
}

/// A validated event for one product. `Timer` events come from the durable scheduler.
#[derive(Debug, Clone, PartialEq)]
pub enum ProductEvent {
    Upsert {
        catalogue: Catalogue,
        price_minor: i64,
        /// Existed before the shop connected stockbell: never announced as new.
        imported: bool,
    },
    StockSet {
        quantity: i64,
    },
    StockAdjust {
        delta: i64,
        reason: AdjustReason,
    },
    Sale {
        quantity: i64,
    },
    PriceSet {
        price_minor: i64,
    },
    Timer(TimerKind),
    /// A customer's interaction with this product (recorded on the interest edge).
    Interest {
        customer_id: String,
        signal: Signal,
    },
    /// A line of a placed order for this product: the product decides whether it waits
    /// (and keeps it in its backorder book) and tells the order's customer.
    OrderLine {
        line: order::backorder::NewLine,
        mark: order::BackorderMark,
    },
    /// A line left the order's waiting or allocated lines (shipped, cancelled, refunded).
    OrderLineDone {
        order_id: String,
        line_id: String,
    },
}

/// A customer-side interaction with a product, before the product adds its price.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Favourite,
    Unfavourite,
    View {
        dwell_ms: u32,
    },
    CartAdd,
    CartRemove,
    /// `until_ms` is absolute; `None` = the default lifetime.
    NotifyMe {
        until_ms: Option<Millis>,
    },
    Purchase,
}

/// What a durable timer is for; the due time is part of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// A lower price has held for `stable_for`.
    PriceStable,
    /// The display window opens (new-arrival check).
    DisplayStart,
    /// A customer's arbitration window is over (the key names the customer).
    CustomerArbitrate,
    /// A customer's quiet hours are over: release deferred messages.
    CustomerQuiet,
    /// One of a customer's orders needs a tick (an update, a promise, a follow-up).
    CustomerOrders,
    /// The customer's cart journey may have a step due (`lifecycle::journey`).
    CustomerJourney,
    /// A customer's win-back or birthday may be due.
    CustomerLapse,
}

impl TimerKind {
    /// Customer timers are keyed by customer id; the others by sku.
    pub fn is_customer(self) -> bool {
        matches!(
            self,
            TimerKind::CustomerArbitrate
                | TimerKind::CustomerQuiet
                | TimerKind::CustomerOrders
                | TimerKind::CustomerJourney
                | TimerKind::CustomerLapse
        )
    }
}

/// A request to write (`put`) or remove a durable timer for this product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerOp {
    pub due_ms: Millis,
    pub kind: TimerKind,
    pub put: bool,
}

/// A trigger that fired, with the inputs that made it fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiredTrigger {
    pub kind: TriggerKind,
    pub sku: String,
    pub at_ms: Millis,
    pub old_stock: i64,
    pub new_stock: i64,
    pub velocity_per_day: f64,
    pub cover_days: Option<f64>,
    pub old_price_minor: i64,
    pub new_price_minor: i64,
    pub reason: String,
    /// The product's catalogue data when it fired: with `new_stock` and `new_price_minor`
    /// it is everything the fan-out's messages show. `None` only for triggers logged by
    /// a build before this field existed.
    pub catalogue: Option<Catalogue>,
}

/// An event refused by the rules; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The offending field, e.g. `stock_adjust.delta`; owned when it names an element by
    /// its index (`order_placed.lines[2].quantity`).
    pub field: Cow<'static, str>,
    pub reason: String,
}

impl Rejection {
    pub fn new(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Rejection {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Trigger thresholds (the `[triggers]` config section, durations in ms).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerConfig {
    pub min_restock_qty: i64,
    pub low_stock_qty: i64,
    pub sellout_horizon_ms: i64,
    pub velocity_half_life_ms: i64,
    pub min_drop_pct: f64,
    pub min_drop_abs: i64,
    pub stable_for_ms: i64,
    pub new_arrival_min_stock: i64,
    pub new_arrival_grace_ms: i64,
    pub price_history_len: usize,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        const DAY: i64 = 86_400_000;
        TriggerConfig {
            min_restock_qty: 1,
            low_stock_qty: 3,
            sellout_horizon_ms: 3 * DAY,
            velocity_half_life_ms: 7 * DAY,
            min_drop_pct: 10.0,
            min_drop_abs: 0,
            stable_for_ms: 3_600_000,
            new_arrival_min_stock: 1,
            new_arrival_grace_ms: 7 * DAY,
            price_history_len: 32,
        }
    }
}
