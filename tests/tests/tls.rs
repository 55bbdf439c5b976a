//! gRPC over TLS and mTLS against a real stockbelld, with certificates made at test time
//! (rcgen): a client with a good certificate and no token can Publish and call Admin; a
//! certificate named only for Ingest is refused on Admin; without a certificate the
//! handshake fails (required) or a token is needed (optional); a certificate from
//! another CA and a plain-text client are refused; the console works over mTLS; and an
//! SMTP relay with a certificate from the test CA is trusted with `email.smtp.ca_file`
//! (and refused without it).

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::pb::{ListOutboxRequest, WatchOverviewRequest};
use stockbell_tests::tls::TestPki;
use stockbell_tests::tmux::{console_bin, Tmux};
use stockbell_tests::{
    catalog, poll_until, product, publish_ok, sold_out_with_waiter, stock_set, upsert, AdminClient,
    Daemon, DaemonOptions, IngestClient, Sequencer, SmtpServer,
};
use tonic::transport::ClientTlsConfig;
use tonic::Code;

const INGEST_TOKEN: &str = "ingest-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789";

fn names() -> &'static str {
    "[auth]\ningest_client_names = [\"shop\"]\nadmin_client_names = [\"ops\"]\n"
}

/// Publish one product over `ingest`; the status code when refused.
async fn try_publish(ingest: &mut IngestClient, producer: &str, sku: &str) -> Result<(), Code> {
    let mut seq = Sequencer::new(producer);
    match ingest
        .publish(seq.batch(vec![upsert(catalog(sku, 1980))]))
        .await
    {
        Ok(_) => Ok(()),
        Err(s) => {
            eprintln!("publish refused: {:?} {}", s.code(), s.message());
            Err(s.code())
        }
    }
}

/// A client that must not get through: the TLS connection or its first call fails at
/// the transport (not with an auth status, which would mean the handshake passed).
async fn refused_at_handshake(daemon: &Daemon, tls: ClientTlsConfig, what: &str) -> Result<()> {
    let channel = match daemon.tls_channel(tls).await {
        Err(e) => {
            eprintln!("{what}: connect failed as expected: {e:#}");
            return Ok(());
        }
        Ok(c) => c,
    };
    let mut ingest = stockbell_tests::pb::ingest_client::IngestClient::new(channel);
    let mut seq = Sequencer::new("nobody");
    match ingest
        .publish(seq.batch(vec![upsert(catalog("x", 1))]))
        .await
    {
        Ok(_) => bail!("{what}: the call went through"),
        Err(s) => {
            ensure!(
                !matches!(
                    s.code(),
                    Code::PermissionDenied | Code::Unauthenticated | Code::Ok
                ),
                "{what}: expected a transport failure, got {:?}: {}",
                s.code(),
                s.message()
            );
            eprintln!(
                "{what}: refused as expected: {:?} {}",
                s.code(),
                s.message()
            );
            Ok(())
        }
    }
}

