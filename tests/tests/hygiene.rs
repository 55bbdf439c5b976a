//! List hygiene end to end against a real `stockbelld` and a real SMTP server
//! (aiosmtpd): the sunset policy sends one last chance after the configured count and
//! time, then suppresses marketing as `inactive` until an interest event resumes it; a
//! run of soft bounces (SMTP 451) suppresses the address; a complaint — the ingest event
//! or an ARF report to `POST /complaint` — suppresses marketing at once.
//!
//! A pause ends when the customer engages after the last chance: one test resumes by an
//! interest event (favourite), another by a click on a tracked link (`/c/<token>`) of
//! an offer mailed before the pause, followed like a browser.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::event::Kind;
use stockbell_tests::pb::{
    Customer, Event, GetCustomerRequest, GetScenarioStatsRequest, PreviewSunsetRequest,
    ProductUpsert, SunsetPreview, UnsubscribeChannel, UpdateScenarioRequest,
};
use stockbell_tests::web::{click_paths, request};
use stockbell_tests::{
    catalog, customer, favourite, notify_me, poll_until, publish, publish_ok, sale, stock_set,
    upsert, AdminClient, Daemon, DaemonOptions, Sequencer, SmtpServer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "fbl-token-0123456789abcdef";

/// SMTP to `smtp`, fast retries, decisions at once, no quiet hours, no cap in the way.
fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"\nmax_attempts = 100")
        .toml("[rules]\ncaps = [{ scope = \"marketing\", max = 100, window = \"1h\" }]")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

/// Products `skus`, sold out, that customer `id` asked to hear about.
fn waiting_for(id: &str, skus: &[&str]) -> Vec<Event> {
    let mut events = vec![customer(id, &format!("{id}@example.jp"))];
    for sku in skus {
        // Imported: an existing product, never announced as a new arrival.
        events.push(upsert(ProductUpsert {
            imported: true,
            ..catalog(sku, 1980)
        }));
        events.push(stock_set(sku, 1));
        events.push(sale(sku, 1));
        events.push(notify_me(id, sku));
    }
    events
}

fn complaint(customer_id: &str) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(Kind::Complaint(stockbell_tests::pb::Complaint {
            customer_id: customer_id.into(),
            channel: UnsubscribeChannel::Email.into(),
            ..Default::default()
        })),
    }
}

async fn get(admin: &AdminClient, id: &str) -> Result<Customer> {
    let req = GetCustomerRequest {
        customer_id: id.into(),
        ..Default::default()
    };
    Ok(admin.clone().get_customer(req).await?.into_inner())
}

/// Suppressions of `scenario` by reason.
async fn suppressed(admin: &AdminClient, scenario: &str) -> Result<BTreeMap<String, u64>> {
    let resp = admin
        .clone()
        .get_scenario_stats(GetScenarioStatsRequest {})
        .await?
        .into_inner();
    Ok(resp
        .scenarios
        .into_iter()
        .filter(|s| s.scenario == scenario)
        .flat_map(|s| s.suppressed)
        .filter(|c| c.count > 0)
        .map(|c| (c.reason, c.count))
        .collect())
}

async fn wait_suppressed(admin: &AdminClient, reason: &str, n: u64) -> Result<()> {
    poll_until(WAIT, || async {
        let s = suppressed(admin, "back_in_stock").await?;
        ensure!(s.get(reason) == Some(&n), "waiting for {n} {reason}: {s:?}");
        Ok(())
    })
    .await
}

async fn preview(
    admin: &AdminClient,
    min_messages: u32,
    inactive_for_ms: i64,
) -> Result<SunsetPreview> {
    let req = PreviewSunsetRequest {
        min_messages,
        inactive_for_ms,
    };
    Ok(admin.clone().preview_sunset(req).await?.into_inner())
}

