//! The real `stockbell-console` in a real terminal (tmux) against a real `stockbelld`:
//! the overview shows non-zero rates while events flow; disabling a scenario from the
//! console stops its sends (checked at the daemon); killing and restarting the daemon
//! shows the disconnected state, then the console recovers by itself; the Orders view
//! shows a backorder on the board, then the customer's cancel request (made through the
//! link in the confirmation mail) in its panel, and Enter on it opens the order; `q`
//! quits.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{ListScenariosRequest, ProductUpsert};
use stockbell_tests::tmux::{console_bin, Tmux};
use stockbell_tests::web::{cancel_path, http};
use stockbell_tests::{
    catalog, customer, fanned_out, notify_me, order_placed, poll_until, publish_ok, sale,
    scenario_stats, shopper, stock_set, upsert, AdminClient, Daemon, DaemonOptions, Sequencer,
};

/// A free loopback port, so the restarted daemon listens where the console looks.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The number after `label` on the screen (e.g. "events/s 1234").
fn number_after(screen: &str, label: &str) -> Option<f64> {
    let rest = &screen[screen.find(label)? + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

/// The cancel link of the first mail in `dir` that has one.
fn cancel_link_in(dir: &std::path::Path) -> Result<String> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "eml") {
            let raw = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
            if let Some(link) = cancel_path(&raw) {
                return Ok(link);
            }
        }
    }
    anyhow::bail!("no mail with a cancel link in {} yet", dir.display())
}

/// The back_in_stock row of the scenarios table.
fn scenario_row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        l.split_whitespace()
            .any(|w| w == name || w.trim_start_matches('>') == name)
    })
}

