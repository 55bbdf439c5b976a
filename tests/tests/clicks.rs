//! Click tracking end to end: a real `stockbelld`, a real SMTP server (aiosmtpd) and a
//! plain HTTP client. A back-in-stock mail's product link goes through the daemon's
//! redirector (`/c/<token>`); following it answers 302 to the product page and records
//! the click (GetCustomer shows it); HEAD redirects without counting; a tampered token
//! gets 400 and no redirect; a link the message does not have (another index, another
//! seq under this MAC) cannot be reached; a message the daemon does not hold gets 410.
//!
//! The tokens for links that are not in the message are signed here with the configured
//! secret, following the documented format (`base64url(varint seq · varint link ·
//! HMAC-SHA256(secret, 0xFF 0x03 "stockbell/click/v1" 0x00 · payload)[..12])`).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use stockbell_tests::base64::encode_url;
use stockbell_tests::pb::{CustomerEngagement, GetCustomerRequest, ProductUpsert};
use stockbell_tests::web::{click_paths, request};
use stockbell_tests::{
    catalog, notify_me, poll_until, publish_ok, sale, shopper, stock_set, upsert, AdminClient,
    Daemon, DaemonOptions, IngestClient, Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "click-test-secret-0123456789abcd";
const PRODUCT_URL: &str = "https://shop.example/p/mug";

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .set("delivery", "unsubscribe_secret", SECRET)
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
        .set("engagement", "home_url", "https://shop.example/")
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn mac(payload: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    m.update(b"\xff\x03stockbell/click/v1\x00");
    m.update(payload);
    m.finalize().into_bytes()[..12].to_vec()
}

fn payload(seq: u64, link: u64) -> Vec<u8> {
    let mut p = Vec::new();
    varint(&mut p, seq);
    varint(&mut p, link);
    p
}

/// The token the daemon would sign for link `link` of entry `seq`.
fn signed(seq: u64, link: u64) -> String {
    let mut p = payload(seq, link);
    let m = mac(&p);
    p.extend_from_slice(&m);
    encode_url(&p)
}

/// "mug" sells out; ann asks to be told; the restock mails her (the one mail).
async fn restock_mail_for_ann(ingest: &mut IngestClient) -> Result<()> {
    let mut seq = Sequencer::new("shop");
    let events = vec![
        upsert(ProductUpsert {
            imported: true,
            ..catalog("mug", 1_200)
        }),
        stock_set("mug", 1),
        sale("mug", 1),
        shopper("ann"),
        notify_me("ann", "mug"),
    ];
    publish_ok(ingest, seq.batch(events)).await?;
    publish_ok(ingest, seq.batch(vec![stock_set("mug", 10)])).await?;
    Ok(())
}

async fn engagement(admin: &AdminClient, id: &str) -> Result<CustomerEngagement> {
    admin
        .clone()
        .get_customer(GetCustomerRequest {
            customer_id: id.into(),
            email: String::new(),
        })
        .await?
        .into_inner()
        .engagement
        .context("GetCustomer has no engagement")
}

/// Waits until the customer has `n` counted clicks, then returns the engagement.
async fn clicks(admin: &AdminClient, id: &str, n: usize) -> Result<CustomerEngagement> {
    poll_until(WAIT, || async {
        let e = engagement(admin, id).await?;
        ensure!(e.clicks.len() >= n, "{} clicks so far", e.clicks.len());
        Ok(e)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_redirects_to_the_link_in_the_message_and_is_recorded() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let http = daemon.http_addr()?;

    restock_mail_for_ann(&mut ingest).await?;
    let mail = smtp.wait_for(1, WAIT).await?.remove(0);
    let text = mail.text();
    let path = click_paths(&text)
        .into_iter()
        .next()
        .context("no tracked link in the mail")?;
    let token = path.trim_start_matches("/c/").to_string();
    ensure!(token.len() <= 24, "a short token: {token}");
    ensure!(
        !text.contains(PRODUCT_URL),
        "the product link goes through the redirector:\n{text}"
    );
    ensure!(
        text.contains("/unsubscribe?token="),
        "the unsubscribe link is not rewritten"
    );
    let entry = admin
        .clone()
        .get_customer(GetCustomerRequest {
            customer_id: "ann".into(),
            email: String::new(),
        })
        .await?
        .into_inner()
        .recent_messages
        .first()
        .map(|m| m.seq)
        .context("ann has no message")?;
    ensure!(
        token == signed(entry, 0),
        "the token names entry {entry}, link 0"
    );

    // HEAD (scanners, previews): redirected, not counted.
    let (status, location, _) = request(http, "HEAD", &path).await?;
    ensure!(
        (status, location.as_str()) == (302, PRODUCT_URL),
        "HEAD: {status} {location}"
    );
    // GET: 302 to the product page, and the click recorded.
    let (status, location, _) = request(http, "GET", &path).await?;
    ensure!(
        (status, location.as_str()) == (302, PRODUCT_URL),
        "GET: {status} {location}"
    );
    let e = clicks(&admin, "ann", 1).await?;
    ensure!(e.clicks.len() == 1, "the HEAD did not count: {e:?}");
    let c = &e.clicks[0];
    ensure!(
        (c.entry_seq, c.link, c.scenario.as_str(), c.channel.as_str())
            == (entry, 0, "back_in_stock", "email")
            && c.skus == ["mug"],
        "{c:?}"
    );
    let email = e.channels.iter().find(|ch| ch.channel == "email");
    ensure!(
        email.is_some_and(|ch| ch.last_click_ms == c.at_ms && ch.marketing_since_engaged == 0),
        "{e:?}"
    );

    // Tampered: one character changed → 400, no redirect.
    // The last character one step along the alphabet: it differs in the bits past the
    // last byte (a regression: those were once ignored, and the token still opened).
    const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = token.chars().last().context("empty token")?;
    let i = A.find(last).context("not base64url")?;
    let bad = format!("{}{}", &token[..token.len() - 1], &A[(i ^ 1)..=(i ^ 1)]);
    let (status, location, body) = request(http, "GET", &format!("/c/{bad}")).await?;
    ensure!(
        status == 400 && location.is_empty(),
        "tampered: {status} {location} {body}"
    );
    // Another index of this message, signed right: the message has no link there.
    let (status, location, _) = request(http, "GET", &format!("/c/{}", signed(entry, 1))).await?;
    ensure!(
        status == 400 && location.is_empty(),
        "link 1: {status} {location}"
    );
    // Another seq under this message's MAC.
    let mut spliced = payload(entry + 1, 0);
    spliced.extend_from_slice(&mac(&payload(entry, 0)));
    let (status, location, _) =
        request(http, "GET", &format!("/c/{}", encode_url(&spliced))).await?;
    ensure!(
        status == 400 && location.is_empty(),
        "spliced: {status} {location}"
    );
    // A message the daemon does not hold (signed right): 410 with the shop's home link.
    let (status, location, body) =
        request(http, "GET", &format!("/c/{}", signed(entry + 1_000, 0))).await?;
    ensure!(
        status == 410 && location.is_empty() && body.contains("https://shop.example/"),
        "gone: {status} {location} {body}"
    );
    // Only GET and HEAD.
    let (status, _, _) = request(http, "POST", &path).await?;
    ensure!(status == 405, "POST: {status}");

    // None of those counted. The link followed again is still one click, at its new
    // time (the marker that everything before it was recorded).
    let first_at = c.at_ms;
    let (status, _, _) = request(http, "GET", &path).await?;
    ensure!(status == 302, "second click: {status}");
    let e = poll_until(WAIT, || async {
        let e = engagement(&admin, "ann").await?;
        ensure!(
            e.clicks.first().is_some_and(|c| c.at_ms > first_at),
            "the second click is not in yet: {e:?}"
        );
        Ok(e)
    })
    .await?;
    ensure!(e.clicks.len() == 1 && e.scanner_clicks == 0, "{e:?}");
    Ok(())
}

/// With `[engagement] click_tracking = false` the mail carries the shop's own link and
/// the redirector does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_off_leaves_links_alone() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp).set("engagement", "click_tracking", false)).await?;
    let mut ingest = daemon.ingest_client().await?;
    restock_mail_for_ann(&mut ingest).await?;
    let text = smtp.wait_for(1, WAIT).await?.remove(0).text();
    ensure!(
        text.contains(PRODUCT_URL) && !text.contains("/c/"),
        "{text}"
    );
    let (status, location, _) =
        request(daemon.http_addr()?, "GET", &format!("/c/{}", signed(1, 0))).await?;
    ensure!(status == 404 && location.is_empty(), "{status} {location}");
    Ok(())
}
