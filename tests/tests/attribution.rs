//! Attribution end to end: a real `stockbelld`, a real SMTP server (aiosmtpd) and a plain
//! HTTP client. ann is mailed a back-in-stock message for "mug" and then a price drop for
//! "coat"; she follows the mug mail's tracked link (`/c/<token>`, 302 to the product
//! page) and orders, over gRPC Ingest, mugs (the notified SKU) and coats (another SKU,
//! and the price drop's own). Every order is credited to back_in_stock — the clicked
//! scenario, not the latest one sent — with exactly their revenue and the notified /
//! other SKU split, and no other scenario's attribution moves. carol, mailed the same
//! restock, orders a mug without clicking: not credited (her conversion still counts
//! on the holdout comparison's sent side). dave clicks and orders after the window
//! (`[attribution] email_window = "1h"`; his order carries an event time past it, so
//! nothing sleeps): not credited.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    CustomerEngagement, Event, GetScenarioStatsRequest, ProductUpsert, ScenarioStats,
};
use stockbell_tests::web::{click_paths, request};
use stockbell_tests::{
    catalog, customer_view, favourite, notify_me, order_placed, poll_until, price_set, publish_ok,
    scenario_stats, shopper, stock_set, upsert, AdminClient, Daemon, DaemonOptions, EventExt,
    ReceivedMail, Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);
const MUG_URL: &str = "https://shop.example/p/mug";
/// The email attribution window this test runs with.
const WINDOW_MS: i64 = 3_600_000;

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml("[rules]\ncaps = [{ scope = \"marketing\", max = 5, window = \"16h\" }]")
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
        .set("triggers", "stable_for", "1s")
        // One tracked link per message; no scanner filter to wait out.
        .set("engagement", "scanner_window", "0s")
        .set("attribution", "email_window", "1h")
}

/// An existing product (not announced as a new arrival).
fn existing(sku: &str, price: i64) -> Event {
    upsert(ProductUpsert {
        imported: true,
        ..catalog(sku, price)
    })
}

/// What attribution credits a scenario with: orders, revenue by currency, notified-SKU
/// and other-SKU orders.
type Credit = (u64, Vec<(String, i64)>, u64, u64);

fn credit(s: &ScenarioStats) -> Credit {
    (
        s.attributed_orders,
        s.revenue
            .iter()
            .map(|r| (r.currency.clone(), r.amount_minor))
            .collect(),
        s.notified_sku_orders,
        s.other_sku_orders,
    )
}

/// Every scenario's credit.
async fn credits(admin: &AdminClient) -> Result<BTreeMap<String, Credit>> {
    let all = admin
        .clone()
        .get_scenario_stats(GetScenarioStatsRequest {})
        .await?
        .into_inner()
        .scenarios;
    Ok(all
        .iter()
        .map(|s| (s.scenario.clone(), credit(s)))
        .collect())
}

fn sent_converted(s: &ScenarioStats) -> u64 {
    s.holdout.as_ref().map_or(0, |h| h.sent_converted)
}

/// The mail to `id` whose subject starts with `subject`.
fn mail<'a>(mails: &'a [ReceivedMail], id: &str, subject: &str) -> Result<&'a ReceivedMail> {
    let to = format!("{id}@example.jp");
    mails
        .iter()
        .find(|m| m.to.contains(&to) && m.subject.starts_with(subject))
        .with_context(|| {
            let got: Vec<_> = mails.iter().map(|m| (&m.to, &m.subject)).collect();
            format!("no {subject:?} mail to {to}: {got:?}")
        })
}

async fn engagement(admin: &AdminClient, id: &str) -> Result<CustomerEngagement> {
    customer_view(admin, id)
        .await?
        .engagement
        .context("GetCustomer has no engagement")
}

