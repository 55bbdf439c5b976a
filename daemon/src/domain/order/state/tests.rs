//! One order through its life, event by event: notices, book removals, timers, refusals.

use super::*;
use crate::domain::order::{
    BackorderMark, Lines, OrderCancelled, OrderDelayed, OrderDelivered, OrderEvent, OrderLine,
    OrderPlaced, OrderRefunded, OrderShipped, Promise, ShipWindow,
};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;
const T0: i64 = 1_700_000_000_000;

fn cfg() -> OrderCadence {
    OrderCadence::default()
}

fn line(id: &str, mark: BackorderMark, promise: Option<ShipWindow>) -> OrderLine {
    OrderLine {
        line_id: id.to_owned(),
        sku: format!("sku-{id}"),
        quantity: 2,
        unit_price_minor: 1_000,
        backorder: mark,
        promise,
    }
}

fn placed(lines: Vec<OrderLine>) -> OrderEvent {
    OrderEvent::Placed(OrderPlaced {
        order_id: "o1".to_owned(),
        customer_id: "c1".to_owned(),
        currency: "JPY".to_owned(),
        coupon_code: String::new(),
        lines,
    })
}

fn only(ids: &[&str]) -> Lines {
    Lines::Only(ids.iter().map(|s| (*s).to_owned()).collect())
}

fn shipped(lines: Lines, tracking: &str) -> OrderEvent {
    OrderEvent::Shipped(OrderShipped {
        order_id: "o1".to_owned(),
        customer_id: "c1".to_owned(),
        lines,
        carrier: "Yamato".to_owned(),
        tracking_number: tracking.to_owned(),
        tracking_url: String::new(),
    })
}

fn delivered(lines: Lines) -> OrderEvent {
    OrderEvent::Delivered(OrderDelivered {
        order_id: "o1".to_owned(),
        customer_id: "c1".to_owned(),
        lines,
    })
}

fn delayed(lines: Lines, promise: Promise, reason: &str) -> OrderEvent {
    OrderEvent::Delayed(OrderDelayed {
        order_id: "o1".to_owned(),
        customer_id: "c1".to_owned(),
        lines,
        promise,
        reason: reason.to_owned(),
    })
}

fn cancelled(lines: Lines) -> OrderEvent {
    OrderEvent::Cancelled(OrderCancelled {
        order_id: "o1".to_owned(),
        customer_id: "c1".to_owned(),
        lines,
        reason: "customer asked".to_owned(),
    })
}

fn kinds(fx: &Effects) -> Vec<(OrderNotice, Vec<String>)> {
    fx.notices
        .iter()
        .map(|n| (n.kind, n.lines.clone()))
        .collect()
}

fn notice(kind: OrderNotice, lines: &[&str]) -> (OrderNotice, Vec<String>) {
    (kind, lines.iter().map(|s| (*s).to_owned()).collect())
}

/// An order with a backordered line `b` and an in-stock line `s`, placed at T0.
fn backorder_and_in_stock() -> (Option<OrderState>, Effects) {
    let mut st = None;
    let fx = apply(
        &mut st,
        &placed(vec![
            line("b", BackorderMark::Backorder, None),
            line("s", BackorderMark::InStock, None),
        ]),
        T0,
        &cfg(),
    )
    .expect("a new order is accepted");
    (st, fx)
}

fn state(st: &mut Option<OrderState>) -> &mut OrderState {
    st.as_mut().expect("the order was placed")
}

#[test]
fn a_marked_backorder_is_confirmed_at_once_and_updated_every_10_days() {
    let (mut st, fx) = backorder_and_in_stock();
    assert_eq!(kinds(&fx), [notice(OrderNotice::Confirmation, &["b"])]);
    assert_eq!(
        fx.next_due_ms,
        Some(T0 + H),
        "the cross-sell after the order"
    );
    let o = state(&mut st);
    let fx = tick(o, T0 + H, &cfg());
    assert_eq!(
        kinds(&fx),
        [notice(OrderNotice::CrossSellAfterOrder, &["b", "s"])]
    );
    assert_eq!(fx.next_due_ms, Some(T0 + 10 * D));
    assert!(kinds(&tick(o, T0 + 10 * D - 1, &cfg())).is_empty());
    let fx = tick(o, T0 + 10 * D, &cfg());
    assert_eq!(kinds(&fx), [notice(OrderNotice::Update, &["b"])]);
    assert_eq!(fx.next_due_ms, Some(T0 + 20 * D));
    assert!(kinds(&tick(o, T0 + 15 * D, &cfg())).is_empty());
}

