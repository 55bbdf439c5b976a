//! The product's side of backorders: placed lines wait in its book, arrived stock is
//! allocated to them first, and back in stock sees only what is left (issue 9's
//! restock of 10 with 8 owed, in both shop models).

use super::*;
use crate::domain::order::backorder::NewLine;
use crate::domain::order::BackorderMark;

const T0: i64 = 1_700_000_000_000;

fn backorderable() -> ProductEvent {
    ProductEvent::Upsert {
        catalogue: Catalogue {
            backorderable: true,
            ..Catalogue::default()
        },
        price_minor: 1000,
        imported: true,
    }
}

fn line(order: &str, qty: i64, at: i64) -> ProductEvent {
    ProductEvent::OrderLine {
        line: NewLine {
            order_id: order.into(),
            line_id: "l1".into(),
            customer_id: format!("c-{order}"),
            quantity: qty,
            placed_ms: at,
        },
        mark: BackorderMark::Unspecified,
    }
}

fn apply_all(st: &mut Option<ProductState>, events: &[ProductEvent]) -> Effects {
    let cfg = TriggerConfig::default();
    let mut fx = Effects::default();
    for (i, ev) in events.iter().enumerate() {
        let r = apply(st, "A-1", ev, T0 + i as i64, &cfg, &mut fx);
        assert!(r.is_ok(), "event {i} refused: {r:?}");
    }
    fx
}

/// Sold out (stock 1 → 0 arms back in stock), then orders for 3 + 3 + 2 units.
fn eight_owed(negative_model: bool) -> Option<ProductState> {
    let mut st = None;
    let mut events = vec![
        backorderable(),
        ProductEvent::StockSet { quantity: 1 },
        ProductEvent::Sale { quantity: 1 },
    ];
    for (order, qty) in [("o1", 3), ("o2", 3), ("o3", 2)] {
        events.push(line(order, qty, T0 + 10));
        if negative_model {
            events.push(ProductEvent::Sale { quantity: qty });
        }
    }
    apply_all(&mut st, &events);
    st
}

fn allocated(fx: &Effects) -> Vec<String> {
    fx.notices
        .iter()
        .filter(|n| n.kind == LineNoticeKind::Allocated)
        .map(|n| n.order_id.clone())
        .collect()
}

#[test]
fn unmarked_lines_wait_when_the_product_has_no_stock_for_them() {
    let mut st = None;
    let fx = apply_all(
        &mut st,
        &[
            backorderable(),
            ProductEvent::StockSet { quantity: 2 },
            line("o1", 2, T0),
            line("o2", 1, T0),
        ],
    );
    let kinds: Vec<LineNoticeKind> = fx.notices.iter().map(|n| n.kind).collect();
    // Stock 2 covers a line of 2 (the shop takes it from stock); stockbell's stock for
    // the product changes only by stock events, so the second line also sees 2.
    assert_eq!(
        kinds,
        vec![LineNoticeKind::InStock, LineNoticeKind::InStock]
    );
    let fx = apply_all(
        &mut st,
        &[ProductEvent::StockSet { quantity: 0 }, line("o3", 1, T0)],
    );
    assert_eq!(fx.notices[0].kind, LineNoticeKind::Waiting);
}

#[test]
fn a_restock_of_10_with_8_owed_announces_2_in_both_shop_models() {
    for (negative, restock) in [
        (false, ProductEvent::StockSet { quantity: 10 }),
        (
            true,
            ProductEvent::StockAdjust {
                delta: 10,
                reason: AdjustReason::Restock,
            },
        ),
    ] {
        let mut st = eight_owed(negative);
        let stock_before = st.as_ref().map(|s| s.stock);
        assert_eq!(stock_before, Some(if negative { -8 } else { 0 }));
        let fx = apply_all(&mut st, std::slice::from_ref(&restock));
        assert_eq!(
            allocated(&fx),
            vec!["o1", "o2", "o3"],
            "negative model: {negative}"
        );
        let back: Vec<&FiredTrigger> = fx
            .triggers
            .iter()
            .filter(|t| t.kind == TriggerKind::BackInStock)
            .collect();
        assert_eq!(
            back.len(),
            1,
            "negative model: {negative}: {:?}",
            fx.triggers
        );
        assert_eq!(back[0].new_stock, 2, "negative model: {negative}");
        assert_eq!(st.as_ref().map(ProductState::available), Some(2));
    }
}

