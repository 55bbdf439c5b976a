//! The schemas operators read across orders (layouts in `schema.rs`): the backorder
//! board, one row per SKU whose book is not empty (written with the product's state),
//! and the lines past their promise, one per flagged open line (written with the order's
//! customer). Both are kept by their owners' writes, so reading them scans neither the
//! catalogue nor the customers.

use super::codec;
use super::schema::{bad_key, pair_key, split_pair, utf8, Cf, Schema};
use super::StoreError;
use crate::domain::order::board::{BoardRow, LateLine};

const V1: u8 = 1;

/// The backorder board, by sku (key order).
pub struct BackorderBoard;

impl Schema for BackorderBoard {
    const CF: Cf = Cf::BackorderBoard;
    type Key = String;
    type KeyRef<'a> = &'a str;
    type Value = BoardRow;

    fn encode_key(key: &str) -> Vec<u8> {
        key.as_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<String, StoreError> {
        utf8(Self::CF, bytes)
    }
    fn encode_value(value: &BoardRow) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<BoardRow, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

/// Lines past their promise, by (order id, line id): an order's flagged lines are
/// neighbours, so a page of orders is one forward scan.
pub struct LateLines;

impl Schema for LateLines {
    const CF: Cf = Cf::LateLines;
    type Key = (String, String);
    type KeyRef<'a> = (&'a str, &'a str);
    type Value = LateLine;

    fn encode_key((order_id, line_id): (&str, &str)) -> Vec<u8> {
        pair_key(order_id, line_id.as_bytes())
    }
    fn decode_key(bytes: &[u8]) -> Result<(String, String), StoreError> {
        let (order_id, line_id) =
            split_pair(bytes).ok_or_else(|| bad_key(Self::CF, "no order id"))?;
        Ok((order_id.to_owned(), utf8(Self::CF, line_id)?))
    }
    fn encode_value(value: &LateLine) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<LateLine, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::state::LineStatus;

    #[test]
    fn keys_and_values_round_trip() {
        let k = BackorderBoard::encode_key("A-1");
        assert_eq!(BackorderBoard::decode_key(&k).ok(), Some("A-1".to_owned()));
        let row = BoardRow {
            title: "Linen shirt".into(),
            waiting_lines: 2,
            waiting_units: 5,
            reserved_lines: 1,
            reserved_units: 3,
            oldest_wait_ms: Some(7),
            stock: -5,
            available: 0,
            updated_ms: 9,
        };
        let v = BackorderBoard::encode_value(&row);
        assert_eq!(BackorderBoard::decode_value(&v).ok(), Some(row));

        let k = LateLines::encode_key(("o-1", "l-2"));
        assert_eq!(
            LateLines::decode_key(&k).ok(),
            Some(("o-1".to_owned(), "l-2".to_owned()))
        );
        // An order's lines sort together, before a longer order id with the same start.
        assert!(LateLines::encode_key(("o-1", "zz")) < LateLines::encode_key(("o-10", "a")));
        let late = LateLine {
            customer_id: "c".into(),
            sku: "A-1".into(),
            quantity: 2,
            status: LineStatus::Waiting,
            latest_ms: 10,
            flagged_ms: 11,
        };
        let v = LateLines::encode_value(&late);
        assert_eq!(LateLines::decode_value(&v).ok(), Some(late));
    }
}
