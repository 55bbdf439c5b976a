//! Each scenario end to end against a real SMTP server (aiosmtpd): what the server
//! received — recipients, subject, body, headers — must be exactly the customers the
//! rules allow. Price drop (seen price, unsubscribe, purchase, threshold, global cap),
//! low stock (threshold and predicted sell-out), new arrival (category affinity), a
//! restock and a price drop meeting in the arbitration window, and quiet hours (a
//! restock that sells out again before morning is dropped; one still in stock goes out
//! when quiet hours end, not before).
//!
//! "Nobody else" is never checked by sleeping: the test waits until the scenario
//! counters account for every candidate and the outbox has nothing pending, then
//! compares the SMTP server's mail with the expected set.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::pb::{
    Customer, Event, GetCustomerRequest, GetScenarioStatsRequest, ListOutboxRequest, OutboxEntry,
    ProductUpsert, TriggerKind, UnsubscribeChannel,
};
use stockbell_tests::{
    cart_add, catalog, favourite, notify_me, now_ms, poll_until, price_set, publish_ok, purchase,
    sale, shopper, stock_set, triggers, unsubscribe, upsert, view, AdminClient, Daemon,
    DaemonOptions, ReceivedMail, Sequencer, SmtpServer,
};

/// How long a message may take from its trigger to the SMTP server.
const WAIT: Duration = Duration::from_secs(30);

/// Explicit scenario settings, so the tests do not depend on the defaults; one marketing
/// message per customer per 16 h.
const SCENARIOS: &str = r#"
[scenarios.back_in_stock]
priority = 40
threshold = 0.4
[scenarios.price_drop]
priority = 30
threshold = 0.3
[scenarios.low_stock]
priority = 20
threshold = 0.4
[scenarios.new_arrival]
priority = 10
threshold = 0.8
[rules]
caps = [{ scope = "marketing", max = 1, window = "16h" }]
"#;

/// SMTP to `smtp`, fast retries, decisions at once, no quiet hours (the test must not
/// depend on the time of day).
fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"\nmax_attempts = 100")
        .toml(SCENARIOS)
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

fn addr(id: &str) -> String {
    format!("{id}@example.jp")
}

/// An existing product (not announced as a new arrival).
fn existing(sku: &str, price: i64) -> Event {
    upsert(ProductUpsert {
        imported: true,
        ..catalog(sku, price)
    })
}

fn in_category(sku: &str, category: &str, imported: bool) -> Event {
    upsert(ProductUpsert {
        imported,
        category_ids: vec![category.into()],
        ..catalog(sku, 5_000)
    })
}

/// One scenario's counters: (triggered, audience, queued, suppressed by reason).
type Counts = (u64, u64, u64, BTreeMap<String, u64>);

async fn stats(admin: &AdminClient) -> Result<BTreeMap<String, Counts>> {
    let resp = admin
        .clone()
        .get_scenario_stats(GetScenarioStatsRequest {})
        .await?
        .into_inner();
    Ok(resp
        .scenarios
        .into_iter()
        .map(|s| {
            let suppressed = s
                .suppressed
                .into_iter()
                .filter(|c| c.count > 0)
                .map(|c| (c.reason, c.count))
                .collect();
            (s.scenario, (s.triggered, s.audience, s.queued, suppressed))
        })
        .collect())
}

