//! Golden bytes and round trips for every stored record type.

use proptest::prelude::*;

use super::*;
use crate::domain::order::backorder::{BackorderBook, BookHeader, BookLine, BookState};
use crate::domain::product::{Arming, NewArrival, PendingDrop, PricePoint};
use crate::domain::velocity::Velocity;
use crate::domain::Catalogue;
use crate::domain::Window;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sample_product() -> ProductState {
    ProductState {
        sku: "A-1".into(),
        catalogue: Catalogue {
            title: "Tee".into(),
            url: "u".into(),
            image_url: "i".into(),
            category_ids: vec!["c1".into()],
            currency: "JPY".into(),
            backorderable: false,
            sale_window: Window {
                start_ms: Some(5),
                end_ms: None,
            },
            display_window: Window::default(),
        },
        price_minor: 1980,
        price_since_ms: 7,
        reference_price_minor: 2200,
        price_history: vec![PricePoint {
            at_ms: 7,
            price_minor: 1980,
        }],
        stock: -3,
        velocity: Velocity { sum: 1.5, at_ms: 9 },
        arming: Arming {
            back_in_stock: true,
            low_stock: false,
            price_drop: Some(PendingDrop {
                price_minor: 1980,
                due_ms: 11,
            }),
            new_arrival: NewArrival::Done,
        },
        created_ms: 1,
        updated_ms: 2,
        book: BackorderBook::from_parts(
            BookHeader {
                owed_in_stock: 3,
                next_seq: 1,
            },
            vec![BookLine {
                order_id: "o1".into(),
                line_id: "l1".into(),
                customer_id: "c1".into(),
                quantity: 3,
                placed_ms: 4,
                seq: 0,
                state: BookState::Waiting,
            }],
        ),
    }
}

#[test]
fn product_golden_bytes() {
    let bytes = Products::encode_value(&sample_product());
    assert_eq!(
        hex(&bytes),
        GOLDEN_PRODUCT,
        "ProductState encoding changed: bump its schema version and add a migration"
    );
    assert_eq!(Products::decode_value(&bytes).ok(), Some(sample_product()));
}

/// A product stored before products kept a backorder book reads with an empty book.
#[test]
fn product_v1_golden_bytes_still_read() {
    let bytes: Vec<u8> = (0..GOLDEN_PRODUCT_V1.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&GOLDEN_PRODUCT_V1[i..i + 2], 16).ok())
        .collect();
    let expected = ProductState {
        book: BackorderBook::default(),
        ..sample_product()
    };
    assert_eq!(Products::decode_value(&bytes).ok(), Some(expected));
}

#[test]
fn producer_golden_bytes() {
    let rec = ProducerRecord {
        last_sequence: 300,
        last_applied: 2,
        last_rejections: vec![Rejected {
            index: 1,
            field: "sku".into(),
            reason: "x".into(),
        }],
    };
    let bytes = Producers::encode_value(&rec);
    assert_eq!(hex(&bytes), GOLDEN_PRODUCER);
    assert_eq!(Producers::decode_value(&bytes).ok(), Some(rec));
}

fn sample_trigger() -> TriggerV1 {
    TriggerV1 {
        kind: TriggerKind::LowStock,
        sku: "A-1".into(),
        at_ms: 1000,
        old_stock: 6,
        new_stock: 5,
        velocity_per_day: 10.0,
        cover_days: Some(0.5),
        old_price_minor: 100,
        new_price_minor: 100,
        reason: "r".into(),
    }
}

/// Triggers logged before they carried the catalogue still read, with none.
#[test]
fn trigger_v1_golden_bytes_still_read() {
    let bytes = codec::encode(V1, &sample_trigger());
    assert_eq!(hex(&bytes), GOLDEN_TRIGGER_V1);
    let t = Triggers::decode_value(&bytes).expect("v1 reads");
    assert_eq!(t, FiredTrigger::from(sample_trigger()));
    assert_eq!(t.catalogue, None);
}

