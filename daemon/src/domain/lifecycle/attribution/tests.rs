//! Attribution: the window per channel, last click wins, notified SKU or another,
//! an order counted once, and the holdout arms' conversions.

use super::*;

const DAY: Millis = 86_400_000;
const T0: Millis = 1_700_000_000_000;

fn click(at: Millis, seq: u64, scenario: Scenario, channel: Channel, skus: &[&str]) -> Click {
    Click {
        at_ms: at,
        entry_seq: seq,
        link: 0,
        scenario,
        channel,
        skus: skus.iter().map(|s| s.to_string()).collect(),
    }
}

fn engaged(clicks: Vec<Click>) -> Engagement {
    let mut e = Engagement::default();
    for c in clicks {
        e.record_click(c, AttributionWindows::default().longest());
    }
    e
}

fn order(id: &str, at: Millis, skus: &[&str]) -> OrderFacts {
    OrderFacts {
        order_id: id.into(),
        at_ms: at,
        currency: "JPY".into(),
        total_minor: 4_200,
        skus: skus.iter().map(|s| s.to_string()).collect(),
    }
}

fn credited(credits: &[ScenarioCredit]) -> Vec<(Scenario, u64, u64, u64)> {
    credits
        .iter()
        .filter(|c| c.tally.orders > 0)
        .map(|c| {
            (
                c.scenario,
                c.tally.orders,
                c.tally.notified_sku_orders,
                c.tally.other_sku_orders,
            )
        })
        .collect()
}

#[test]
fn an_order_within_the_window_after_a_click_is_credited_with_its_total() {
    let w = AttributionWindows::default();
    let e = engaged(vec![click(
        T0,
        1,
        Scenario::BackInStock,
        Channel::Email,
        &["A"],
    )]);
    let mut a = Attribution::default();
    let credits = a.on_order(&e, &order("o1", T0 + 5 * DAY, &["A"]), &w);
    assert_eq!(credited(&credits), [(Scenario::BackInStock, 1, 1, 0)]);
    assert_eq!(
        credits[0].tally.revenue,
        [Revenue {
            currency: "JPY".into(),
            minor: 4_200
        }]
    );
    // One millisecond past the email window: nothing.
    let late = Attribution::default().on_order(&e, &order("o2", T0 + 5 * DAY + 1, &["A"]), &w);
    assert!(credited(&late).is_empty(), "{late:?}");
    // An order before the click is not the click's.
    let early = Attribution::default().on_order(&e, &order("o3", T0 - 1, &["A"]), &w);
    assert!(credited(&early).is_empty(), "{early:?}");
}

#[test]
fn each_channel_has_its_own_window() {
    let w = AttributionWindows::default();
    let line = engaged(vec![click(
        T0,
        1,
        Scenario::PriceDrop,
        Channel::Line,
        &["A"],
    )]);
    let in_day = Attribution::default().on_order(&line, &order("o1", T0 + DAY, &["A"]), &w);
    assert_eq!(credited(&in_day), [(Scenario::PriceDrop, 1, 1, 0)]);
    let two_days = Attribution::default().on_order(&line, &order("o1", T0 + 2 * DAY, &["A"]), &w);
    assert!(credited(&two_days).is_empty(), "LINE's window is a day");
    let email = engaged(vec![click(
        T0,
        1,
        Scenario::PriceDrop,
        Channel::Email,
        &["A"],
    )]);
    let two_days = Attribution::default().on_order(&email, &order("o1", T0 + 2 * DAY, &["A"]), &w);
    assert_eq!(credited(&two_days), [(Scenario::PriceDrop, 1, 1, 0)]);
    // Configured windows are the ones read.
    let short = AttributionWindows { email_ms: DAY, ..w };
    let none = Attribution::default().on_order(&email, &order("o1", T0 + 2 * DAY, &["A"]), &short);
    assert!(credited(&none).is_empty());
}

#[test]
fn the_last_click_wins() {
    let w = AttributionWindows::default();
    let e = engaged(vec![
        click(T0, 1, Scenario::BackInStock, Channel::Email, &["A"]),
        click(T0 + DAY, 2, Scenario::PriceDrop, Channel::Email, &["B"]),
    ]);
    let credits = Attribution::default().on_order(&e, &order("o1", T0 + 2 * DAY, &["A"]), &w);
    // The later click (price drop, about B) takes it; the customer bought A: another SKU.
    assert_eq!(credited(&credits), [(Scenario::PriceDrop, 1, 0, 1)]);
    // A later click whose window is over does not win: the earlier one still covers it.
    let e = engaged(vec![
        click(T0, 1, Scenario::BackInStock, Channel::Email, &["A"]),
        click(T0 + DAY, 2, Scenario::LowStock, Channel::Line, &["B"]),
    ]);
    let credits = Attribution::default().on_order(&e, &order("o1", T0 + 3 * DAY, &["A"]), &w);
    assert_eq!(credited(&credits), [(Scenario::BackInStock, 1, 1, 0)]);
}

