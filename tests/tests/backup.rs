//! Online backup and offline restore against real daemons: a backup taken with
//! `stockbelld backup` while `stockbell-load stream` feeds the daemon, restored with
//! `stockbelld restore` into a new data dir, holds exactly the state at the backup's
//! producer sequence. Also: the admin token is required, an existing target is refused,
//! a tampered backup is not restored.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::launch::sibling_bin;
use stockbell_tests::{
    last_sequence, pb, poll_until, product, stockbelld_bin, CliOutput, Daemon, DaemonOptions,
    Process,
};
use tonic::Code;

const INGEST: &str = "ingest-token-backup-000001";
const ADMIN: &str = "admin-token-backup-0000001";
const PRODUCER: &str = "backup-stream";
const PRODUCTS: u64 = 7;
const EVENTS: u64 = 3000;
const BATCH: u64 = 10;
/// The stream's last batch: the catalogue, then EVENTS / BATCH batches of stock.
const LAST_SEQ: u64 = 1 + EVENTS.div_ceil(BATCH);

/// The stock of `p-i` once batch `seq` is applied (see `stockbell-load stream`): the
/// largest k <= (seq - 1) * BATCH (at most EVENTS) with k mod PRODUCTS = i, or 0.
fn stock_at(i: u64, seq: u64) -> i64 {
    let applied = (seq.saturating_sub(1) * BATCH).min(EVENTS);
    (1..=applied)
        .rev()
        .find(|k| k % PRODUCTS == i)
        .map_or(0, |k| k as i64)
}

fn opts() -> DaemonOptions {
    DaemonOptions::new().auth(INGEST, ADMIN)
}

