//! A customer's row from their record, worked by hand:
//!
//! | order | how                         | time   | lines                         | after                    |
//! |-------|-----------------------------|--------|-------------------------------|--------------------------|
//! | o1    | order_placed, coupon WELCOME| day 0  | A 2 × 500, B 1 × 300          | B cancelled: 1,000       |
//! | o1    | purchase (same id)          | day 0  | —                             | not counted again        |
//! | o2    | purchase                    | day 10 | C 3 units, 900                | 900                      |
//! | o3    | order_placed                | day 30 | A 1 × 500, D 2 × 250          | refund 200 of A: 800     |
//! | o4    | order_placed                | day 40 | E 1 × 700                     | wholly cancelled: none   |
//!
//! Orders 3, spend 2,700, coupon orders 1, mean order 900; gaps 10 and 20 days: mean 15,
//! median (lower middle) 10. Bought: C 3 [2], A 2 [1], D 2 [3]; B and E none.

use super::row_of;
use crate::domain::customer::{Channel, Scenario};
use crate::domain::lifecycle::aggregates::PurchaseLine;
use crate::domain::lifecycle::engagement::Click;
use crate::domain::order::state::{apply, OrderCadence};
use crate::domain::order::{
    BackorderMark, Lines, OrderCancelled, OrderEvent, OrderLine, OrderPlaced, OrderRefunded,
};
use crate::domain::profile::CustomerState;
use crate::domain::segments::{Bought, Earlier, OrderPoint};
use crate::domain::Millis;

const DAY: Millis = 86_400_000;
const T0: Millis = 1_700_000_000_000;

fn line(id: &str, sku: &str, quantity: i64, unit_price_minor: i64) -> OrderLine {
    OrderLine {
        line_id: id.into(),
        sku: sku.into(),
        quantity,
        unit_price_minor,
        backorder: BackorderMark::InStock,
        promise: None,
    }
}

fn placed(id: &str, coupon: &str, lines: Vec<OrderLine>) -> OrderEvent {
    OrderEvent::Placed(OrderPlaced {
        order_id: id.into(),
        customer_id: "c".into(),
        currency: "JPY".into(),
        coupon_code: coupon.into(),
        lines,
    })
}

/// An order event as the customer's actor applies it (`customer_orders::on_event`).
fn order(c: &mut CustomerState, e: &OrderEvent, at: Millis) {
    let i = c.orders.iter().position(|o| o.order_id == e.order_id());
    let mut o = i.map(|i| c.orders[i].clone());
    apply(&mut o, e, at, &OrderCadence::default()).expect("the event applies");
    let o = o.expect("an order");
    c.lifecycle
        .aggregates
        .order_synced(&o, matches!(e, OrderEvent::Placed(_)));
    match i {
        Some(i) => c.orders[i] = o,
        None => c.orders.push(o),
    }
}

/// A purchase with an order id, as the customer's actor applies it.
fn purchase(c: &mut CustomerState, id: &str, at: Millis, items: &[(&str, i64, i64)]) {
    let items: Vec<PurchaseLine> = items
        .iter()
        .map(|&(sku, quantity, amount_minor)| PurchaseLine {
            sku: sku.into(),
            quantity,
            amount_minor,
        })
        .collect();
    if c.order(id).is_none() {
        c.lifecycle.aggregates.purchased(id, at, &items);
    }
}

fn customer() -> CustomerState {
    let mut c = CustomerState::bare("c", "Asia/Tokyo", T0);
    c.lifecycle.aggregates.subscribed = true;
    let o1 = placed(
        "o1",
        "WELCOME",
        vec![line("1", "A", 2, 500), line("2", "B", 1, 300)],
    );
    order(&mut c, &o1, T0);
    purchase(&mut c, "o1", T0 + 1, &[("A", 2, 1_000), ("B", 1, 300)]);
    purchase(&mut c, "o2", T0 + 10 * DAY, &[("C", 3, 900)]);
    let o3 = placed(
        "o3",
        "",
        vec![line("1", "A", 1, 500), line("2", "D", 2, 250)],
    );
    order(&mut c, &o3, T0 + 30 * DAY);
    let o4 = placed("o4", "", vec![line("1", "E", 1, 700)]);
    order(&mut c, &o4, T0 + 40 * DAY);
    let cancel_b = OrderEvent::Cancelled(OrderCancelled {
        order_id: "o1".into(),
        customer_id: "c".into(),
        lines: Lines::Only(vec!["2".into()]),
        reason: "sold out".into(),
    });
    order(&mut c, &cancel_b, T0 + DAY);
    let refund_a = OrderEvent::Refunded(OrderRefunded {
        order_id: "o3".into(),
        customer_id: "c".into(),
        lines: Lines::Only(vec!["1".into()]),
        amount_minor: 200,
    });
    order(&mut c, &refund_a, T0 + 35 * DAY);
    let cancel_o4 = OrderEvent::Cancelled(OrderCancelled {
        order_id: "o4".into(),
        customer_id: "c".into(),
        lines: Lines::All,
        reason: "changed mind".into(),
    });
    order(&mut c, &cancel_o4, T0 + 41 * DAY);
    c
}

