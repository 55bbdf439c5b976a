//! Segment membership sync against a real daemon and a local receiver playing the shop:
//! a segment from the config and one created through the Admin API, both with
//! `webhook = true`; as orders arrive (and one is cancelled) the shop receives signed
//! `segment_entered` / `segment_left` events naming the segment and the customer, and
//! after a kill -9 and a restart nothing is lost and, once deduplicated by event id,
//! nothing is doubled.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{event::Kind, Event, OrderCancelled, SegmentDefinition};
use stockbell_tests::{
    catalog, order_placed, poll_until, publish_ok, shopper, stock_set, upsert, Daemon,
    DaemonOptions, HttpPeer, PeerRequest, Sequencer,
};

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "shop-webhook-secret-for-tests";

fn options(shop: &HttpPeer) -> DaemonOptions {
    DaemonOptions::new()
        .set("customers", "default_time_zone", "UTC")
        .toml("[delivery]\nretry_base = \"100ms\"\nretry_max = \"500ms\"")
        .toml("[segment_settings]\nwebhook_every = \"200ms\"")
        .toml("[segments.repeaters]\nmatch = \"orders >= 2\"\ndescription = \"ordered twice or more\"\nwebhook = true")
        .toml(&shop.shop_toml())
}

fn cancelled(order_id: &str, customer_id: &str) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(Kind::OrderCancelled(OrderCancelled {
            order_id: order_id.into(),
            customer_id: customer_id.into(),
            lines: Vec::new(),
            reason: String::new(),
        })),
    }
}

/// (type, segment, customer).
type Change = (String, String, String);

/// The changes of the distinct event ids the shop took, and how many segment events it
/// took in all (re-deliveries included).
fn membership(events: &[PeerRequest]) -> Result<(BTreeSet<Change>, usize)> {
    let mut ids = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut taken = 0;
    for e in events {
        ensure!(e.problem.is_none(), "the shop refused an event: {e:?}");
        let body = e.json()?;
        let kind = body["type"].as_str().unwrap_or_default().to_owned();
        if e.status != 200 || !kind.starts_with("segment_") {
            continue;
        }
        taken += 1;
        let id = body["event_id"].as_str().unwrap_or_default().to_owned();
        ensure!(
            id.starts_with(&format!("{kind}:")),
            "event id {id} of a {kind}"
        );
        ensure!(body["at_ms"].as_i64().unwrap_or(0) > 0, "{body}");
        if ids.insert(id) {
            seen.insert((
                kind,
                body["segment"].as_str().unwrap_or_default().to_owned(),
                body["customer_id"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    Ok((seen, taken))
}

fn ev(kind: &str, segment: &str, customer: &str) -> Change {
    (kind.into(), segment.into(), customer.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_hears_who_enters_and_leaves_each_webhook_segment() -> Result<()> {
    let shop = HttpPeer::start("unused-line-token-0123456789", SECRET).await?;
    let mut daemon = Daemon::start(options(&shop)).await?;
    let mut admin = daemon.admin_client().await?;
    let created = admin
        .create_segment(SegmentDefinition {
            name: "big_spenders".into(),
            r#match: "spend >= 5000".into(),
            description: "spent 5,000 yen or more".into(),
            webhook: true,
        })
        .await?
        .into_inner();
    ensure!(created.source == "api", "{created:?}");

    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let setup = vec![
        upsert(catalog("mug", 1_000)),
        upsert(catalog("pan", 1_000)),
        stock_set("mug", 1_000),
        stock_set("pan", 1_000),
        shopper("a"),
        shopper("b"),
    ];
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    // a: one order of 1,000 (in neither), then a second (enters repeaters).
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_placed("o1", "a", &[("1", "mug", 1)])]),
    )
    .await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_placed("o2", "a", &[("1", "mug", 1)])]),
    )
    .await?;
    // b: one order of 5,000 (enters big_spenders).
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_placed("o3", "b", &[("1", "pan", 5)])]),
    )
    .await?;
    let want = BTreeSet::from([
        ev("segment_entered", "repeaters", "a"),
        ev("segment_entered", "big_spenders", "b"),
    ]);
    poll_until(WAIT, || async {
        let (got, _) = membership(&shop.shop_events())?;
        ensure!(got == want, "shop has {got:?}, waiting for {want:?}");
        Ok(())
    })
    .await?;

    // b's order is cancelled: b leaves big_spenders.
    publish_ok(&mut ingest, seq.batch(vec![cancelled("o3", "b")])).await?;
    let mut want = want;
    want.insert(ev("segment_left", "big_spenders", "b"));
    poll_until(WAIT, || async {
        let (got, _) = membership(&shop.shop_events())?;
        ensure!(got == want, "shop has {got:?}, waiting for {want:?}");
        Ok(())
    })
    .await?;

    // kill -9 and restart: a new order for b after the restart enters b again (a new
    // event id); nothing before it is lost or reported as a new change.
    daemon.kill9().await?;
    daemon.restart().await?;
    let mut ingest = daemon.ingest_client().await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_placed("o4", "b", &[("1", "pan", 6)])]),
    )
    .await?;
    poll_until(WAIT, || async {
        let (got, _) = membership(&shop.shop_events())?;
        let entered_b = shop
            .shop_events()
            .iter()
            .filter_map(|e| e.json().ok())
            .filter(|b| b["type"] == "segment_entered" && b["customer_id"] == "b")
            .map(|b| b["event_id"].as_str().unwrap_or_default().to_owned())
            .collect::<BTreeSet<_>>();
        ensure!(
            got == want && entered_b.len() == 2,
            "shop has {got:?}, {entered_b:?}"
        );
        Ok(())
    })
    .await?;
    // A quiet period: no further changes are reported.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, taken_before) = membership(&shop.shop_events())?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, taken_after) = membership(&shop.shop_events())?;
    ensure!(
        taken_before == taken_after,
        "events kept coming: {taken_before} then {taken_after}"
    );
    Ok(())
}
