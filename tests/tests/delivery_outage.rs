//! An SMTP outage several times longer than the retry budget (retry_base 100 ms,
//! retry_max 1 s, max_attempts 3: about 2 s), against a real stockbelld and a real SMTP
//! server stopped and started again on the same port. Messages queued before the outage
//! (two of them in flight when it began) and during it are all delivered once it is over,
//! none twice; one whose product sold out during the outage is not sent (Cancelled,
//! counted "stale"); the overview showed the channel down while it was; the log says
//! once that it went down and once that it came back, not once per message.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    ChannelHealth, Event, ListOutboxRequest, OutboxEntry, WatchOverviewRequest,
};
use stockbell_tests::{
    catalog, customer, notify_me, poll_until, publish_ok, sale, scenario_stats, stock_set, upsert,
    AdminClient, Daemon, DaemonOptions, IngestClient, Sequencer, SmtpServer,
};
use tokio::time::Instant;

/// Several times the old retry budget (about 2 s).
const OUTAGE: Duration = Duration::from_secs(10);

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        // Long enough that a held reply is still awaited when the server stops.
        .toml("[email.smtp]\ntimeout = \"20s\"\npool_size = 2")
        .toml(
            "[delivery]\nretry_base = \"100ms\"\nretry_max = \"1s\"\nmax_attempts = 3\n\
             email_concurrency = 2",
        )
        .set("rules", "arbitration_window", "0s")
        // Restock notices only (the new products would also be announced as new).
        .toml("[scenarios.new_arrival]\nenabled = false")
        // No quiet hours: the test must not depend on the time of day.
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

