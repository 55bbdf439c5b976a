//! `stockbelld demo`: the daemon with its built-in shop comes up, the shop's catalogue and
//! customers arrive over the real Ingest API, triggers of several kinds fire, messages
//! are queued and written as `.eml` files; the shop's orders appear (backorders on the
//! board, an order flagged past its promise with its automatic delay notice, shipping
//! notices); carts and checkouts are left and get their reminders, customers follow the
//! tracked links of their messages and some orders are credited to the clicked scenario,
//! a held-out share is kept from new arrivals; SIGTERM stops it cleanly, and a second run on
//! the same data directory continues the same producer's sequence without duplicates or
//! rejected events.

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::launch::spawn_ready;
use stockbell_tests::pb::{
    admin_client, GetCustomerRequest, GetOrderRequest, GetScenarioStatsRequest,
    ListBackordersRequest, ListOrdersRequest, ListOutboxRequest, TriggerKind,
};
use stockbell_tests::process::{log_tail, log_to};
use stockbell_tests::{
    last_sequence, poll_until, product, stockbelld_bin, triggers, AdminClient, Bearer, Process,
};
use tonic::transport::Endpoint;

const PRODUCER: &str = "demo-shop";

/// One `stockbelld demo` process; killed on drop if still running.
struct Demo {
    proc: Process,
    addr: SocketAddr,
}

fn demo_log(dir: &Path) -> String {
    log_tail(&dir.join("demo.log"), 40)
}

impl Demo {
    async fn start(dir: &Path) -> Result<Demo> {
        let ready = dir.join("ready");
        let mut cmd = Command::new(stockbelld_bin()?);
        cmd.arg("demo")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--ready-file")
            .arg(&ready)
            .args(["--products", "300", "--customers", "2000", "--rate", "high"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        log_to(&mut cmd, &dir.join("demo.log"))?;
        match spawn_ready("stockbelld demo", &mut cmd, &ready, Duration::from_secs(60)).await {
            Ok((proc, addr)) => Ok(Demo { proc, addr }),
            Err(e) => anyhow::bail!("{e:#}\n{}", demo_log(dir)),
        }
    }

    async fn admin(&self) -> Result<AdminClient> {
        let channel = Endpoint::from_shared(format!("http://{}", self.addr))?
            .timeout(Duration::from_secs(60))
            .connect()
            .await?;
        Ok(admin_client::AdminClient::with_interceptor(
            channel,
            Bearer::default(),
        ))
    }

    /// SIGTERM, then the exit status (within 30 s).
    async fn terminate(&mut self) -> Result<ExitStatus> {
        self.proc.terminate(Duration::from_secs(30)).await
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
            demo_log(&kept)
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
    orders_happen(&admin).await?;
    journeys_and_clicks_happen(&admin).await?;
    let seq_before = last_sequence(&mut admin, PRODUCER).await?;
    ensure!(seq_before > 0, "no batches from the demo shop");
    drop(admin);

    let status = demo.terminate().await?;
    ensure!(
        status.success(),
        "first run exited with {status}\n{}",
        demo_log(dir)
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
        demo_log(dir)
    );

    let log = fs::read_to_string(dir.join("demo.log"))?;
    ensure!(
        log.contains("resumes where the last run stopped"),
        "the second run did not resume\n{}",
        demo_log(dir)
    );
    ensure!(
        log.matches("loading the catalogue").count() == 1,
        "the catalogue was loaded twice\n{}",
        demo_log(dir)
    );
    for bad in [
        "already applied",
        "refused demo events",
        "lost the daemon",
        "click failed",
        "mail readers lost",
    ] {
        ensure!(
            !log.contains(bad),
            "the demo log says {bad:?}\n{}",
            demo_log(dir)
        );
    }
    Ok(())
}

/// The shop's orders reach the daemon: backorders wait on the board, an order whose
/// promise just passed is flagged with its automatic delay notice, orders ship.
async fn orders_happen(admin: &AdminClient) -> Result<()> {
    poll_until(Duration::from_secs(120), || {
        let mut admin = admin.clone();
        async move {
            let req = ListBackordersRequest::default();
            let rows = admin.list_backorders(req).await?.into_inner().rows;
            ensure!(
                rows.iter().any(|r| r.waiting_lines + r.allocated_lines > 0),
                "no backorder on the board yet: {rows:?}"
            );
            Ok(())
        }
    })
    .await?;
    poll_until(Duration::from_secs(120), || {
        let mut admin = admin.clone();
        async move {
            let flagged = admin
                .list_orders(ListOrdersRequest::default())
                .await?
                .into_inner()
                .orders;
            let order = flagged
                .first()
                .ok_or_else(|| anyhow::anyhow!("no order past its promise yet"))?;
            ensure!(order.lines.iter().any(|l| l.past_promise), "{order:?}");
            let req = GetOrderRequest {
                order_id: order.order_id.clone(),
            };
            let full = admin.get_order(req).await?.into_inner();
            ensure!(
                full.messages.iter().any(|m| m.scenario == "delayed"),
                "no delay notice for {}: {:?}",
                full.order_id,
                full.messages
            );
            Ok(())
        }
    })
    .await?;
    poll_until(Duration::from_secs(120), || {
        let mut admin = admin.clone();
        async move {
            let req = ListOutboxRequest {
                limit: 1000,
                ..Default::default()
            };
            let entries = admin.list_outbox(req).await?.into_inner().entries;
            ensure!(
                entries.iter().any(|e| e.scenario == "shipped"),
                "no shipping notice among the {} newest messages",
                entries.len()
            );
            Ok(())
        }
    })
    .await
}

/// Left carts and checkouts get their reminders (journeys), the demo's customers follow
/// tracked links (a real GET on the daemon's redirector) and some then order: those
/// orders are credited to the clicked message's scenario, with their revenue; new
/// arrivals keep a held-out share of the customers.
async fn journeys_and_clicks_happen(admin: &AdminClient) -> Result<()> {
    poll_until(Duration::from_secs(240), || {
        let mut admin = admin.clone();
        async move {
            let stats = admin
                .get_scenario_stats(GetScenarioStatsRequest {})
                .await?
                .into_inner()
                .scenarios;
            let reminders: u64 = stats
                .iter()
                .filter(|s| s.scenario.ends_with("_abandoned"))
                .map(|s| s.queued)
                .sum();
            let credited: Vec<(&str, u64)> = stats
                .iter()
                .filter(|s| s.attributed_orders > 0 && !s.revenue.is_empty())
                .map(|s| (s.scenario.as_str(), s.attributed_orders))
                .collect();
            let held = stats
                .iter()
                .find(|s| s.scenario == "new_arrival")
                .and_then(|s| s.holdout.as_ref())
                .map_or(0, |h| h.held_customers);
            ensure!(
                reminders > 0 && !credited.is_empty() && held > 0,
                "{reminders} cart / checkout reminders queued, attributed orders {credited:?}, \
                 {held} customers held out of new arrivals"
            );
            Ok(())
        }
    })
    .await
}
