//! The whole pipeline with the default email channel (`.eml` files): a restock reaches
//! exactly the interested customers — not those below the threshold, who bought it, or
//! who gave no consent — with RFC 8058 unsubscribe headers and a deterministic Message-ID.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{CustomerUpsert, Event, GetScenarioStatsRequest, ListOutboxRequest};
use stockbell_tests::{
    cart_add, catalog, customer, customer_view, fanned_out, favourite, notify_me, poll_until,
    publish_ok, purchase, sale, stock_set, upsert, view, Daemon, DaemonOptions, Sequencer,
};

fn options(eml: &Path) -> DaemonOptions {
    DaemonOptions::new()
        .set("email", "eml_dir", eml.display().to_string())
        .set("http", "listen", "127.0.0.1:0")
        .set("rules", "arbitration_window", "0s")
        // No quiet hours: the test must not depend on the time of day.
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

fn no_consent(id: &str) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(stockbell_tests::pb::event::Kind::CustomerUpsert(
            CustomerUpsert {
                customer_id: id.into(),
                email: format!("{id}@example.jp"),
                ..Default::default()
            },
        )),
    }
}

fn emls(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restock_reaches_exactly_the_interested_customers() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let eml = tmp.path().join("eml");
    let daemon = Daemon::start(options(&eml)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    // An existing product (not a new arrival) that sold out.
    let mut events = vec![
        upsert(stockbell_tests::pb::ProductUpsert {
            imported: true,
            ..catalog("tee", 1980)
        }),
        stock_set("tee", 1),
        sale("tee", 1),
    ];
    for id in ["wants", "fav", "looker", "buyer", "quiet"] {
        events.push(if id == "quiet" {
            no_consent(id)
        } else {
            customer(id, &format!("{id}@example.jp"))
        });
    }
    events.extend([
        notify_me("wants", "tee"),
        favourite("fav", "tee"),
        view("looker", "tee", 1_000),
        cart_add("buyer", "tee"),
        notify_me("quiet", "tee"),
    ]);
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![purchase("buyer", "o-1", &["tee"])]),
    )
    .await?;
    // Sold out since the sale; the restock fires back in stock.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;

    let mut admin = daemon.admin_client().await?;
    poll_until(Duration::from_secs(20), || async {
        let n = emls(&eml).len();
        if n < 2 {
            let mut a = admin.clone();
            let stats = a
                .get_scenario_stats(GetScenarioStatsRequest {})
                .await?
                .into_inner();
            let outbox = a
                .list_outbox(ListOutboxRequest::default())
                .await?
                .into_inner();
            anyhow::bail!("{n} .eml files so far; stats {stats:?}; outbox {outbox:?}");
        }
        Ok(())
    })
    .await?;
    // Nothing else arrives: the fan-out has decided about every candidate of the
    // trigger, and nothing it queued is still waiting.
    fanned_out(&admin, 1, Duration::from_secs(10)).await?;
    poll_until(Duration::from_secs(10), || async {
        let page = admin
            .clone()
            .list_outbox(ListOutboxRequest {
                status: "pending".into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        ensure!(page.entries.is_empty(), "pending: {:?}", page.entries);
        Ok(())
    })
    .await?;
    let files = emls(&eml);
    ensure!(files.len() == 2, "{} messages: {files:?}", files.len());
    let mut recipients: Vec<&str> = ["fav@example.jp", "wants@example.jp"]
        .into_iter()
        .filter(|to| files.iter().any(|f| f.contains(&format!("To: {to}"))))
        .collect();
    recipients.dedup();
    ensure!(
        recipients.len() == 2,
        "recipients {recipients:?} in {files:?}"
    );
    for file in &files {
        ensure!(
            file.contains("List-Unsubscribe: <http")
                && file.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "RFC 8058 headers: {file}"
        );
        ensure!(file.contains("Message-ID: <stockbell-"), "{file}");
    }
    let stats = admin
        .get_scenario_stats(GetScenarioStatsRequest {})
        .await?
        .into_inner();
    let bis = stats
        .scenarios
        .iter()
        .find(|s| s.scenario == "back_in_stock")
        .context("back_in_stock stats")?;
    ensure!(bis.triggered == 1 && bis.queued == 2, "{bis:?}");
    let reasons: Vec<(&str, u64)> = bis
        .suppressed
        .iter()
        .map(|c| (c.reason.as_str(), c.count))
        .collect();
    ensure!(
        reasons.contains(&("consent", 1)) && reasons.contains(&("purchased", 1)),
        "{reasons:?}"
    );
    // The operator sees the message with the customer.
    let wants = customer_view(&admin, "wants").await?;
    ensure!(wants.held.is_empty(), "{:?}", wants.held);
    let [m] = wants.recent_messages.as_slice() else {
        anyhow::bail!("recent messages {:?}", wants.recent_messages);
    };
    ensure!(
        m.status == "delivered" && m.scenario == "back_in_stock" && m.skus == ["tee"],
        "{m:?}"
    );
    Ok(())
}

/// While the arbitration window is open the message is held, not sent, and the customer
/// view says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_in_its_arbitration_window_shows_as_held() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let eml = tmp.path().join("eml");
    let daemon = Daemon::start(options(&eml).set("rules", "arbitration_window", "1h")).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let events = vec![
        upsert(stockbell_tests::pb::ProductUpsert {
            imported: true,
            ..catalog("tee", 1980)
        }),
        stock_set("tee", 1),
        sale("tee", 1),
        customer("wants", "wants@example.jp"),
        notify_me("wants", "tee"),
    ];
    publish_ok(&mut ingest, seq.batch(events)).await?;
    let restocked_ms = stockbell_tests::now_ms();
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;

    let admin = daemon.admin_client().await?;
    let held = poll_until(Duration::from_secs(20), || async {
        let c = customer_view(&admin, "wants").await?;
        ensure!(!c.held.is_empty(), "nothing held yet: {c:?}");
        ensure!(c.recent_messages.is_empty(), "{:?}", c.recent_messages);
        Ok(c.held)
    })
    .await?;
    let [h] = held.as_slice() else {
        anyhow::bail!("held {held:?}");
    };
    let hour = 3_600_000;
    ensure!(
        h.state == "arbitrating"
            && h.scenario == "back_in_stock"
            && h.skus == ["tee"]
            && h.due_ms >= restocked_ms + hour
            && h.due_ms <= stockbell_tests::now_ms() + hour,
        "{h:?}"
    );
    ensure!(emls(&eml).is_empty(), "sent during the window");
    Ok(())
}