#[test]
fn the_row_holds_the_hand_computed_aggregates() {
    let row = row_of(&customer());
    assert_eq!(
        row.orders,
        vec![
            OrderPoint {
                at_ms: T0,
                amount_minor: 1_000,
                coupon: true
            },
            OrderPoint {
                at_ms: T0 + 10 * DAY,
                amount_minor: 900,
                coupon: false
            },
            OrderPoint {
                at_ms: T0 + 30 * DAY,
                amount_minor: 800,
                coupon: false
            },
        ]
    );
    assert_eq!(row.earlier, None);
    assert_eq!(row.order_count(), 3);
    assert_eq!(row.spend_minor(), 2_700);
    assert_eq!(row.coupon_orders(), 1);
    assert_eq!(row.first_order_ms(), Some(T0));
    assert_eq!(row.last_order_ms(), Some(T0 + 30 * DAY));
    assert_eq!(row.mean_order_minor(), Some(900.0));
    assert_eq!(row.mean_interval_ms(), Some(15 * DAY));
    assert_eq!(row.median_interval_ms(), Some(10 * DAY));
    assert!(row.subscribed);
    let b = |sku: &str, units, idx: Vec<u32>, at: Millis| Bought {
        sku: sku.into(),
        units,
        order_indexes: idx,
        first_ms: at,
        last_ms: at,
    };
    assert_eq!(
        row.bought,
        vec![
            b("C", 3, vec![2], T0 + 10 * DAY),
            b("A", 2, vec![1], T0),
            b("D", 2, vec![3], T0 + 30 * DAY),
        ]
    );
}

#[test]
fn the_last_click_is_the_latest_counted_click_of_any_channel() {
    let mut c = customer();
    assert_eq!(row_of(&c).last_click_ms, None);
    let click = |at_ms, channel| Click {
        at_ms,
        entry_seq: at_ms as u64,
        link: 0,
        scenario: Scenario::PriceDrop,
        channel,
        skus: vec!["A".into()],
    };
    let e = &mut c.lifecycle.engagement;
    e.record_click(click(T0 + 5 * DAY, Channel::Line), 30 * DAY);
    e.record_click(click(T0 + 3 * DAY, Channel::Email), 30 * DAY);
    assert_eq!(row_of(&c).last_click_ms, Some(T0 + 5 * DAY));
}

#[test]
fn folded_orders_count_in_the_row_with_the_gap_to_the_first_kept_one() {
    use crate::domain::lifecycle::aggregates::{
        Aggregates, Folded, FoldedSku, KeptLine, KeptOrder,
    };
    let mut c = CustomerState::bare("c", "Asia/Tokyo", 0);
    c.lifecycle.aggregates = Aggregates {
        subscribed: false,
        orders: vec![KeptOrder {
            order_id: "k".into(),
            at_ms: 10 * DAY,
            coupon: false,
            lines: vec![KeptLine {
                line_id: "1".into(),
                sku: "A".into(),
                quantity: 1,
                amount_minor: 100,
                cancelled: false,
                refunded: false,
            }],
            refunded_minor: 0,
        }],
        earlier: Some(Folded {
            orders: 2,
            spend_minor: 500,
            first_ms: DAY,
            last_ms: 4 * DAY,
            coupon_orders: 1,
            gaps_ms: 3 * DAY,
            gaps: 1,
            skus: vec![FoldedSku {
                sku: "A".into(),
                units: 4,
                order_indexes: vec![1, 2],
                first_ms: DAY,
                last_ms: 4 * DAY,
            }],
        }),
    };
    let row = row_of(&c);
    // Gaps: 3 days (folded) + 6 days (to the kept order).
    assert_eq!(
        row.earlier,
        Some(Earlier {
            orders: 2,
            spend_minor: 500,
            first_ms: DAY,
            coupon_orders: 1,
            gaps_ms: 9 * DAY,
            gaps: 2,
        })
    );
    assert_eq!((row.order_count(), row.spend_minor()), (3, 600));
    assert_eq!(row.mean_interval_ms(), Some(9 * DAY / 2));
    assert_eq!(
        row.bought,
        vec![Bought {
            sku: "A".into(),
            units: 5,
            order_indexes: vec![1, 2, 3],
            first_ms: DAY,
            last_ms: 10 * DAY,
        }]
    );
}
