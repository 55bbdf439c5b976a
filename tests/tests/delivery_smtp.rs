//! Email over real SMTP (aiosmtpd): a message queued while the mail server is down goes
//! out once it is back, its RFC 8058 one-click link unsubscribes the customer over the
//! daemon's HTTP server, and a refused address fails the entry and is suppressed.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{Event, GetCustomerRequest, ListOutboxRequest, OutboxEntry};
use stockbell_tests::{
    catalog, customer, notify_me, poll_until, publish_ok, sale, stock_set, upsert, AdminClient,
    Daemon, DaemonOptions, Sequencer, SmtpServer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"\nmax_attempts = 100")
        .set("rules", "arbitration_window", "0s")
        // No quiet hours: the test must not depend on the time of day.
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

/// Customers who asked to be told when "tee" is back, then the restock.
async fn restock_for(daemon: &Daemon, ids: &[&str]) -> Result<()> {
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut events: Vec<Event> = vec![
        upsert(catalog("tee", 1980)),
        stock_set("tee", 1),
        sale("tee", 1),
    ];
    for id in ids {
        events.push(customer(id, &format!("{id}@example.jp")));
        events.push(notify_me(id, "tee"));
    }
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;
    Ok(())
}

async fn outbox(admin: &AdminClient, status: &str) -> Result<Vec<OutboxEntry>> {
    let req = ListOutboxRequest {
        status: status.into(),
        ..Default::default()
    };
    Ok(admin.clone().list_outbox(req).await?.into_inner().entries)
}

async fn http_post(addr: SocketAddr, path: &str, body: &str) -> Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    Ok(reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_during_an_outage_then_one_click_unsubscribe() -> Result<()> {
    let mut smtp = SmtpServer::start(None).await?;
    smtp.stop().await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    restock_for(&daemon, &["wants"]).await?;

    // The mail server is down: the entry stays pending, not charged an attempt, and
    // says why it waits.
    poll_until(Duration::from_secs(20), || async {
        let pending = outbox(&admin, "pending").await?;
        ensure!(
            pending
                .iter()
                .any(|e| e.attempts == 0 && e.last_error.contains("SMTP")),
            "not tried yet: {pending:?}"
        );
        Ok(())
    })
    .await?;
    smtp.restart().await?;
    let msgs = smtp.wait_for(1, Duration::from_secs(20)).await?;
    let mail = &msgs[0];
    ensure!(mail.to == ["wants@example.jp"], "{:?}", mail.to);
    ensure!(!mail.subject.is_empty());
    ensure!(
        mail.headers
            .get("message-id")
            .is_some_and(|m| m.starts_with("<stockbell-")),
        "{:?}",
        mail.headers
    );
    ensure!(
        mail.headers.get("list-unsubscribe-post") == Some("List-Unsubscribe=One-Click"),
        "{:?}",
        mail.headers
    );
    let list = mail
        .headers
        .get("list-unsubscribe")
        .context("no List-Unsubscribe")?;
    let url = list
        .split(['<', '>'])
        .find(|s| s.starts_with("http"))
        .context("no http unsubscribe link")?;
    let path = &url[url.find("/unsubscribe").context("unsubscribe path")?..];
    poll_until(Duration::from_secs(10), || async {
        let delivered = outbox(&admin, "delivered").await?;
        ensure!(delivered.len() == 1, "{delivered:?}");
        Ok(())
    })
    .await?;

    // What a mail provider does for RFC 8058 one-click: POST, no cookies.
    let reply = http_post(daemon.http_addr()?, path, "List-Unsubscribe=One-Click").await?;
    ensure!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let c = admin
        .clone()
        .get_customer(GetCustomerRequest {
            customer_id: "wants".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(!c.consent_email, "still consenting: {c:?}");
    let reply = http_post(daemon.http_addr()?, "/unsubscribe?token=forged.token", "").await?;
    ensure!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_fails_and_is_suppressed() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    smtp.refuse_rcpt("bounce@example.jp", 550, "5.1.1 no such user")?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let admin = daemon.admin_client().await?;
    restock_for(&daemon, &["bounce", "fine"]).await?;

    let msgs = smtp.wait_for(1, Duration::from_secs(20)).await?;
    ensure!(msgs[0].to == ["fine@example.jp"], "{:?}", msgs[0].to);
    poll_until(Duration::from_secs(20), || async {
        let failed = outbox(&admin, "failed").await?;
        ensure!(
            failed.len() == 1 && failed[0].customer_id == "bounce" && failed[0].attempts == 1,
            "{failed:?}"
        );
        ensure!(failed[0].last_error.contains("550"), "{failed:?}");
        let c = admin
            .clone()
            .get_customer(GetCustomerRequest {
                customer_id: "bounce".into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        ensure!(c.suppressed == ["email"], "suppressed: {:?}", c.suppressed);
        Ok(())
    })
    .await?;
    ensure!(smtp.messages().len() == 1, "{:?}", smtp.messages());
    Ok(())
}