#[test]
fn trigger_golden_bytes() {
    let mut t = FiredTrigger::from(sample_trigger());
    t.catalogue = Some(Catalogue {
        title: "Tee".into(),
        ..Catalogue::default()
    });
    let bytes = Triggers::encode_value(&t);
    assert_eq!(hex(&bytes), GOLDEN_TRIGGER);
    assert_eq!(Triggers::decode_value(&bytes).ok(), Some(t));
}

#[test]
fn wrong_version_is_refused_with_a_clear_error() {
    let mut bytes = Products::encode_value(&sample_product());
    bytes[0] = 9;
    let err = Products::decode_value(&bytes)
        .expect_err("version 9 is unknown")
        .to_string();
    assert!(err.contains("schema version 9"), "{err}");
}

#[test]
fn timer_keys_sort_by_due_time() {
    let k = |due: i64| {
        Timers::encode_key(&TimerKey {
            due_ms: due,
            kind: TimerKind::PriceStable,
            sku: "z".into(),
        })
    };
    assert!(k(-5) < k(0) && k(0) < k(7) && k(7) < k(1 << 40));
}

proptest! {
    #[test]
    fn timer_key_round_trip(due in any::<i64>(), sku in "[a-zA-Z0-9-]{1,40}", display in any::<bool>()) {
        let kind = if display { TimerKind::DisplayStart } else { TimerKind::PriceStable };
        let key = TimerKey { due_ms: due, kind, sku };
        prop_assert_eq!(Timers::decode_key(&Timers::encode_key(&key)).ok(), Some(key));
    }

    #[test]
    fn trigger_by_sku_keys_group_by_sku(a in "[a-z]{1,8}", b in "[a-z]{1,8}", i in any::<u64>(), j in any::<u64>()) {
        let ka = TriggerBySku::encode_key((&a, i));
        prop_assert!(ka.starts_with(&TriggerBySku::encode_prefix(&a)));
        prop_assert_eq!(TriggerBySku::decode_key(&ka).ok(), Some((a.clone(), i)));
        if a != b {
            prop_assert!(!TriggerBySku::encode_key((&b, j)).starts_with(&TriggerBySku::encode_prefix(&a)));
        }
    }

    #[test]
    fn product_round_trip(stock in any::<i64>(), price in 1i64..i64::MAX, title in ".{0,30}") {
        let mut p = sample_product();
        p.stock = stock;
        p.price_minor = price;
        p.catalogue.title = title;
        prop_assert_eq!(Products::decode_value(&Products::encode_value(&p)).ok(), Some(p));
    }
}

const GOLDEN_PRODUCT_V1: &str = "0103412d31035465650175016901026331034a505900010a000000fb780f0efb3011010efb780f05000000000000f83f12010001fb780f16010204";
const GOLDEN_PRODUCER: &str = "01fb2c0102010103736b750178";
const GOLDEN_TRIGGER_V1: &str = "010103412d31fbd0070c0a000000000000244001000000000000e03fc8c80172";
const GOLDEN_TRIGGER: &str =
    "020103412d31fbd0070c0a000000000000244001000000000000e03fc8c801720103546565000000000000000000";

const GOLDEN_PRODUCT: &str = "0203412d31035465650175016901026331034a505900010a000000fb780f0efb3011010efb780f05000000000000f83f12010001fb780f1601020401026f31026c3102633106080000000601";

/// A customer stored before customers owned their orders reads with no orders, and a
/// customer with an order round-trips.
#[test]
fn customer_v1_still_read_and_v2_round_trips() {
    use crate::domain::customer::{Consent, Locale};
    let v1 = CustomerStateV1 {
        id: "c1".into(),
        email: Some("c1@example.jp".into()),
        line_user_id: None,
        locale: Locale::En,
        time_zone: "Asia/Tokyo".into(),
        consent: Consent::default(),
        tags: vec!["vip".into()],
        suppressed: Vec::new(),
        ledger: Vec::new(),
        pending: Vec::new(),
        pending_due_ms: None,
        deferred: Vec::new(),
        created_ms: 1,
        updated_ms: 2,
    };
    let bytes = codec::encode(V1, &v1);
    let read = Customers::decode_value(&bytes).expect("a v1 customer reads");
    assert_eq!((read.id.as_str(), read.orders.len()), ("c1", 0));
    assert_eq!(read.tags, vec!["vip".to_string()]);
    let again = Customers::decode_value(&Customers::encode_value(&read)).expect("v2 reads");
    assert_eq!(again, read);
}