/// The counters every scenario must show: `(scenario, triggered, audience, queued,
/// suppressed)`; scenarios not listed must be all zero.
type Want<'a> = &'a [(&'a str, u64, u64, u64, &'a [(&'a str, u64)])];

fn want_counts(want: Want<'_>) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = [
        "back_in_stock",
        "low_stock",
        "price_drop",
        "new_arrival",
        "backorder_confirmation",
        "backorder_update",
        "arrived",
        "delayed",
        "shipped",
        "delivered_followup",
        "cross_sell_order",
        "cross_sell_delivery",
        "cart_abandoned",
        "checkout_abandoned",
        "last_chance",
        "win_back",
        "birthday",
    ]
    .into_iter()
    .map(|s| (s.to_string(), (0, 0, 0, BTreeMap::new())))
    .collect();
    for (scenario, triggered, audience, queued, suppressed) in want {
        let reasons = suppressed
            .iter()
            .map(|(r, n)| (r.to_string(), *n))
            .collect();
        out.insert(
            scenario.to_string(),
            (*triggered, *audience, *queued, reasons),
        );
    }
    out
}

/// Waits until the scenario counters are exactly `want`.
async fn expect_stats(admin: &AdminClient, want: Want<'_>) -> Result<()> {
    let want = want_counts(want);
    poll_until(WAIT, || async {
        let got = stats(admin).await?;
        ensure!(got == want, "scenario stats\n got {got:?}\nwant {want:?}");
        Ok(())
    })
    .await
}

async fn outbox(admin: &AdminClient, status: &str) -> Result<Vec<OutboxEntry>> {
    let req = ListOutboxRequest {
        status: status.into(),
        limit: 1000,
        ..Default::default()
    };
    Ok(admin.clone().list_outbox(req).await?.into_inner().entries)
}

/// Waits until nothing is pending, `n` entries are delivered and the SMTP server holds
/// exactly `n` messages; returns them.
async fn settle(admin: &AdminClient, smtp: &SmtpServer, n: usize) -> Result<Vec<ReceivedMail>> {
    poll_until(WAIT, || async {
        let pending = outbox(admin, "pending").await?;
        let failed = outbox(admin, "failed").await?;
        let delivered = outbox(admin, "delivered").await?;
        let received = smtp.messages();
        ensure!(
            pending.is_empty() && failed.is_empty(),
            "pending {pending:?}, failed {failed:?}"
        );
        ensure!(
            delivered.len() == n && received.len() == n,
            "want {n} messages: {} delivered, {} received: {:?}",
            delivered.len(),
            received.len(),
            received
                .iter()
                .map(|m| (&m.to, &m.subject))
                .collect::<Vec<_>>()
        );
        Ok(received)
    })
    .await
}

/// The envelope recipients of `msgs`, one per message, sorted.
fn recipients(msgs: &[ReceivedMail]) -> Vec<String> {
    let mut to: Vec<String> = msgs.iter().map(|m| m.to.join(",")).collect();
    to.sort();
    to
}

fn expect_recipients(msgs: &[ReceivedMail], ids: &[&str]) -> Result<()> {
    let mut want: Vec<String> = ids.iter().map(|id| addr(id)).collect();
    want.sort();
    let got = recipients(msgs);
    ensure!(got == want, "recipients {got:?}, want {want:?}");
    Ok(())
}

/// The one message sent to customer `id`, with the headers every marketing mail needs.
fn mail_to<'a>(msgs: &'a [ReceivedMail], id: &str) -> Result<&'a ReceivedMail> {
    let to = addr(id);
    let mine: Vec<&ReceivedMail> = msgs.iter().filter(|m| m.to == [to.clone()]).collect();
    let [mail] = mine[..] else {
        bail!(
            "{} messages to {to}: {:?}",
            mine.len(),
            mine.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    };
    let h = &mail.headers;
    ensure!(h.get("to") == Some(to.as_str()), "To: {:?}", h.get("to"));
    ensure!(
        h.get("message-id")
            .is_some_and(|m| m.starts_with("<stockbell-")),
        "Message-ID: {:?}",
        h.get("message-id")
    );
    ensure!(
        h.get("list-unsubscribe-post") == Some("List-Unsubscribe=One-Click")
            && h.get("list-unsubscribe")
                .is_some_and(|u| u.contains("<http")),
        "RFC 8058 headers: {h:?}"
    );
    Ok(mail)
}

fn expect_text(mail: &ReceivedMail, needles: &[&str]) -> Result<()> {
    let text = mail.text();
    for needle in needles {
        ensure!(
            text.contains(needle),
            "mail to {:?} ({:?}) lacks {needle:?}:\n{text}",
            mail.to,
            mail.subject
        );
    }
    Ok(())
}

async fn customer(admin: &AdminClient, id: &str) -> Result<Customer> {
    let req = GetCustomerRequest {
        customer_id: id.into(),
        ..Default::default()
    };
    Ok(admin.clone().get_customer(req).await?.into_inner())
}

/// The customer's send ledger as (scenario, skus).
async fn ledger(admin: &AdminClient, id: &str) -> Result<Vec<(String, Vec<String>)>> {
    let c = customer(admin, id).await?;
    Ok(c.ledger.into_iter().map(|s| (s.scenario, s.skus)).collect())
}

/// What the customer holds back: (state, scenario, skus, due).
async fn held(admin: &AdminClient, id: &str) -> Result<Vec<(String, String, Vec<String>, i64)>> {
    let c = customer(admin, id).await?;
    Ok(c.held
        .into_iter()
        .map(|h| (h.state, h.scenario, h.skus, h.due_ms))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_drop_reaches_those_who_saw_a_higher_price() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp).set("triggers", "stable_for", "1s")).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    // "coat" at ¥1,000, in stock. "scarf" sold out, so that its restock can use up
    // `capped`'s one marketing message first.
    let mut events = vec![
        existing("coat", 1_000),
        stock_set("coat", 30),
        existing("scarf", 500),
        stock_set("scarf", 1),
        sale("scarf", 1),
    ];
    for id in [
        "fav", "viewer", "mid", "lower", "unsub", "buyer", "glance", "capped",
    ] {
        events.push(shopper(id));
    }
    events.extend([
        favourite("fav", "coat"),
        // 0.15·ln 4 + 3 min · 0.05 ≈ 0.36: over the 0.3 threshold.
        view("viewer", "coat", 60_000),
        view("viewer", "coat", 60_000),
        view("viewer", "coat", 60_000),
        favourite("unsub", "coat"),
        favourite("buyer", "coat"),
        // One short look: 0.15·ln 2 ≈ 0.10, under the threshold.
        view("glance", "coat", 500),
        favourite("capped", "coat"),
        notify_me("capped", "scarf"),
    ]);
    publish_ok(&mut ingest, seq.batch(events)).await?;
    // Flickers that never settle: `lower` sees ¥700, `mid` sees ¥950.
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            price_set("coat", 700),
            favourite("lower", "coat"),
            price_set("coat", 950),
            favourite("mid", "coat"),
            price_set("coat", 1_000),
            unsubscribe("unsub", UnsubscribeChannel::Email),
            purchase("buyer", "o-1", &["coat"]),
        ]),
    )
    .await?;

    // `capped` gets the scarf's restock: their marketing message for the next 16 h.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("scarf", 10)])).await?;
    let first = smtp.wait_for(1, WAIT).await?;
    expect_recipients(&first, &["capped"])?;
    ensure!(
        mail_to(&first, "capped")?.subject == "Back in stock: Product scarf",
        "{:?}",
        first[0].subject
    );

    // The drop to ¥800 holds for stable_for (1 s) and fires.
    publish_ok(&mut ingest, seq.batch(vec![price_set("coat", 800)])).await?;
    // Audience: fav, viewer, mid, unsub, capped (buyer purchased; lower saw a lower
    // price; glance is under the threshold).
    let want: Want<'_> = &[
        ("back_in_stock", 1, 1, 1, &[]),
        (
            "price_drop",
            1,
            5,
            3,
            &[("cap", 1), ("consent", 1), ("purchased", 1)],
        ),
    ];
    expect_stats(&admin, want).await?;
    let msgs = settle(&admin, &smtp, 4).await?;
    expect_recipients(&msgs, &["capped", "fav", "viewer", "mid"])?;
    for (id, old, off) in [
        ("fav", "¥1,000", "20% off"),
        ("viewer", "¥1,000", "20% off"),
        ("mid", "¥950", "15% off"),
    ] {
        let mail = mail_to(&msgs, id)?;
        ensure!(
            mail.subject == "Price drop: Product coat is now ¥800",
            "{id}: {:?}",
            mail.subject
        );
        expect_text(
            mail,
            &[
                "The price of Product coat",
                &format!("{old} -> ¥800 ({off})"),
                "http://127.0.0.1:8080/c/",
            ],
        )?;
    }
    let drops = triggers(
        &mut admin.clone(),
        Some(TriggerKind::PriceDrop),
        Some("coat"),
    )
    .await?;
    ensure!(
        drops.len() == 1 && drops[0].old_price_minor == 1_000 && drops[0].new_price_minor == 800,
        "{drops:?}"
    );
    expect_stats(&admin, want).await?;
    ensure!(
        smtp.messages().len() == 4,
        "late mail: {:?}",
        smtp.messages()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_tells_the_interested_how_many_are_left() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    // Both restocked (which arms low stock) to levels that are not low.
    let mut events = vec![
        existing("mug", 1_200),
        stock_set("mug", 20),
        existing("pan", 4_800),
        stock_set("pan", 50),
    ];
    for id in [
        "fav", "carter", "glance", "buyer", "unsub", "stranger", "cook",
    ] {
        events.push(shopper(id));
    }
    events.extend([
        favourite("fav", "mug"),
        cart_add("carter", "mug"),
        view("glance", "mug", 1_000),
        cart_add("buyer", "mug"),
        favourite("unsub", "mug"),
        // `stranger` has shown no interest at all.
        favourite("cook", "pan"),
    ]);
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            purchase("buyer", "o-1", &["mug"]),
            unsubscribe("unsub", UnsubscribeChannel::All),
        ]),
    )
    .await?;
    // mug: 2 left, at or below low_stock_qty (3). pan: 40 sold at once is ≈ 4/day with a
    // 7-day half-life, so 10 left sell out in ≈ 2.5 days, within the 3-day horizon.
    publish_ok(
        &mut ingest,
        seq.batch(vec![stock_set("mug", 2), sale("pan", 40)]),
    )
    .await?;

    let want: Want<'_> = &[("low_stock", 2, 4, 3, &[("consent", 1), ("purchased", 1)])];
    expect_stats(&admin, want).await?;
    let msgs = settle(&admin, &smtp, 3).await?;
    expect_recipients(&msgs, &["fav", "carter", "cook"])?;
    for id in ["fav", "carter"] {
        let mail = mail_to(&msgs, id)?;
        ensure!(
            mail.subject == "Only 2 left: Product mug",
            "{id}: {:?}",
            mail.subject
        );
        expect_text(
            mail,
            &[
                "Product mug, one of your favourites, is almost sold out.",
                "¥1,200, only 2 left",
            ],
        )?;
    }
    let cook = mail_to(&msgs, "cook")?;
    ensure!(
        cook.subject == "Only 10 left: Product pan",
        "{:?}",
        cook.subject
    );
    expect_text(cook, &["¥4,800, only 10 left", "http://127.0.0.1:8080/c/"])?;
    let pan = triggers(&mut admin.clone(), Some(TriggerKind::LowStock), Some("pan")).await?;
    ensure!(
        pan.len() == 1 && pan[0].new_stock == 10 && pan[0].cover_days < 3.0,
        "the pan's low stock is the predicted sell-out: {pan:?}"
    );
    expect_stats(&admin, want).await?;
    ensure!(
        smtp.messages().len() == 3,
        "late mail: {:?}",
        smtp.messages()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_arrival_reaches_customers_who_like_its_category() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    let mut events = vec![
        in_category("boot", "shoes", true),
        stock_set("boot", 5),
        in_category("tote", "bags", true),
        stock_set("tote", 5),
    ];
    for id in [
        "shoe_fan",
        "shoe_browser",
        "shoe_glance",
        "bag_fan",
        "nobody",
    ] {
        events.push(shopper(id));
    }
    events.extend([
        // Affinity for "shoes": a favourite adds 1.0 ...
        favourite("shoe_fan", "boot"),
        // ... a view 0.2 plus up to 0.3 for dwell: 4 long views ≈ 2.0 ...
        view("shoe_browser", "boot", 60_000),
        view("shoe_browser", "boot", 60_000),
        view("shoe_browser", "boot", 60_000),
        view("shoe_browser", "boot", 60_000),
        // ... one short view ≈ 0.2, under the 0.8 threshold.
        view("shoe_glance", "boot", 1_000),
        // Affinity for "bags" only.
        favourite("bag_fan", "tote"),
    ]);
    publish_ok(&mut ingest, seq.batch(events)).await?;
    // A new shoe, visible and in stock: a new arrival.
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            in_category("sneaker", "shoes", false),
            stock_set("sneaker", 8),
        ]),
    )
    .await?;

    let want: Want<'_> = &[("new_arrival", 1, 2, 2, &[])];
    expect_stats(&admin, want).await?;
    let msgs = settle(&admin, &smtp, 2).await?;
    expect_recipients(&msgs, &["shoe_fan", "shoe_browser"])?;
    for id in ["shoe_fan", "shoe_browser"] {
        let mail = mail_to(&msgs, id)?;
        ensure!(
            mail.subject == "New arrival: Product sneaker",
            "{id}: {:?}",
            mail.subject
        );
        expect_text(
            mail,
            &[
                "Something new just arrived",
                "Product sneaker",
                "http://127.0.0.1:8080/c/",
            ],
        )?;
    }
    let arrivals = triggers(&mut admin.clone(), Some(TriggerKind::NewArrival), None).await?;
    ensure!(
        arrivals.len() == 1 && arrivals[0].sku == "sneaker",
        "{arrivals:?}"
    );
    expect_stats(&admin, want).await?;
    ensure!(
        smtp.messages().len() == 2,
        "late mail: {:?}",
        smtp.messages()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restock_and_price_drop_in_one_window_send_one_message() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    // The price drop outranks the restock here, and arrives second: only the window lets
    // it win (without it the restock would go out at once and use up the cap).
    let daemon = Daemon::start(
        options(&smtp)
            .set("rules", "arbitration_window", "3s")
            .set("triggers", "stable_for", "0s")
            .toml("[scenarios.price_drop]\npriority = 50"),
    )
    .await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    publish_ok(
        &mut ingest,
        seq.batch(vec![
            existing("lamp", 1_000),
            stock_set("lamp", 1),
            sale("lamp", 1),
            shopper("both"),
            notify_me("both", "lamp"),
            favourite("both", "lamp"),
        ]),
    )
    .await?;
    let restocked_ms = now_ms();
    publish_ok(&mut ingest, seq.batch(vec![stock_set("lamp", 10)])).await?;
    // The restock has reached the customer, who holds it for the window ...
    let window_ends = poll_until(WAIT, || async {
        let h = held(&admin, "both").await?;
        match &h[..] {
            [(state, scenario, skus, due)]
                if state == "arbitrating" && scenario == "back_in_stock" && skus == &["lamp"] =>
            {
                Ok(*due)
            }
            _ => bail!("the restock is not held for arbitration: {h:?}"),
        }
    })
    .await?;
    ensure!(
        window_ends >= restocked_ms + 3_000,
        "window ends at {window_ends}, restocked at {restocked_ms}"
    );
    // ... when the price drops by 20 %.
    publish_ok(&mut ingest, seq.batch(vec![price_set("lamp", 800)])).await?;
    // Both wait for the same window.
    poll_until(WAIT, || async {
        let h = held(&admin, "both").await?;
        let mut got: Vec<(&str, &str, i64)> = h
            .iter()
            .map(|(state, scenario, _, due)| (state.as_str(), scenario.as_str(), *due))
            .collect();
        got.sort();
        ensure!(
            got == [
                ("arbitrating", "back_in_stock", window_ends),
                ("arbitrating", "price_drop", window_ends)
            ],
            "held: {h:?} (window ends at {window_ends}, now {})",
            now_ms()
        );
        Ok(())
    })
    .await?;

    let want: Want<'_> = &[
        ("back_in_stock", 1, 1, 0, &[("priority", 1)]),
        ("price_drop", 1, 1, 1, &[]),
    ];
    expect_stats(&admin, want).await?;
    let msgs = settle(&admin, &smtp, 1).await?;
    let mail = mail_to(&msgs, "both")?;
    ensure!(
        mail.subject == "Price drop: Product lamp is now ¥800",
        "{:?}",
        mail.subject
    );
    expect_text(mail, &["¥1,000 -> ¥800 (20% off)"])?;
    // Written when the window closed, not when the first trigger arrived.
    let delivered = outbox(&admin, "delivered").await?;
    ensure!(
        delivered.len() == 1
            && delivered[0].scenario == "price_drop"
            && delivered[0].created_ms >= window_ends,
        "restocked at {restocked_ms}: {delivered:?}"
    );
    ensure!(
        ledger(&admin, "both").await? == [("price_drop".to_string(), vec!["lamp".to_string()])],
        "{:?}",
        ledger(&admin, "both").await?
    );
    expect_stats(&admin, want).await?;
    ensure!(
        smtp.messages().len() == 1,
        "late mail: {:?}",
        smtp.messages()
    );
    Ok(())
}

