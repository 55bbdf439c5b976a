//! An order's journey against a real daemon and a real SMTP server, with shortened
//! intervals: three orders wait for a sold-out product (each customer gets the backorder
//! confirmation, then updates never faster than `update_every`); units for two arrive
//! (the two oldest orders are told, the third keeps waiting — it keeps getting updates);
//! one ships with tracking (no more updates for it) and is delivered (the follow-up with
//! the review link comes `after` later). The third customer unsubscribed from marketing
//! and still gets every order update. GetOrder shows each order's lines and messages.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    event::Kind, Event, GetOrderRequest, ListOutboxRequest, OrderDelayed, OrderDelivered,
    OutboxEntry, ProductUpsert, ShipWindow, UnsubscribeChannel,
};
use stockbell_tests::{
    catalog, now_ms, order_placed, order_shipped, poll_until, publish, publish_ok, shopper,
    stock_set, unsubscribe, upsert, AdminClient, Daemon, DaemonOptions, Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(40);
const UPDATE_EVERY_MS: i64 = 4_000;

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml(
            r#"
[scenarios.backorder_update]
update_every = "4s"
[scenarios.delivered_followup]
after = "2s"
review_url = "https://shop.example/review?order={order_id}"
"#,
        )
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

fn delivered(order_id: &str, customer_id: &str) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(Kind::OrderDelivered(OrderDelivered {
            order_id: order_id.into(),
            customer_id: customer_id.into(),
            lines: Vec::new(),
        })),
    }
}

/// Every outbox entry, by customer, oldest first.
async fn entries(admin: &AdminClient) -> Result<BTreeMap<String, Vec<OutboxEntry>>> {
    let req = ListOutboxRequest {
        limit: 1000,
        ..Default::default()
    };
    let all = admin.clone().list_outbox(req).await?.into_inner().entries;
    let mut by: BTreeMap<String, Vec<OutboxEntry>> = BTreeMap::new();
    for e in all.into_iter().rev() {
        by.entry(e.customer_id.clone()).or_default().push(e);
    }
    Ok(by)
}

fn scenarios(of: Option<&Vec<OutboxEntry>>) -> Vec<&str> {
    of.map(|v| v.iter().map(|e| e.scenario.as_str()).collect())
        .unwrap_or_default()
}

