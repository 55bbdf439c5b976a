//! The signed one-click cancel link and the shop webhook, against a real daemon, a real
//! SMTP server and a local receiver playing the shop: a backorder's confirmation mail
//! holds the cancel link; following it (GET) shows the order and records nothing; a
//! tampered link is refused and records nothing; the form's POST records one request
//! (a second POST records nothing more), Admin lists it and GetOrder shows it, and the
//! shop receives a signed `cancellation_requested`. Arrived stock allocated to waiting
//! lines reaches the shop as a signed `allocated` event, and an event the shop's
//! receiver could not take (down, then answering 503) arrives once it is back, once per
//! event id, and is not sent again after a restart.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::http_peer::shop_toml;
use stockbell_tests::pb::{
    event::Kind, CancellationRequest, Event, GetOrderRequest, ListCancellationRequestsRequest,
    OrderCancelled, ProductUpsert,
};
use stockbell_tests::web::{cancel_path, http};
use stockbell_tests::{
    catalog, order_placed, poll_until, publish_ok, shopper, stock_set, upsert, AdminClient, Daemon,
    DaemonOptions, HttpPeer, PeerRequest, Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "shop-webhook-secret-for-tests";

fn options() -> DaemonOptions {
    DaemonOptions::new()
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
        .toml("[delivery]\nretry_base = \"100ms\"\nretry_max = \"500ms\"")
}

fn kettle() -> Vec<Event> {
    let kettle = ProductUpsert {
        imported: true,
        backorderable: true,
        ..catalog("kettle", 4_800)
    };
    vec![upsert(kettle), stock_set("kettle", 0)]
}

fn cancelled(order_id: &str, customer_id: &str) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(Kind::OrderCancelled(OrderCancelled {
            order_id: order_id.into(),
            customer_id: customer_id.into(),
            lines: Vec::new(),
            reason: "asked by the customer".into(),
        })),
    }
}

async fn requests(admin: &AdminClient) -> Result<Vec<CancellationRequest>> {
    let req = ListCancellationRequestsRequest {
        limit: 100,
        ..Default::default()
    };
    Ok(admin
        .clone()
        .list_cancellation_requests(req)
        .await?
        .into_inner()
        .requests)
}

async fn cancel_requested_at(admin: &AdminClient, order_id: &str) -> Result<i64> {
    let req = GetOrderRequest {
        order_id: order_id.into(),
    };
    Ok(admin
        .clone()
        .get_order(req)
        .await?
        .into_inner()
        .cancel_requested_at_ms)
}

