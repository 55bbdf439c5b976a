//! Unit tests of `convert.rs`.

use super::*;
use pb::event::Kind;

pub(crate) fn defaults() -> CustomerDefaults {
    CustomerDefaults {
        time_zone: "Asia/Tokyo".into(),
        locale: crate::domain::customer::Locale::Ja,
    }
}

fn ev(kind: Kind) -> pb::Event {
    pb::Event {
        event_time_ms: 0,
        kind: Some(kind),
    }
}

#[test]
fn each_bad_field_is_named() {
    let cases = [
        (
            ev(Kind::PriceSet(pb::PriceSet {
                sku: "A".into(),
                price_minor: 0,
            })),
            "price_set.price_minor",
        ),
        (
            ev(Kind::StockSet(pb::StockSet {
                sku: String::new(),
                quantity: 1,
            })),
            "stock_set.sku",
        ),
        (
            ev(Kind::Sale(pb::Sale {
                sku: "A".into(),
                quantity: 0,
                order_id: String::new(),
            })),
            "sale.quantity",
        ),
        (
            ev(Kind::StockAdjust(pb::StockAdjust {
                sku: "A".into(),
                delta: 5,
                reason: pb::AdjustReason::Sale as i32,
            })),
            "stock_adjust.delta",
        ),
        (
            ev(Kind::StockAdjust(pb::StockAdjust {
                sku: "A".into(),
                delta: 5,
                reason: 0,
            })),
            "stock_adjust.reason",
        ),
        (
            ev(Kind::ProductUpsert(pb::ProductUpsert {
                sku: "A".into(),
                price_minor: 100,
                currency: "JPY".into(),
                display_window: Some(pb::Window {
                    start_ms: 10,
                    end_ms: 5,
                }),
                ..Default::default()
            })),
            "product_upsert.display_window",
        ),
        (
            pb::Event {
                event_time_ms: 0,
                kind: None,
            },
            "kind",
        ),
    ];
    for (e, field) in cases {
        let mut out = Vec::new();
        assert_eq!(
            event(&e, 0, 1, &defaults(), &mut out).map_err(|r| r.field),
            Err(field.into())
        );
        assert!(out.is_empty());
    }
}

#[test]
fn batch_level_checks() {
    let b = |p: &str, s: u64| pb::EventBatch {
        producer_id: p.into(),
        sequence: s,
        events: vec![],
    };
    assert!(check_batch(&b("", 1), 10).is_err_and(|e| e.contains("producer_id")));
    assert!(check_batch(&b("p", 0), 10).is_err_and(|e| e.contains("sequence")));
    assert!(check_batch(&b("p", 1), 10).is_ok());
    assert!(check_batch(&b("p", limits::MAX_SEQUENCE), 10).is_ok());
    for s in [limits::MAX_SEQUENCE + 1, u64::MAX] {
        assert!(check_batch(&b("p", s), 10).is_err_and(|e| e.contains("sequence")));
    }
}

#[test]
fn numbers_outside_their_range_are_rejected() {
    let now = 1_750_000_000_000;
    let at = |t: i64, kind: Kind| pb::Event {
        event_time_ms: t,
        kind: Some(kind),
    };
    let set = |q| {
        Kind::StockSet(pb::StockSet {
            sku: "A".into(),
            quantity: q,
        })
    };
    let adjust = |d, r: pb::AdjustReason| {
        Kind::StockAdjust(pb::StockAdjust {
            sku: "A".into(),
            delta: d,
            reason: r as i32,
        })
    };
    let price = |p| {
        Kind::PriceSet(pb::PriceSet {
            sku: "A".into(),
            price_minor: p,
        })
    };
    let upsert = |w: pb::Window| {
        Kind::ProductUpsert(pb::ProductUpsert {
            sku: "A".into(),
            price_minor: 100,
            currency: "JPY".into(),
            sale_window: Some(w),
            ..Default::default()
        })
    };
    let win = |start_ms, end_ms| pb::Window { start_ms, end_ms };
    let cases = [
        (at(0, set(MAX_UNITS + 1)), Err("stock_set.quantity")),
        (at(0, set(-MAX_UNITS)), Ok(())),
        (
            at(0, adjust(i64::MAX, pb::AdjustReason::Restock)),
            Err("stock_adjust.delta"),
        ),
        (
            at(0, adjust(i64::MIN, pb::AdjustReason::Correction)),
            Err("stock_adjust.delta"),
        ),
        (at(0, adjust(-MAX_UNITS, pb::AdjustReason::Sale)), Ok(())),
        (at(0, price(MAX_MINOR + 1)), Err("price_set.price_minor")),
        (at(0, price(MAX_MINOR)), Ok(())),
        (at(0, upsert(win(0, -1))), Err("product_upsert.sale_window")),
        (
            at(0, upsert(win(0, MAX_WINDOW_MS + 1))),
            Err("product_upsert.sale_window"),
        ),
        (at(0, upsert(win(1, MAX_WINDOW_MS))), Ok(())),
        (at(i64::MAX, set(1)), Err("event_time_ms")),
        (
            at(limits::MIN_EVENT_TIME_MS - 1, set(1)),
            Err("event_time_ms"),
        ),
        (at(now + limits::MAX_AHEAD_MS, set(1)), Ok(())),
    ];
    for (e, want) in cases {
        let mut out = Vec::new();
        let got = event(&e, 0, now, &defaults(), &mut out).map_err(|r| r.field);
        assert_eq!(got, want.map_err(Cow::from), "{e:?}");
        assert_eq!(out.len(), usize::from(want.is_ok()));
    }
}
