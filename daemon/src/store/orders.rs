//! The schemas of orders: the Router's order index (order id → customer and each line's
//! SKU), the order-notice log (a product's word about an order's lines, followed by
//! the fan-out like the trigger log, from the `NoticeCursor` in `meta`), and the log of
//! customers' cancellation requests (followed by the shop webhook).

use super::schema::{v1_by_name, v1_log, Cf};
use crate::domain::order::state::CancelRequest;
use crate::domain::order::{LineNotice, OrderIndex};

v1_by_name!(
    /// Every placed order's customer and lines, by order id.
    OrderIndexes,
    Cf::OrderIndexes,
    OrderIndex
);

v1_log!(
    /// The order-notice log, by notice id (increasing).
    LineNotices,
    Cf::LineNotices,
    LineNotice
);

v1_log!(
    /// The cancellation-request log, by request id (increasing; written by the Router
    /// with the customer's state that records the request).
    CancelRequests,
    Cf::CancelRequests,
    CancelRequest
);