async fn enabled(admin: &AdminClient, name: &str) -> Result<bool> {
    let list = admin
        .clone()
        .list_scenarios(ListScenariosRequest {})
        .await?
        .into_inner();
    list.scenarios
        .iter()
        .find(|s| s.scenario == name)
        .map(|s| s.enabled)
        .context("scenario listed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_watches_steers_and_survives_a_daemon_restart() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let port = free_port()?;
    let mut daemon = Daemon::start(
        DaemonOptions::new()
            .set("server", "listen", format!("127.0.0.1:{port}"))
            .set(
                "email",
                "eml_dir",
                tmp.path().join("eml").display().to_string(),
            )
            .set("rules", "arbitration_window", "0s")
            .set("rules", "quiet_start", "00:00")
            .set("rules", "quiet_end", "00:00"),
    )
    .await?;
    let console = console_bin()?;
    let log = tmp.path().join("console.log");
    let term = Tmux::start(
        &format!(
            "exec {} --addr 127.0.0.1:{port} --log-file {}",
            console.display(),
            log.display()
        ),
        120,
        40,
    )?;
    term.wait_for("connected", Duration::from_secs(20), |s| {
        s.contains("● connected")
    })
    .await?;

    // Events flow for a while: the overview's event rate goes above zero.
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut events = vec![
        upsert(catalog("tee", 1980)),
        stock_set("tee", 1),
        sale("tee", 1),
    ];
    for i in 0..50 {
        let id = format!("c{i}");
        events.push(customer(&id, &format!("{id}@example.jp")));
        events.push(notify_me(&id, "tee"));
    }
    publish_ok(&mut ingest, seq.batch(events)).await?;
    let flow = {
        let mut ingest = ingest.clone();
        let mut seq = Sequencer::new("traffic");
        tokio::spawn(async move {
            for i in 0..60 {
                let batch: Vec<_> = (0..200)
                    .map(|j| upsert(catalog(&format!("p{}", (i * 200 + j) % 500), 500)))
                    .collect();
                if publish_ok(&mut ingest, seq.batch(batch)).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let screen = term
        .wait_for("a non-zero event rate", Duration::from_secs(20), |s| {
            number_after(s, "events/s").is_some_and(|n| n > 0.0)
        })
        .await?;
    ensure!(screen.contains("health ok"), "{screen}");
    flow.await?;

    // Disable back in stock from the Scenarios view and confirm.
    let admin = daemon.admin_client().await?;
    ensure!(enabled(&admin, "back_in_stock").await?);
    term.keys(&["2"])?;
    term.wait_for("the scenarios table", Duration::from_secs(10), |s| {
        scenario_row(s, "back_in_stock").is_some_and(|r| r.contains(" on "))
    })
    .await?;
    // back_in_stock is the first row and selected on entry.
    term.keys(&["e"])?;
    term.wait_for("the confirmation", Duration::from_secs(10), |s| {
        s.contains("Disable back_in_stock?")
    })
    .await?;
    term.keys(&["y"])?;
    poll_until(Duration::from_secs(10), || async {
        ensure!(!enabled(&admin, "back_in_stock").await?, "still enabled");
        Ok(())
    })
    .await?;
    term.wait_for("the row to say off", Duration::from_secs(10), |s| {
        scenario_row(s, "back_in_stock").is_some_and(|r| r.contains(" off "))
    })
    .await?;

    // A restock now reaches nobody: the fan-out passes it over.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 30)])).await?;
    fanned_out(&admin, 1, Duration::from_secs(15)).await?;
    let bis = scenario_stats(&admin, "back_in_stock").await?;
    ensure!(
        bis.triggered == 1 && bis.audience == 0 && bis.queued == 0 && bis.sent == 0,
        "{bis:?}"
    );

    // The daemon dies: the console says so, and recovers once it is back.
    daemon.kill9().await?;
    term.wait_for("the disconnected state", Duration::from_secs(20), |s| {
        s.contains("○ disconnected")
    })
    .await?;
    daemon.restart().await?;
    term.wait_for("the reconnection", Duration::from_secs(30), |s| {
        s.contains("● connected")
    })
    .await?;
    // The operator's change outlived the crash, and the console shows it.
    term.wait_for("back_in_stock still off", Duration::from_secs(10), |s| {
        scenario_row(s, "back_in_stock").is_some_and(|r| r.contains(" off "))
    })
    .await?;

    // A line waits for a sold-out backorderable product: the Orders view's board has it.
    let mut ingest = daemon.ingest_client().await?;
    let kettle = ProductUpsert {
        imported: true,
        backorderable: true,
        ..catalog("kettle", 4800)
    };
    // An English reader: the confirmation's text is plain ASCII, its cancel link readable.
    let order = order_placed("o1", "buyer", &[("1", "kettle", 2)]);
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            upsert(kettle),
            stock_set("kettle", 0),
            shopper("buyer"),
            order,
        ]),
    )
    .await?;
    term.keys(&["6"])?;
    term.wait_for("the kettle on the board", Duration::from_secs(15), |s| {
        s.contains("backorder board (1 SKU)")
            && s.lines()
                .any(|l| l.contains("kettle") && l.contains("1/2u"))
    })
    .await?;

    // The buyer asks to cancel through the link in the backorder confirmation: the requests
    // panel shows it at the next refresh, and Enter on it opens the order.
    let eml = tmp.path().join("eml");
    let link = poll_until(Duration::from_secs(15), || async { cancel_link_in(&eml) }).await?;
    let token = link.trim_start_matches("/cancel?token=");
    let (status, page) = http(
        daemon.http_addr()?,
        "POST",
        "/cancel",
        &format!("token={token}"),
    )
    .await?;
    ensure!(status == 200, "POST /cancel {status}: {page}");
    term.wait_for("the request in its panel", Duration::from_secs(15), |s| {
        s.contains("cancellation requests (1 request)")
            && s.lines()
                .any(|l| l.contains("o1") && l.contains("buyer") && l.contains("1 waiting"))
    })
    .await?;
    term.keys(&["s", "s", "Enter"])?;
    term.wait_for("the requested order's page", Duration::from_secs(15), |s| {
        s.contains("order o1") && s.contains("lines (1)")
    })
    .await?;
    term.keys(&["Escape"])?;
    term.wait_for("the lists again", Duration::from_secs(10), |s| {
        s.contains("▶ cancellation requests (1 request)")
    })
    .await?;

    // Key 7: the Segments view, every customer first with its live size.
    term.keys(&["7"])?;
    term.wait_for("the Segments view", Duration::from_secs(10), |s| {
        s.contains("7 Segments") && s.contains("┌ segments") && s.contains("all customers")
    })
    .await?;

    term.keys(&["q"])?;
    poll_until(Duration::from_secs(10), || async {
        ensure!(term.exited()?, "the console is still running");
        Ok(())
    })
    .await?;
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    ensure!(!logged.is_empty(), "the console logged nothing to its file");
    Ok(())
}
