//! Expiry and the late re-check of queued messages.

use std::collections::HashMap;

use super::*;
use crate::domain::customer::{Channel, Locale, Scenario};
use crate::domain::message::{MessageContext, OutboxStatus};
use crate::domain::product::{apply, Effects};
use crate::domain::{Catalogue, ProductEvent};

const T0: Millis = 1_700_000_000_000;
const DAY: Millis = 86_400_000;

fn item(sku: &str, price: i64) -> ItemContext {
    ItemContext {
        sku: sku.into(),
        price_minor: price,
        ..Default::default()
    }
}

fn entry(scenario: Scenario, items: Vec<ItemContext>) -> OutboxEntry {
    OutboxEntry {
        seq: 1,
        customer_id: "c1".into(),
        channel: Channel::Email,
        address: "c1@example.jp".into(),
        scenario,
        context: MessageContext {
            scenario,
            locale: Locale::Ja,
            customer_id: "c1".into(),
            items,
            unsubscribe_url: String::new(),
            order: None,
        },
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_ms: T0,
        created_ms: T0,
        delivered_ms: None,
        last_error: None,
    }
}

fn product(stock: i64, price: i64) -> ProductState {
    let cfg = TriggerConfig::default();
    let (mut st, mut fx) = (None, Effects::default());
    let events = [
        ProductEvent::Upsert {
            catalogue: Catalogue::default(),
            price_minor: price,
            imported: false,
        },
        ProductEvent::StockSet { quantity: stock },
    ];
    for e in &events {
        assert!(apply(&mut st, "p", e, T0, &cfg, &mut fx).is_ok());
    }
    st.expect("the upsert creates the product")
}

#[test]
fn marketing_expires_after_its_max_age_and_is_rechecked_once_late() {
    let e = entry(Scenario::BackInStock, vec![item("a", 100)]);
    let max = Some(DAY);
    assert_eq!(turn(&e, max, T0 + 1_000), Turn::AsQueued);
    assert_eq!(turn(&e, max, T0 + LATE_AFTER_MS - 1), Turn::AsQueued);
    assert_eq!(turn(&e, max, T0 + LATE_AFTER_MS), Turn::Recheck);
    assert_eq!(turn(&e, max, T0 + DAY), Turn::Recheck);
    assert_eq!(
        turn(&e, max, T0 + DAY + 1),
        Turn::Expired {
            age_ms: DAY + 1,
            max_age_ms: DAY
        }
    );
    assert_eq!(turn(&e, None, T0 + 30 * DAY), Turn::Recheck);
}

#[test]
fn transactional_messages_are_never_expired_or_rechecked() {
    let e = entry(Scenario::Shipped, vec![item("a", 100)]);
    assert_eq!(turn(&e, Some(DAY), T0 + 10 * DAY), Turn::AsQueued);
}

#[test]
fn a_digest_goes_out_with_what_still_holds() {
    let e = entry(
        Scenario::PriceDrop,
        vec![
            item("kept", 800),
            item("sold-out", 800),
            item("dearer", 800),
            item("gone", 800),
        ],
    );
    let products: HashMap<&str, ProductState> = HashMap::from([
        ("kept", product(5, 700)),
        ("sold-out", product(0, 800)),
        ("dearer", product(5, 900)),
    ]);
    let cfg = TriggerConfig::default();
    let r = recheck(&e, |sku| products.get(sku), T0 + DAY / 2, &cfg);
    assert_eq!(r.keep, vec![item("kept", 800)]);
    let why: Vec<(&str, Stale)> = r.dropped.iter().map(|d| (d.sku.as_str(), d.why)).collect();
    assert_eq!(
        why,
        [
            ("sold-out", Stale::OutOfStock),
            ("dearer", Stale::PriceUp),
            ("gone", Stale::Unknown)
        ]
    );
    assert!(
        r.reason()
            .contains("sold-out: the product no longer has the stock"),
        "{}",
        r.reason()
    );
}

#[test]
fn nothing_left_means_nothing_kept() {
    let e = entry(Scenario::BackInStock, vec![item("a", 100)]);
    let sold_out = product(0, 100);
    let r = recheck(
        &e,
        |_| Some(&sold_out),
        T0 + 60_000,
        &TriggerConfig::default(),
    );
    assert!(r.keep.is_empty());
    assert_eq!(r.dropped.len(), 1);
    let why = expired_reason("back_in_stock", 90_000_000, DAY);
    assert!(why.contains("scenarios.back_in_stock.max_age"), "{why}");
}

#[test]
fn a_late_cross_sell_offer_keeps_only_products_still_buyable() {
    let cfg = TriggerConfig::default();
    let mut hidden = product(5, 900);
    hidden.catalogue.display_window.end_ms = Some(T0 + 1);
    let products: HashMap<&str, ProductState> = [
        ("in-stock", product(5, 900)),
        ("sold-out", product(0, 900)),
        ("hidden", hidden),
    ]
    .into_iter()
    .collect();
    for scenario in [Scenario::CrossSellOrder, Scenario::CrossSellDelivery] {
        let e = entry(
            scenario,
            vec![
                item("in-stock", 900),
                item("sold-out", 900),
                item("hidden", 900),
            ],
        );
        let late = T0 + LATE_AFTER_MS;
        assert_eq!(turn(&e, Some(DAY), late), Turn::Recheck);
        let r = recheck(&e, |sku| products.get(sku), late, &cfg);
        assert_eq!(r.keep, vec![item("in-stock", 900)], "{scenario:?}");
        let why: Vec<(&str, Stale)> = r.dropped.iter().map(|d| (d.sku.as_str(), d.why)).collect();
        assert_eq!(
            why,
            [
                ("sold-out", Stale::OutOfStock),
                ("hidden", Stale::NotOnSale)
            ]
        );
        // Nothing left: the offer is not sent.
        let gone = entry(scenario, vec![item("sold-out", 900)]);
        assert!(recheck(&gone, |sku| products.get(sku), late, &cfg)
            .keep
            .is_empty());
    }
}