/// A customer stored before orders kept the cancel request reads with its orders never
/// asked to be cancelled, and is written back as v4.
#[test]
fn customer_v2_still_read_and_v4_round_trips() {
    use crate::domain::customer::{Consent, Locale};
    use crate::domain::order::state::{apply, OrderCadence};
    use crate::domain::order::{BackorderMark, OrderEvent, OrderLine, OrderPlaced};
    let placed = OrderEvent::Placed(OrderPlaced {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        currency: "JPY".into(),
        coupon_code: String::new(),
        lines: vec![OrderLine {
            line_id: "1".into(),
            sku: "A".into(),
            quantity: 2,
            unit_price_minor: 100,
            backorder: BackorderMark::Backorder,
            promise: None,
        }],
    });
    let mut order = None;
    apply(&mut order, &placed, 10, &OrderCadence::default()).expect("placed");
    let o = order.expect("order");
    let v2 = CustomerStateV2 {
        id: "c1".into(),
        email: Some("c1@example.jp".into()),
        line_user_id: None,
        locale: Locale::En,
        time_zone: "Asia/Tokyo".into(),
        consent: Consent::default(),
        tags: Vec::new(),
        suppressed: Vec::new(),
        ledger: Vec::new(),
        pending: Vec::new(),
        pending_due_ms: None,
        deferred: Vec::new(),
        created_ms: 1,
        updated_ms: 2,
        orders: vec![OrderStateV2 {
            order_id: o.order_id.clone(),
            customer_id: o.customer_id.clone(),
            placed_ms: o.placed_ms,
            currency: o.currency.clone(),
            coupon_code: o.coupon_code.clone(),
            lines: o.lines.clone(),
            confirmation: o.confirmation,
            last_notice_ms: o.last_notice_ms,
            followup: o.followup,
            cross_sell_after_order: o.cross_sell_after_order,
            cross_sell_after_delivery: o.cross_sell_after_delivery,
            refunds: o.refunds.clone(),
        }],
    };
    let read = Customers::decode_value(&codec::encode(V2, &v2)).expect("a v2 customer reads");
    assert_eq!(read.orders, vec![o]);
    assert_eq!(read.orders[0].cancel_requested_at_ms, None);
    let mut asked = read.clone();
    asked.orders[0].cancel_requested_at_ms = Some(99);
    let bytes = Customers::encode_value(&asked);
    assert_eq!(bytes.first(), Some(&5), "written as v5");
    assert_eq!(Customers::decode_value(&bytes).expect("v5 reads"), asked);
    // Its order is counted in the seeded aggregates: 2 × 100.
    let agg = &asked.lifecycle.aggregates;
    assert_eq!(agg.orders.len(), 1);
    assert_eq!(
        (agg.orders[0].at_ms, agg.orders[0].amount_minor()),
        (10, 200)
    );
}

/// A customer stored before the lifecycle part reads with an empty one, its orders kept.
#[test]
fn customer_v3_still_read_with_an_empty_lifecycle() {
    use crate::domain::customer::{Consent, Locale};
    let v3 = CustomerStateV3 {
        id: "c3".into(),
        email: Some("c3@example.jp".into()),
        line_user_id: Some("U3".into()),
        locale: Locale::Ja,
        time_zone: "Asia/Tokyo".into(),
        consent: Consent::default(),
        tags: vec!["t".into()],
        suppressed: vec![Channel::Line],
        ledger: Vec::new(),
        pending: Vec::new(),
        pending_due_ms: Some(7),
        deferred: Vec::new(),
        created_ms: 3,
        updated_ms: 4,
        orders: Vec::new(),
    };
    let read = Customers::decode_value(&codec::encode(V3, &v3)).expect("a v3 customer reads");
    assert_eq!(read.lifecycle, Lifecycle::default());
    assert_eq!(
        (
            read.id.as_str(),
            read.pending_due_ms,
            read.suppressed.clone()
        ),
        ("c3", Some(7), vec![Channel::Line])
    );
    let mut clicked = read;
    clicked.lifecycle.engagement.record_order(9);
    let bytes = Customers::encode_value(&clicked);
    assert_eq!(bytes.first(), Some(&5), "written as v5");
    assert_eq!(Customers::decode_value(&bytes).expect("v5 reads"), clicked);
}