#[test]
fn unmarked_lines_wait_for_the_products_before_the_confirmation() {
    let mut st = None;
    let fx = apply(
        &mut st,
        &placed(vec![
            line("a", BackorderMark::Unspecified, None),
            line("b", BackorderMark::Unspecified, None),
        ]),
        T0,
        &cfg(),
    )
    .expect("accepted");
    assert!(fx.notices.is_empty());
    let o = state(&mut st);
    let verdict = |id: &str, waits| LineVerdict {
        line_id: id.to_owned(),
        waits,
    };
    let fx = line_verdicts(o, &[verdict("a", false)], T0 + 5, &cfg()).expect("known line");
    assert!(fx.notices.is_empty(), "line b is still undecided");
    let fx = line_verdicts(o, &[verdict("b", true)], T0 + 9, &cfg()).expect("known line");
    assert_eq!(kinds(&fx), [notice(OrderNotice::Confirmation, &["b"])]);
    assert_eq!(o.last_notice_ms, Some(T0 + 9));
    let err = line_verdicts(o, &[verdict("zz", true)], T0, &cfg()).expect_err("unknown line");
    assert_eq!(err.field, "line_id");
}

#[test]
fn an_order_with_nothing_waiting_gets_no_confirmation() {
    let mut st = None;
    let fx = apply(
        &mut st,
        &placed(vec![line("s", BackorderMark::InStock, None)]),
        T0,
        &cfg(),
    )
    .expect("accepted");
    assert!(fx.notices.is_empty());
    assert_eq!(state(&mut st).confirmation, Confirmation::NotNeeded);
}

#[test]
fn a_delay_restarts_the_update_clock() {
    let (mut st, _) = backorder_and_in_stock();
    let fx = apply(
        &mut st,
        &delayed(only(&["b"]), Promise::Unknown, "the maker is late"),
        T0 + 8 * D,
        &cfg(),
    )
    .expect("b has not shipped");
    assert_eq!(
        kinds(&fx),
        [notice(OrderNotice::Delayed { auto: false }, &["b"])]
    );
    let o = state(&mut st);
    tick(o, T0 + H, &cfg());
    assert!(kinds(&tick(o, T0 + 10 * D, &cfg())).is_empty());
    let fx = tick(o, T0 + 18 * D, &cfg());
    assert_eq!(kinds(&fx), [notice(OrderNotice::Update, &["b"])]);
    let line = o.line("b").expect("line b");
    assert_eq!(line.delay_reason.as_deref(), Some("the maker is late"));
}

#[test]
fn an_arrival_tells_the_covered_lines_and_stops_the_updates() {
    let (mut st, _) = backorder_and_in_stock();
    let o = state(&mut st);
    let fx = arrived(o, &["b".to_owned(), "s".to_owned()], T0 + 2 * D, &cfg());
    assert_eq!(kinds(&fx), [notice(OrderNotice::Arrived, &["b"])]);
    assert_eq!(o.line("b").map(|l| l.status), Some(LineStatus::Allocated));
    tick(o, T0 + H, &cfg());
    assert_eq!(
        o.next_due_ms(&cfg()),
        None,
        "nothing waits: no more updates"
    );
    assert!(kinds(&arrived(o, &["b".to_owned()], T0 + 3 * D, &cfg())).is_empty());
}

