//! Cross-sell offers against a real daemon and a real SMTP server, with shortened
//! intervals. Three customers' orders build co-purchase support for X with Y, V, Z and W
//! (min support lowered to 2), with a kill -9 and a restart in between (no order lost,
//! none counted twice: `GetRelated` shows a support of exactly 3). Then Z sells out and
//! a buyer who bought W before orders X: the offer after the order lists in-stock Y and
//! V (in one message) and never sold-out Z or already-bought W, and the one after delivery carries the coupon.
//! A customer who unsubscribed from marketing gets the order's shipped notice and no
//! offer (counted as suppressed). `GetRelated` explains why Y is related.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    event::Kind, Event, GetRelatedRequest, OrderDelivered, ProductUpsert, RelatedProducts,
    UnsubscribeChannel,
};
use stockbell_tests::{
    catalog, order_placed, order_shipped, poll_until, publish_ok, purchase, scenario_stats,
    shopper, stock_set, unsubscribe, upsert, AdminClient, Daemon, DaemonOptions, ReceivedMail,
    Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(40);

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml(
            r#"
[related]
min_support = 2.0
[scenarios.cross_sell_order]
after = "1s"
[scenarios.cross_sell_delivery]
after = "1s"
coupon_code = "THANKS10"
[[rules.caps]]
scope = "marketing"
max = 20
window = "1h"
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

async fn related(admin: &AdminClient, sku: &str) -> Result<RelatedProducts> {
    let req = GetRelatedRequest { sku: sku.into() };
    Ok(admin.clone().get_related(req).await?.into_inner())
}

/// Y's support as X's related product (0 when not listed).
async fn support_xy(admin: &AdminClient) -> Result<f64> {
    let r = related(admin, "X").await?;
    Ok(r.related
        .iter()
        .find(|p| p.sku == "Y")
        .map_or(0.0, |p| p.support))
}

fn mails_to<'a>(mails: &'a [ReceivedMail], who: &str) -> Vec<&'a ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.starts_with(&format!("{who}@"))))
        .collect()
}

fn offers<'a>(mails: &'a [ReceivedMail], who: &str) -> Vec<&'a ReceivedMail> {
    mails_to(mails, who)
        .into_iter()
        .filter(|m| {
            let t = m.text();
            t.contains("also like") || t.contains("go well with it")
        })
        .collect()
}

