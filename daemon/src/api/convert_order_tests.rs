//! Unit tests of `convert_order.rs`: every field's range (the edges apply, one past them
//! is refused naming the field and the line's index) and the purchase items of an order.

use super::*;
use crate::actors::product::Item;
use crate::domain::{ProductEvent, Signal};

/// The event time of every case: 2026-01-01.
const AT: Millis = 1_767_225_600_000;
const TWO_YEARS: Millis = 730 * 86_400_000;

/// Converts at `AT` as event 4; on a refusal, checks that nothing was added.
fn one(kind: Kind) -> Result<Vec<IngestItem>, Rejection> {
    let mut out = Vec::new();
    let res = event(&kind, 4, AT, &mut out);
    if res.is_err() {
        assert!(out.is_empty(), "a refused event added items: {out:?}");
    }
    res.map(|()| out)
}

/// The field a refusal names, or "ok".
fn field(kind: Kind) -> String {
    match one(kind) {
        Ok(_) => "ok".into(),
        Err(r) => {
            assert!(r.reason.len() > 20, "no fix in {r:?}");
            r.field.into_owned()
        }
    }
}

fn line(id: &str, sku: &str) -> pb::OrderLine {
    pb::OrderLine {
        line_id: id.into(),
        sku: sku.into(),
        quantity: 1,
        unit_price_minor: 1980,
        ..Default::default()
    }
}

fn placed() -> pb::OrderPlaced {
    pb::OrderPlaced {
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        currency: " jpy ".into(),
        coupon_code: String::new(),
        lines: vec![line("L0", "A"), line("L1", "B"), line("L2", "C")],
    }
}

/// `placed()` changed by `f`, then converted.
fn placed_with(f: impl FnOnce(&mut pb::OrderPlaced)) -> String {
    let mut p = placed();
    f(&mut p);
    field(Kind::OrderPlaced(p))
}

fn window(earliest_ms: i64, latest_ms: i64) -> Option<pb::ShipWindow> {
    Some(pb::ShipWindow {
        earliest_ms,
        latest_ms,
    })
}

#[test]
fn an_order_placed_is_the_order_and_a_purchase_of_its_skus() {
    let mut p = placed();
    p.lines[1].backorder = pb::BackorderMark::Backorder as i32;
    p.lines[1].promise = window(AT + 1, AT + 2);
    p.lines[2].backorder = pb::BackorderMark::InStock as i32;
    let items = one(Kind::OrderPlaced(p)).expect("a valid order");
    assert_eq!(items.len(), 4);
    for (item, want) in items.iter().zip(["A", "B", "C"]) {
        match item {
            IngestItem::Product {
                sku,
                item:
                    Item {
                        index: 4,
                        at_ms: AT,
                        event:
                            ProductEvent::Interest {
                                customer_id,
                                signal: Signal::Purchase,
                            },
                    },
            } => assert_eq!((sku.as_str(), customer_id.as_str()), (want, "c-1")),
            other => panic!("not a purchase of {want}: {other:?}"),
        }
    }
    let IngestItem::Order { customer_id, item } = &items[3] else {
        panic!("no order item: {items:?}");
    };
    assert_eq!(
        (customer_id.as_str(), item.index, item.at_ms),
        ("c-1", 4, AT)
    );
    let OrderEvent::Placed(o) = &item.event else {
        panic!("{item:?}");
    };
    assert_eq!(
        (o.order_id.as_str(), o.currency.as_str(), o.lines.len()),
        ("o-1", "JPY", 3)
    );
    assert_eq!(o.lines[0].backorder, BackorderMark::Unspecified);
    assert_eq!(o.lines[1].backorder, BackorderMark::Backorder);
    assert_eq!(o.lines[2].backorder, BackorderMark::InStock);
    assert_eq!(
        o.lines[1].promise,
        Some(ShipWindow {
            earliest_ms: AT + 1,
            latest_ms: AT + 2
        })
    );
    assert_eq!(
        (o.lines[2].quantity, o.lines[2].unit_price_minor),
        (1, 1980)
    );
}

#[test]
fn a_purchase_and_an_order_of_the_same_skus_address_the_same_items() {
    let purchase = pb::Purchase {
        customer_id: "c-1".into(),
        order_id: "o-1".into(),
        currency: "JPY".into(),
        items: ["A", "B", "C"]
            .map(|sku| pb::PurchaseItem {
                sku: sku.into(),
                quantity: 1,
                amount_minor: 1980,
            })
            .to_vec(),
    };
    let mut bought = Vec::new();
    super::super::convert_customer::event(
        &Kind::Purchase(purchase),
        4,
        AT,
        &crate::api::convert::tests::defaults(),
        &mut bought,
    )
    .expect("a valid purchase");
    let ordered = one(Kind::OrderPlaced(placed())).expect("a valid order");
    // The purchase's first item is for the customer's cart (an order placed reaches the
    // cart through its customer's order event instead).
    assert_eq!(
        format!("{:?}", &bought[1..]),
        format!("{:?}", &ordered[..3])
    );
}

