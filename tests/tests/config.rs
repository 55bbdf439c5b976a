//! Configuration: `check-config` accepts the shipped example and names an unknown key; a
//! non-loopback listener without auth tokens is refused; with tokens configured a call
//! without (or with the wrong) bearer token is UNAUTHENTICATED and with it succeeds.

use anyhow::{anyhow, ensure, Result};
use stockbell_tests::pb::GetProducerRequest;
use stockbell_tests::{
    batch, catalog, check_config, expect_code, last_sequence, publish_ok, upsert, Daemon,
    DaemonOptions,
};
use tonic::Code;

#[test]
fn check_config_accepts_the_example() -> Result<()> {
    let example = stockbell_tests::crate_dir().join("../deploy/stockbelld.toml");
    let out = check_config(&example)?;
    ensure!(out.status.success(), "check-config failed: {}", out.text());
    ensure!(
        out.stdout.contains("ok"),
        "no \"ok\" on stdout: {}",
        out.text()
    );
    Ok(())
}

#[test]
fn check_config_names_an_unknown_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    for (name, text, key) in [
        ("key.toml", "[triggers]\nlow_stok_qty = 3\n", "low_stok_qty"),
        ("section.toml", "[trigers]\nlow_stock_qty = 3\n", "trigers"),
        (
            "order.toml",
            "[scenarios.shipped]\nupdate_every = \"1d\"\n",
            "scenarios.shipped: update_every is not a setting of shipped",
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text)?;
        let out = check_config(&file)?;
        ensure!(!out.status.success(), "{name}: accepted: {}", out.text());
        ensure!(
            out.text().contains(key),
            "{name}: error does not name {key}: {}",
            out.text()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_listener_without_tokens_is_refused() -> Result<()> {
    // The daemon must refuse before binding; the harness kills it if it ever gets ready.
    let opts = DaemonOptions::new().set("server", "listen", "0.0.0.0:0");
    let refused = Daemon::start_expecting_refusal(opts).await?;
    ensure!(!refused.status.success(), "exited {} ", refused.status);
    ensure!(
        refused.log.to_lowercase().contains("auth"),
        "the error does not mention auth:\n{}",
        refused.log
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_required_when_configured() -> Result<()> {
    // The daemon wants tokens of at least 16 characters.
    const INGEST: &str = "ingest-token-aaaaaaaa";
    const ADMIN: &str = "admin-token-bbbbbbbbb";
    let daemon = Daemon::start(DaemonOptions::new().auth(INGEST, ADMIN)).await?;
    let b = || batch("auth", 1, vec![upsert(catalog("au-a", 100))]);
    let producer = || GetProducerRequest {
        producer_id: "auth".into(),
    };

    for token in [None, Some(ADMIN), Some("wrong-token-cccccccc")] {
        let mut ingest = daemon.ingest_client_with_token(token).await?;
        expect_code(ingest.publish(b()).await, &[Code::Unauthenticated])
            .map_err(|e| anyhow!("Publish with token {token:?}: {e}"))?;
    }
    for token in [None, Some(INGEST), Some("wrong-token-cccccccc")] {
        let mut admin = daemon.admin_client_with_token(token).await?;
        expect_code(
            admin.get_producer(producer()).await,
            &[Code::Unauthenticated],
        )
        .map_err(|e| anyhow!("GetProducer with token {token:?}: {e}"))?;
    }

    let mut ingest = daemon.ingest_client().await?; // sends INGEST
    let mut admin = daemon.admin_client().await?; // sends ADMIN
    let ack = publish_ok(&mut ingest, b()).await?;
    ensure!(!ack.duplicate, "a refused call applied its batch: {ack:?}");
    ensure!(last_sequence(&mut admin, "auth").await? == 1);
    Ok(())
}
