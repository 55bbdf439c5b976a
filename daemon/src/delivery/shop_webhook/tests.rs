//! Reading the shop webhook's rounds from a real store.

use super::*;
use crate::domain::order::state::CancelRequest;
use crate::domain::order::{IndexedLine, LineNotice, LineNoticeKind, OrderIndex};
use crate::store::orders::{CancelRequests, LineNotices, OrderIndexes};
use crate::store::test_db::TestStore;

fn notice(kind: LineNoticeKind, order: &str) -> LineNotice {
    LineNotice {
        customer_id: "c1".into(),
        order_id: order.into(),
        sku: "kettle".into(),
        kind,
        line_ids: vec!["1".into()],
        at_ms: 5,
    }
}

#[tokio::test]
async fn a_round_sends_requests_and_allocations_and_passes_the_other_notices() {
    let db = TestStore::new();
    let mut b = Batch::default();
    b.put::<CancelRequests>(
        1,
        &CancelRequest {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            line_ids: vec!["1".into()],
            requested_at_ms: 4,
        },
    );
    b.put::<LineNotices>(1, &notice(LineNoticeKind::Waiting, "o1"));
    b.put::<LineNotices>(2, &notice(LineNoticeKind::Allocated, "o1"));
    b.put::<LineNotices>(3, &notice(LineNoticeKind::InStock, "o2"));
    let index = OrderIndex {
        customer_id: "c1".into(),
        lines: vec![IndexedLine {
            line_id: "1".into(),
            sku: "kettle".into(),
            quantity: 3,
        }],
    };
    b.put::<OrderIndexes>("o1", &index);
    db.writer.write(b, 0).await.expect("write");

    let (events, end) = next_round(db.store(), Cursors::default(), 10).expect("round");
    let ids: Vec<(&str, Cursors)> = events
        .iter()
        .map(|o| (o.event.event_id(), o.after))
        .collect();
    assert_eq!(
        ids,
        [
            (
                "cancellation_requested:1",
                Cursors {
                    cancel: 1,
                    notice: 0,
                    segment: 0
                }
            ),
            (
                "allocated:2",
                Cursors {
                    cancel: 1,
                    notice: 2,
                    segment: 0
                }
            ),
        ]
    );
    assert_eq!(
        end,
        Cursors {
            cancel: 1,
            notice: 3,
            segment: 0
        }
    );
    let ShopEvent::Allocated { lines, .. } = &events[1].event else {
        panic!("an allocation: {:?}", events[1]);
    };
    assert_eq!(lines[0].quantity, Some(3));
    // From the end: nothing more.
    let (events, again) = next_round(db.store(), end, 10).expect("round");
    assert!(events.is_empty());
    assert_eq!(again, end);
    db.close().await;
}

#[test]
fn config_is_checked() {
    let cfg = |url: &str, secret: &str| ShopWebhookConfig {
        url: url.into(),
        secret: secret.into(),
        ..Default::default()
    };
    assert!(matches!(ShopSender::new(&cfg("", "")), Ok(None)));
    let err = |c: ShopWebhookConfig| ShopSender::new(&c).err().map(|e| e.to_string());
    assert!(
        err(cfg("ftp://x/", "0123456789abcdef")).is_some_and(|e| e.starts_with("shop_webhook.url"))
    );
    assert!(err(cfg("https://shop.example/hook", "short"))
        .is_some_and(|e| e.starts_with("shop_webhook.secret")));
}