async fn http_post(addr: SocketAddr, path: &str, token: &str, body: &str) -> Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    Ok(reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunset_sends_one_last_chance_then_pauses_until_the_customer_engages() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let inactive_for = Duration::from_secs(3);
    let daemon = Daemon::start(
        options(&smtp)
            .set("hygiene", "sunset", true)
            .set("hygiene", "min_messages", 2i64)
            .set("hygiene", "inactive_for", "3s"),
    )
    .await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let skus = ["s1", "s2", "s3", "s4", "s5"];
    let started = std::time::Instant::now();
    publish_ok(&mut ingest, seq.batch(waiting_for("quiet", &skus))).await?;

    // Two offers go out as usual: the customer has not been inactive long enough.
    for (n, sku) in ["s1", "s2"].iter().enumerate() {
        publish_ok(&mut ingest, seq.batch(vec![stock_set(sku, 20)])).await?;
        smtp.wait_for(n + 1, WAIT).await?;
    }
    let c = get(&admin, "quiet").await?;
    let h = c.hygiene.context("hygiene")?;
    ensure!(
        h.sunset == "active" && h.messages_since_engaged == 2,
        "{h:?}"
    );

    // Time passes with no click, order or interest event: the next offer finds the
    // customer inactive, and the last chance goes instead of it. The operator's preview
    // says so first.
    tokio::time::sleep(inactive_for.saturating_sub(started.elapsed()) + Duration::from_millis(300))
        .await;
    let before = preview(&admin, 0, 0).await?;
    ensure!(
        (before.customers, before.would_pause, before.paused) == (1, 1, 0),
        "{before:?}"
    );
    // A policy asking for more messages would not pause this customer.
    let strict = preview(&admin, 3, 0).await?;
    ensure!(strict.would_pause == 0, "{strict:?}");
    publish_ok(&mut ingest, seq.batch(vec![stock_set("s3", 20)])).await?;
    let mails = smtp.wait_for(3, WAIT).await?;
    let last = &mails[2];
    ensure!(
        last.subject.contains("お知らせをお送りしてよろしいですか"),
        "{:?}",
        last.subject
    );
    ensure!(
        last.headers.get("list-unsubscribe").is_some(),
        "{:?}",
        last.headers
    );
    wait_suppressed(&admin, "inactive", 1).await?;
    let h = get(&admin, "quiet").await?.hygiene.context("hygiene")?;
    ensure!(h.sunset == "paused" && h.last_chance_ms > 0, "{h:?}");
    let after = preview(&admin, 0, 0).await?;
    ensure!((after.would_pause, after.paused) == (0, 1), "{after:?}");

    // Paused: the next offer is suppressed as inactive, and no last chance goes again.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("s4", 20)])).await?;
    wait_suppressed(&admin, "inactive", 2).await?;

    // An interest event resumes marketing: the next offer goes out as usual.
    publish_ok(&mut ingest, seq.batch(vec![favourite("quiet", "s1")])).await?;
    poll_until(WAIT, || async {
        let h = get(&admin, "quiet").await?.hygiene.context("hygiene")?;
        ensure!(h.sunset == "active", "{h:?}");
        Ok(())
    })
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("s5", 20)])).await?;
    let mails = smtp.wait_for(4, WAIT).await?;
    ensure!(mails.len() == 4, "{}", mails.len());
    ensure!(
        !mails[3].subject.contains("よろしいですか"),
        "{:?}",
        mails[3].subject
    );
    let s = suppressed(&admin, "back_in_stock").await?;
    ensure!(s.get("inactive") == Some(&2), "{s:?}");
    drop(daemon);
    Ok(())
}

/// Waits for GetCustomer's `hygiene.sunset` to read `want`.
async fn wait_sunset(admin: &AdminClient, id: &str, want: &str) -> Result<()> {
    poll_until(WAIT, || async {
        let h = get(admin, id).await?.hygiene.context("hygiene")?;
        ensure!(h.sunset == want, "waiting for sunset {want:?}: {h:?}");
        Ok(())
    })
    .await
}

/// The last chance's "keep me posted" button (`[scenarios.last_chance] keep_url`).
const KEEP_URL: &str = "https://shop.example/keep";

