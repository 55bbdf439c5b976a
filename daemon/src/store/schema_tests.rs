//! Golden bytes and round trips for every stored record type.

use proptest::prelude::*;

use super::*;
use crate::domain::product::{Arming, NewArrival, PendingDrop, PricePoint};
use crate::domain::velocity::Velocity;
use crate::domain::{Catalogue, TriggerKind, Window};

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
    }
}

#[test]
fn product_golden_bytes() {
    let bytes = encode_product(&sample_product());
    assert_eq!(
        hex(&bytes),
        GOLDEN_PRODUCT,
        "ProductState encoding changed: bump its schema version and add a migration"
    );
    assert_eq!(decode_product(&bytes).ok(), Some(sample_product()));
}

#[test]
fn producer_golden_bytes() {
    let rec = ProducerRecord {
        last_sequence: 300,
        last_applied: 2,
        last_rejections: vec![(1, "sku".into(), "x".into())],
    };
    let bytes = encode_producer(&rec);
    assert_eq!(hex(&bytes), GOLDEN_PRODUCER);
    assert_eq!(decode_producer(&bytes).ok(), Some(rec));
}

#[test]
fn trigger_golden_bytes() {
    let t = FiredTrigger {
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
    };
    let bytes = encode_trigger(&t);
    assert_eq!(hex(&bytes), GOLDEN_TRIGGER);
    assert_eq!(decode_trigger(&bytes).ok(), Some(t));
}

#[test]
fn wrong_version_is_refused_with_a_clear_error() {
    let mut bytes = encode_product(&sample_product());
    bytes[0] = 9;
    let err = decode_product(&bytes)
        .expect_err("version 9 is unknown")
        .to_string();
    assert!(err.contains("schema version 9"), "{err}");
}

#[test]
fn timer_keys_sort_by_due_time() {
    let k = |due: i64| {
        TimerKey {
            due_ms: due,
            kind: TimerKind::PriceStable,
            sku: "z".into(),
        }
        .encode()
    };
    assert!(k(-5) < k(0) && k(0) < k(7) && k(7) < k(1 << 40));
    assert!(k(7) < TimerKey::bound(7) && TimerKey::bound(7) <= k(8));
}

proptest! {
    #[test]
    fn timer_key_round_trip(due in any::<i64>(), sku in "[a-zA-Z0-9-]{1,40}", display in any::<bool>()) {
        let kind = if display { TimerKind::DisplayStart } else { TimerKind::PriceStable };
        let key = TimerKey { due_ms: due, kind, sku };
        prop_assert_eq!(TimerKey::decode(&key.encode()), Some(key));
    }

    #[test]
    fn trigger_by_sku_keys_group_by_sku(a in "[a-z]{1,8}", b in "[a-z]{1,8}", i in any::<u64>(), j in any::<u64>()) {
        let ka = trigger_by_sku_key(&a, i);
        prop_assert!(ka.starts_with(&trigger_by_sku_prefix(&a)));
        if a != b {
            prop_assert!(!trigger_by_sku_key(&b, j).starts_with(&trigger_by_sku_prefix(&a)));
        }
    }

    #[test]
    fn product_round_trip(stock in any::<i64>(), price in 1i64..i64::MAX, title in ".{0,30}") {
        let mut p = sample_product();
        p.stock = stock;
        p.price_minor = price;
        p.catalogue.title = title;
        prop_assert_eq!(decode_product(&encode_product(&p)).ok(), Some(p));
    }
}

const GOLDEN_PRODUCT: &str = "0103412d31035465650175016901026331034a505900010a000000fb780f0efb3011010efb780f05000000000000f83f12010001fb780f16010204";
const GOLDEN_PRODUCER: &str = "01fb2c0102010103736b750178";
const GOLDEN_TRIGGER: &str = "010103412d31fbd0070c0a000000000000244001000000000000e03fc8c80172";