/// `sku` sold out, customers `ids` asking to hear when it is back, then the restock.
async fn restock_for(
    ingest: &mut IngestClient,
    seq: &mut Sequencer,
    sku: &str,
    ids: &[String],
) -> Result<()> {
    let mut events: Vec<Event> = vec![upsert(catalog(sku, 1980)), stock_set(sku, 1), sale(sku, 1)];
    for id in ids {
        events.push(customer(id, &format!("{id}@example.jp")));
        events.push(notify_me(id, sku));
    }
    publish_ok(ingest, seq.batch(events)).await?;
    publish_ok(ingest, seq.batch(vec![stock_set(sku, 20)])).await?;
    Ok(())
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

async fn outbox(admin: &AdminClient) -> Result<Vec<OutboxEntry>> {
    let req = ListOutboxRequest {
        limit: 1000,
        ..Default::default()
    };
    Ok(admin.clone().list_outbox(req).await?.into_inner().entries)
}

/// The entries of `customers`, by customer, once there is one for each.
async fn entries_of(
    admin: &AdminClient,
    customers: &[String],
) -> Result<BTreeMap<String, OutboxEntry>> {
    let all = outbox(admin).await?;
    let found: BTreeMap<String, OutboxEntry> = all
        .into_iter()
        .filter(|e| customers.contains(&e.customer_id))
        .map(|e| (e.customer_id.clone(), e))
        .collect();
    ensure!(
        found.len() == customers.len(),
        "entries for {} of {} customers: {found:?}",
        found.len(),
        customers.len()
    );
    Ok(found)
}

/// The email channel as the overview reports it now.
async fn email_channel(admin: &AdminClient) -> Result<ChannelHealth> {
    let req = WatchOverviewRequest { interval_ms: 200 };
    let mut stream = admin.clone().watch_overview(req).await?.into_inner();
    let overview = stream.message().await?.context("no overview")?;
    overview
        .channels
        .into_iter()
        .find(|c| c.channel == "email")
        .with_context(|| "the overview lists no email channel".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_loses_nothing_and_sends_nothing_stale() -> Result<()> {
    let mut smtp = SmtpServer::start(None).await?;
    // Replies held: the first two messages stay in flight until the server stops.
    smtp.set_reply_delay(Duration::from_secs(60))?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    // Before the outage: six messages queued, two of them in flight.
    let before = ids("before", 6);
    restock_for(&mut ingest, &mut seq, "tee", &before).await?;
    poll_until(Duration::from_secs(20), || async {
        ensure!(
            smtp.held_replies() == 2,
            "{} replies held",
            smtp.held_replies()
        );
        Ok(())
    })
    .await?;
    poll_until(Duration::from_secs(20), || entries_of(&admin, &before)).await?;

    smtp.stop().await?;
    let outage_began = Instant::now();
    smtp.set_reply_delay(Duration::ZERO)?;
    // Kept, not checked yet: on a daemon without channel health this is what fails
    // last, after what matters more (that nothing was lost).
    let saw_down = poll_until(Duration::from_secs(5), || async {
        let email = email_channel(&admin).await?;
        ensure!(email.down, "email is not down: {email:?}");
        Ok(email)
    })
    .await;

    // During the outage: six more, and one about a product that then sells out.
    let during = ids("during", 6);
    restock_for(&mut ingest, &mut seq, "hat", &during).await?;
    let stale = ids("stale", 1);
    restock_for(&mut ingest, &mut seq, "mug", &stale).await?;
    // Fan-out runs after the ack: wait for the decisions, not just the acks.
    let queued = [during.clone(), stale.clone()].concat();
    poll_until(Duration::from_secs(20), || entries_of(&admin, &queued)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("mug", 0)])).await?;

    tokio::time::sleep_until(outage_began + OUTAGE).await;
    let down_now = email_channel(&admin).await;
    smtp.restart().await?;

    let wanted = [before.clone(), during.clone()].concat();
    let entries = poll_until(Duration::from_secs(30), || async {
        let entries = entries_of(&admin, &[wanted.clone(), stale.clone()].concat()).await?;
        let not_yet: Vec<(&String, &str)> = entries
            .iter()
            .filter(|(id, e)| {
                let want = if stale.contains(id) {
                    "cancelled"
                } else {
                    "delivered"
                };
                e.status != want
            })
            .map(|(id, e)| (id, e.status.as_str()))
            .collect();
        ensure!(not_yet.is_empty(), "not done yet: {not_yet:?}");
        Ok(entries)
    })
    .await?;

    // Each message once: every Message-ID answered exactly once; the only other copies
    // are the two in flight when the server stopped (recorded, never answered).
    let mails = smtp.messages();
    let mut copies: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for m in &mails {
        let id = m.headers.get("message-id").unwrap_or("").to_string();
        let c = copies.entry(id).or_default();
        if m.replied {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    let expected: BTreeMap<String, (usize, usize)> = wanted
        .iter()
        .map(|id| {
            (
                format!("<stockbell-{}@shop.example>", entries[id].seq),
                (1, 0),
            )
        })
        .collect();
    let unanswered: usize = copies.values().map(|c| c.1).sum();
    ensure!(
        unanswered <= 2,
        "{unanswered} copies never answered: {copies:?}"
    );
    let answered: BTreeMap<&String, usize> = copies.iter().map(|(id, c)| (id, c.0)).collect();
    let want: BTreeMap<&String, usize> = expected.iter().map(|(id, c)| (id, c.0)).collect();
    ensure!(
        answered == want,
        "delivered {answered:?}, wanted each of {want:?} once"
    );

    let gone = &entries[&stale[0]];
    ensure!(
        gone.last_error.contains("stale") && gone.last_error.contains("mug"),
        "{gone:?}"
    );
    let bis = scenario_stats(&admin, "back_in_stock").await?;
    ensure!(
        entries.values().all(|e| e.scenario == "back_in_stock"),
        "{entries:?}"
    );
    let stale_count = bis
        .suppressed
        .iter()
        .find(|s| s.reason == "stale")
        .map_or(0, |s| s.count);
    ensure!(stale_count == 1, "stale: {:?}", bis.suppressed);
    ensure!(bis.failed == 0, "failed: {bis:?}");
    for (id, e) in &entries {
        ensure!(
            stale.contains(id) || e.attempts == 1,
            "an outage was charged to {id}: {e:?}"
        );
    }

    // The log: one line when it went down, one when it came back, none per message.
    let log = std::fs::read_to_string(daemon.dir().join("daemon.log"))?;
    let lines = |text: &str| log.lines().filter(|l| l.contains(text)).count();
    ensure!(
        lines("Channel down") == 1,
        "down lines: {}\n{log}",
        lines("Channel down")
    );
    ensure!(
        lines("Channel up again") == 1,
        "up lines: {}\n{log}",
        lines("Channel up again")
    );
    ensure!(lines("will retry") == 0, "per-message retry lines:\n{log}");

    let email = saw_down?;
    ensure!(
        email.down_since_ms > 0 && !email.last_error.is_empty() && email.next_probe_ms > 0,
        "{email:?}"
    );
    let down_now = down_now?;
    ensure!(
        down_now.down && down_now.down_since_ms == email.down_since_ms,
        "still the same outage at its end: {down_now:?}"
    );
    poll_until(Duration::from_secs(5), || async {
        let email = email_channel(&admin).await?;
        ensure!(!email.down, "email is still down: {email:?}");
        Ok(())
    })
    .await?;
    Ok(())
}