/// Which tracked link the paused customer follows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Follows {
    /// The last chance's keep button.
    KeepButton,
    /// The product link of the first offer she was mailed, before the pause.
    EarlierOffer,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_chance_keep_button_resumes_a_sunset_pause() -> Result<()> {
    click_resumes_a_sunset_pause(Follows::KeepButton).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_an_earlier_offer_resumes_a_sunset_pause() -> Result<()> {
    click_resumes_a_sunset_pause(Follows::EarlierOffer).await
}

/// Offers until the sunset pauses the customer, a click on `follows` (followed like a
/// browser: 302 to the link's page), then the next offer is sent.
async fn click_resumes_a_sunset_pause(follows: Follows) -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(
        options(&smtp)
            .set("hygiene", "sunset", true)
            .set("hygiene", "min_messages", 2i64)
            .set("hygiene", "inactive_for", "2s")
            .toml(&format!(
                "[scenarios.last_chance]\nkeep_url = \"{KEEP_URL}\""
            ))
            // One tracked link per offer; no scanner filter to wait out.
            .set("engagement", "scanner_window", "0s"),
    )
    .await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    publish_ok(
        &mut ingest,
        seq.batch(waiting_for("lapsed", &["w1", "w2", "w3", "w4", "w5"])),
    )
    .await?;
    for (n, sku) in ["w1", "w2"].iter().enumerate() {
        publish_ok(&mut ingest, seq.batch(vec![stock_set(sku, 20)])).await?;
        smtp.wait_for(n + 1, WAIT).await?;
    }
    // She does not react for inactive_for: the preview turns (the positive marker that
    // the time has passed), then the next offer brings the last chance and the pause.
    poll_until(WAIT, || async {
        let p = preview(&admin, 0, 0).await?;
        ensure!(p.would_pause == 1, "{p:?}");
        Ok(())
    })
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("w3", 20)])).await?;
    let mails = smtp.wait_for(3, WAIT).await?;
    // Its keep button goes through the redirector, not straight to the shop.
    let last = mails[2].text();
    ensure!(
        mails[2].subject.contains("よろしいですか")
            && click_paths(&last).len() == 1
            && !last.contains(KEEP_URL),
        "{:?}: {last}",
        mails[2].subject
    );
    wait_suppressed(&admin, "inactive", 1).await?;
    wait_sunset(&admin, "lapsed", "paused").await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("w4", 20)])).await?;
    wait_suppressed(&admin, "inactive", 2).await?;

    // She follows a tracked link (each mail has exactly one): 302 to its page.
    let (mail, url, scenario, skus) = match follows {
        Follows::KeepButton => (&mails[2], KEEP_URL, "last_chance", vec![]),
        Follows::EarlierOffer => (
            &mails[0],
            "https://shop.example/p/w1",
            "back_in_stock",
            vec!["w1".to_string()],
        ),
    };
    let paths = click_paths(&mail.text());
    ensure!(paths.len() == 1, "one tracked link in the mail: {paths:?}");
    let (status, location, _) = request(daemon.http_addr()?, "GET", &paths[0]).await?;
    ensure!(
        (status, location.as_str()) == (302, url),
        "{status} {location}"
    );
    wait_sunset(&admin, "lapsed", "active").await?;
    let c = get(&admin, "lapsed").await?;
    let e = c.engagement.context("engagement")?;
    let h = c.hygiene.context("hygiene")?;
    ensure!(
        e.clicks.len() == 1
            && (e.clicks[0].scenario.as_str(), &e.clicks[0].skus) == (scenario, &skus)
            && h.messages_since_engaged == 0,
        "{e:?} {h:?}"
    );

    // The next offer is sent, not suppressed.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("w5", 20)])).await?;
    let mails = smtp.wait_for(4, WAIT).await?;
    ensure!(
        mails.len() == 4 && mails[3].text().contains("/c/"),
        "{:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let s = suppressed(&admin, "back_in_stock").await?;
    ensure!(s.get("inactive") == Some(&2), "{s:?}");
    drop(daemon);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_soft_bounces_suppresses_the_address() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    smtp.refuse_rcpt("bouncy@example.jp", 451, "mailbox busy, try later")?;
    let daemon = Daemon::start(options(&smtp).set("hygiene", "soft_bounce_limit", 3i64)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    publish_ok(&mut ingest, seq.batch(waiting_for("bouncy", &["t1"]))).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("t1", 20)])).await?;
    // Each attempt is refused for now (451); the third in a row suppresses the address.
    let c = poll_until(WAIT, || async {
        let c = get(&admin, "bouncy").await?;
        ensure!(c.suppressed.iter().any(|s| s == "email"), "{c:?}");
        Ok(c)
    })
    .await?;
    let h = c.hygiene.context("hygiene")?;
    ensure!(
        h.soft_bounces.iter().all(|r| r.run < 3),
        "the run starts over once suppressed: {h:?}"
    );
    drop(daemon);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_suppresses_marketing_at_once() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon =
        Daemon::start(options(&smtp).toml(&format!("[hygiene]\ncomplaint_tokens = [\"{TOKEN}\"]")))
            .await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut events = waiting_for("angry", &["u1"]);
    events.extend(waiting_for("fbl", &["u2", "u3"]));
    publish_ok(&mut ingest, seq.batch(events)).await?;

    // The ingest event: an unknown customer is refused, naming the field.
    let ack = publish(&mut ingest, seq.batch(vec![complaint("nobody")])).await?;
    ensure!(
        ack.rejected.len() == 1 && ack.rejected[0].field == "complaint.customer_id",
        "{ack:?}"
    );
    publish_ok(&mut ingest, seq.batch(vec![complaint("angry")])).await?;
    let h = get(&admin, "angry").await?.hygiene.context("hygiene")?;
    ensure!(
        h.complaint_ms > 0 && h.complaint_channel == "email",
        "{h:?}"
    );
    publish_ok(&mut ingest, seq.batch(vec![stock_set("u1", 20)])).await?;
    wait_suppressed(&admin, "complaint", 1).await?;

    // The feedback loop: a mail goes out, the provider reports it (ARF) to /complaint.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("u2", 20)])).await?;
    let mails = smtp.wait_for(1, WAIT).await?;
    ensure!(mails[0].to == ["fbl@example.jp"], "{:?}", mails[0].to);
    let message_id = mails[0]
        .headers
        .get("message-id")
        .context("no Message-ID")?
        .to_string();
    let report = format!(
        "--b\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n\
         --b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\nTo: fbl@example.jp\r\n\r\n--b--\r\n"
    );
    let addr = daemon.http_addr()?;
    let refused = http_post(addr, "/complaint", "wrong-token-wrong-token", &report).await?;
    ensure!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let reply = http_post(addr, "/complaint", TOKEN, &report).await?;
    ensure!(
        reply.starts_with("HTTP/1.1 200") && reply.contains("\"customer_id\":\"fbl\""),
        "{reply}"
    );
    let seq_no: u64 = message_id
        .trim_matches(['<', '>'])
        .trim_start_matches("stockbell-")
        .split('@')
        .next()
        .and_then(|s| s.parse().ok())
        .context("seq in the Message-ID")?;
    let h = get(&admin, "fbl").await?.hygiene.context("hygiene")?;
    ensure!(h.complaint_entry_seq == seq_no, "{h:?}");
    publish_ok(&mut ingest, seq.batch(vec![stock_set("u3", 20)])).await?;
    wait_suppressed(&admin, "complaint", 2).await?;
    let subjects: Vec<String> = smtp.messages().into_iter().map(|m| m.subject).collect();
    ensure!(subjects.len() == 1, "{subjects:?}");
    drop(daemon);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_bounces_past_the_rate_pause_the_scenario_until_resumed() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    for id in ["gone1", "gone2"] {
        smtp.refuse_rcpt(&format!("{id}@example.jp"), 550, "no such user")?;
    }
    // Two hard bounces in two sends: 100 %, with the (shortened) minimum volume of 2.
    let daemon = Daemon::start(options(&smtp).set("hygiene", "min_volume", 2i64)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut events = waiting_for("gone1", &["v1"]);
    events.extend(waiting_for("gone2", &["v1"]));
    events.extend(waiting_for("fine", &["v2", "v3"]));
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("v1", 20)])).await?;
    let stats = poll_until(WAIT, || async {
        let resp = admin
            .clone()
            .get_scenario_stats(GetScenarioStatsRequest {})
            .await?
            .into_inner();
        let s = resp
            .scenarios
            .into_iter()
            .find(|s| s.scenario == "back_in_stock")
            .context("back_in_stock")?;
        ensure!(s.paused, "{s:?}");
        Ok(s)
    })
    .await?;
    ensure!(
        stats.day_hard_bounces == 2 && stats.paused_reason.contains("hard-bounce"),
        "{stats:?}"
    );
    ensure!(
        stats.domains.len() == 1 && stats.domains[0].hard_bounce_rate == 1.0,
        "{:?}",
        stats.domains
    );
    // Paused: a candidate of the scenario is suppressed as "paused".
    publish_ok(&mut ingest, seq.batch(vec![stock_set("v2", 20)])).await?;
    wait_suppressed(&admin, "paused", 1).await?;
    // The operator resumes it; the next candidate goes out.
    admin
        .clone()
        .update_scenario(UpdateScenarioRequest {
            scenario: "back_in_stock".into(),
            enabled: Some(true),
            ..Default::default()
        })
        .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("v3", 20)])).await?;
    let mails = smtp.wait_for(1, WAIT).await?;
    ensure!(mails[0].to == ["fine@example.jp"], "{:?}", mails[0].to);
    drop(daemon);
    Ok(())
}