/// Quiet hours from a few minutes ago to the next minute boundary (the one after when
/// that is too close), in UTC: `(quiet_start, quiet_end, end as Unix ms)`.
fn quiet_window(now: i64) -> (String, String, i64) {
    let minute = now.div_euclid(60_000);
    let left_ms = (minute + 1) * 60_000 - now;
    let end_minute = if left_ms < 15_000 {
        minute + 2
    } else {
        minute + 1
    };
    let hhmm = |m: i64| {
        let m = m.rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    (hhmm(minute - 3), hhmm(end_minute), end_minute * 60_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_drop_a_restock_that_sold_out_and_send_one_that_held() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let (start, end, end_ms) = quiet_window(now_ms());
    let daemon = Daemon::start(
        options(&smtp)
            .set("rules", "quiet_start", start.as_str())
            .set("rules", "quiet_end", end.as_str()),
    )
    .await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    // `sleepy` waits for the kettle, `early` for the toaster; both sold out.
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            existing("kettle", 3_000),
            stock_set("kettle", 1),
            sale("kettle", 1),
            existing("toaster", 4_000),
            stock_set("toaster", 1),
            sale("toaster", 1),
            shopper("sleepy"),
            notify_me("sleepy", "kettle"),
            shopper("early"),
            notify_me("early", "toaster"),
        ]),
    )
    .await?;
    // Both come back during quiet hours: planned (in the ledger), but held until the
    // end of quiet hours.
    publish_ok(
        &mut ingest,
        seq.batch(vec![stock_set("kettle", 5), stock_set("toaster", 5)]),
    )
    .await?;
    poll_until(WAIT, || async {
        for (id, sku) in [("sleepy", "kettle"), ("early", "toaster")] {
            let want = [(
                "quiet_hours".to_string(),
                "back_in_stock".to_string(),
                vec![sku.to_string()],
                end_ms,
            )];
            let h = held(&admin, id).await?;
            ensure!(h == want, "{id}: held {h:?}, want {want:?}");
            let l = ledger(&admin, id).await?;
            ensure!(
                l == [("back_in_stock".to_string(), vec![sku.to_string()])],
                "{id}: ledger {l:?}"
            );
        }
        Ok(())
    })
    .await?;
    let all = outbox(&admin, "").await?;
    ensure!(all.is_empty(), "written during quiet hours: {all:?}");
    // The kettle sells out again before quiet hours end.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 0)])).await?;
    ensure!(
        now_ms() < end_ms,
        "too slow: quiet hours ({start}-{end} UTC) ended before the kettle sold out"
    );

    // At the end of quiet hours the kettle's message is stale; the toaster's goes out.
    let first_seen_ms: Cell<Option<i64>> = Cell::new(None);
    let msgs = poll_until(Duration::from_secs(120), || {
        let (admin, smtp, seen, end) = (&admin, &smtp, &first_seen_ms, &end);
        async move {
            let msgs = smtp.messages();
            if !msgs.is_empty() && seen.get().is_none() {
                seen.set(Some(now_ms()));
            }
            let s = stats(admin).await?;
            let bis = s.get("back_in_stock").context("back_in_stock stats")?;
            ensure!(
                bis.3.get("quiet_hours_stale").is_some_and(|n| *n >= 1) && !msgs.is_empty(),
                "waiting for the end of quiet hours at {end} UTC ({} ms left): {bis:?}, {} messages",
                end_ms - now_ms(),
                msgs.len()
            );
            Ok(msgs)
        }
    })
    .await?;
    let seen = first_seen_ms.get().context("no message seen")?;
    ensure!(
        seen >= end_ms,
        "a message arrived at {seen}, before quiet hours ended at {end_ms}"
    );
    let want: Want<'_> = &[("back_in_stock", 2, 2, 1, &[("quiet_hours_stale", 1)])];
    expect_stats(&admin, want).await?;
    let msgs = if msgs.len() == 1 {
        settle(&admin, &smtp, 1).await?
    } else {
        bail!("{} messages: {:?}", msgs.len(), recipients(&msgs));
    };
    let mail = mail_to(&msgs, "early")?;
    ensure!(
        mail.subject == "Back in stock: Product toaster",
        "{:?}",
        mail.subject
    );
    let delivered = outbox(&admin, "delivered").await?;
    ensure!(
        delivered.len() == 1 && delivered[0].created_ms >= end_ms,
        "quiet hours end at {end_ms}: {delivered:?}"
    );
    for id in ["sleepy", "early"] {
        let h = held(&admin, id).await?;
        ensure!(h.is_empty(), "{id} still holds {h:?}");
    }
    // The dropped message gave its cap room back; the sent one keeps its place.
    ensure!(
        ledger(&admin, "sleepy").await?.is_empty(),
        "{:?}",
        ledger(&admin, "sleepy").await?
    );
    ensure!(
        ledger(&admin, "early").await?.len() == 1,
        "{:?}",
        ledger(&admin, "early").await?
    );
    expect_stats(&admin, want).await?;
    ensure!(
        smtp.messages().len() == 1,
        "late mail: {:?}",
        smtp.messages()
    );
    Ok(())
}