#[test]
fn a_restock_that_only_covers_what_is_owed_is_not_back_in_stock() {
    let mut st = eight_owed(false);
    let fx = apply_all(&mut st, &[ProductEvent::StockSet { quantity: 8 }]);
    assert_eq!(allocated(&fx).len(), 3);
    assert!(fx.triggers.is_empty(), "{:?}", fx.triggers);
    assert_eq!(st.as_ref().map(ProductState::available), Some(0));
}

#[test]
fn units_for_two_of_three_waiting_orders_cover_the_two_oldest() {
    let mut st = eight_owed(false);
    let fx = apply_all(&mut st, &[ProductEvent::StockSet { quantity: 6 }]);
    assert_eq!(allocated(&fx), vec!["o1", "o2"]);
    assert!(
        fx.triggers.is_empty(),
        "the third order still waits: {:?}",
        fx.triggers
    );
}

#[test]
fn a_shipped_line_leaves_the_book() {
    let mut st = eight_owed(false);
    apply_all(&mut st, &[ProductEvent::StockSet { quantity: 10 }]);
    let done = ProductEvent::OrderLineDone {
        order_id: "o1".into(),
        line_id: "l1".into(),
    };
    apply_all(&mut st, &[done, ProductEvent::StockSet { quantity: 7 }]);
    let book = st
        .as_ref()
        .map(|s| (s.book.reserved().len(), s.book.owed(), s.available()));
    assert_eq!(book, Some((2, 5, 2)));
}

/// One notice per covered order, oldest order first, with every covered line of it —
/// also when an order's lines are not next to each other in the book (a younger order's
/// line placed between them). Orders are grouped by id, not by a scan per line, which
/// was quadratic (a restock covering 30,000 orders took 1.4 s before its ack;
/// `stockbell-load backorder-arrival --lines 30000`, BENCHMARKS.md).
#[test]
fn an_allocation_tells_each_covered_order_once_with_all_its_lines() {
    let second = |order: &str, line_id: &str, at: i64| ProductEvent::OrderLine {
        line: NewLine {
            order_id: order.into(),
            line_id: line_id.into(),
            customer_id: format!("c-{order}"),
            quantity: 1,
            placed_ms: at,
        },
        mark: BackorderMark::Unspecified,
    };
    let mut st = None;
    let mut events = vec![backorderable(), ProductEvent::StockSet { quantity: 0 }];
    events.push(line("o1", 1, T0));
    events.push(line("o2", 1, T0 + 1));
    events.push(second("o1", "l2", T0 + 2));
    for i in 3..500 {
        events.push(line(&format!("o{i}"), 1, T0 + i));
    }
    events.push(second("o2", "l2", T0 + 600));
    apply_all(&mut st, &events);
    let fx = apply_all(&mut st, &[ProductEvent::StockSet { quantity: 600 }]);
    let told: Vec<(String, Vec<String>)> = fx
        .notices
        .iter()
        .map(|n| (n.order_id.clone(), n.line_ids.clone()))
        .collect();
    assert_eq!(told.len(), 499, "one notice per order");
    assert_eq!(told[0], ("o1".to_string(), vec!["l1".into(), "l2".into()]));
    assert_eq!(told[1], ("o2".to_string(), vec!["l1".into(), "l2".into()]));
    let rest: Vec<&str> = told[2..].iter().map(|(o, _)| o.as_str()).collect();
    let want: Vec<String> = (3..500).map(|i| format!("o{i}")).collect();
    assert_eq!(rest, want);
}
