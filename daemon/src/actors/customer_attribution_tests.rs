//! Through the Router and the customer's actor: an order placed after a recorded click
//! is credited to the clicked scenario in the durable counters, once, and is the
//! customer's last order. (The click is written into the customer's stored state here:
//! the signed click redirect that records real clicks is another part of issue 10.)

use super::super::customer::CustomerItem;
use super::super::test_stack::Stack;
use super::super::IngestItem;
use crate::domain::customer::{Channel, Consent, Scenario};
use crate::domain::lifecycle::attribution::Revenue;
use crate::domain::lifecycle::engagement::Click;
use crate::domain::order::{BackorderMark, OrderEvent, OrderLine, OrderPlaced};
use crate::domain::profile::{CustomerEvent, CustomerState};
use crate::store::attribution::ScenarioAttribution;
use crate::store::records::Customers;
use crate::store::Batch;

const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;

fn placed(order_id: &str, sku: &str) -> CustomerEvent {
    CustomerEvent::Order(OrderEvent::Placed(OrderPlaced {
        order_id: order_id.into(),
        customer_id: "clicker".into(),
        currency: "JPY".into(),
        coupon_code: String::new(),
        lines: vec![OrderLine {
            line_id: "1".into(),
            sku: sku.into(),
            quantity: 2,
            unit_price_minor: 500,
            backorder: BackorderMark::InStock,
            promise: None,
        }],
    }))
}

fn order(at_ms: i64, event: CustomerEvent) -> Vec<IngestItem> {
    vec![IngestItem::Customer {
        id: "clicker".into(),
        item: CustomerItem {
            index: 0,
            at_ms,
            event,
        },
    }]
}

#[tokio::test]
async fn an_order_after_a_click_is_credited_to_the_clicked_scenario_once() {
    let stack = Stack::new().await;
    let mut c = CustomerState::bare("clicker", "Asia/Tokyo", T0);
    c.email = Some("clicker@example.jp".into());
    c.consent = Consent {
        email: true,
        line: false,
        webhook: false,
    };
    for (at, scenario, sku) in [
        (T0, Scenario::PriceDrop, "B"),
        (T0 + 1_000, Scenario::BackInStock, "A"),
    ] {
        c.lifecycle.engagement.record_click(
            Click {
                at_ms: at,
                entry_seq: 7,
                link: 0,
                scenario,
                channel: Channel::Email,
                skus: vec![sku.into()],
            },
            5 * DAY,
        );
    }
    let mut b = Batch::default();
    b.put::<Customers>("clicker", &c);
    stack.db.writer.write(b, 0).await.expect("written");

    for _ in 0..2 {
        let ack = stack
            .router
            .internal(order(T0 + DAY, placed("o-1", "A")))
            .await
            .expect("applied");
        assert!(ack.rejections.is_empty(), "{ack:?}");
    }
    let store = stack.db.store();
    let bis = store
        .get::<ScenarioAttribution>("back_in_stock")
        .expect("read")
        .expect("credited");
    assert_eq!(
        (bis.orders, bis.notified_sku_orders, bis.other_sku_orders),
        (1, 1, 0),
        "the last click's scenario, once: {bis:?}"
    );
    assert_eq!(
        bis.revenue,
        [Revenue {
            currency: "JPY".into(),
            minor: 1_000
        }]
    );
    assert_eq!(
        store
            .get::<ScenarioAttribution>("price_drop")
            .expect("read"),
        None
    );
    let state = super::super::test_stack::customer(&stack.router, "clicker").await;
    assert_eq!(state.lifecycle.engagement.last_order_ms, Some(T0 + DAY));
    assert_eq!(state.lifecycle.attribution.counted_orders, ["o-1"]);
    drop(state);
    stack.close().await;
}

fn purchase(order_id: &str, currency: &str) -> CustomerEvent {
    use crate::domain::lifecycle::attribution::OrderFacts;
    CustomerEvent::Purchase {
        skus: vec!["A".into()],
        order: (!order_id.is_empty()).then(|| OrderFacts {
            order_id: order_id.into(),
            at_ms: T0 + DAY,
            currency: currency.into(),
            total_minor: 1_500,
            skus: vec!["A".into()],
        }),
        items: Vec::new(),
    }
}

/// A stack whose stored customer "clicker" clicked a message of `scenario` about `sku`
/// at T0.
async fn clicked(scenario: Scenario, sku: &str) -> Stack {
    let stack = Stack::new().await;
    let mut c = CustomerState::bare("clicker", "Asia/Tokyo", T0);
    c.lifecycle.engagement.record_click(
        Click {
            at_ms: T0,
            entry_seq: 7,
            link: 0,
            scenario,
            channel: Channel::Email,
            skus: vec![sku.into()],
        },
        5 * DAY,
    );
    let mut b = Batch::default();
    b.put::<Customers>("clicker", &c);
    stack.db.writer.write(b, 0).await.expect("written");
    stack
}

#[tokio::test]
async fn a_purchase_with_an_order_id_is_credited_once_and_counts_as_an_order() {
    let stack = clicked(Scenario::BackInStock, "A").await;

    // Without an order id: the cart's journey only, no order counted.
    // With one: credited; sent again, or its order_placed after it, adds nothing.
    for event in [
        purchase("", "JPY"),
        purchase("p-1", "JPY"),
        purchase("p-1", "JPY"),
        placed("p-1", "A"),
    ] {
        let ack = stack
            .router
            .internal(order(T0 + DAY, event))
            .await
            .expect("applied");
        assert!(ack.rejections.is_empty(), "{ack:?}");
    }
    let store = stack.db.store();
    let bis = store
        .get::<ScenarioAttribution>("back_in_stock")
        .expect("read")
        .expect("credited");
    assert_eq!((bis.orders, bis.notified_sku_orders), (1, 1), "{bis:?}");
    assert_eq!(
        bis.revenue,
        [Revenue {
            currency: "JPY".into(),
            minor: 1_500
        }]
    );
    let state = super::super::test_stack::customer(&stack.router, "clicker").await;
    assert_eq!(state.lifecycle.engagement.last_order_ms, Some(T0 + DAY));
    assert_eq!(state.lifecycle.lapse.order_times, [T0 + DAY]);
    assert_eq!(state.lifecycle.attribution.counted_orders, ["p-1"]);
    drop(state);
    stack.close().await;
}

#[tokio::test]
async fn a_purchase_without_a_currency_counts_the_order_without_revenue() {
    let stack = clicked(Scenario::PriceDrop, "B").await;
    let ack = stack
        .router
        .internal(order(T0 + DAY, purchase("p-2", "")))
        .await
        .expect("applied");
    assert!(ack.rejections.is_empty(), "{ack:?}");
    let pd = stack
        .db
        .store()
        .get::<ScenarioAttribution>("price_drop")
        .expect("read")
        .expect("credited");
    assert_eq!(
        (pd.orders, pd.other_sku_orders, pd.revenue.len()),
        (1, 1, 0),
        "{pd:?}"
    );
    stack.close().await;
}