async fn stockbelld(args: Vec<String>) -> Result<CliOutput> {
    let bin = stockbelld_bin()?;
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&bin)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running stockbelld {args:?}"))?;
        Ok(CliOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    })
    .await?
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The sequence a `producer X sequence N` line of a summary names for PRODUCER.
fn sequence_in(summary: &str) -> Option<u64> {
    summary.lines().find_map(|l| {
        l.strip_prefix(&format!("producer {PRODUCER} sequence "))
            .and_then(|n| n.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_during_a_stream_restores_the_state_at_its_sequence() -> Result<()> {
    let mut daemon = Daemon::start(opts()).await?;
    let work = tempfile::tempdir()?;
    let mut admin = daemon.admin_client().await?;

    // stockbell-load streams to this daemon as a separate process.
    let load = sibling_bin("stockbell-load")?;
    let mut stream = Process::spawn(
        "stockbell-load stream",
        Command::new(&load)
            .args(["stream", "--addr", &daemon.addr().to_string()])
            .args(["--token", INGEST, "--producer", PRODUCER])
            .args(["--products", &PRODUCTS.to_string()])
            .args([
                "--events",
                &EVENTS.to_string(),
                "--batch",
                &BATCH.to_string(),
            ])
            .args(["--pause-ms", "20"])
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    )?;
    poll_until(Duration::from_secs(60), || {
        let mut admin = admin.clone();
        async move {
            let seq = last_sequence(&mut admin, PRODUCER).await?;
            ensure!(seq >= 30, "the stream is at {seq}");
            Ok(())
        }
    })
    .await?;

    // The backup, through the CLI, with the address and token from a config file.
    let cfg = work.path().join("client.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"{}\"\n[auth]\nadmin_tokens = [\"{ADMIN}\"]\n",
            daemon.addr()
        ),
    )?;
    let bk = work.path().join("bk");
    let out = stockbelld(vec![
        "backup".into(),
        "--to".into(),
        s(&bk),
        "--config".into(),
        s(&cfg),
    ])
    .await?;
    ensure!(out.status.success(), "backup failed: {}", out.text());
    let at = sequence_in(&out.stdout).context(out.text())?;
    eprintln!("{}", out.stdout.trim_end());
    assert!(bk.join("stockbell-backup.json").is_file());

    // The stream goes on past the backup and ends.
    let status = stream
        .wait_exit(Duration::from_secs(180))
        .await?
        .context("the stream did not finish")?;
    ensure!(status.success(), "stockbell-load stream failed: {status}");
    assert_eq!(last_sequence(&mut admin, PRODUCER).await?, LAST_SEQ);
    assert!(
        at < LAST_SEQ,
        "the backup ({at}) came after the stream ended"
    );
    assert!(
        at >= 30,
        "the backup ({at}) came before the stream was at 30"
    );

    // The same target again: refused, naming dir; the backup is untouched.
    let again = stockbelld(vec![
        "backup".into(),
        "--to".into(),
        s(&bk),
        "--addr".into(),
        daemon.addr().to_string(),
        "--token".into(),
        ADMIN.into(),
    ])
    .await?;
    assert!(!again.status.success());
    assert!(
        again.stderr.contains("FailedPrecondition"),
        "{}",
        again.text()
    );
    assert!(again.stderr.contains("dir:"), "{}", again.text());
    assert!(again.stderr.contains("already exists"), "{}", again.text());
    // A missing parent: refused, nothing created.
    let orphan = work.path().join("no/such/bk");
    let e = admin
        .create_backup(pb::CreateBackupRequest { dir: s(&orphan) })
        .await
        .expect_err("missing parent");
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(!work.path().join("no").exists());
    // A relative dir: INVALID_ARGUMENT.
    let e = admin
        .create_backup(pb::CreateBackupRequest {
            dir: "rel/bk".into(),
        })
        .await
        .expect_err("relative");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    // Without the admin token: UNAUTHENTICATED, nothing written.
    let mut anon = daemon.admin_client_with_token(None).await?;
    let anon_dir = work.path().join("anon");
    let e = anon
        .create_backup(pb::CreateBackupRequest { dir: s(&anon_dir) })
        .await
        .expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert!(!anon_dir.exists());

    // Offline restore: refused while the daemon holds the data dir.
    let live = daemon.dir().join("data");
    let held = stockbelld(vec![
        "restore".into(),
        "--from".into(),
        s(&bk),
        "--data-dir".into(),
        s(&live),
        "--force".into(),
    ])
    .await?;
    assert!(!held.status.success());
    assert!(held.stderr.contains("in use"), "{}", held.text());
    daemon.terminate().await?;

    // A tampered copy of the backup is refused before anything is copied.
    let tampered = work.path().join("tampered");
    std::fs::create_dir(&tampered)?;
    for entry in std::fs::read_dir(&bk)? {
        let entry = entry?;
        std::fs::copy(entry.path(), tampered.join(entry.file_name()))?;
    }
    let victim = std::fs::read_dir(&tampered)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sst"))
        .context("the backup has an SST file")?;
    let mut bytes = std::fs::read(&victim)?;
    bytes[0] ^= 0xFF;
    std::fs::write(&victim, &bytes)?;
    let refused_target = work.path().join("refused");
    let refused = stockbelld(vec![
        "restore".into(),
        "--from".into(),
        s(&tampered),
        "--data-dir".into(),
        s(&refused_target),
    ])
    .await?;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("SHA-256"), "{}", refused.text());
    assert!(!refused_target.exists());

    // The real restore.
    let restored = work.path().join("restored");
    let out = stockbelld(vec![
        "restore".into(),
        "--from".into(),
        s(&bk),
        "--data-dir".into(),
        s(&restored),
    ])
    .await?;
    ensure!(out.status.success(), "restore failed: {}", out.text());
    assert_eq!(sequence_in(&out.stdout), Some(at), "{}", out.text());

    let back = Daemon::start(opts().set("storage", "path", s(&restored))).await?;
    let mut admin = back.admin_client().await?;
    assert_eq!(last_sequence(&mut admin, PRODUCER).await?, at);
    let mut differs = false;
    for i in 0..PRODUCTS {
        let p = product(&mut admin, &format!("p-{i}")).await?;
        assert_eq!(p.stock, stock_at(i, at), "p-{i} at sequence {at}");
        differs |= p.stock != stock_at(i, LAST_SEQ);
    }
    assert!(differs, "the restored state equals the final one");
    Ok(())
}

#[test]
fn stock_at_by_hand() {
    // After batch 2 (k 1..10): p-0 = 7, p-1 = 8, p-3 = 10, p-4 = 4.
    assert_eq!(stock_at(0, 2), 7);
    assert_eq!(stock_at(1, 2), 8);
    assert_eq!(stock_at(3, 2), 10);
    assert_eq!(stock_at(4, 2), 4);
    assert_eq!(stock_at(2, 1), 0);
    // The end: k = 3000 is 3000 mod 7 = 4.
    assert_eq!(stock_at(4, LAST_SEQ), 3000);
}