#[test]
fn the_ids_of_every_order_event_are_required() {
    let long = "x".repeat(257);
    let kinds: [fn(&str, &str) -> Kind; 6] = [
        |o, c| {
            Kind::OrderPlaced(pb::OrderPlaced {
                order_id: o.into(),
                customer_id: c.into(),
                ..placed()
            })
        },
        |o, c| {
            Kind::OrderShipped(pb::OrderShipped {
                order_id: o.into(),
                customer_id: c.into(),
                ..Default::default()
            })
        },
        |o, c| {
            Kind::OrderDelivered(pb::OrderDelivered {
                order_id: o.into(),
                customer_id: c.into(),
                ..Default::default()
            })
        },
        |o, c| {
            Kind::OrderDelayed(pb::OrderDelayed {
                order_id: o.into(),
                customer_id: c.into(),
                unknown_window: true,
                ..Default::default()
            })
        },
        |o, c| {
            Kind::OrderCancelled(pb::OrderCancelled {
                order_id: o.into(),
                customer_id: c.into(),
                ..Default::default()
            })
        },
        |o, c| {
            Kind::OrderRefunded(pb::OrderRefunded {
                order_id: o.into(),
                customer_id: c.into(),
                ..Default::default()
            })
        },
    ];
    for make in kinds {
        let items = one(make("o-1", "c-1")).expect("valid ids");
        let Some(IngestItem::Order { item, .. }) = items.last() else {
            panic!("no order item: {items:?}");
        };
        let name = item.event.name();
        let edge = "x".repeat(256);
        assert_eq!(field(make(&edge, &edge)), "ok", "{name}: 256 bytes");
        for (o, c, bad) in [
            ("", "c-1", "order_id"),
            (" ", "c-1", "order_id"),
            (&long, "c-1", "order_id"),
            ("o-1", "", "customer_id"),
            ("o-1", &long, "customer_id"),
        ] {
            assert_eq!(field(make(o, c)), format!("{name}.{bad}"), "{o:?} {c:?}");
        }
    }
}

