//! Numbers outside any shop's reality are rejected per event, naming the field, while the
//! values at the edges of each documented range still apply; a batch sequence that would
//! leave its producer no next batch is refused whole and does not wedge the producer.

use std::collections::BTreeMap;

use anyhow::{anyhow, ensure, Result};
use stockbell_tests::pb::{
    event::Kind, AdjustReason, Event, NotifyMe, ProductUpsert, Purchase, PurchaseItem, View,
};
use stockbell_tests::{
    batch, catalog, customer, expect_code, last_sequence, next_ack, now_ms, price_set, product,
    publish, publish_ok, sale, stock_adjust, stock_set, upsert, window, Daemon, DaemonOptions,
    EventExt, Sequencer,
};
use tonic::Code;

const UNITS: i64 = 1_000_000_000;
const MINOR: i64 = 10_000_000_000_000;
const DAY: i64 = 86_400_000;
/// 2000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const Y2000: i64 = 946_684_800_000;
const Y9999: i64 = 253_402_300_799_999;

fn event(kind: Kind) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(kind),
    }
}

fn view(dwell_ms: u32) -> Event {
    event(Kind::View(View {
        customer_id: "r-c".into(),
        sku: "r-a".into(),
        dwell_ms,
    }))
}

fn notify_me(expires_ms: i64, at: i64) -> Event {
    event(Kind::NotifyMe(NotifyMe {
        customer_id: "r-c".into(),
        sku: "r-a".into(),
        expires_ms,
    }))
    .at(at)
}

