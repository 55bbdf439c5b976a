//! A restock of a sold-out product is announced as back in stock, released `per_unit`
//! customers per available unit, and not also as "only a few left" on the same change:
//! low stock may fire on a later sale, and then not to the customers still waiting for
//! their back-in-stock batch. Checked against a real SMTP server; "nobody else" is
//! checked once the scenario counters account for every candidate.

use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{ListOutboxRequest, ProductUpsert, TriggerKind};
use stockbell_tests::{
    catalog, favourite, notify_me, poll_until, publish_ok, sale, scenario_stats, shopper,
    stock_set, triggers, upsert, AdminClient, Daemon, DaemonOptions, ReceivedMail, Sequencer,
    SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml(
            r#"
[scenarios.back_in_stock]
per_unit = 1
batch_interval = "1h"
[rules]
caps = [{ scope = "marketing", max = 10, window = "1h" }]
"#,
        )
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

/// (recipient, subject) of every message received, sorted.
fn received(msgs: &[ReceivedMail]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = msgs
        .iter()
        .map(|m| (m.to.join(","), m.subject.clone()))
        .collect();
    out.sort();
    out
}

/// Waits until `n` messages were received and nothing is pending in the outbox.
async fn settle(admin: &AdminClient, smtp: &SmtpServer, n: usize) -> Result<Vec<(String, String)>> {
    poll_until(WAIT, || async {
        let req = ListOutboxRequest {
            status: "pending".into(),
            limit: 100,
            ..Default::default()
        };
        let pending = admin.clone().list_outbox(req).await?.into_inner().entries;
        let got = received(&smtp.messages());
        ensure!(
            pending.is_empty() && got.len() == n,
            "{} pending, received {got:?}, want {n}",
            pending.len()
        );
        Ok(got)
    })
    .await
}

/// (audience, queued, suppressed as "priority") of a scenario.
async fn counts(admin: &AdminClient, scenario: &str) -> Result<(u64, u64, u64)> {
    let s = scenario_stats(admin, scenario).await?;
    let priority = s.suppressed.iter().find(|c| c.reason == "priority");
    Ok((s.audience, s.queued, priority.map_or(0, |c| c.count)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restock_is_back_in_stock_only_and_low_stock_spares_those_still_waiting() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    // Stocked (arming low stock at a level that is not low), then sold out.
    let kettle = ProductUpsert {
        imported: true,
        ..catalog("kettle", 4_800)
    };
    let mut events = vec![upsert(kettle), stock_set("kettle", 5)];
    for id in ["n1", "n2", "n3", "n4", "f1"] {
        events.push(shopper(id));
    }
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 0)])).await?;
    // Four ask to be told (best interest, oldest first), one only likes it.
    for id in ["n1", "n2", "n3", "n4"] {
        publish_ok(&mut ingest, seq.batch(vec![notify_me(id, "kettle")])).await?;
    }
    publish_ok(&mut ingest, seq.batch(vec![favourite("f1", "kettle")])).await?;

    // Restocked to 2 (at or below low_stock_qty 3): back in stock to 1 customer per unit.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 2)])).await?;
    let first = settle(&admin, &smtp, 2).await?;
    let back = "Back in stock: Product kettle".to_string();
    ensure!(
        first
            == [
                ("n1@example.jp".into(), back.clone()),
                ("n2@example.jp".into(), back.clone())
            ],
        "the restock's messages: {first:?}"
    );
    let kinds = |ts: Vec<stockbell_tests::pb::Trigger>| {
        ts.iter().map(|t| t.kind()).collect::<Vec<TriggerKind>>()
    };
    let fired = kinds(triggers(&mut admin.clone(), None, Some("kettle")).await?);
    ensure!(
        fired == [TriggerKind::BackInStock],
        "the restock fired {fired:?}"
    );

    // A later sale leaves 1: low stock fires now, to those not waiting for a batch.
    publish_ok(&mut ingest, seq.batch(vec![sale("kettle", 1)])).await?;
    let all = settle(&admin, &smtp, 4).await?;
    let low = "Only 1 left: Product kettle".to_string();
    let want: Vec<(String, String)> = vec![
        ("n1@example.jp".into(), back.clone()),
        ("n1@example.jp".into(), low.clone()),
        ("n2@example.jp".into(), back),
        ("n2@example.jp".into(), low),
    ];
    ensure!(all == want, "messages: {all:?}");
    poll_until(WAIT, || async {
        let bis = counts(&admin, "back_in_stock").await?;
        let ls = counts(&admin, "low_stock").await?;
        // Back in stock offered 2 of its 5 so far; low stock left out the 3 waiting.
        ensure!(bis.0 == 5 && bis.1 == 2, "back_in_stock {bis:?}");
        ensure!(ls == (2, 2, 3), "low_stock {ls:?}");
        Ok(())
    })
    .await?;
    ensure!(
        smtp.messages().len() == 4,
        "late mail: {:?}",
        received(&smtp.messages())
    );
    Ok(())
}
