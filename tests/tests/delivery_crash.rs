//! kill -9 during delivery: 300 customers are told a product is back; the daemon is
//! killed while the SMTP server holds the replies to messages it has already recorded,
//! then restarted on the same data. Every outbox entry is delivered at least once, the
//! outbox holds exactly one entry per customer, and every resend is the same message
//! (same Message-ID, derived from the entry's seq).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{Event, ListOutboxRequest, OutboxEntry, ProductUpsert};
use stockbell_tests::{
    catalog, customer, notify_me, poll_until, publish_ok, sale, stock_set, upsert, AdminClient,
    Daemon, DaemonOptions, Sequencer, SmtpServer,
};

const CUSTOMERS: usize = 300;
/// Concurrent SMTP sends (and pooled connections), so a kill finds this many in flight.
const CONCURRENCY: usize = 4;

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml(&format!(
            "[email.smtp]\npool_size = {CONCURRENCY}\n\n\
             [delivery]\nemail_concurrency = {CONCURRENCY}\nretry_base = \"200ms\"\n\
             retry_max = \"1s\"\nmax_attempts = 100\n"
        ))
        .set("rules", "arbitration_window", "0s")
        // No quiet hours: the test must not depend on the time of day.
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
        // Everyone at once, not in batches per unit in stock.
        .toml("[scenarios.back_in_stock]\nper_unit = 0")
}

fn id(i: usize) -> String {
    format!("c{i:03}")
}

fn address(i: usize) -> String {
    format!("{}@example.jp", id(i))
}

/// Every outbox entry (at most 1000, one page).
async fn outbox(admin: &AdminClient) -> Result<Vec<OutboxEntry>> {
    let req = ListOutboxRequest {
        limit: 1000,
        ..Default::default()
    };
    Ok(admin.clone().list_outbox(req).await?.into_inner().entries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_mid_delivery_delivers_every_entry_with_stable_message_ids() -> Result<()> {
    let started = Instant::now();
    let smtp = SmtpServer::start(None).await?;
    // Slow enough that the kill comes long before everyone has mail (20 mails/s).
    smtp.set_reply_delay(Duration::from_millis(200))?;
    let mut daemon = Daemon::start(options(&smtp)).await?;

    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    // An existing product (no new-arrival message) that sells out.
    let mut events: Vec<Event> = vec![
        upsert(ProductUpsert {
            imported: true,
            ..catalog("tee", 1980)
        }),
        stock_set("tee", 1),
        sale("tee", 1),
    ];
    for i in 0..CUSTOMERS {
        events.push(customer(&id(i), &address(i)));
        events.push(notify_me(&id(i), "tee"));
    }
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;

    // Some mail has gone out; then every reply is held, until every send slot is taken
    // by a message the server has recorded but not acknowledged: the kill lands with
    // CONCURRENCY sends in flight and none between its 250 and recording it.
    smtp.wait_for(20, Duration::from_secs(60)).await?;
    smtp.set_reply_delay(Duration::from_secs(3600))?;
    poll_until(Duration::from_secs(20), || async {
        let held = smtp.held_replies();
        ensure!(held == CONCURRENCY, "{held} replies held");
        Ok(())
    })
    .await?;
    daemon.kill9().await?;
    let before_kill = smtp.messages().len();
    // Recorded by the server, never acknowledged to the daemon: they must go out again.
    let unacknowledged = smtp.unreplied();
    ensure!(
        unacknowledged == CONCURRENCY && before_kill < CUSTOMERS,
        "the kill did not land mid-delivery: {before_kill} mails, {unacknowledged} unacknowledged"
    );

    smtp.set_reply_delay(Duration::ZERO)?;
    daemon.restart().await?;
    let admin = daemon.admin_client().await?;
    let expected: BTreeSet<String> = (0..CUSTOMERS).map(address).collect();
    poll_until(Duration::from_secs(60), || async {
        let got: BTreeSet<String> = smtp
            .messages()
            .iter()
            .flat_map(|m| m.to.iter().cloned())
            .collect();
        let missing: Vec<&String> = expected.difference(&got).collect();
        ensure!(
            missing.is_empty(),
            "{} recipients without mail, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        Ok(())
    })
    .await?;
    let entries = poll_until(Duration::from_secs(30), || async {
        let entries = outbox(&admin).await?;
        let not_delivered: Vec<&OutboxEntry> =
            entries.iter().filter(|e| e.status != "delivered").collect();
        ensure!(
            entries.len() >= CUSTOMERS && not_delivered.is_empty(),
            "{} entries, not delivered: {:?}",
            entries.len(),
            &not_delivered[..not_delivered.len().min(5)]
        );
        Ok(entries)
    })
    .await?;

    // Fan-out is exactly once: one entry per customer, to their address, by email.
    let mut seq_of: BTreeMap<String, u64> = BTreeMap::new();
    for e in &entries {
        ensure!(
            e.channel == "email" && e.scenario == "back_in_stock",
            "unexpected entry {e:?}"
        );
        ensure!(
            seq_of.insert(e.address.clone(), e.seq).is_none(),
            "two entries for {}",
            e.address
        );
    }
    ensure!(
        seq_of.keys().cloned().collect::<BTreeSet<_>>() == expected,
        "entries are not one per customer: {} entries",
        entries.len()
    );

    // Every mail is the entry's message: one recipient, its Message-ID from the seq.
    let mails = smtp.messages();
    let mut per_recipient: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in &mails {
        ensure!(m.to.len() == 1, "one recipient per message: {:?}", m.to);
        let to = m.to[0].as_str();
        let id = m.headers.get("message-id").context("no Message-ID")?;
        let seq = seq_of
            .get(to)
            .with_context(|| format!("mail to {to}, who has no entry"))?;
        ensure!(
            id == format!("<stockbell-{seq}@shop.example>"),
            "mail to {to} has Message-ID {id}, its entry is seq {seq}"
        );
        per_recipient.entry(to).or_default().push(id);
    }
    ensure!(per_recipient.len() == CUSTOMERS, "{per_recipient:?}");
    for (to, ids) in &per_recipient {
        ensure!(
            ids.iter().all(|i| i == &ids[0]),
            "{to} got different Message-IDs: {ids:?}"
        );
    }
    ensure!(mails.len() >= CUSTOMERS, "{} mails", mails.len());
    let duplicates = mails.len() - CUSTOMERS;
    let recipients_with_duplicates = per_recipient.values().filter(|v| v.len() > 1).count();
    // The server recorded these without telling the daemon, so they were sent again;
    // an acknowledged mail was recorded as delivered before its send slot was freed,
    // so it is not sent again.
    ensure!(
        duplicates == unacknowledged,
        "{unacknowledged} unacknowledged mails but {duplicates} duplicates"
    );
    eprintln!(
        "delivery_crash: {CUSTOMERS} customers, {before_kill} mails before the kill \
         ({unacknowledged} recorded but unacknowledged), {} mails in all, {duplicates} \
         duplicates to {recipients_with_duplicates} recipients, {:.1}s",
        mails.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