fn purchase(quantity: i64, amount_minor: i64) -> Event {
    event(Kind::Purchase(Purchase {
        customer_id: "r-c".into(),
        order_id: "o-1".into(),
        items: vec![PurchaseItem {
            sku: "r-b".into(),
            quantity,
            amount_minor,
        }],
        currency: "JPY".into(),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_outside_their_range_are_rejected_by_field() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    let mut seq = Sequencer::new("ranges");
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            upsert(catalog("r-a", 1000)),
            stock_set("r-a", 5),
            upsert(ProductUpsert {
                backorderable: true,
                ..catalog("r-b", 1000)
            }),
            customer("r-c", "r-c@example.jp"),
        ]),
    )
    .await?;

    let now = now_ms();
    let upsert_with = |f: fn(&mut ProductUpsert)| {
        let mut p = catalog("r-new", 100);
        f(&mut p);
        upsert(p)
    };
    // (event, None = applies | Some(field) = rejected naming that field)
    let cases: Vec<(Event, Option<&str>)> = vec![
        (stock_set("r-a", UNITS + 1), Some("stock_set.quantity")),
        (stock_set("r-b", -UNITS - 1), Some("stock_set.quantity")),
        (stock_set("r-b", i64::MIN), Some("stock_set.quantity")),
        (
            stock_adjust("r-a", i64::MAX, AdjustReason::Restock),
            Some("stock_adjust.delta"),
        ),
        (
            stock_adjust("r-b", i64::MIN, AdjustReason::Sale),
            Some("stock_adjust.delta"),
        ),
        (
            stock_adjust("r-a", UNITS + 1, AdjustReason::Correction),
            Some("stock_adjust.delta"),
        ),
        (sale("r-b", i64::MAX), Some("sale.quantity")),
        (sale("r-b", UNITS + 1), Some("sale.quantity")),
        (price_set("r-a", MINOR + 1), Some("price_set.price_minor")),
        (price_set("r-a", i64::MAX), Some("price_set.price_minor")),
        (
            upsert_with(|p| p.price_minor = MINOR + 1),
            Some("product_upsert.price_minor"),
        ),
        (
            upsert_with(|p| p.sale_window = window(0, -1)),
            Some("product_upsert.sale_window"),
        ),
        (
            upsert_with(|p| p.display_window = window(-5, 0)),
            Some("product_upsert.display_window"),
        ),
        (
            upsert_with(|p| p.display_window = window(0, Y9999 + 1)),
            Some("product_upsert.display_window"),
        ),
        (stock_set("r-a", 6).at(i64::MAX), Some("event_time_ms")),
        (stock_set("r-a", 6).at(now + 2 * DAY), Some("event_time_ms")),
        (stock_set("r-a", 6).at(Y2000 - 1), Some("event_time_ms")),
        (stock_set("r-a", 6).at(-1), Some("event_time_ms")),
        (view(86_400_001), Some("view.dwell_ms")),
        (view(u32::MAX), Some("view.dwell_ms")),
        (notify_me(i64::MAX, now), Some("notify_me.expires_ms")),
        (
            notify_me(now + 731 * DAY, now),
            Some("notify_me.expires_ms"),
        ),
        (purchase(i64::MAX, 100), Some("purchase.items.quantity")),
        (purchase(1, -1), Some("purchase.items.amount_minor")),
        (purchase(1, MINOR + 1), Some("purchase.items.amount_minor")),
        // The edges of each range apply.
        (stock_set("r-b", -UNITS), None),
        (stock_adjust("r-b", UNITS, AdjustReason::Restock), None), // r-b: 0
        (sale("r-b", UNITS), None),                                // r-b: -UNITS
        (stock_set("r-a", UNITS), None),
        (stock_adjust("r-a", -UNITS, AdjustReason::Correction), None), // r-a: 0
        (stock_set("r-a", 9).at(now + DAY - 60_000), None),            // allow the test a minute
        (stock_set("r-a", 10).at(Y2000), None),
        (price_set("r-a", MINOR), None),
        (
            upsert(ProductUpsert {
                display_window: window(1, Y9999),
                ..catalog("r-edge", 1)
            }),
            None,
        ),
        (view(86_400_000), None),
        (notify_me(now + 730 * DAY, now), None),
        (purchase(UNITS, MINOR), None),
    ];
    let (events, expected): (Vec<Event>, Vec<Option<&str>>) = cases.into_iter().unzip();
    let ack = publish(&mut ingest, seq.batch(events)).await?;

    let got: BTreeMap<u32, (&str, &str)> = ack
        .rejected
        .iter()
        .map(|r| (r.index, (r.field.as_str(), r.reason.as_str())))
        .collect();
    for (i, want) in expected.iter().enumerate() {
        match (want, got.get(&(i as u32))) {
            (None, None) => {}
            (None, Some(r)) => return Err(anyhow!("event {i} is in range, rejected: {r:?}")),
            (Some(f), None) => return Err(anyhow!("event {i} ({f}) not rejected: {ack:?}")),
            (Some(f), Some((field, reason))) => {
                ensure!(field == f, "event {i}: field {field:?}, want {f:?}");
                ensure!(
                    reason.len() > 20,
                    "event {i}: the reason does not say what to do: {reason:?}"
                );
            }
        }
    }
    let valid = expected.iter().filter(|e| e.is_none()).count();
    ensure!(ack.applied as usize == valid, "applied: {ack:?}");

    let a = product(&mut admin, "r-a").await?;
    ensure!(a.stock == 10 && a.price_minor == MINOR, "r-a: {a:?}");
    let b = product(&mut admin, "r-b").await?;
    ensure!(b.stock == -UNITS, "r-b: {b:?}");
    ensure!(
        b.velocity_per_day > 0.0 && b.velocity_per_day <= 2.0 * UNITS as f64,
        "r-b velocity {}",
        b.velocity_per_day
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_with_no_room_after_it_is_refused_and_does_not_wedge() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    const P: &str = "seq-top";
    publish_ok(
        &mut ingest,
        batch(P, 1, vec![upsert(catalog("s-a", 100)), stock_set("s-a", 1)]),
    )
    .await?;

    for s in [u64::MAX, 1 << 63] {
        let status = expect_code(
            ingest
                .publish(batch(P, s, vec![stock_set("s-a", 99)]))
                .await,
            &[Code::InvalidArgument],
        )?;
        ensure!(
            status.message().contains("sequence"),
            "{s}: the refusal does not name sequence: {}",
            status.message()
        );
    }
    // On a stream: reported in the ack, and the stream goes on.
    let stream = vec![
        batch(P, u64::MAX, vec![stock_set("s-a", 99)]),
        batch(P, 2, vec![stock_set("s-a", 2)]),
    ];
    let mut acks = ingest
        .stream(tokio_stream::iter(stream))
        .await
        .map_err(|s| anyhow!("Ingest.Stream: {} {}", s.code(), s.message()))?
        .into_inner();
    let first = next_ack(&mut acks).await?;
    ensure!(
        first.batch_error.contains("sequence") && first.applied == 0,
        "{first:?}"
    );
    let second = next_ack(&mut acks).await?;
    ensure!(
        second.batch_error.is_empty() && !second.duplicate && second.applied == 1,
        "the producer is wedged: {second:?}"
    );

    // The largest sequence allowed still applies; the producer was never stuck at u64::MAX.
    let top = i64::MAX as u64;
    publish_ok(&mut ingest, batch(P, top, vec![stock_set("s-a", 3)])).await?;
    ensure!(last_sequence(&mut admin, P).await? == top, "last sequence");
    ensure!(product(&mut admin, "s-a").await?.stock == 3, "stock of s-a");
    Ok(())
}
