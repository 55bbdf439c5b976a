//! Order events on Ingest against a real daemon: out-of-range order events are rejected
//! by index, naming the field (with the line's index) and the fix, while the rest of the
//! batch applies (a valid order among them); a refused order buys nothing; a re-sent
//! batch repeats those rejections.

use std::collections::BTreeMap;

use anyhow::{anyhow, ensure, Context, Result};
use stockbell_tests::pb::{
    event::Kind, Event, OrderCancelled, OrderDelayed, OrderDelivered, OrderLine, OrderPlaced,
    OrderRefunded, OrderShipped, ProductUpsert, ShipWindow,
};
use stockbell_tests::{
    catalog, customer, customer_view, notify_me, now_ms, product, publish, publish_ok, purchase,
    stock_set, upsert, Daemon, DaemonOptions, EventExt, Sequencer,
};

const DAY: i64 = 86_400_000;

fn event(kind: Kind) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(kind),
    }
}

fn line(line_id: &str, sku: &str) -> OrderLine {
    OrderLine {
        line_id: line_id.into(),
        sku: sku.into(),
        quantity: 1,
        unit_price_minor: 1980,
        ..Default::default()
    }
}

/// An order of `o-a` by `o-c`, changed by `f`.
fn placed(f: impl FnOnce(&mut OrderPlaced)) -> Event {
    let mut p = OrderPlaced {
        order_id: "order-1".into(),
        customer_id: "o-c".into(),
        currency: "JPY".into(),
        coupon_code: String::new(),
        lines: vec![line("L0", "o-a"), line("L1", "o-a"), line("L2", "o-a")],
    };
    f(&mut p);
    event(Kind::OrderPlaced(p))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_order_events_are_rejected_by_field_and_the_rest_applies() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    let mut seq = Sequencer::new("orders");
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            upsert(catalog("o-a", 1980)),
            stock_set("o-a", 5),
            upsert(ProductUpsert {
                backorderable: true,
                ..catalog("o-b", 1980)
            }),
            customer("o-c", "o-c@example.jp"),
            notify_me("o-c", "o-a"),
            notify_me("o-c", "o-b"),
        ]),
    )
    .await?;

    let now = now_ms();
    let ids = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // (event, None = applies | Some(field) = rejected naming that field)
    let cases: Vec<(Event, Option<&str>)> = vec![
        (
            placed(|p| p.lines[1].quantity = 0),
            Some("order_placed.lines[1].quantity"),
        ),
        (stock_set("o-a", 7), None),
        (
            event(Kind::OrderShipped(OrderShipped {
                order_id: "order-1".into(),
                customer_id: "o-c".into(),
                tracking_url: "ftp://track.example/1".into(),
                ..Default::default()
            })),
            Some("order_shipped.tracking_url"),
        ),
        (
            placed(|p| p.lines = (0..101).map(|i| line(&format!("L{i}"), "o-a")).collect()),
            Some("order_placed.lines"),
        ),
        (
            event(Kind::OrderDelayed(OrderDelayed {
                order_id: "order-1".into(),
                customer_id: "o-c".into(),
                reason: "入荷が遅れています".into(),
                ..Default::default()
            })),
            Some("order_delayed.new_window"),
        ),
        (
            event(Kind::OrderCancelled(OrderCancelled {
                order_id: "order-1".into(),
                customer_id: "o-c".into(),
                lines: vec![],
                reason: "r".repeat(1001),
            })),
            Some("order_cancelled.reason"),
        ),
        (
            event(Kind::OrderRefunded(OrderRefunded {
                order_id: "order-1".into(),
                customer_id: "o-c".into(),
                lines: vec![],
                amount_minor: -1,
            })),
            Some("order_refunded.amount_minor"),
        ),
        (
            event(Kind::OrderDelivered(OrderDelivered {
                order_id: "order-1".into(),
                customer_id: "o-c".into(),
                lines: ids(&["L1", "L1"]),
            })),
            Some("order_delivered.lines[1]"),
        ),
        (
            placed(|p| p.lines[2].line_id = "L0".into()),
            Some("order_placed.lines[2].line_id"),
        ),
        (
            placed(|p| {
                p.lines[0].promise = Some(ShipWindow {
                    earliest_ms: now,
                    latest_ms: now + 731 * DAY,
                })
            }),
            Some("order_placed.lines[0].promise"),
        ),
        (purchase("o-c", "p-1", &["o-b"]), None),
        (
            placed(|p| p.customer_id.clear()),
            Some("order_placed.customer_id"),
        ),
        (stock_set("o-b", -3), None),
        (placed(|_| {}).at(now + 2 * DAY), Some("event_time_ms")),
        // A valid order (of o-b, so o-a stays unbought) applies.
        (
            placed(|p| {
                p.order_id = "order-2".into();
                p.lines = vec![line("L0", "o-b")];
            }),
            None,
        ),
    ];
    let (events, expected): (Vec<Event>, Vec<Option<&str>>) = cases.into_iter().unzip();
    let sent = seq.batch(events);
    let ack = publish(&mut ingest, sent.clone()).await?;

    let got: BTreeMap<u32, (&str, &str)> = ack
        .rejected
        .iter()
        .map(|r| (r.index, (r.field.as_str(), r.reason.as_str())))
        .collect();
    for (i, want) in expected.iter().enumerate() {
        match (want, got.get(&(i as u32))) {
            (None, None) => {}
            (None, Some(r)) => return Err(anyhow!("event {i} is valid, rejected: {r:?}")),
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

    // The rest of the batch applied ...
    ensure!(product(&mut admin, "o-a").await?.stock == 7, "stock of o-a");
    ensure!(
        product(&mut admin, "o-b").await?.stock == -3,
        "stock of o-b"
    );
    let c = customer_view(&admin, "o-c").await?;
    let purchased = |sku: &str| {
        c.interests
            .iter()
            .find(|i| i.sku == sku)
            .map(|i| i.purchased_ms)
            .with_context(|| format!("no interest in {sku}: {c:?}"))
    };
    ensure!(purchased("o-b")? > 0, "the purchase of o-b did not apply");
    // ... and no refused order counted as a purchase of o-a.
    ensure!(purchased("o-a")? == 0, "a refused order bought o-a");

    // A re-send is a duplicate with the same rejections, indexed field names included.
    let again = publish(&mut ingest, sent).await?;
    ensure!(again.duplicate && again.applied == 0, "re-send: {again:?}");
    ensure!(again.rejected == ack.rejected, "re-send: {again:?}");
    Ok(())
}
