//! The Router in process, on a temporary store: producer dedupe, dispatch order, and
//! answers only once the write is durable.

use super::*;
use crate::actors::test_stack::Stack;
use crate::domain::{AdjustReason, Catalogue, ProductEvent};
use crate::store::records::{Producers, Products};

const T0: i64 = 1_700_000_000_000;

fn product(sku: &str, index: u32, event: ProductEvent) -> IngestItem {
    IngestItem::Product {
        sku: sku.into(),
        item: Item {
            index,
            at_ms: T0 + i64::from(index),
            event,
        },
    }
}

fn upsert(sku: &str) -> IngestItem {
    let event = ProductEvent::Upsert {
        catalogue: Catalogue {
            title: "Tee".into(),
            currency: "JPY".into(),
            ..Catalogue::default()
        },
        price_minor: 1000,
        imported: true,
    };
    product(sku, 0, event)
}

fn adjust(sku: &str, index: u32, delta: i64) -> IngestItem {
    let event = ProductEvent::StockAdjust {
        delta,
        reason: AdjustReason::Restock,
    };
    product(sku, index, event)
}

fn batch(sequence: u64, items: Vec<IngestItem>) -> Submitted {
    Submitted {
        producer: "shop".into(),
        sequence,
        items,
        early: Vec::new(),
    }
}

fn stock(stack: &Stack, sku: &str) -> i64 {
    let p = stack.db.store().get::<Products>(sku).expect("read");
    p.expect("stored").stock
}

#[tokio::test]
async fn a_resent_batch_is_acknowledged_without_being_applied() {
    let stack = Stack::new().await;
    let r = &stack.router;
    let first = r
        .ingest(batch(1, vec![upsert("tee"), adjust("tee", 1, 5)]))
        .await
        .expect("ack");
    assert_eq!((first.duplicate, first.applied), (false, 2));
    let again = r
        .ingest(batch(1, vec![upsert("tee"), adjust("tee", 1, 5)]))
        .await
        .expect("ack");
    assert_eq!((again.duplicate, again.applied), (true, 0));
    assert_eq!(stock(&stack, "tee"), 5, "the re-send changed nothing");
    r.ingest(batch(2, vec![adjust("tee", 0, 1)]))
        .await
        .expect("ack");
    let older = r
        .ingest(batch(1, vec![adjust("tee", 0, 100)]))
        .await
        .expect("ack");
    assert_eq!((older.duplicate, older.applied), (true, 0));
    assert_eq!(stock(&stack, "tee"), 6);
    stack.close().await;
}

/// A re-send queued right behind its first copy (a pipelining producer that reconnects)
/// is recognised before the first copy is durable, and answered after it.
#[tokio::test]
async fn a_resend_in_flight_is_a_duplicate() {
    let stack = Stack::new().await;
    let r = &stack.router;
    r.ingest(batch(1, vec![upsert("tee")])).await.expect("ack");
    let first = r
        .submit(batch(2, vec![adjust("tee", 0, 3)]))
        .await
        .expect("queued");
    let copy = r
        .submit(batch(2, vec![adjust("tee", 0, 3)]))
        .await
        .expect("queued");
    let (first, copy) = tokio::join!(first, copy);
    assert!(!first.expect("ack").duplicate);
    assert!(copy.expect("ack").duplicate);
    assert_eq!(stock(&stack, "tee"), 3);
    stack.close().await;
}

/// Batches queued one after another apply in that order (each stock change depends on
/// the one before) and are answered in that order.
#[tokio::test]
async fn batches_apply_and_answer_in_dispatch_order() {
    let stack = Stack::new().await;
    let r = &stack.router;
    r.ingest(batch(1, vec![upsert("a"), upsert("b")]))
        .await
        .expect("ack");
    let mut acks = Vec::new();
    for seq in 2..=41u64 {
        let sku = if seq % 2 == 0 { "a" } else { "b" };
        let set = ProductEvent::StockSet {
            quantity: i64::try_from(seq).expect("small"),
        };
        let items = vec![product(sku, 0, set), adjust(sku, 1, -1)];
        acks.push(r.submit(batch(seq, items)).await.expect("queued"));
    }
    let mut last_durable = 0;
    for (i, ack) in acks.into_iter().enumerate() {
        let ack = ack.await.expect("ack");
        assert_eq!((ack.duplicate, ack.applied), (false, 2), "batch {i}");
        // Answered in order: when this ack arrives, its record is already stored.
        let rec = stack.db.store().get::<Producers>("shop").expect("read");
        let seq = rec.expect("record").last_sequence;
        assert!(
            seq >= last_durable && seq >= i as u64 + 2,
            "{seq} after {last_durable}"
        );
        last_durable = seq;
    }
    // The last batch of each product wins: 40 - 1 and 41 - 1.
    assert_eq!((stock(&stack, "a"), stock(&stack, "b")), (39, 40));
    stack.close().await;
}

/// Nobody is answered before their write is durable: the ack's effects, and the
/// producer's sequence written with them, are in the store when the answer arrives.
#[tokio::test]
async fn an_answer_means_the_write_is_durable() {
    let stack = Stack::new().await;
    let r = &stack.router;
    for seq in 1..=20u64 {
        let sku = format!("p{seq}");
        let ack = r
            .ingest(batch(seq, vec![upsert(&sku), adjust(&sku, 1, 2)]))
            .await
            .expect("ack");
        assert_eq!(ack.applied, 2);
        assert_eq!(
            stock(&stack, &sku),
            2,
            "batch {seq} acknowledged before stored"
        );
        let rec = stack.db.store().get::<Producers>("shop").expect("read");
        assert_eq!(rec.map(|r| r.last_sequence), Some(seq));
        assert!(stack.db.writer.durable_ticket() > 0);
    }
    stack.close().await;
}

/// Rejected events are named in the ack and stored with the producer's record, so a
/// re-send of the last batch gets them again.
#[tokio::test]
async fn rejections_come_back_on_a_resend_of_the_last_batch() {
    let stack = Stack::new().await;
    let r = &stack.router;
    let unknown = adjust("nope", 1, 1);
    let ack = r
        .ingest(batch(1, vec![upsert("tee"), unknown.clone()]))
        .await
        .expect("ack");
    assert_eq!(ack.applied, 1);
    assert_eq!(ack.rejections.len(), 1);
    assert_eq!(
        (ack.rejections[0].index, ack.rejections[0].field.as_str()),
        (1, "sku")
    );
    let again = r
        .ingest(batch(1, vec![upsert("tee"), unknown]))
        .await
        .expect("ack");
    assert_eq!((again.duplicate, again.applied), (true, 0));
    assert_eq!(again.rejections, ack.rejections);
    stack.close().await;
}
