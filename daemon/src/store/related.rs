//! The schemas of related products: the placed-order log (the Router writes one record
//! per new order, in the order's batch), and what the related follower
//! (`fanout::related`, their one writer) derives from it — each SKU's co-purchase
//! record, each category's best sellers, the total order count and its cursor.

use super::codec;
use super::schema::{meta_singleton, v1_by_name, v1_log, Cf};
use crate::domain::order::related::{CategoryBestSellers, CoPurchase, OrderTotal, PlacedOrder};

v1_log!(
    /// The placed-order log, by id (increasing, in the order the batches were written).
    PlacedOrders,
    Cf::PlacedOrders,
    PlacedOrder
);

v1_by_name!(
    /// Each SKU's co-purchase record.
    RelatedRecords,
    Cf::Related,
    CoPurchase
);

v1_by_name!(
    /// Each category's best sellers.
    CategorySellers,
    Cf::CategorySellers,
    CategoryBestSellers
);

meta_singleton!(
    /// The last placed order whose co-purchases are counted (u64 BE, in `meta`).
    RelatedCursor,
    b"related_cursor",
    u64
);

meta_singleton!(
    /// The decayed count of all orders counted (lift's `N`, in `meta`).
    OrderTotals,
    b"order_total",
    OrderTotal,
    |t: &OrderTotal| codec::encode(1, t),
    |b: &[u8]| codec::decode(Cf::Meta.name(), 1, b)
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::Schema;

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