#[test]
fn shipping_tells_once_and_takes_the_line_out_of_its_book() {
    let (mut st, _) = backorder_and_in_stock();
    let fx = apply(&mut st, &shipped(Lines::All, "T-1"), T0 + D, &cfg()).expect("ships");
    assert_eq!(kinds(&fx), [notice(OrderNotice::Shipped, &["b", "s"])]);
    assert_eq!(
        fx.book_ops,
        [BookOp {
            sku: "sku-b".to_owned(),
            order_id: "o1".to_owned(),
            line_id: "b".to_owned(),
            exit: LineExit::Shipped,
        }]
    );
    let again = apply(&mut st, &shipped(Lines::All, "T-1"), T0 + D, &cfg()).expect("a re-send");
    assert!(!again.changed && again.notices.is_empty());
    let err = apply(&mut st, &shipped(only(&["b"]), "T-2"), T0 + D, &cfg())
        .expect_err("a second tracking number for a shipped line");
    assert_eq!(err.field, "order_shipped.lines");
    assert!(err.reason.contains("already shipped"), "{}", err.reason);
    let err = apply(&mut st, &shipped(Lines::All, "T-2"), T0 + D, &cfg())
        .expect_err("nothing left to ship");
    assert!(
        err.reason.contains("no line left to ship"),
        "{}",
        err.reason
    );
}

#[test]
fn refusals_name_the_field_and_change_nothing() {
    let (mut st, _) = backorder_and_in_stock();
    apply(&mut st, &cancelled(only(&["b"])), T0 + D, &cfg()).expect("b cancels");
    let before = st.clone();
    let cases = [
        (
            shipped(only(&["b"]), "T"),
            "order_shipped.lines",
            "was cancelled",
        ),
        (
            shipped(only(&["s", "x"]), "T"),
            "order_shipped.lines",
            "has no line \"x\"",
        ),
        (
            delivered(only(&["s"])),
            "order_delivered.lines",
            "not shipped yet",
        ),
        (
            delayed(only(&["b"]), Promise::Unknown, "r"),
            "order_delayed.lines",
            "was cancelled",
        ),
        (
            placed(vec![line("b", BackorderMark::InStock, None)]),
            "order_placed.order_id",
            "already placed",
        ),
    ];
    for (event, field, says) in cases {
        let err = apply(&mut st, &event, T0 + 2 * D, &cfg()).expect_err("refused");
        assert_eq!(err.field, field, "{event:?}");
        assert!(err.reason.contains(says), "{}", err.reason);
        assert_eq!(st, before, "a refusal changed the order");
    }
    let mut other = shipped(Lines::All, "T");
    if let OrderEvent::Shipped(e) = &mut other {
        e.customer_id = "c2".to_owned();
    }
    let err = apply(&mut st, &other, T0, &cfg()).expect_err("another customer's order");
    assert_eq!(err.field, "order_shipped.customer_id");
    let err = apply(&mut None, &delivered(Lines::All), T0, &cfg()).expect_err("not placed");
    assert_eq!(err.field, "order_delivered.order_id");
}

#[test]
fn the_same_order_placed_twice_changes_nothing() {
    let (mut st, _) = backorder_and_in_stock();
    let before = st.clone();
    let fx = apply(
        &mut st,
        &placed(vec![
            line("b", BackorderMark::Backorder, None),
            line("s", BackorderMark::InStock, None),
        ]),
        T0 + D,
        &cfg(),
    )
    .expect("an identical re-send");
    assert!(!fx.changed && fx.notices.is_empty());
    assert_eq!(st, before);
}

#[test]
fn delivery_brings_the_follow_up_and_the_cross_sell_and_nothing_else() {
    let (mut st, _) = backorder_and_in_stock();
    apply(&mut st, &shipped(Lines::All, "T-1"), T0 + D, &cfg()).expect("ships");
    let fx = apply(&mut st, &delivered(Lines::All), T0 + 2 * D, &cfg()).expect("delivered");
    assert!(fx.notices.is_empty());
    let o = state(&mut st);
    tick(o, T0 + H, &cfg());
    assert_eq!(o.next_due_ms(&cfg()), Some(T0 + 5 * D));
    let fx = tick(o, T0 + 5 * D, &cfg());
    assert_eq!(
        kinds(&fx),
        [notice(OrderNotice::DeliveredFollowUp, &["b", "s"])]
    );
    let fx = tick(o, T0 + 9 * D, &cfg());
    assert_eq!(
        kinds(&fx),
        [notice(OrderNotice::CrossSellAfterDelivery, &["b", "s"])]
    );
    assert_eq!(o.next_due_ms(&cfg()), None);
}