/// A plain-text (h2c) client cannot talk to the TLS server.
async fn plain_text_fails(daemon: &Daemon) -> Result<()> {
    let result = async {
        let mut admin = daemon.admin_client_with_token(Some(ADMIN_TOKEN)).await?;
        product(&mut admin, "tee").await
    };
    match tokio::time::timeout(Duration::from_secs(20), result).await {
        Err(_) => Ok(()), // it hung in the handshake: not served either
        Ok(Err(e)) => {
            eprintln!("plain text refused as expected: {e:#}");
            Ok(())
        }
        Ok(Ok(p)) => bail!("a plain-text client got an answer: {p:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificates_in_place_of_tokens() -> Result<()> {
    let pki = TestPki::new(&["shop", "ops"])?;
    let daemon = Daemon::start(
        DaemonOptions::new()
            .toml(&pki.server_toml(Some("required")))
            .toml(names()),
    )
    .await?;

    // The shop's certificate, no token: Publish works.
    let mut ingest = daemon
        .tls_ingest_client(pki.client(Some("shop"))?, None)
        .await?;
    let mut seq = Sequencer::new("shop");
    publish_ok(&mut ingest, seq.batch(vec![upsert(catalog("tee", 1980))])).await?;
    // The operator's certificate, no token: Admin works.
    let mut admin = daemon
        .tls_admin_client(pki.client(Some("ops"))?, None)
        .await?;
    let tee = product(&mut admin, "tee").await?;
    ensure!(tee.sku == "tee", "{tee:?}");

    // Names map to roles: the shop's certificate is refused on Admin, and the operator's
    // on Ingest, naming the key.
    let mut wrong = daemon
        .tls_admin_client(pki.client(Some("shop"))?, None)
        .await?;
    let s = wrong
        .get_product(stockbell_tests::pb::GetProductRequest { sku: "tee".into() })
        .await
        .expect_err("shop on Admin");
    ensure!(
        s.code() == Code::PermissionDenied && s.message().contains("auth.admin_client_names"),
        "{:?}: {}",
        s.code(),
        s.message()
    );
    let mut wrong = daemon
        .tls_ingest_client(pki.client(Some("ops"))?, None)
        .await?;
    ensure!(
        try_publish(&mut wrong, "ops", "mug").await == Err(Code::PermissionDenied),
        "ops on Ingest must be refused"
    );

    // No certificate: the handshake fails (a token would not help).
    refused_at_handshake(&daemon, pki.client(None)?, "no certificate").await?;
    // A certificate for "shop" from another CA.
    refused_at_handshake(&daemon, pki.rogue("shop")?, "another CA").await?;
    // Plain text.
    plain_text_fails(&daemon).await?;

    // The good clients still work afterwards.
    let again = product(&mut admin, "tee").await?;
    ensure!(again.sku == "tee", "{again:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_or_a_token() -> Result<()> {
    let pki = TestPki::new(&["shop", "ops"])?;
    let daemon = Daemon::start(
        DaemonOptions::new()
            .toml(&pki.server_toml(Some("optional")))
            .toml(names())
            .auth(INGEST_TOKEN, ADMIN_TOKEN),
    )
    .await?;

    // TLS without a certificate and without a token: refused by the auth check.
    let mut anon = daemon.tls_ingest_client(pki.client(None)?, None).await?;
    ensure!(
        try_publish(&mut anon, "anon", "tee").await == Err(Code::Unauthenticated),
        "no certificate, no token"
    );
    // Without a certificate, the token suffices.
    let mut with_token = daemon
        .tls_ingest_client(pki.client(None)?, Some(INGEST_TOKEN))
        .await?;
    ensure!(try_publish(&mut with_token, "tok", "tee").await.is_ok());
    // The certificate alone suffices too.
    let mut with_cert = daemon
        .tls_ingest_client(pki.client(Some("shop"))?, None)
        .await?;
    ensure!(try_publish(&mut with_cert, "cert", "mug").await.is_ok());
    let mut admin = daemon
        .tls_admin_client(pki.client(None)?, Some(ADMIN_TOKEN))
        .await?;
    ensure!(product(&mut admin, "mug").await?.sku == "mug");
    // The shop's certificate without the admin token is refused on Admin.
    let mut shop_admin = daemon
        .tls_admin_client(pki.client(Some("shop"))?, None)
        .await?;
    let s = shop_admin
        .get_product(stockbell_tests::pb::GetProductRequest { sku: "mug".into() })
        .await
        .expect_err("shop on Admin");
    ensure!(
        s.code() == Code::PermissionDenied,
        "{:?}: {}",
        s.code(),
        s.message()
    );

    // A certificate from another CA is refused even though certificates are optional.
    refused_at_handshake(&daemon, pki.rogue("shop")?, "another CA").await?;
    plain_text_fails(&daemon).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_over_mtls() -> Result<()> {
    let pki = TestPki::new(&["ops"])?;
    let daemon = Daemon::start(
        DaemonOptions::new()
            .toml(&pki.server_toml(Some("required")))
            .toml("[auth]\nadmin_client_names = [\"ops\"]\n"),
    )
    .await?;
    // The daemon answers the operator's certificate before the console tries.
    let admin: AdminClient = daemon
        .tls_admin_client(pki.client(Some("ops"))?, None)
        .await?;
    admin
        .clone()
        .watch_overview(WatchOverviewRequest { interval_ms: 200 })
        .await
        .context("WatchOverview over mTLS")?;
    let log = pki.path("console.log");
    let term = Tmux::start(
        &format!(
            "exec {} --addr 127.0.0.1:{} --tls-ca {} --tls-cert {} --tls-key {} --log-file {}",
            console_bin()?.display(),
            daemon.addr().port(),
            pki.path("ca.pem").display(),
            pki.path("client-ops.pem").display(),
            pki.path("client-ops-key.pem").display(),
            log.display()
        ),
        120,
        40,
    )?;
    let screen = term
        .wait_for("connected", Duration::from_secs(20), |s| {
            s.contains("● connected") && s.contains("events/s")
        })
        .await?;
    ensure!(screen.contains("health ok"), "{screen}");
    term.keys(&["q"])?;
    poll_until(Duration::from_secs(10), || async {
        ensure!(term.exited()?, "the console still runs");
        Ok(())
    })
    .await?;
    Ok(())
}

/// One mail to send: a customer waiting for "tee", then the restock.
async fn one_mail(daemon: &Daemon) -> Result<()> {
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    publish_ok(
        &mut ingest,
        seq.batch(sold_out_with_waiter("tee", 1980, "c1", "c1@example.jp")),
    )
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;
    Ok(())
}

fn smtp_options(smtp: &SmtpServer, ca_file: Option<&std::path::Path>) -> DaemonOptions {
    let mut email = format!(
        "[email]\nfrom = \"Shop <news@shop.example>\"\n\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\ntimeout = \"5s\"\n",
        smtp.port()
    );
    if let Some(ca) = ca_file {
        email.push_str(&format!("ca_file = {:?}\n", ca.display().to_string()));
    }
    DaemonOptions::new()
        .toml(&email)
        .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"\nmax_attempts = 100")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_trusts_the_ca_file() -> Result<()> {
    let pki = TestPki::new(&[])?;
    let smtp = SmtpServer::start_tls(&pki.path("server.pem"), &pki.path("server-key.pem")).await?;

    // Without ca_file the relay's certificate (from the test CA) is not trusted.
    let daemon = Daemon::start(smtp_options(&smtp, None)).await?;
    let admin = daemon.admin_client().await?;
    one_mail(&daemon).await?;
    poll_until(Duration::from_secs(30), || async {
        let entries = admin
            .clone()
            .list_outbox(ListOutboxRequest::default())
            .await?
            .into_inner()
            .entries;
        ensure!(
            entries
                .iter()
                .any(|e| e.last_error.to_lowercase().contains("certificate")),
            "no certificate error yet: {:?}",
            entries
                .iter()
                .map(|e| (&e.status, &e.last_error))
                .collect::<Vec<_>>()
        );
        Ok(())
    })
    .await?;
    ensure!(
        smtp.messages().is_empty(),
        "a mail got through an untrusted relay"
    );
    drop(daemon);

    // With the CA file it is delivered over STARTTLS.
    let daemon = Daemon::start(smtp_options(&smtp, Some(&pki.path("ca.pem")))).await?;
    one_mail(&daemon).await?;
    let mails = smtp.wait_for(1, Duration::from_secs(30)).await?;
    ensure!(
        mails[0].to == vec!["c1@example.jp".to_string()],
        "{:?}",
        mails[0].to
    );
    Ok(())
}

#[test]
fn check_config_and_start_refuse_a_key_that_is_not_the_certificates() -> Result<()> {
    let pki = TestPki::new(&["shop"])?;
    let text = format!(
        "[server.tls]\ncert = {:?}\nkey = {:?}\n",
        pki.path("server.pem").display().to_string(),
        pki.path("client-shop-key.pem").display().to_string()
    );
    let file = pki.path("mismatch.toml");
    std::fs::write(&file, &text)?;
    let out = stockbell_tests::check_config(&file)?;
    ensure!(
        !out.status.success()
            && out.text().contains("server.tls.key")
            && out.text().contains("is not the private key"),
        "check-config: {}",
        out.text()
    );
    // The same file for the good key passes.
    let good = pki.path("good.toml");
    std::fs::write(&good, text.replace("client-shop-key.pem", "server-key.pem"))?;
    let out = stockbell_tests::check_config(&good)?;
    ensure!(out.status.success(), "check-config: {}", out.text());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refuses_to_start_with_an_unreadable_certificate() -> Result<()> {
    let refused = Daemon::start_expecting_refusal(DaemonOptions::new().toml(
        "[server.tls]\ncert = \"/nonexistent/server.pem\"\nkey = \"/nonexistent/key.pem\"\n",
    ))
    .await?;
    ensure!(
        !refused.status.success()
            && refused.log.contains("server.tls.cert")
            && refused.log.contains("cannot read /nonexistent/server.pem"),
        "{}",
        refused.log
    );
    Ok(())
}
