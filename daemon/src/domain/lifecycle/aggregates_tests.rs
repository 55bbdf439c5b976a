//! The aggregates' rules, worked by hand.

use super::*;
use crate::domain::order::state::{apply, OrderCadence};
use crate::domain::order::{
    BackorderMark, Lines, OrderCancelled, OrderEvent, OrderLine, OrderPlaced, OrderRefunded,
};

const DAY: Millis = 86_400_000;

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

fn cancelled(id: &str, lines: Lines) -> OrderEvent {
    OrderEvent::Cancelled(OrderCancelled {
        order_id: id.into(),
        customer_id: "c".into(),
        lines,
        reason: "out of stock".into(),
    })
}

fn refunded(id: &str, lines: Lines, amount_minor: i64) -> OrderEvent {
    OrderEvent::Refunded(OrderRefunded {
        order_id: id.into(),
        customer_id: "c".into(),
        lines,
        amount_minor,
    })
}

/// Applies an order event the way the customer's actor does: to the order's state, then
/// the aggregates follow it.
fn on(a: &mut Aggregates, order: &mut Option<OrderState>, e: &OrderEvent, at: Millis) {
    apply(order, e, at, &OrderCadence::default()).expect("the event applies");
    let o = order.as_ref().expect("an order");
    a.order_synced(o, matches!(e, OrderEvent::Placed(_)));
}

fn summary(a: &Aggregates) -> Vec<(&str, Millis, i64, bool)> {
    a.orders
        .iter()
        .map(|o| (o.order_id.as_str(), o.at_ms, o.amount_minor(), o.coupon))
        .collect()
}

#[test]
fn a_placed_order_counts_once_with_its_lines_and_coupon() {
    let mut a = Aggregates::default();
    let mut o = None;
    let e = placed(
        "o1",
        "SPRING",
        vec![line("1", "A", 2, 500), line("2", "B", 1, 300)],
    );
    on(&mut a, &mut o, &e, DAY);
    // Sent again: the same order.
    on(&mut a, &mut o, &e, 2 * DAY);
    assert_eq!(summary(&a), vec![("o1", DAY, 1_300, true)]);
    assert_eq!(a.orders[0].sku_units(), vec![("A", 2), ("B", 1)]);
    // A purchase of the same id is not counted again.
    let items = [PurchaseLine {
        sku: "A".into(),
        quantity: 2,
        amount_minor: 1_000,
    }];
    assert!(!a.purchased("o1", 3 * DAY, &items));
    assert_eq!(a.orders.len(), 1);
}

#[test]
fn a_purchase_counts_once_and_its_order_placed_takes_over_the_lines() {
    let mut a = Aggregates::default();
    let items = [
        PurchaseLine {
            sku: "A".into(),
            quantity: 1,
            amount_minor: 700,
        },
        PurchaseLine {
            sku: "A".into(),
            quantity: 2,
            amount_minor: 1_400,
        },
    ];
    assert!(a.purchased("p1", 5 * DAY, &items));
    assert!(!a.purchased("p1", 6 * DAY, &items));
    assert_eq!(summary(&a), vec![("p1", 5 * DAY, 2_100, false)]);
    assert_eq!(a.orders[0].sku_units(), vec![("A", 3)]);
    // Its order_placed (later) keeps the purchase's time, takes its lines and coupon.
    let mut o = None;
    let e = placed("p1", "X", vec![line("9", "B", 1, 1_000)]);
    on(&mut a, &mut o, &e, 7 * DAY);
    assert_eq!(summary(&a), vec![("p1", 5 * DAY, 1_000, true)]);
    assert_eq!(a.orders[0].sku_units(), vec![("B", 1)]);
}

#[test]
fn cancelled_lines_leave_the_amount_and_refunds_lower_it_never_below_zero() {
    let mut a = Aggregates::default();
    let mut o = None;
    let lines = vec![line("1", "A", 2, 500), line("2", "B", 1, 300)];
    on(&mut a, &mut o, &placed("o1", "", lines), DAY);
    on(
        &mut a,
        &mut o,
        &cancelled("o1", Lines::Only(vec!["2".into()])),
        2 * DAY,
    );
    // 2 × 500; B's unit is gone.
    assert_eq!(summary(&a), vec![("o1", DAY, 1_000, false)]);
    assert_eq!(a.orders[0].sku_units(), vec![("A", 2)]);
    // A refund of line 1: its units leave, 400 leaves the amount.
    on(
        &mut a,
        &mut o,
        &refunded("o1", Lines::Only(vec!["1".into()]), 400),
        3 * DAY,
    );
    assert_eq!(summary(&a), vec![("o1", DAY, 600, false)]);
    assert!(a.orders[0].sku_units().is_empty());
    // More refunded than left: 0, not negative.
    on(
        &mut a,
        &mut o,
        &refunded("o1", Lines::Only(Vec::new()), 5_000),
        4 * DAY,
    );
    assert_eq!(summary(&a), vec![("o1", DAY, 0, false)]);
    // Still counted (not cancelled).
    assert_eq!(a.orders.len(), 1);
}