#[test]
fn a_refund_after_delivery_cancels_the_follow_up() {
    let (mut st, _) = backorder_and_in_stock();
    apply(&mut st, &shipped(Lines::All, "T-1"), T0 + D, &cfg()).expect("ships");
    apply(&mut st, &delivered(Lines::All), T0 + 2 * D, &cfg()).expect("delivered");
    let refund = OrderEvent::Refunded(OrderRefunded {
        order_id: "o1".to_owned(),
        customer_id: "c1".to_owned(),
        lines: Lines::All,
        amount_minor: 4_000,
    });
    let fx = apply(&mut st, &refund, T0 + 3 * D, &cfg()).expect("refunded");
    assert!(
        fx.book_ops.is_empty(),
        "shipped lines left the book already"
    );
    let o = state(&mut st);
    assert_eq!(o.next_due_ms(&cfg()), None);
    assert!(kinds(&tick(o, T0 + 30 * D, &cfg())).is_empty());
    assert_eq!(o.refunds.len(), 1);
}

#[test]
fn a_passed_promise_is_flagged_and_announced_once() {
    let window = ShipWindow {
        earliest_ms: T0 + 2 * D,
        latest_ms: T0 + 5 * D,
    };
    let mut st = None;
    apply(
        &mut st,
        &placed(vec![line("b", BackorderMark::Backorder, Some(window))]),
        T0,
        &cfg(),
    )
    .expect("accepted");
    let o = state(&mut st);
    tick(o, T0 + H, &cfg());
    assert_eq!(o.next_due_ms(&cfg()), Some(T0 + 5 * D + 1));
    assert!(
        kinds(&tick(o, T0 + 5 * D, &cfg())).is_empty(),
        "latest is inclusive"
    );
    let fx = tick(o, T0 + 5 * D + 1, &cfg());
    assert_eq!(
        kinds(&fx),
        [notice(OrderNotice::Delayed { auto: true }, &["b"])]
    );
    assert!(o.line("b").is_some_and(|l| l.past_promise));
    assert_eq!(fx.next_due_ms, Some(T0 + 15 * D + 1), "the clock restarted");
    assert!(kinds(&tick(o, T0 + 6 * D, &cfg())).is_empty(), "only once");
    // The shop names a new window: the flag clears, and that window is watched too.
    let later = ShipWindow {
        earliest_ms: T0 + 7 * D,
        latest_ms: T0 + 8 * D,
    };
    apply(
        &mut st,
        &delayed(Lines::All, Promise::Window(later), "customs"),
        T0 + 6 * D,
        &cfg(),
    )
    .expect("delayed");
    let o = state(&mut st);
    assert!(o.line("b").is_some_and(|l| !l.past_promise));
    let fx = tick(o, T0 + 8 * D + 1, &cfg());
    assert_eq!(
        kinds(&fx),
        [notice(OrderNotice::Delayed { auto: true }, &["b"])]
    );
}

#[test]
fn a_cancelled_order_leaves_the_books_and_hears_nothing_more() {
    let (mut st, _) = backorder_and_in_stock();
    let fx = apply(&mut st, &cancelled(Lines::All), T0 + 10, &cfg()).expect("cancelled");
    assert!(fx.notices.is_empty());
    assert_eq!(fx.book_ops.len(), 1, "only the waiting line is in a book");
    assert_eq!(fx.next_due_ms, None, "no update, no cross-sell");
    let again = apply(&mut st, &cancelled(Lines::All), T0 + 20, &cfg()).expect("re-send");
    assert!(!again.changed);
    let o = state(&mut st);
    assert!(kinds(&arrived(o, &["b".to_owned()], T0 + D, &cfg())).is_empty());
    assert!(kinds(&tick(o, T0 + 30 * D, &cfg())).is_empty());
}

#[test]
fn an_identical_delay_re_sent_is_not_told_twice() {
    let (mut st, _) = backorder_and_in_stock();
    let event = delayed(only(&["b"]), Promise::Unknown, "the maker is late");
    apply(&mut st, &event, T0 + D, &cfg()).expect("delayed");
    let fx = apply(&mut st, &event, T0 + 2 * D, &cfg()).expect("a re-send");
    assert!(!fx.changed && fx.notices.is_empty());
}

#[test]
fn an_order_state_survives_serialisation() {
    let (st, _) = backorder_and_in_stock();
    let json = serde_json::to_string(&st).expect("serialises");
    let back: Option<OrderState> = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, st);
}