/// A v4 customer reads with aggregates seeded from its orders (a cancelled line and a
/// refund applied) and the lapse part's order times matching none of them (a purchase:
/// time only); the result round-trips as v5 with the newsletter flag.
#[test]
fn customer_v4_still_read_with_seeded_aggregates_and_v5_round_trips() {
    use crate::domain::customer::{Consent, Locale};
    use crate::domain::order::state::{apply, OrderCadence};
    use crate::domain::order::{
        BackorderMark, Lines, OrderCancelled, OrderEvent, OrderLine, OrderPlaced, OrderRefunded,
    };
    let line = |id: &str, sku: &str, q: i64, p: i64| OrderLine {
        line_id: id.into(),
        sku: sku.into(),
        quantity: q,
        unit_price_minor: p,
        backorder: BackorderMark::InStock,
        promise: None,
    };
    let cadence = OrderCadence::default();
    let mut order = None;
    let placed = OrderEvent::Placed(OrderPlaced {
        order_id: "o1".into(),
        customer_id: "c4".into(),
        currency: "JPY".into(),
        coupon_code: "SPRING".into(),
        lines: vec![line("1", "A", 2, 500), line("2", "B", 1, 300)],
    });
    apply(&mut order, &placed, 1_000, &cadence).expect("placed");
    let cancel = OrderEvent::Cancelled(OrderCancelled {
        order_id: "o1".into(),
        customer_id: "c4".into(),
        lines: Lines::Only(vec!["2".into()]),
        reason: "gone".into(),
    });
    apply(&mut order, &cancel, 2_000, &cadence).expect("cancelled");
    let refund = OrderEvent::Refunded(OrderRefunded {
        order_id: "o1".into(),
        customer_id: "c4".into(),
        lines: Lines::Only(Vec::new()),
        amount_minor: 150,
    });
    apply(&mut order, &refund, 3_000, &cadence).expect("refunded");
    let o = order.expect("order");
    let mut lapse = Lapse::default();
    lapse.record_order(1_000);
    lapse.record_order(5_000);
    let v4 = CustomerStateV4 {
        id: "c4".into(),
        email: None,
        line_user_id: None,
        locale: Locale::Ja,
        time_zone: "Asia/Tokyo".into(),
        consent: Consent::default(),
        tags: Vec::new(),
        suppressed: Vec::new(),
        ledger: Vec::new(),
        pending: Vec::new(),
        pending_due_ms: None,
        deferred: Vec::new(),
        created_ms: 1,
        updated_ms: 2,
        orders: vec![o.clone()],
        lifecycle: LifecycleV4 {
            engagement: Engagement::default(),
            journey: Journey::default(),
            hygiene: Hygiene::default(),
            lapse: lapse.clone(),
            attribution: Attribution::default(),
        },
    };
    let read = Customers::decode_value(&codec::encode(V4, &v4)).expect("a v4 customer reads");
    assert_eq!(read.orders, vec![o]);
    assert_eq!(read.lifecycle.lapse, lapse);
    let agg = &read.lifecycle.aggregates;
    assert!(!agg.subscribed);
    let seen: Vec<(Millis, i64, bool)> = agg
        .orders
        .iter()
        .map(|k| (k.at_ms, k.amount_minor(), k.coupon))
        .collect();
    // o1: 2 × 500 (line 2 cancelled) − 150 refunded; the other lapse time: no amount.
    assert_eq!(seen, vec![(1_000, 850, true), (5_000, 0, false)]);
    let mut subscribed = read;
    subscribed.lifecycle.aggregates.subscribed = true;
    let bytes = Customers::encode_value(&subscribed);
    assert_eq!(bytes.first(), Some(&5), "written as v5");
    assert_eq!(
        Customers::decode_value(&bytes).expect("v5 reads"),
        subscribed
    );
}