#[test]
fn a_wholly_cancelled_order_is_not_counted_even_when_sent_again() {
    let mut a = Aggregates::default();
    let mut o = None;
    let e = placed(
        "o1",
        "",
        vec![line("1", "A", 1, 500), line("2", "B", 1, 300)],
    );
    on(&mut a, &mut o, &e, DAY);
    on(
        &mut a,
        &mut o,
        &cancelled("o1", Lines::Only(vec!["1".into()])),
        2 * DAY,
    );
    assert_eq!(a.orders.len(), 1);
    on(&mut a, &mut o, &cancelled("o1", Lines::All), 3 * DAY);
    assert!(a.orders.is_empty());
    // The shop sends its order_placed again: still cancelled, still not counted.
    on(&mut a, &mut o, &e, 4 * DAY);
    assert!(a.orders.is_empty());
}

#[test]
fn a_cancelled_line_refunded_later_stays_cancelled() {
    let mut a = Aggregates::default();
    let mut o = None;
    let e = placed(
        "o1",
        "",
        vec![line("1", "A", 1, 500), line("2", "B", 1, 300)],
    );
    on(&mut a, &mut o, &e, DAY);
    on(
        &mut a,
        &mut o,
        &cancelled("o1", Lines::Only(vec!["2".into()])),
        2 * DAY,
    );
    on(
        &mut a,
        &mut o,
        &refunded("o1", Lines::Only(vec!["2".into()]), 0),
        3 * DAY,
    );
    // The order state now says "refunded" for line 2; the aggregates keep it cancelled.
    assert!(a.orders[0].lines[1].cancelled && a.orders[0].lines[1].refunded);
    assert_eq!(summary(&a), vec![("o1", DAY, 500, false)]);
}

#[test]
fn orders_are_kept_in_time_order_whatever_order_they_arrive_in() {
    let mut a = Aggregates::default();
    let item = |amount_minor| {
        [PurchaseLine {
            sku: "A".into(),
            quantity: 1,
            amount_minor,
        }]
    };
    a.purchased("late", 9 * DAY, &item(900));
    a.purchased("early", DAY, &item(100));
    a.purchased("mid", 5 * DAY, &item(500));
    let ids: Vec<&str> = a.orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["early", "mid", "late"]);
}

#[test]
fn orders_beyond_the_kept_ones_fold_into_the_summary() {
    let mut a = Aggregates::default();
    let n = MAX_KEPT_ORDERS + 3;
    for i in 0..n {
        let sku = if i % 2 == 0 { "EVEN" } else { "ODD" };
        let items = [PurchaseLine {
            sku: sku.into(),
            quantity: 1,
            amount_minor: 100,
        }];
        // Gaps of 1, 2, 3, … days: order i at day i(i+1)/2.
        let day = (i * (i + 1) / 2) as Millis;
        assert!(a.purchased(&format!("o{i}"), day * DAY, &items));
    }
    assert_eq!(a.orders.len(), MAX_KEPT_ORDERS);
    let f = a.earlier.clone().expect("folded orders");
    // Orders 0, 1, 2 at days 0, 1, 3: gaps 1 and 2 days.
    assert_eq!((f.orders, f.spend_minor, f.coupon_orders), (3, 300, 0));
    assert_eq!((f.first_ms, f.last_ms), (0, 3 * DAY));
    assert_eq!((f.gaps_ms, f.gaps), (3 * DAY, 2));
    let even = f.skus.iter().find(|s| s.sku == "EVEN").expect("EVEN");
    assert_eq!((even.units, even.order_indexes.clone()), (2, vec![1, 3]));
    assert_eq!((even.first_ms, even.last_ms), (0, 3 * DAY));
    let odd = f.skus.iter().find(|s| s.sku == "ODD").expect("ODD");
    assert_eq!((odd.units, odd.order_indexes.clone()), (1, vec![2]));
    assert_eq!(a.orders[0].order_id, "o3");
}

#[test]
fn a_v4_record_is_seeded_from_its_orders_and_unmatched_order_times() {
    let mut o = None;
    let cadence = OrderCadence::default();
    let e = placed("o1", "", vec![line("1", "A", 3, 100)]);
    apply(&mut o, &e, 2 * DAY, &cadence).expect("placed");
    let mut gone = None;
    let e = placed("o2", "", vec![line("1", "A", 1, 100)]);
    apply(&mut gone, &e, 3 * DAY, &cadence).expect("placed");
    apply(&mut gone, &cancelled("o2", Lines::All), 3 * DAY, &cadence).expect("cancelled");
    let orders = [o.expect("o1"), gone.expect("o2")];
    let a = Aggregates::seeded(&orders, &[DAY, 2 * DAY, 3 * DAY]);
    let seen: Vec<(Millis, i64)> = a
        .orders
        .iter()
        .map(|k| (k.at_ms, k.amount_minor()))
        .collect();
    // Day 1: a time only (a purchase); day 2: o1; o2 was wholly cancelled.
    assert_eq!(seen, vec![(DAY, 0), (2 * DAY, 300)]);
    assert!(!a.subscribed);
}