fn count(of: Option<&Vec<OutboxEntry>>, scenario: &str) -> usize {
    scenarios(of).iter().filter(|s| **s == scenario).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_followed_from_backorder_to_the_follow_up() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    let kettle = ProductUpsert {
        imported: true,
        backorderable: true,
        ..catalog("kettle", 4_800)
    };
    let mut setup = vec![upsert(kettle), stock_set("kettle", 0)];
    for b in ["b0", "b1", "b2"] {
        setup.push(shopper(b));
    }
    setup.push(unsubscribe("b2", UnsubscribeChannel::All));
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    // An event about an order never placed, or naming another customer, is refused.
    let ack = publish(&mut ingest, seq.batch(vec![order_shipped("o0", "b0")])).await?;
    let fields: Vec<&str> = ack.rejected.iter().map(|r| r.field.as_str()).collect();
    ensure!(
        fields == ["order_shipped.order_id"],
        "unknown order: {ack:?}"
    );
    for (i, b) in ["b0", "b1", "b2"].into_iter().enumerate() {
        let order = order_placed(&format!("o{i}"), b, &[("1", "kettle", 2)]);
        publish_ok(&mut ingest, seq.batch(vec![order])).await?;
    }

    let ack = publish(&mut ingest, seq.batch(vec![order_shipped("o0", "b1")])).await?;
    let fields: Vec<&str> = ack.rejected.iter().map(|r| r.field.as_str()).collect();
    ensure!(
        fields == ["order_shipped.customer_id"],
        "another customer's order: {ack:?}"
    );

    // Each is told its order waits, then (after update_every) that it still waits.
    poll_until(WAIT, || async {
        let by = entries(&admin).await?;
        for b in ["b0", "b1", "b2"] {
            let got = scenarios(by.get(b));
            ensure!(
                got.starts_with(&["backorder_confirmation", "backorder_update"]),
                "{b}: {got:?}"
            );
        }
        Ok(())
    })
    .await?;

    // Units for two: the two oldest orders are told it arrived.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 4)])).await?;
    poll_until(WAIT, || async {
        let by = entries(&admin).await?;
        ensure!(
            count(by.get("b0"), "arrived") == 1,
            "b0: {:?}",
            scenarios(by.get("b0"))
        );
        ensure!(
            count(by.get("b1"), "arrived") == 1,
            "b1: {:?}",
            scenarios(by.get("b1"))
        );
        Ok(())
    })
    .await?;

    // b0's order ships, with its tracking number, and is delivered.
    publish_ok(&mut ingest, seq.batch(vec![order_shipped("o0", "b0")])).await?;
    publish_ok(&mut ingest, seq.batch(vec![delivered("o0", "b0")])).await?;
    poll_until(WAIT, || async {
        let by = entries(&admin).await?;
        let b0 = scenarios(by.get("b0"));
        ensure!(
            b0.ends_with(&["shipped", "delivered_followup"]),
            "b0: {b0:?}"
        );
        Ok(())
    })
    .await?;
    let shipped_at = entries(&admin).await?["b0"]
        .iter()
        .find(|e| e.scenario == "shipped")
        .map(|e| e.created_ms)
        .context("b0's shipped notice")?;

    // The third order keeps waiting: two more updates for b2 (the positive marker that
    // time went by) and, meanwhile, no arrival for it and no update for b0 after shipping.
    let b2_before = count(entries(&admin).await?.get("b2"), "backorder_update");
    poll_until(WAIT, || async {
        let by = entries(&admin).await?;
        let n = count(by.get("b2"), "backorder_update");
        ensure!(n >= b2_before + 2, "b2 has {n} updates");
        Ok(())
    })
    .await?;
    let by = entries(&admin).await?;
    ensure!(
        count(by.get("b2"), "arrived") == 0,
        "b2: {:?}",
        scenarios(by.get("b2"))
    );
    let late_updates = by["b0"]
        .iter()
        .filter(|e| e.scenario == "backorder_update" && e.created_ms > shipped_at)
        .count();
    ensure!(
        late_updates == 0,
        "b0 got an update after shipping: {:?}",
        scenarios(by.get("b0"))
    );

    // Updates never come faster than update_every.
    for (b, list) in &by {
        let times: Vec<i64> = list
            .iter()
            .filter(|e| {
                matches!(
                    e.scenario.as_str(),
                    "backorder_confirmation" | "backorder_update"
                )
            })
            .map(|e| e.created_ms)
            .collect();
        for w in times.windows(2) {
            ensure!(
                w[1] - w[0] >= UPDATE_EVERY_MS,
                "{b}: notices {} ms apart: {times:?}",
                w[1] - w[0]
            );
        }
    }

    // The Admin API shows each order as its customer follows it.
    let order = |id: &str| {
        let mut admin = admin.clone();
        let req = GetOrderRequest {
            order_id: id.into(),
        };
        async move { admin.get_order(req).await.map(|r| r.into_inner()) }
    };
    let o0 = order("o0").await?;
    let line = o0.lines.first().context("o0's line")?;
    ensure!(
        (line.status.as_str(), line.tracking_number.as_str()) == ("delivered", "TRK-o0"),
        "o0: {o0:?}"
    );
    let about: Vec<&str> = o0.messages.iter().map(|m| m.scenario.as_str()).collect();
    ensure!(
        about.first() == Some(&"delivered_followup") && about.contains(&"shipped"),
        "messages about o0: {about:?}"
    );
    let o2 = order("o2").await?;
    ensure!(
        o2.lines.first().map(|l| l.status.as_str()) == Some("waiting"),
        "o2: {o2:?}"
    );
    let unknown = order("never-placed").await;
    ensure!(
        unknown.as_ref().err().map(|e| e.code()) == Some(tonic::Code::NotFound),
        "unknown order: {unknown:?}"
    );

    // The mail itself: tracking on the shipped notice, the review link on the follow-up,
    // no unsubscribe headers on order updates; b2 (unsubscribed) got its order updates.
    poll_until(WAIT, || async {
        let mails = smtp.messages();
        let to = |who: &str| {
            mails
                .iter()
                .filter(|m| m.to.iter().any(|t| t.starts_with(who)))
                .collect::<Vec<_>>()
        };
        ensure!(
            to("b0@").iter().any(|m| m.raw.contains("TRK-o0")),
            "no mail to b0 with its tracking number"
        );
        ensure!(
            to("b0@")
                .iter()
                .any(|m| m.raw.contains("shop.example/review")),
            "no follow-up with the review link"
        );
        ensure!(to("b2@").len() >= 3, "b2 got {} mails", to("b2@").len());
        ensure!(
            mails
                .iter()
                .all(|m| m.headers.get("list-unsubscribe").is_none()),
            "an order update carries List-Unsubscribe"
        );
        Ok(())
    })
    .await?;
    Ok(())
}

