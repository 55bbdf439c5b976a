//! Orders as the shop reports them: what was placed, shipped, delivered, delayed,
//! cancelled and refunded. Plain data, validated at the API edge (ranges in
//! `api::limits`); the state machine that follows one order is `state/`, the per-SKU
//! book of waiting backorder lines and its allocation rule is `backorder.rs`, the
//! co-purchase table behind cross-sell is `related.rs`, what operators see across orders
//! (the backorder board, lines past their promise) is `board.rs`.

pub mod backorder;
pub mod board;
pub mod cross_sell;
pub mod related;
pub mod state;

use serde::{Deserialize, Serialize};

use super::Millis;

/// A promised ship window: the line ships no earlier than `earliest_ms` and no later than
/// `latest_ms` (both inclusive, Unix ms, `earliest_ms <= latest_ms`). Messages show it as
/// a range, never as a single date the shop did not promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipWindow {
    pub earliest_ms: Millis,
    pub latest_ms: Millis,
}

/// What the shop currently promises for a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Promise {
    /// No promise was given (an in-stock line, or a backorder without a window).
    None,
    Window(ShipWindow),
    /// A delay notice said the shop does not know yet.
    Unknown,
}

/// How the shop marked a line at placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackorderMark {
    /// The shop did not say: the line waits when its product is backorderable and has
    /// fewer units than the line's quantity when the order arrives.
    Unspecified,
    Backorder,
    InStock,
}

/// One line of a placed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Unique within the order.
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub backorder: BackorderMark,
    pub promise: Option<ShipWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: String,
    pub customer_id: String,
    pub currency: String,
    /// Empty = no coupon.
    pub coupon_code: String,
    pub lines: Vec<OrderLine>,
}

/// Which lines an event is about. An empty list on the wire means every line that the
/// event can still apply to (e.g. every line not yet shipped or cancelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lines {
    All,
    Only(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderShipped {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Lines,
    pub carrier: String,
    pub tracking_number: String,
    /// Empty = no tracking page.
    pub tracking_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDelivered {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Lines,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDelayed {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Lines,
    /// The new window, or `Promise::Unknown` ("we do not know yet").
    pub promise: Promise,
    /// The reason in the shop's words, shown to the customer.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Lines,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRefunded {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Lines,
    /// Amount refunded in the order's currency's minor unit.
    pub amount_minor: i64,
}

/// An order event of the Ingest API, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    Placed(OrderPlaced),
    Shipped(OrderShipped),
    Delivered(OrderDelivered),
    Delayed(OrderDelayed),
    Cancelled(OrderCancelled),
    Refunded(OrderRefunded),
}

impl OrderEvent {
    pub fn order_id(&self) -> &str {
        match self {
            OrderEvent::Placed(e) => &e.order_id,
            OrderEvent::Shipped(e) => &e.order_id,
            OrderEvent::Delivered(e) => &e.order_id,
            OrderEvent::Delayed(e) => &e.order_id,
            OrderEvent::Cancelled(e) => &e.order_id,
            OrderEvent::Refunded(e) => &e.order_id,
        }
    }

    /// Orders are routed by customer: every order event names the order's customer.
    pub fn customer_id(&self) -> &str {
        match self {
            OrderEvent::Placed(e) => &e.customer_id,
            OrderEvent::Shipped(e) => &e.customer_id,
            OrderEvent::Delivered(e) => &e.customer_id,
            OrderEvent::Delayed(e) => &e.customer_id,
            OrderEvent::Cancelled(e) => &e.customer_id,
            OrderEvent::Refunded(e) => &e.customer_id,
        }
    }

    /// The event's name as the API and the logs say it.
    pub fn name(&self) -> &'static str {
        match self {
            OrderEvent::Placed(_) => "order_placed",
            OrderEvent::Shipped(_) => "order_shipped",
            OrderEvent::Delivered(_) => "order_delivered",
            OrderEvent::Delayed(_) => "order_delayed",
            OrderEvent::Cancelled(_) => "order_cancelled",
            OrderEvent::Refunded(_) => "order_refunded",
        }
    }
}

/// One line as the Router remembers it, to route a later event about it to its product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
}

/// What the Router keeps of every placed order: whose it is and which SKU each line is
/// of. Later events name lines by id (or none, meaning all); this says which product
/// actors must hear of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIndex {
    pub customer_id: String,
    pub lines: Vec<IndexedLine>,
}

impl OrderIndex {
    pub fn of(placed: &OrderPlaced) -> OrderIndex {
        OrderIndex {
            customer_id: placed.customer_id.clone(),
            lines: placed
                .lines
                .iter()
                .map(|l| IndexedLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                })
                .collect(),
        }
    }

    /// The indexed lines an event names (every line for `Lines::All`), and the first id
    /// it names that the order does not have.
    pub fn select<'a>(&'a self, lines: &Lines) -> Result<Vec<&'a IndexedLine>, String> {
        match lines {
            Lines::All => Ok(self.lines.iter().collect()),
            Lines::Only(ids) => ids
                .iter()
                .map(|id| {
                    self.lines
                        .iter()
                        .find(|l| &l.line_id == id)
                        .ok_or_else(|| id.clone())
                })
                .collect(),
        }
    }
}

/// What a product tells an order's owner about some of the order's lines of its SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineNoticeKind {
    /// The lines wait for stock (backorders), oldest first in the product's book.
    Waiting,
    /// The lines were covered by stock on hand when the order arrived.
    InStock,
    /// Arrived stock was allocated to the lines (each whole): they can ship now.
    Allocated,
}

/// A product's word about lines of one order, stored in the order-notice log in the same
/// write as the product's state and handed to the order's customer by the fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineNotice {
    pub customer_id: String,
    pub order_id: String,
    pub sku: String,
    pub kind: LineNoticeKind,
    pub line_ids: Vec<String>,
    pub at_ms: Millis,
}
