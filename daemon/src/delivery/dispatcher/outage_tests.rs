//! The dispatcher when a channel is down (the whole channel backs off, its entries are
//! not charged, other channels go on) and when a message goes out late (expired, or
//! re-checked against the products as they are now).

use super::*;
use crate::delivery::health::Health;
use crate::domain::customer::{Scenario, SuppressReason};
use crate::domain::late::LATE_AFTER_MS;
use crate::domain::message::ItemContext;
use crate::domain::product::{apply, Effects};
use crate::domain::{Catalogue, ProductEvent};

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
        assert!(apply(&mut st, "p", e, now_ms() - 60_000, &cfg, &mut fx).is_ok());
    }
    st.expect("the upsert creates the product")
}

/// A marketing entry decided `age_ms` ago about `skus` (a digest when several).
fn queued(seq: u64, channel: Channel, age_ms: i64, skus: &[&str]) -> OutboxEntry {
    let mut e = fresh(seq, channel, true);
    e.created_ms -= age_ms;
    e.next_attempt_ms = e.created_ms;
    let item = e.context.items[0].clone();
    e.context.items = skus
        .iter()
        .map(|sku| ItemContext {
            sku: (*sku).into(),
            ..item.clone()
        })
        .collect();
    e
}

fn webhook_health(d: &Dispatcher) -> Health {
    d.stats()
        .health
        .snapshot()
        .into_iter()
        .find(|c| c.channel == Channel::Webhook)
        .map(|c| c.health)
        .unwrap_or_default()
}

fn sent_seqs(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.header("x-stockbell-delivery").to_string())
        .collect()
}

/// A webhook receiver answering 503 takes the channel down: its entries wait without
/// being charged (max_attempts is 3; the outage is 60 failed sends), probes try it one
/// at a time, paced from `retry_base` (20 ms) doubling to `retry_max` (50 ms), and once
/// one gets through they all go out once. Email, meanwhile, is not held up, though more
/// webhook entries than a scan reads (64) were due before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_channel_waits_as_a_whole_and_others_go_on() {
    let f = Fixture::new(3);
    let server = TestServer::start(&[503; 60]).await;
    // All due before the dispatcher starts: its first scan fills the webhook's queue.
    for seq in 1..=100 {
        f.insert(&fresh(seq, Channel::Webhook, false)).await;
    }
    let d = f.start(Some(&server), 3);
    let started = std::time::Instant::now();
    let outage = poll_until(WAIT, || async {
        match webhook_health(&d) {
            Health::Down(o) => Ok(o),
            Health::Up => anyhow::bail!("the webhook never went down"),
        }
    })
    .await
    .expect("an outage");
    assert!(outage.last_error.contains("503"), "{outage:?}");
    // Email goes out while the webhook is down.
    for seq in 101..=103 {
        f.insert(&fresh(seq, Channel::Email, false)).await;
    }
    d.notifier().notify_one();
    for seq in 101..=103 {
        f.wait_status(seq, OutboxStatus::Delivered).await;
    }
    assert!(
        matches!(webhook_health(&d), Health::Down(_)),
        "email went out while the webhook was down"
    );
    for seq in 1..=100 {
        let e = f.wait_status(seq, OutboxStatus::Delivered).await;
        assert_eq!(e.attempts, 1, "an outage is not charged: {e:?}");
        assert_eq!(e.last_error, None);
    }
    assert_eq!(webhook_health(&d), Health::Up);
    let sent = sent_seqs(&server);
    assert_eq!(sent.len(), 60 + 100, "{sent:?}");
    // At most two sends were in flight when it went down; the other 58 or more failures
    // were probes, at least 20 + 40 + 56 × 50 ms apart in all (unpaced, the 60 answers
    // would be used up in milliseconds).
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(2_500), "{took:?}");
    assert_eq!(d.stats().failed.load(Relaxed), 0);
    assert!(d.stats().channel_down.load(Relaxed) >= 60);
    f.stop(d).await;
}

/// A marketing message still queued after its scenario's `max_age` is cancelled as
/// expired (counted per item), not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketing_older_than_its_max_age_expires() {
    let f = Fixture::new(3);
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 3);
    f.port
        .products
        .lock()
        .expect("products")
        .insert("tee".into(), product(5, 1_980));
    f.insert(&queued(
        1,
        Channel::Webhook,
        25 * 3_600_000,
        &["tee", "tee-2"],
    ))
    .await;
    // A transactional message as old goes out.
    let mut old = fresh(2, Channel::Webhook, false);
    old.created_ms -= 25 * 3_600_000;
    f.insert(&old).await;
    let e = f.wait_status(1, OutboxStatus::Cancelled).await;
    let why = e.last_error.unwrap_or_default();
    assert!(
        why.contains("expired") && why.contains("scenarios.low_stock.max_age"),
        "{why}"
    );
    f.wait_status(2, OutboxStatus::Delivered).await;
    assert_eq!(sent_seqs(&server), ["2"]);
    let m = &f.metrics;
    assert_eq!(m.suppressed(Scenario::LowStock, SuppressReason::Expired), 2);
    assert_eq!(m.outbox_cancelled.load(Relaxed), 1);
    f.stop(d).await;
}

