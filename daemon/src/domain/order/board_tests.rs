//! The board row appears when a product's book becomes non-empty and goes when it
//! empties; a line enters the late records when its promise passes and leaves them when
//! it ships, is cancelled or gets a new window.

use super::*;
use crate::domain::order::backorder::NewLine;
use crate::domain::order::state::{apply, tick, OrderCadence};
use crate::domain::order::{
    BackorderMark, Lines, OrderDelayed, OrderEvent, OrderLine, OrderPlaced, OrderShipped,
    ShipWindow,
};
use crate::domain::product::{apply as apply_product, Effects};
use crate::domain::{Catalogue, ProductEvent, TriggerConfig};

const T0: i64 = 1_700_000_000_000;

fn product_event(st: &mut Option<ProductState>, ev: ProductEvent, at: i64) {
    let mut fx = Effects::default();
    let r = apply_product(st, "A-1", &ev, at, &TriggerConfig::default(), &mut fx);
    assert!(r.is_ok(), "refused: {r:?}");
}

fn line(order: &str, qty: i64) -> ProductEvent {
    ProductEvent::OrderLine {
        line: NewLine {
            order_id: order.into(),
            line_id: "l1".into(),
            customer_id: format!("c-{order}"),
            quantity: qty,
            placed_ms: T0 + 1,
        },
        mark: BackorderMark::Unspecified,
    }
}

/// The board write the product actor makes around one event.
fn write_around(st: &mut Option<ProductState>, ev: ProductEvent, at: i64) -> Option<BoardWrite> {
    let had = st.as_ref().is_some_and(|p| !p.book.is_empty());
    product_event(st, ev, at);
    board_write(had, st.as_ref())
}

#[test]
fn a_row_while_the_book_owes_lines_and_its_removal_when_it_empties() {
    let mut st = None;
    let upsert = ProductEvent::Upsert {
        catalogue: Catalogue {
            title: "Linen shirt".into(),
            backorderable: true,
            ..Catalogue::default()
        },
        price_minor: 1000,
        imported: true,
    };
    assert_eq!(write_around(&mut st, upsert, T0), None, "no book, no row");
    let Some(BoardWrite::Put(row)) = write_around(&mut st, line("o1", 3), T0 + 1) else {
        panic!("a waiting line puts the row");
    };
    assert_eq!(
        (row.waiting_lines, row.waiting_units, row.oldest_wait_ms),
        (1, 3, Some(T0 + 1))
    );
    assert_eq!(row.title, "Linen shirt");
    let Some(BoardWrite::Put(row)) = write_around(&mut st, line("o2", 2), T0 + 2) else {
        panic!("a second line rewrites the row");
    };
    assert_eq!((row.waiting_lines, row.owed_units()), (2, 5));
    // Stock 3 covers o1 (oldest) whole; o2 keeps waiting.
    let Some(BoardWrite::Put(row)) =
        write_around(&mut st, ProductEvent::StockSet { quantity: 3 }, T0 + 3)
    else {
        panic!("an allocation rewrites the row");
    };
    assert_eq!(
        (
            row.waiting_lines,
            row.waiting_units,
            row.reserved_lines,
            row.reserved_units
        ),
        (1, 2, 1, 3)
    );
    let done = |order: &str| ProductEvent::OrderLineDone {
        order_id: order.into(),
        line_id: "l1".into(),
    };
    assert!(matches!(
        write_around(&mut st, done("o1"), T0 + 4),
        Some(BoardWrite::Put(_))
    ));
    assert_eq!(
        write_around(&mut st, done("o2"), T0 + 5),
        Some(BoardWrite::Remove),
        "the last line out removes the row"
    );
    assert_eq!(
        write_around(&mut st, ProductEvent::PriceSet { price_minor: 900 }, T0 + 6),
        None,
        "an empty book writes nothing"
    );
}

fn placed_with_promise(latest_ms: i64) -> OrderEvent {
    OrderEvent::Placed(OrderPlaced {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        currency: "JPY".into(),
        coupon_code: String::new(),
        lines: vec![OrderLine {
            line_id: "l1".into(),
            sku: "A-1".into(),
            quantity: 2,
            unit_price_minor: 1000,
            backorder: BackorderMark::Backorder,
            promise: Some(ShipWindow {
                earliest_ms: T0,
                latest_ms,
            }),
        }],
    })
}

fn key() -> LineKey {
    ("o1".to_owned(), "l1".to_owned())
}

#[test]
fn a_line_is_late_from_its_passed_promise_until_a_new_window_or_shipment() {
    let cfg = OrderCadence::default();
    let latest = T0 + 1000;
    let mut order = None;
    assert!(apply(&mut order, &placed_with_promise(latest), T0, &cfg).is_ok());
    let Some(mut o) = order else {
        panic!("placed");
    };
    let none = late_lines([&o]);
    assert!(none.is_empty(), "not late before its promise passes");
    tick(&mut o, latest + 1, &cfg);
    let late = late_lines([&o]);
    let expected = LateLine {
        customer_id: "c1".into(),
        sku: "A-1".into(),
        quantity: 2,
        status: LineStatus::Waiting,
        latest_ms: latest,
        flagged_ms: latest + 1,
    };
    assert_eq!(late.get(&key()), Some(&expected));
    assert!(late.values().all(LateLine::in_book));
    assert_eq!(
        late_writes(&none, &late),
        vec![LateWrite::Put(key(), expected)]
    );
    assert!(late_writes(&late, &late).is_empty(), "no change, no write");

    // A delay with a new window clears it.
    let mut delayed = Some(o.clone());
    let delay = OrderEvent::Delayed(OrderDelayed {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        lines: Lines::All,
        promise: Promise::Window(ShipWindow {
            earliest_ms: latest + 10,
            latest_ms: latest + 20,
        }),
        reason: "the supplier is late".into(),
    });
    assert!(apply(&mut delayed, &delay, latest + 5, &cfg).is_ok());
    let after = late_lines(delayed.as_ref());
    assert!(after.is_empty());
    assert_eq!(late_writes(&late, &after), vec![LateWrite::Remove(key())]);

    // Shipping it clears it too (the flag stays on the line; the operator's job is done).
    let mut shipped = Some(o);
    let ship = OrderEvent::Shipped(OrderShipped {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        lines: Lines::All,
        carrier: "Yamato".into(),
        tracking_number: "1".into(),
        tracking_url: String::new(),
    });
    assert!(apply(&mut shipped, &ship, latest + 5, &cfg).is_ok());
    assert!(shipped.as_ref().is_some_and(|o| o.lines[0].past_promise));
    assert!(late_lines(shipped.as_ref()).is_empty());
}