/// The shop's events of one type that it answered 200, each checked by the receiver.
fn taken(events: &[PeerRequest], kind: &str) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for e in events {
        ensure!(e.problem.is_none(), "the shop refused an event: {e:?}");
        let body = e.json()?;
        if e.status == 200 && body["type"] == kind {
            out.push(body);
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancel_link_records_one_request_and_the_shop_hears_of_it() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let shop = HttpPeer::start("unused-line-token-0123456789", SECRET).await?;
    let daemon = Daemon::start(options().toml(&smtp.email_toml()).toml(&shop.shop_toml())).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let web = daemon.http_addr()?;
    let mut seq = Sequencer::new("shop");

    let mut setup = kettle();
    setup.push(shopper("c1"));
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    let order = order_placed("o1", "c1", &[("1", "kettle", 2)]);
    publish_ok(&mut ingest, seq.batch(vec![order])).await?;

    // The backorder confirmation carries the link.
    let path = poll_until(WAIT, || async {
        let mails = smtp.messages();
        mails
            .iter()
            .filter(|m| m.to.iter().any(|t| t == "c1@example.jp"))
            .find_map(|m| cancel_path(&m.raw))
            .context("no mail to c1 with a cancel link yet")
    })
    .await?;

    // Following the link shows the order and the form; it records nothing.
    let (status, page) = http(web, "GET", &path, "").await?;
    ensure!(status == 200, "GET {status}: {page}");
    ensure!(
        page.contains("o1") && page.contains("Product kettle") && page.contains("method=\"post\""),
        "{page}"
    );
    ensure!(
        requests(&admin).await?.is_empty(),
        "a GET recorded a request"
    );
    ensure!(cancel_requested_at(&admin, "o1").await? == 0);

    // A tampered link is refused and records nothing.
    let token = path.trim_start_matches("/cancel?token=").to_string();
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered)?;
    for (method, path, form) in [
        ("GET", format!("/cancel?token={tampered}"), String::new()),
        ("POST", "/cancel".to_string(), format!("token={tampered}")),
    ] {
        let (status, page) = http(web, method, &path, &form).await?;
        ensure!(status == 400, "{method} tampered: {status}: {page}");
    }

    // The form's POST records the request, once; the page says the shop decides.
    let (status, page) = http(web, "POST", "/cancel", &format!("token={token}")).await?;
    ensure!(
        status == 200 && page.contains("shop decides"),
        "POST {status}: {page}"
    );
    let listed = requests(&admin).await?;
    ensure!(listed.len() == 1, "{listed:?}");
    let r = &listed[0];
    ensure!(
        (
            r.order_id.as_str(),
            r.customer_id.as_str(),
            r.line_ids.clone(),
            r.cancelled
        ) == ("o1", "c1", vec!["1".to_string()], false)
            && r.line_statuses == ["waiting"]
            && r.requested_at_ms > 0,
        "{r:?}"
    );
    ensure!(cancel_requested_at(&admin, "o1").await? == r.requested_at_ms);
    let (status, page) = http(web, "POST", &path, "").await?;
    ensure!(
        status == 200 && page.contains("already"),
        "second POST {status}: {page}"
    );
    ensure!(
        requests(&admin).await?.len() == 1,
        "a second POST recorded another"
    );

    // The shop hears of it, signed (the receiver checks the signature and headers).
    let event = poll_until(WAIT, || async {
        taken(&shop.shop_events(), "cancellation_requested")?
            .pop()
            .context("no cancellation_requested yet")
    })
    .await?;
    ensure!(
        event["order_id"] == "o1"
            && event["customer_id"] == "c1"
            && event["line_ids"] == serde_json::json!(["1"])
            && event["request_id"] == r.request_id
            && event["event_id"] == format!("cancellation_requested:{}", r.request_id),
        "{event}"
    );

    // Arrived stock allocated to the waiting line reaches the shop too.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 2)])).await?;
    let event = poll_until(WAIT, || async {
        taken(&shop.shop_events(), "allocated")?
            .pop()
            .context("no allocated event yet")
    })
    .await?;
    ensure!(
        event["order_id"] == "o1"
            && event["sku"] == "kettle"
            && event["lines"] == serde_json::json!([{"line_id": "1", "quantity": 2}]),
        "{event}"
    );

    // The shop cancels: the request says so.
    publish_ok(&mut ingest, seq.batch(vec![cancelled("o1", "c1")])).await?;
    let listed = requests(&admin).await?;
    ensure!(
        listed.len() == 1 && listed[0].cancelled && listed[0].line_statuses == ["cancelled"],
        "{listed:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_waits_for_the_shop_and_arrives_once() -> Result<()> {
    // A port with nothing listening: the shop's server is down.
    let addr: SocketAddr = {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        l.local_addr()?
    };
    let mut daemon =
        Daemon::start(options().toml(&shop_toml(&format!("http://{addr}"), SECRET))).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut setup = kettle();
    setup.push(shopper("c1"));
    setup.push(order_placed("o1", "c1", &[("1", "kettle", 2)]));
    setup.push(order_placed("o2", "c1", &[("1", "kettle", 2)]));
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    // Units for the oldest order only.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 2)])).await?;
    poll_until(WAIT, || async {
        ensure!(
            daemon.log_tail().contains("The shop webhook is down"),
            "the daemon has not tried the shop yet"
        );
        Ok(())
    })
    .await?;

    // The shop comes back, answering 503 twice first: the event still arrives.
    let shop =
        HttpPeer::start_at(addr, "unused-line-token-0123456789", SECRET, &[503, 503]).await?;
    let first = poll_until(WAIT, || async {
        taken(&shop.shop_events(), "allocated")?
            .pop()
            .context("no allocation delivered yet")
    })
    .await?;
    ensure!(first["order_id"] == "o1", "{first}");

    // A later event is the marker that the first one is behind the follower.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 4)])).await?;
    poll_until(WAIT, || async {
        let got = taken(&shop.shop_events(), "allocated")?;
        ensure!(
            got.iter().any(|e| e["order_id"] == "o2"),
            "no allocation of o2 yet"
        );
        Ok(())
    })
    .await?;
    // After a restart the follower resumes from its stored cursors: nothing is sent
    // again (a third allocation, of another product, is the marker).
    daemon.terminate().await?;
    daemon.restart().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mug = ProductUpsert {
        imported: true,
        backorderable: true,
        ..catalog("mug", 1_200)
    };
    let o3 = order_placed("o3", "c1", &[("1", "mug", 1)]);
    publish_ok(
        &mut ingest,
        seq.batch(vec![upsert(mug), stock_set("mug", 0), o3]),
    )
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("mug", 1)])).await?;
    poll_until(WAIT, || async {
        let got = taken(&shop.shop_events(), "allocated")?;
        ensure!(
            got.iter().any(|e| e["order_id"] == "o3"),
            "no allocation of o3 yet"
        );
        Ok(())
    })
    .await?;
    let events = shop.shop_events();
    let delivered = taken(&events, "allocated")?;
    for order in ["o2", "o3"] {
        let n = delivered.iter().filter(|e| e["order_id"] == order).count();
        ensure!(n == 1, "{order}'s allocation taken {n} times");
    }
    let o1: Vec<&serde_json::Value> = delivered.iter().filter(|e| e["order_id"] == "o1").collect();
    ensure!(o1.len() == 1, "o1's allocation taken {} times", o1.len());
    // Every attempt at it carried the same event id.
    let ids: Vec<String> = events
        .iter()
        .filter_map(|e| e.json().ok())
        .filter(|b| b["order_id"] == "o1")
        .map(|b| b["event_id"].to_string())
        .collect();
    ensure!(
        ids.len() == 3 && ids.iter().all(|i| *i == ids[0]),
        "attempts at o1's allocation: {ids:?}"
    );
    Ok(())
}