async fn suppressed(admin: &AdminClient, scenario: &str, reason: &str) -> Result<u64> {
    let stats = scenario_stats(admin, scenario).await?;
    Ok(stats
        .suppressed
        .iter()
        .filter(|s| s.reason == reason)
        .map(|s| s.count)
        .sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_list_related_in_stock_products_only_and_survive_restarts() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let mut daemon = Daemon::start(options(&smtp)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    let mut setup = Vec::new();
    for sku in ["X", "Y", "Z", "W", "V"] {
        let p = ProductUpsert {
            imported: true,
            ..catalog(sku, 1_000)
        };
        setup.extend([upsert(p), stock_set(sku, 50)]);
    }
    for c in ["s1", "s2", "s3", "buyer", "unsub"] {
        setup.push(shopper(c));
    }
    setup.push(purchase("buyer", "earlier", &["W"]));
    setup.push(unsubscribe("unsub", UnsubscribeChannel::All));
    publish_ok(&mut ingest, seq.batch(setup)).await?;

    let basket = [
        ("1", "X", 1),
        ("2", "Y", 1),
        ("3", "Z", 1),
        ("4", "W", 1),
        ("5", "V", 1),
    ];
    // Two orders, then kill -9 at once (counted or not yet: either way none is lost).
    for s in ["s1", "s2"] {
        let o = order_placed(&format!("o-{s}"), s, &basket);
        publish_ok(&mut ingest, seq.batch(vec![o])).await?;
    }
    daemon.kill9().await?;
    daemon.restart().await?;
    let mut ingest = daemon.ingest_client().await?;
    let admin = daemon.admin_client().await?;
    let o = order_placed("o-s3", "s3", &basket);
    publish_ok(&mut ingest, seq.batch(vec![o])).await?;
    poll_until(WAIT, || async {
        let n = support_xy(&admin).await?;
        ensure!(n > 2.99, "X-Y support {n}");
        Ok(())
    })
    .await?;
    // Counted, then killed and restarted: nothing is counted again.
    daemon.kill9().await?;
    daemon.restart().await?;
    let mut ingest = daemon.ingest_client().await?;
    let admin = daemon.admin_client().await?;
    // The follower has run once its cursor is read back: a new order is the marker.
    let marker = order_placed("o-marker", "s3", &[("1", "W", 1)]);
    publish_ok(&mut ingest, seq.batch(vec![marker])).await?;
    poll_until(WAIT, || async {
        let r = related(&admin, "W").await?;
        ensure!(r.orders > 3.99, "W in {} orders", r.orders);
        Ok(())
    })
    .await?;
    let n = support_xy(&admin).await?;
    ensure!((2.99..3.01).contains(&n), "X-Y support after restarts: {n}");

    // GetRelated explains why Y goes with X.
    let r = related(&admin, "X").await?;
    let y = r
        .related
        .iter()
        .find(|p| p.sku == "Y")
        .with_context(|| format!("Y is not related to X: {r:?}"))?;
    ensure!(
        y.source == "co_bought" && y.lift > 0.0 && y.why.contains("co-bought") && y.offerable,
        "{y:?}"
    );
    ensure!(y.title == "Product Y", "{y:?}");

    // Z sells out; the buyer (who bought W before) orders X.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("Z", 0)])).await?;
    let z_sold_out = related(&admin, "X").await?;
    ensure!(
        z_sold_out
            .related
            .iter()
            .any(|p| p.sku == "Z" && !p.offerable),
        "{z_sold_out:?}"
    );
    let bx = order_placed("o-buyer", "buyer", &[("1", "X", 1)]);
    let ux = order_placed("o-unsub", "unsub", &[("1", "X", 1)]);
    publish_ok(&mut ingest, seq.batch(vec![bx, ux])).await?;
    poll_until(WAIT, || async {
        let mails = smtp.messages();
        let got = offers(&mails, "buyer");
        ensure!(!got.is_empty(), "no offer to the buyer yet");
        Ok(())
    })
    .await?;
    let mails = smtp.messages();
    let offer = offers(&mails, "buyer")[0];
    let text = offer.text();
    ensure!(
        text.contains("Product Y") && text.contains("Product V"),
        "one offer lists both in-stock related products: {text}"
    );
    ensure!(
        !text.contains("Product Z") && !text.contains("Product W"),
        "a sold-out or already-bought product offered: {text}"
    );
    ensure!(
        offer.headers.get("list-unsubscribe").is_some(),
        "an offer is marketing: {text}"
    );

    // After delivery: the coupon.
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_shipped("o-buyer", "buyer")]),
    )
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![delivered("o-buyer", "buyer")])).await?;
    poll_until(WAIT, || async {
        let mails = smtp.messages();
        let got = offers(&mails, "buyer");
        ensure!(
            got.iter().any(|m| m.text().contains("THANKS10")),
            "no offer with the coupon yet ({} offers)",
            got.len()
        );
        Ok(())
    })
    .await?;

    // The unsubscribed customer: the shipped notice, and the offer suppressed.
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_shipped("o-unsub", "unsub")]),
    )
    .await?;
    poll_until(WAIT, || async {
        let mails = smtp.messages();
        ensure!(
            mails_to(&mails, "unsub")
                .iter()
                .any(|m| m.text().contains("TRK-o-unsub")),
            "no shipped notice to unsub"
        );
        let n = suppressed(&admin, "cross_sell_order", "consent").await?
            + suppressed(&admin, "cross_sell_order", "suppressed").await?;
        ensure!(n >= 1, "unsub's offer not suppressed yet");
        Ok(())
    })
    .await?;
    let mails = smtp.messages();
    ensure!(
        offers(&mails, "unsub").is_empty(),
        "an offer went to a customer who unsubscribed"
    );
    // The support-building customers bought everything related: nothing to offer.
    ensure!(
        offers(&mails, "s1").is_empty() && offers(&mails, "s3").is_empty(),
        "an offer of products already bought"
    );
    Ok(())
}
