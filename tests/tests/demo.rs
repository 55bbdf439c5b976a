//! `stockbelld demo`: the daemon with its built-in shop comes up, the shop's catalogue and
//! customers arrive over the real Ingest API, triggers of several kinds fire, messages
//! are queued and written as `.eml` files; SIGTERM stops it cleanly, and a second run on
//! the same data directory continues the same producer's sequence without duplicates or
//! rejected events.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::pb::{admin_client, GetCustomerRequest, ListOutboxRequest, TriggerKind};
use stockbell_tests::{
    last_sequence, poll_until, product, stockbelld_bin, triggers, AdminClient, Bearer,
};
use tonic::transport::Endpoint;

const PRODUCER: &str = "demo-shop";

/// One `stockbelld demo` process; killed on drop if still running.
struct Demo {
    child: Child,
    addr: SocketAddr,
}

fn log_tail(dir: &Path) -> String {
    let text = fs::read_to_string(dir.join("demo.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

impl Demo {
    async fn start(dir: &Path) -> Result<Demo> {
        let ready = dir.join("ready");
        let _ = fs::remove_file(&ready);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("demo.log"))
            .context("opening demo.log")?;
        let mut child = Command::new(stockbelld_bin()?)
            .arg("demo")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--ready-file")
            .arg(&ready)
            .args(["--products", "300", "--customers", "2000", "--rate", "high"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning stockbelld demo")?;
        for _ in 0..600 {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "stockbelld demo exited ({status}) before it was ready\n{}",
                    log_tail(dir)
                );
            }
            if let Some(addr) = fs::read_to_string(&ready)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                return Ok(Demo { child, addr });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        bail!(
            "stockbelld demo was not ready within 60 s\n{}",
            log_tail(dir)
        )
    }

    async fn admin(&self) -> Result<AdminClient> {
        let channel = Endpoint::from_shared(format!("http://{}", self.addr))?
            .timeout(Duration::from_secs(60))
            .connect()
            .await?;
        Ok(admin_client::AdminClient::with_interceptor(
            channel,
            Bearer::new(None)?,
        ))
    }

    /// SIGTERM, then the exit status (within 30 s).
    async fn terminate(&mut self) -> Result<ExitStatus> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our unreaped child.
        ensure!(
            unsafe { libc::kill(pid, libc::SIGTERM) } == 0,
            "kill failed"
        );
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("stockbelld demo did not exit within 30 s of SIGTERM")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn eml_count(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_pipeline_is_alive_and_resumes_after_restart() -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("stockbell-demo-")
        .tempdir()?;
    let dir: PathBuf = tmp.path().to_owned();
    let result = run(&dir).await;
    if result.is_err() {
        // Keep the evidence.
        let kept = tmp.keep();
        eprintln!(
            "demo test failed; files kept in {}\n{}",
            kept.display(),
            log_tail(&kept)
        );
    }
    result
}

async fn run(dir: &Path) -> Result<()> {
    let mut demo = Demo::start(dir).await?;
    let mut admin = demo.admin().await?;

    // Customers arrive with the opening load (ids C000001 … C002000).
    poll_until(Duration::from_secs(60), || {
        let mut admin = admin.clone();
        async move {
            for id in ["C000001", "C002000"] {
                let req = GetCustomerRequest {
                    customer_id: id.into(),
                    email: String::new(),
                };
                let c = admin
                    .get_customer(req)
                    .await
                    .map_err(|s| anyhow::anyhow!("GetCustomer {id}: {}", s.message()))?;
                ensure!(
                    !c.into_inner().time_zone.is_empty(),
                    "{id} has no time zone"
                );
            }
            Ok(())
        }
    })
    .await?;

    // Triggers of several kinds; their products are readable JPY products.
    let fired = poll_until(Duration::from_secs(150), || {
        let mut admin = admin.clone();
        async move {
            let ts = triggers(&mut admin, None, None).await?;
            let kinds: BTreeSet<i32> = ts.iter().map(|t| t.kind).collect();
            ensure!(
                kinds.len() >= 3,
                "{} triggers of kinds {:?} so far",
                ts.len(),
                kinds
                    .iter()
                    .map(|&k| TriggerKind::try_from(k)
                        .map(|k| k.as_str_name())
                        .unwrap_or("?"))
                    .collect::<Vec<_>>()
            );
            Ok(ts)
        }
    })
    .await?;
    for t in fired.iter().take(5) {
        let p = product(&mut admin, &t.sku).await?;
        ensure!(p.currency == "JPY" && p.title.contains(" — "), "{p:?}");
    }

    // Messages are queued and written as .eml files.
    let eml = dir.join("data").join("outbox-eml");
    poll_until(Duration::from_secs(120), || {
        let mut admin = admin.clone();
        let eml = eml.clone();
        async move {
            let req = ListOutboxRequest {
                limit: 10,
                ..Default::default()
            };
            let n = admin
                .list_outbox(req)
                .await
                .map_err(|s| anyhow::anyhow!("ListOutbox: {}", s.message()))?
                .into_inner()
                .entries
                .len();
            let files = eml_count(&eml);
            ensure!(n > 0 && files > 0, "{n} outbox entries, {files} .eml files");
            Ok(())
        }
    })
    .await?;
    let seq_before = last_sequence(&mut admin, PRODUCER).await?;
    ensure!(seq_before > 0, "no batches from the demo shop");
    drop(admin);

    let status = demo.terminate().await?;
    ensure!(
        status.success(),
        "first run exited with {status}\n{}",
        log_tail(dir)
    );

    // Second run on the same data: the producer's sequence continues.
    let mut demo = Demo::start(dir).await?;
    let mut admin = demo.admin().await?;
    let resumed_at = last_sequence(&mut admin, PRODUCER).await?;
    ensure!(
        resumed_at >= seq_before,
        "sequence went back from {seq_before} to {resumed_at}"
    );
    poll_until(Duration::from_secs(30), || {
        let mut admin = admin.clone();
        async move {
            let now = last_sequence(&mut admin, PRODUCER).await?;
            ensure!(
                now > resumed_at + 20,
                "sequence {now}, was {resumed_at} at restart"
            );
            Ok(())
        }
    })
    .await?;
    drop(admin);
    let status = demo.terminate().await?;
    ensure!(
        status.success(),
        "second run exited with {status}\n{}",
        log_tail(dir)
    );

    let log = fs::read_to_string(dir.join("demo.log"))?;
    ensure!(
        log.contains("resumes where the last run stopped"),
        "the second run did not resume\n{}",
        log_tail(dir)
    );
    ensure!(
        log.matches("loading the catalogue").count() == 1,
        "the catalogue was loaded twice\n{}",
        log_tail(dir)
    );
    for bad in ["already applied", "refused demo events", "lost the daemon"] {
        ensure!(
            !log.contains(bad),
            "the demo log says {bad:?}\n{}",
            log_tail(dir)
        );
    }
    Ok(())
}
