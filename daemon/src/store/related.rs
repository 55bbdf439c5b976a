//! The schemas of related products: the placed-order log (the Router writes one record
//! per new order, in the order's batch), and what the related follower
//! (`fanout::related`, their one writer) derives from it — each SKU's co-purchase
//! record, each category's best sellers, the total order count and its cursor.

use super::codec;
use super::meta::corrupt;
use super::schema::{bad_key, be_u64, utf8, Cf, Schema};
use super::StoreError;
use crate::domain::order::related::{CategoryBestSellers, CoPurchase, OrderTotal, PlacedOrder};

const V1: u8 = 1;

/// The placed-order log, by id (increasing, in the order the batches were written).
pub struct PlacedOrders;

impl Schema for PlacedOrders {
    const CF: Cf = Cf::PlacedOrders;
    type Key = u64;
    type KeyRef<'a> = u64;
    type Value = PlacedOrder;

    fn encode_key(id: u64) -> Vec<u8> {
        id.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<u64, StoreError> {
        be_u64(bytes).ok_or_else(|| bad_key(Self::CF, "not a u64"))
    }
    fn encode_value(value: &PlacedOrder) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<PlacedOrder, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

/// A schema keyed by a plain string whose value is bincode v1.
macro_rules! by_name {
    ($(#[$doc:meta])* $name:ident, $cf:expr, $value:ty) => {
        $(#[$doc])*
        pub struct $name;

        impl Schema for $name {
            const CF: Cf = $cf;
            type Key = String;
            type KeyRef<'a> = &'a str;
            type Value = $value;

            fn encode_key(key: &str) -> Vec<u8> {
                key.as_bytes().to_vec()
            }
            fn decode_key(bytes: &[u8]) -> Result<String, StoreError> {
                utf8(Self::CF, bytes)
            }
            fn encode_value(value: &$value) -> Vec<u8> {
                codec::encode(V1, value)
            }
            fn decode_value(bytes: &[u8]) -> Result<$value, StoreError> {
                codec::decode(Self::CF.name(), V1, bytes)
            }
        }
    };
}

by_name!(
    /// Each SKU's co-purchase record.
    RelatedRecords,
    Cf::Related,
    CoPurchase
);

by_name!(
    /// Each category's best sellers.
    CategorySellers,
    Cf::CategorySellers,
    CategoryBestSellers
);

/// The last placed order whose co-purchases are counted (u64 BE, in `meta`).
pub struct RelatedCursor;

impl Schema for RelatedCursor {
    const CF: Cf = Cf::Meta;
    type Key = ();
    type KeyRef<'a> = ();
    type Value = u64;

    fn encode_key(_: ()) -> Vec<u8> {
        b"related_cursor".to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<(), StoreError> {
        if bytes == b"related_cursor" {
            Ok(())
        } else {
            Err(bad_key(Cf::Meta, "RelatedCursor"))
        }
    }
    fn encode_value(c: &u64) -> Vec<u8> {
        c.to_be_bytes().to_vec()
    }
    fn decode_value(b: &[u8]) -> Result<u64, StoreError> {
        be_u64(b).ok_or_else(|| corrupt("related_cursor", "not a u64"))
    }
}

/// The decayed count of all orders counted (lift's `N`, in `meta`).
pub struct OrderTotals;

impl Schema for OrderTotals {
    const CF: Cf = Cf::Meta;
    type Key = ();
    type KeyRef<'a> = ();
    type Value = OrderTotal;

    fn encode_key(_: ()) -> Vec<u8> {
        b"order_total".to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<(), StoreError> {
        if bytes == b"order_total" {
            Ok(())
        } else {
            Err(bad_key(Cf::Meta, "OrderTotals"))
        }
    }
    fn encode_value(t: &OrderTotal) -> Vec<u8> {
        codec::encode(V1, t)
    }
    fn decode_value(b: &[u8]) -> Result<OrderTotal, StoreError> {
        codec::decode(Cf::Meta.name(), V1, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placed_order_bytes_are_stable() {
        let p = PlacedOrder {
            order_id: "o1".into(),
            at_ms: 1,
            skus: vec!["A".into(), "B".into()],
        };
        let bytes = PlacedOrders::encode_value(&p);
        assert_eq!(bytes, [1, 2, b'o', b'1', 2, 2, 1, b'A', 1, b'B'].to_vec());
        assert_eq!(PlacedOrders::decode_value(&bytes).ok(), Some(p));
        assert_eq!(
            PlacedOrders::decode_key(&PlacedOrders::encode_key(7)).ok(),
            Some(7)
        );
    }

    #[test]
    fn meta_records_round_trip() {
        assert_eq!(
            RelatedCursor::decode_value(&RelatedCursor::encode_value(&9)).ok(),
            Some(9)
        );
        let t = OrderTotal {
            as_of_ms: 5,
            orders: 2.5,
        };
        assert_eq!(
            OrderTotals::decode_value(&OrderTotals::encode_value(&t)).ok(),
            Some(t)
        );
    }
}