fn order_with_promise(order_id: &str, customer_id: &str, latest_ms: i64) -> Event {
    let mut event = order_placed(order_id, customer_id, &[("1", "teapot", 1)]);
    if let Some(Kind::OrderPlaced(placed)) = event.kind.as_mut() {
        for line in &mut placed.lines {
            line.promise = Some(ShipWindow {
                earliest_ms: latest_ms - 1_000,
                latest_ms,
            });
        }
    }
    event
}

/// A promise that passes with neither shipment nor word from the shop brings the delay
/// notice by itself, and the line is flagged for the operator; an order the shop already
/// wrote about (a delay event before the promise passed) gets no second, automatic one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_promise_brings_the_delay_notice_by_itself() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    let teapot = ProductUpsert {
        backorderable: true,
        ..catalog("teapot", 3_200)
    };
    let setup = vec![
        upsert(teapot),
        stock_set("teapot", 0),
        shopper("p0"),
        shopper("p1"),
    ];
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    // p1's promise passes first, but the shop writes before it does; p0 hears nothing.
    let start = now_ms();
    let p1_latest = start + 2_000;
    let p0_latest = start + 4_000;
    let orders = vec![
        order_with_promise("q0", "p0", p0_latest),
        order_with_promise("q1", "p1", p1_latest),
        Event {
            event_time_ms: 0,
            kind: Some(Kind::OrderDelayed(OrderDelayed {
                order_id: "q1".into(),
                customer_id: "p1".into(),
                lines: Vec::new(),
                new_window: None,
                unknown_window: true,
                reason: "the maker's kiln broke".into(),
            })),
        },
    ];
    publish_ok(&mut ingest, seq.batch(orders)).await?;

    poll_until(WAIT, || async {
        let by = entries(&admin).await?;
        ensure!(
            count(by.get("p0"), "delayed") == 1,
            "p0: {:?}",
            scenarios(by.get("p0"))
        );
        Ok(())
    })
    .await?;
    let by = entries(&admin).await?;
    let auto = by["p0"]
        .iter()
        .find(|e| e.scenario == "delayed")
        .context("p0's delay notice")?;
    ensure!(
        auto.created_ms > p0_latest,
        "the delay notice came at {} before the promise passed at {p0_latest}",
        auto.created_ms
    );
    // p1's promise passed two seconds before p0's: had the shop's word not counted, its
    // automatic notice would be there by now.
    ensure!(
        count(by.get("p1"), "delayed") == 1,
        "p1: {:?}",
        scenarios(by.get("p1"))
    );

    let q0 = admin
        .clone()
        .get_order(GetOrderRequest {
            order_id: "q0".into(),
        })
        .await?
        .into_inner();
    let line = q0.lines.first().context("q0's line")?;
    ensure!(line.past_promise, "q0's line is not flagged: {q0:?}");
    let q1 = admin
        .clone()
        .get_order(GetOrderRequest {
            order_id: "q1".into(),
        })
        .await?
        .into_inner();
    ensure!(
        q1.lines.first().is_some_and(|l| !l.past_promise),
        "q1's line is flagged though the shop wrote: {q1:?}"
    );

    // The mail: p0 is told, in words, that the promise was not kept; p1 gets the reason.
    poll_until(WAIT, || async {
        let mails = smtp.messages();
        let to = |who: &'static str| {
            mails
                .iter()
                .filter(move |m| m.to.iter().any(|t| t.starts_with(who)))
        };
        ensure!(
            to("p0@").any(|m| m.text().contains("will not ship when we said")),
            "no delay mail to p0"
        );
        ensure!(
            to("p1@").any(|m| m.text().contains("kiln broke")),
            "no delay mail with the reason to p1"
        );
        Ok(())
    })
    .await?;
    Ok(())
}
