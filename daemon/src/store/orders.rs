//! The schemas of orders: the Router's order index (order id → customer and each line's
//! SKU), the order-notice log (a product's word about an order's lines, followed by
//! the fan-out like the trigger log, from the `NoticeCursor` in `meta`), and the log of
//! customers' cancellation requests (followed by the shop webhook).

use super::codec;
use super::schema::{bad_key, be_u64, utf8, Cf, Schema};
use super::StoreError;
use crate::domain::order::state::CancelRequest;
use crate::domain::order::{LineNotice, OrderIndex};

const V1: u8 = 1;

/// Every placed order's customer and lines, by order id.
pub struct OrderIndexes;

impl Schema for OrderIndexes {
    const CF: Cf = Cf::OrderIndexes;
    type Key = String;
    type KeyRef<'a> = &'a str;
    type Value = OrderIndex;

    fn encode_key(key: &str) -> Vec<u8> {
        key.as_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<String, StoreError> {
        utf8(Self::CF, bytes)
    }
    fn encode_value(value: &OrderIndex) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<OrderIndex, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

/// The order-notice log, by notice id (increasing).
pub struct LineNotices;

impl Schema for LineNotices {
    const CF: Cf = Cf::LineNotices;
    type Key = u64;
    type KeyRef<'a> = u64;
    type Value = LineNotice;

    fn encode_key(id: u64) -> Vec<u8> {
        id.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<u64, StoreError> {
        be_u64(bytes).ok_or_else(|| bad_key(Self::CF, "not a u64"))
    }
    fn encode_value(value: &LineNotice) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<LineNotice, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

/// The cancellation-request log, by request id (increasing; written by the Router with
/// the customer's state that records the request).
pub struct CancelRequests;

impl Schema for CancelRequests {
    const CF: Cf = Cf::CancelRequests;
    type Key = u64;
    type KeyRef<'a> = u64;
    type Value = CancelRequest;

    fn encode_key(id: u64) -> Vec<u8> {
        id.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<u64, StoreError> {
        be_u64(bytes).ok_or_else(|| bad_key(Self::CF, "not a u64"))
    }
    fn encode_value(value: &CancelRequest) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<CancelRequest, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}