#[test]
fn notified_sku_or_another() {
    let w = AttributionWindows::default();
    let e = engaged(vec![click(
        T0,
        1,
        Scenario::NewArrival,
        Channel::Email,
        &["A", "B"],
    )]);
    let both = Attribution::default().on_order(&e, &order("o1", T0 + 1, &["Z", "B"]), &w);
    assert_eq!(credited(&both), [(Scenario::NewArrival, 1, 1, 0)]);
    let other = Attribution::default().on_order(&e, &order("o2", T0 + 1, &["Z"]), &w);
    assert_eq!(credited(&other), [(Scenario::NewArrival, 1, 0, 1)]);
}

#[test]
fn a_re_sent_order_is_counted_once() {
    let w = AttributionWindows::default();
    let e = engaged(vec![click(
        T0,
        1,
        Scenario::BackInStock,
        Channel::Email,
        &["A"],
    )]);
    let mut a = Attribution::default();
    a.on_sent(Scenario::BackInStock, Channel::Email, T0 - 1);
    let first = a.on_order(&e, &order("o1", T0 + 1, &["A"]), &w);
    assert_eq!(credited(&first), [(Scenario::BackInStock, 1, 1, 0)]);
    assert_eq!(first[0].tally.sent_converted, 1);
    let again = a.on_order(&e, &order("o1", T0 + 2, &["A"]), &w);
    assert!(again.is_empty(), "{again:?}");
    // The kept ids are bounded; the newest stay.
    for i in 0..COUNTED_KEPT + 10 {
        a.on_order(&e, &order(&format!("x{i}"), T0 + 3, &["A"]), &w);
    }
    assert_eq!(a.counted_orders.len(), COUNTED_KEPT);
    assert!(a
        .on_order(
            &e,
            &order(&format!("x{}", COUNTED_KEPT + 9), T0 + 4, &["A"]),
            &w
        )
        .is_empty());
}

#[test]
fn a_customer_converts_once_per_scenario_on_their_side_of_the_split() {
    let w = AttributionWindows::default();
    let none = Engagement::default();
    let mut a = Attribution::default();
    let sent = a.on_sent(Scenario::BackInStock, Channel::Email, T0);
    assert_eq!((sent.tally.messages, sent.tally.sent_customers), (1, 1));
    let again = a.on_sent(Scenario::BackInStock, Channel::Email, T0 + DAY);
    assert_eq!((again.tally.messages, again.tally.sent_customers), (1, 0));
    let held = a
        .on_held_out(Scenario::PriceDrop, Channel::Line, T0)
        .expect("a first exposure");
    assert_eq!(held.tally.held_customers, 1);
    assert!(a
        .on_held_out(Scenario::PriceDrop, Channel::Line, T0 + 1)
        .is_none());
    // Two days after: in the email window of the last back-in-stock send, past LINE's
    // window of the held-out price drop. No click: no order credit, but a conversion.
    let credits = a.on_order(&none, &order("o1", T0 + 2 * DAY, &["A"]), &w);
    assert_eq!(credits.len(), 1, "{credits:?}");
    assert_eq!(credits[0].scenario, Scenario::BackInStock);
    assert_eq!(
        (credits[0].tally.orders, credits[0].tally.sent_converted),
        (0, 1)
    );
    // A held-out customer ordering within the window converts on the held-out side.
    let mut b = Attribution::default();
    b.on_held_out(Scenario::PriceDrop, Channel::Line, T0);
    let credits = b.on_order(&none, &order("o1", T0 + DAY, &["A"]), &w);
    assert_eq!(credits[0].tally.held_converted, 1);
    // Once per customer and scenario.
    assert!(b
        .on_order(&none, &order("o2", T0 + DAY, &["A"]), &w)
        .is_empty());
}

#[test]
fn tallies_add_up_per_currency() {
    let mut t = Tally::default();
    let jpy = |n| Tally {
        orders: 1,
        revenue: vec![Revenue {
            currency: "JPY".into(),
            minor: n,
        }],
        ..Tally::default()
    };
    t.add(&jpy(100));
    t.add(&Tally {
        messages: 4,
        revenue: vec![Revenue {
            currency: "EUR".into(),
            minor: 5,
        }],
        ..Tally::default()
    });
    t.add(&jpy(50));
    assert_eq!(t.orders, 2);
    assert_eq!(
        t.revenue,
        [
            Revenue {
                currency: "EUR".into(),
                minor: 5
            },
            Revenue {
                currency: "JPY".into(),
                minor: 150
            }
        ]
    );
    assert!((t.conversion_rate() - 0.5).abs() < 1e-9);
}