/// A late marketing message is re-checked: a digest goes out with the items that still
/// hold (the stored entry keeps them all), one with none left is cancelled as stale; a
/// message on time, or transactional, is sent as queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_marketing_is_rechecked_against_the_products_now() {
    let f = Fixture::new(3);
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 3);
    {
        let mut products = f.port.products.lock().expect("products");
        products.insert("in-stock".into(), product(5, 1_980));
        products.insert("sold-out".into(), product(0, 1_980));
    }
    let late = 2 * LATE_AFTER_MS;
    f.insert(&queued(
        1,
        Channel::Webhook,
        late,
        &["in-stock", "sold-out"],
    ))
    .await;
    f.insert(&queued(2, Channel::Webhook, late, &["sold-out"]))
        .await;
    f.insert(&queued(3, Channel::Webhook, 0, &["sold-out"]))
        .await;
    let mut transactional = queued(4, Channel::Webhook, late, &["sold-out"]);
    transactional.scenario = Scenario::Shipped;
    transactional.context.scenario = Scenario::Shipped;
    transactional.context.order = Some(crate::delivery::test_support::sample_order());
    f.insert(&transactional).await;

    let e = f.wait_status(1, OutboxStatus::Delivered).await;
    assert_eq!(e.context.items.len(), 2, "the stored entry is not filtered");
    let e = f.wait_status(2, OutboxStatus::Cancelled).await;
    let why = e.last_error.unwrap_or_default();
    assert!(why.contains("stale") && why.contains("sold-out"), "{why}");
    f.wait_status(3, OutboxStatus::Delivered).await;
    f.wait_status(4, OutboxStatus::Delivered).await;
    let mut sent = sent_seqs(&server);
    sent.sort();
    assert_eq!(sent, ["1", "3", "4"]);
    let digest = server
        .requests()
        .into_iter()
        .find(|r| r.header("x-stockbell-delivery") == "1")
        .expect("seq 1 was sent");
    let body: serde_json::Value = serde_json::from_slice(&digest.body).expect("json");
    let skus: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["sku"].as_str())
        .collect();
    assert_eq!(skus, ["in-stock"]);
    // One dropped item of a sent digest, one of a cancelled message.
    let m = &f.metrics;
    assert_eq!(m.suppressed(Scenario::LowStock, SuppressReason::Stale), 2);
    // Two late marketing messages about the same products: looked up once each.
    assert_eq!(f.port.lookups.load(Relaxed), 2);
    f.stop(d).await;
}

/// A late cart reminder is re-checked against the cart too: a line bought (or removed)
/// since is left out, a reminder with no line left is cancelled as `purchased`, and one
/// whose cart changed after it was decided is cancelled (the new journey has its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_cart_reminder_is_rechecked_against_the_cart_now() {
    use crate::domain::lifecycle::journey::{CartLine, Journey};
    let f = Fixture::new(3);
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 3);
    {
        let mut products = f.port.products.lock().expect("products");
        for sku in ["kept", "bought"] {
            products.insert(sku.into(), product(5, 1_980));
        }
    }
    let late = 2 * LATE_AFTER_MS;
    let reminder = |seq, customer: &str, skus: &[&str]| {
        let mut e = queued(seq, Channel::Webhook, late, skus);
        e.customer_id = customer.into();
        e.scenario = Scenario::CartAbandoned;
        e.context.scenario = Scenario::CartAbandoned;
        e
    };
    let decided = now_ms() - late;
    let cart = |changed_ms| Journey {
        lines: vec![CartLine {
            sku: "kept".into(),
            quantity: 1,
            added_ms: changed_ms,
            unit_price_minor: None,
        }],
        changed_ms: Some(changed_ms),
        ..Journey::default()
    };
    {
        let mut journeys = f.port.journeys.lock().expect("journeys");
        // "bought" left ann's cart (an order or purchase); bob's cart changed since.
        journeys.insert("ann".into(), cart(decided - 60_000));
        journeys.insert("bob".into(), cart(decided + 1_000));
    }
    f.insert(&reminder(1, "ann", &["kept", "bought"])).await;
    f.insert(&reminder(2, "ann", &["bought"])).await;
    f.insert(&reminder(3, "bob", &["kept"])).await;

    f.wait_status(1, OutboxStatus::Delivered).await;
    for seq in [2, 3] {
        let e = f.wait_status(seq, OutboxStatus::Cancelled).await;
        let why = e.last_error.unwrap_or_default();
        assert!(
            why.contains("the cart was ordered, bought or changed"),
            "{why}"
        );
    }
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).expect("json");
    let skus: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["sku"].as_str())
        .collect();
    assert_eq!(skus, ["kept"]);
    let m = &f.metrics;
    let s = Scenario::CartAbandoned;
    assert_eq!(m.suppressed(s, SuppressReason::Purchased), 2);
    assert_eq!(m.suppressed(s, SuppressReason::Stale), 1);
    f.stop(d).await;
}