/// Follows the tracked link of `mail` (it must have exactly one) like a browser: 302 to
/// the mug's page. Waits until the click is recorded and returns its time.
async fn click(daemon: &Daemon, admin: &AdminClient, id: &str, mail: &ReceivedMail) -> Result<i64> {
    let paths = click_paths(&mail.text());
    ensure!(paths.len() == 1, "one tracked link in the mail: {paths:?}");
    let (status, location, _) = request(daemon.http_addr()?, "GET", &paths[0]).await?;
    ensure!(
        (status, location.as_str()) == (302, MUG_URL),
        "{id}'s click: {status} {location}"
    );
    let e = poll_until(WAIT, || async {
        let e = engagement(admin, id).await?;
        ensure!(
            !e.clicks.is_empty(),
            "{id}'s click is not recorded yet: {e:?}"
        );
        Ok(e)
    })
    .await?;
    let c = &e.clicks[0];
    ensure!(
        e.clicks.len() == 1 && c.scenario == "back_in_stock" && c.skus == ["mug"],
        "{id}: {e:?}"
    );
    Ok(c.at_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_after_a_click_is_credited_to_the_clicked_scenario_only() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    // "mug" is sold out and ann, carol and dave ask to be told; ann likes "coat" at ¥1,000.
    let mut events = vec![
        existing("mug", 1_200),
        stock_set("mug", 5),
        existing("coat", 1_000),
        stock_set("coat", 30),
    ];
    for id in ["ann", "carol", "dave"] {
        events.extend([shopper(id), notify_me(id, "mug")]);
    }
    events.push(favourite("ann", "coat"));
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("mug", 0)])).await?;
    // The restock mails all three; then the coat's drop to ¥800 mails ann.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("mug", 20)])).await?;
    smtp.wait_for(3, WAIT).await?;
    publish_ok(&mut ingest, seq.batch(vec![price_set("coat", 800)])).await?;
    let mails = smtp.wait_for(4, WAIT).await?;
    mail(&mails, "ann", "Price drop")?;

    click(
        &daemon,
        &admin,
        "ann",
        mail(&mails, "ann", "Back in stock")?,
    )
    .await?;
    let dave_clicked = click(
        &daemon,
        &admin,
        "dave",
        mail(&mails, "dave", "Back in stock")?,
    )
    .await?;
    let before = credits(&admin).await?;
    let nothing: Credit = (0, vec![], 0, 0);
    ensure!(
        before.values().all(|c| *c == nothing),
        "credits before any order: {before:?}"
    );
    let bis = scenario_stats(&admin, "back_in_stock").await?;
    let drop = scenario_stats(&admin, "price_drop").await?;
    ensure!(
        (bis.messages, drop.messages) == (3, 1),
        "messages: back_in_stock {}, price_drop {}",
        bis.messages,
        drop.messages
    );

    // ann orders 2 mugs (¥2,000 as the orders give prices), 3 coats (¥3,000), and a
    // coat with a mug (¥2,000): two orders with the notified SKU, one without.
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            order_placed("o-1", "ann", &[("1", "mug", 2)]),
            order_placed("o-2", "ann", &[("1", "coat", 3)]),
            order_placed("o-3", "ann", &[("1", "coat", 1), ("2", "mug", 1)]),
        ]),
    )
    .await?;
    let bis = poll_until(WAIT, || async {
        let s = scenario_stats(&admin, "back_in_stock").await?;
        ensure!(s.attributed_orders >= 3, "{:?}", credit(&s));
        Ok(s)
    })
    .await?;
    let want: Credit = (3, vec![("JPY".into(), 7_000)], 2, 1);
    ensure!(
        credit(&bis) == want,
        "back_in_stock credited {:?}, want {want:?}",
        credit(&bis)
    );
    ensure!(
        (bis.conversion_rate - 1.0).abs() < 1e-9,
        "conversion {} (3 orders of 3 messages)",
        bis.conversion_rate
    );
    let mut after = credits(&admin).await?;
    after.remove("back_in_stock");
    ensure!(
        after.values().all(|c| *c == nothing),
        "only back_in_stock is credited: {after:?}"
    );
    // ann was sent the price drop and bought its SKU: she converted on its sent side,
    // but the order is not credited to it (she clicked the other scenario's link).
    let drop = scenario_stats(&admin, "price_drop").await?;
    ensure!(
        sent_converted(&drop) == 1 && credit(&drop) == nothing,
        "price_drop: {:?}, {:?}",
        credit(&drop),
        drop.holdout
    );

    // carol orders a mug without having clicked; dave, who clicked, orders one after his
    // click's window.
    let late = dave_clicked + WINDOW_MS + 60_000;
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            order_placed("o-4", "carol", &[("1", "mug", 1)]),
            order_placed("o-5", "dave", &[("1", "mug", 1)]).at(late),
        ]),
    )
    .await?;
    // Markers that both orders were applied: carol converted (she was sent the restock
    // and ordered within its window), dave's last order is the late one.
    poll_until(WAIT, || async {
        let s = scenario_stats(&admin, "back_in_stock").await?;
        ensure!(sent_converted(&s) >= 2, "{:?}", s.holdout);
        let e = engagement(&admin, "dave").await?;
        ensure!(
            e.last_order_ms == late,
            "dave's last order: {}",
            e.last_order_ms
        );
        Ok(())
    })
    .await?;
    let bis = scenario_stats(&admin, "back_in_stock").await?;
    ensure!(
        credit(&bis) == want && sent_converted(&bis) == 2,
        "carol's and dave's orders are not credited: {:?}, {:?}",
        credit(&bis),
        bis.holdout
    );
    let mut last = credits(&admin).await?;
    last.remove("back_in_stock");
    ensure!(
        last.values().all(|c| *c == nothing),
        "no other scenario is credited: {last:?}"
    );
    Ok(())
}