#[test]
fn each_field_of_an_order_placed_is_in_its_range() {
    let many = |n: usize| (0..n).map(|i| line(&format!("L{i}"), "A")).collect();
    let cases: Vec<(String, &str)> = vec![
        (
            placed_with(|p| p.currency = "YEN1".into()),
            "order_placed.currency",
        ),
        (placed_with(|p| p.currency.clear()), "order_placed.currency"),
        (placed_with(|p| p.coupon_code = "c".repeat(64)), "ok"),
        (
            placed_with(|p| p.coupon_code = "c".repeat(65)),
            "order_placed.coupon_code",
        ),
        (placed_with(|p| p.lines.clear()), "order_placed.lines"),
        (placed_with(|p| p.lines = many(100)), "ok"),
        (placed_with(|p| p.lines = many(101)), "order_placed.lines"),
        (
            placed_with(|p| p.lines[2].line_id.clear()),
            "order_placed.lines[2].line_id",
        ),
        (
            placed_with(|p| p.lines[2].line_id = "L0".into()),
            "order_placed.lines[2].line_id",
        ),
        (
            placed_with(|p| p.lines[1].sku.clear()),
            "order_placed.lines[1].sku",
        ),
        (
            placed_with(|p| p.lines[1].sku = "s".repeat(257)),
            "order_placed.lines[1].sku",
        ),
        (placed_with(|p| p.lines[1].sku = "s".repeat(256)), "ok"),
        (
            placed_with(|p| p.lines[2].quantity = 0),
            "order_placed.lines[2].quantity",
        ),
        (
            placed_with(|p| p.lines[2].quantity = -1),
            "order_placed.lines[2].quantity",
        ),
        (placed_with(|p| p.lines[2].quantity = MAX_UNITS), "ok"),
        (
            placed_with(|p| p.lines[2].quantity = MAX_UNITS + 1),
            "order_placed.lines[2].quantity",
        ),
        (placed_with(|p| p.lines[0].unit_price_minor = 0), "ok"),
        (
            placed_with(|p| p.lines[0].unit_price_minor = -1),
            "order_placed.lines[0].unit_price_minor",
        ),
        (
            placed_with(|p| p.lines[0].unit_price_minor = MAX_MINOR),
            "ok",
        ),
        (
            placed_with(|p| p.lines[0].unit_price_minor = MAX_MINOR + 1),
            "order_placed.lines[0].unit_price_minor",
        ),
        (
            placed_with(|p| {
                p.lines[0].quantity = 2;
                p.lines[0].unit_price_minor = MAX_MINOR / 2 + 1;
            }),
            "order_placed.lines[0].unit_price_minor",
        ),
        (
            placed_with(|p| {
                p.lines[0].quantity = MAX_UNITS;
                p.lines[0].unit_price_minor = MAX_MINOR;
            }),
            "order_placed.lines[0].unit_price_minor",
        ),
        (
            placed_with(|p| {
                p.lines[0].quantity = 2;
                p.lines[0].unit_price_minor = MAX_MINOR / 2;
            }),
            "ok",
        ),
        (
            placed_with(|p| p.lines[1].backorder = 3),
            "order_placed.lines[1].backorder",
        ),
        (
            placed_with(|p| p.lines[1].backorder = -1),
            "order_placed.lines[1].backorder",
        ),
        (
            placed_with(|p| p.lines[0].promise = window(MIN_EVENT_TIME_MS, AT + TWO_YEARS)),
            "ok",
        ),
        (placed_with(|p| p.lines[0].promise = window(AT, AT)), "ok"),
        (
            placed_with(|p| p.lines[0].promise = window(AT + 2, AT + 1)),
            "order_placed.lines[0].promise",
        ),
        (
            placed_with(|p| p.lines[0].promise = window(MIN_EVENT_TIME_MS - 1, AT)),
            "order_placed.lines[0].promise",
        ),
        (
            placed_with(|p| p.lines[0].promise = window(AT, AT + TWO_YEARS + 1)),
            "order_placed.lines[0].promise",
        ),
        (
            placed_with(|p| p.lines[0].promise = window(0, 0)),
            "order_placed.lines[0].promise",
        ),
        (
            placed_with(|p| p.lines[0].promise = window(i64::MIN, i64::MAX)),
            "order_placed.lines[0].promise",
        ),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
}

fn shipped() -> pb::OrderShipped {
    pb::OrderShipped {
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        lines: vec!["L0".into(), "L1".into()],
        carrier: "ヤマト運輸".into(),
        tracking_number: "1234-5678-9012".into(),
        tracking_url: "https://track.example/1234".into(),
    }
}

fn shipped_with(f: impl FnOnce(&mut pb::OrderShipped)) -> String {
    let mut s = shipped();
    f(&mut s);
    field(Kind::OrderShipped(s))
}

#[test]
fn each_field_of_an_order_shipped_is_in_its_range() {
    let ids = |n: usize| (0..n).map(|i| format!("L{i}")).collect();
    let url = |s: &str| {
        let s = s.to_owned();
        shipped_with(move |x| x.tracking_url = s)
    };
    let long_url = |n: usize| format!("https://t.example/{}", "a".repeat(n - 18));
    let cases: Vec<(String, &str)> = vec![
        (shipped_with(|s| s.lines = ids(100)), "ok"),
        (shipped_with(|s| s.lines = ids(101)), "order_shipped.lines"),
        (
            shipped_with(|s| s.lines[1].clear()),
            "order_shipped.lines[1]",
        ),
        (
            shipped_with(|s| s.lines[1] = "x".repeat(257)),
            "order_shipped.lines[1]",
        ),
        (
            shipped_with(|s| s.lines[1] = "L0".into()),
            "order_shipped.lines[1]",
        ),
        (shipped_with(|s| s.carrier = "c".repeat(64)), "ok"),
        (
            shipped_with(|s| s.carrier = "c".repeat(65)),
            "order_shipped.carrier",
        ),
        (shipped_with(|s| s.carrier.clear()), "ok"),
        (shipped_with(|s| s.tracking_number = "1".repeat(128)), "ok"),
        (
            shipped_with(|s| s.tracking_number = "1".repeat(129)),
            "order_shipped.tracking_number",
        ),
        (url(""), "ok"),
        (url("HTTP://Track.example"), "ok"),
        (url("https://track.example?n=1"), "ok"),
        (url(&long_url(MAX_URL)), "ok"),
        (url(&long_url(MAX_URL + 1)), "order_shipped.tracking_url"),
        (url("ftp://track.example/1"), "order_shipped.tracking_url"),
        (url("javascript:alert(1)"), "order_shipped.tracking_url"),
        (url("track.example/1"), "order_shipped.tracking_url"),
        (url("https://"), "order_shipped.tracking_url"),
        (url("https:///path"), "order_shipped.tracking_url"),
        (
            url("https://track.example/a b"),
            "order_shipped.tracking_url",
        ),
        (
            url("https://track.example/\n"),
            "order_shipped.tracking_url",
        ),
        (url("ｈttps://track.example"), "order_shipped.tracking_url"),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
    let items = one(Kind::OrderShipped(pb::OrderShipped {
        lines: vec![],
        ..shipped()
    }))
    .expect("valid");
    assert_eq!(items.len(), 1, "no purchase items for a shipment");
    match &items[0] {
        IngestItem::Order { item, .. } => match &item.event {
            OrderEvent::Shipped(s) => {
                assert_eq!(s.lines, Lines::All);
                assert_eq!(s.tracking_url, "https://track.example/1234");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_delay_has_a_new_window_or_says_it_is_unknown() {
    let delayed = |new_window, unknown_window, reason: String| {
        Kind::OrderDelayed(pb::OrderDelayed {
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            lines: vec!["L1".into()],
            new_window,
            unknown_window,
            reason,
        })
    };
    let later = window(AT + 1, AT + TWO_YEARS);
    let why = || "入荷が遅れています".to_owned();
    assert_eq!(field(delayed(later, false, why())), "ok");
    assert_eq!(field(delayed(None, true, String::new())), "ok");
    assert_eq!(
        field(delayed(later, true, why())),
        "order_delayed.unknown_window"
    );
    assert_eq!(
        field(delayed(None, false, why())),
        "order_delayed.new_window"
    );
    let past_two_years = window(AT, AT + TWO_YEARS + 1);
    assert_eq!(
        field(delayed(past_two_years, false, why())),
        "order_delayed.new_window"
    );
    assert_eq!(
        field(delayed(window(AT + 5, AT), false, why())),
        "order_delayed.new_window"
    );
    // 1000 characters of 3 bytes each still fit; 1001 do not.
    assert_eq!(field(delayed(None, true, "遅".repeat(1000))), "ok");
    assert_eq!(
        field(delayed(None, true, "遅".repeat(1001))),
        "order_delayed.reason"
    );

    let items = one(delayed(None, true, why())).expect("valid");
    let IngestItem::Order { item, .. } = &items[0] else {
        panic!("{items:?}");
    };
    let OrderEvent::Delayed(d) = &item.event else {
        panic!("{item:?}");
    };
    assert_eq!(
        (d.promise, d.reason.as_str()),
        (Promise::Unknown, "入荷が遅れています")
    );
    assert_eq!(d.lines, Lines::Only(vec!["L1".into()]));
}

#[test]
fn cancellations_refunds_and_deliveries_are_checked_too() {
    let cancelled = |reason: String, lines: Vec<String>| {
        Kind::OrderCancelled(pb::OrderCancelled {
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            lines,
            reason,
        })
    };
    assert_eq!(field(cancelled("r".repeat(1000), vec![])), "ok");
    assert_eq!(
        field(cancelled("r".repeat(1001), vec![])),
        "order_cancelled.reason"
    );
    assert_eq!(
        field(cancelled(String::new(), vec!["L1".into(), "L1".into()])),
        "order_cancelled.lines[1]"
    );
    let refunded = |amount_minor| {
        Kind::OrderRefunded(pb::OrderRefunded {
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            lines: vec![],
            amount_minor,
        })
    };
    for ok in [0, MAX_MINOR] {
        assert_eq!(field(refunded(ok)), "ok");
    }
    for bad in [-1, MAX_MINOR + 1, i64::MIN] {
        assert_eq!(field(refunded(bad)), "order_refunded.amount_minor");
    }
    let delivered = Kind::OrderDelivered(pb::OrderDelivered {
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        lines: vec!["L0".into(), String::new()],
    });
    assert_eq!(field(delivered), "order_delivered.lines[1]");
}

#[test]
fn refused_strings_are_echoed_short() {
    let huge = "c".repeat(1 << 20);
    let mut p = placed();
    p.coupon_code = huge.clone();
    let r = one(Kind::OrderPlaced(p)).expect_err("a 1 MiB coupon");
    assert!(
        r.reason.contains("… (1048576 bytes)") && r.reason.len() < 200,
        "{r:?}"
    );
    let r = one(Kind::OrderShipped(pb::OrderShipped {
        tracking_url: huge,
        ..shipped()
    }))
    .expect_err("a 1 MiB URL");
    assert!(r.reason.len() < 200, "{r:?}");
}

#[test]
fn the_batch_converter_sends_order_events_here() {
    let mut out = Vec::new();
    let e = pb::Event {
        event_time_ms: 0,
        kind: Some(Kind::OrderPlaced(placed())),
    };
    let defaults = crate::api::convert::tests::defaults();
    crate::api::convert::event(&e, 7, AT, &defaults, &mut out).expect("valid");
    assert!(
        matches!(out.last(), Some(IngestItem::Order { item, .. }) if item.index == 7 && item.at_ms == AT)
    );
    // The event's time is checked like any other event's.
    let late = pb::Event {
        event_time_ms: AT + 2 * 86_400_000,
        ..e
    };
    let mut out = Vec::new();
    let r = crate::api::convert::event(&late, 7, AT, &defaults, &mut out).expect_err("ahead");
    assert_eq!((r.field.as_ref(), out.len()), ("event_time_ms", 0));
}
