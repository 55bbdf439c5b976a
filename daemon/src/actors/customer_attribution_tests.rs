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
