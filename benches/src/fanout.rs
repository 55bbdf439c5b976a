//! `stockbell-load restock-fanout`: one restock of a product that N customers asked to
//! hear about, timed from the acknowledged stock event until all N decisions are in the
//! outbox.
//!
//! A fresh daemon decides at once (arbitration window 0, no quiet hours, the whole
//! back-in-stock audience released together). Its email goes to a black-hole SMTP server
//! by default (`--delivery hold`), so the dispatcher holds one entry and does not compete
//! for the CPU; `--delivery eml` writes `.eml` files meanwhile instead. The customers are
//! loaded first (one `customer_upsert` and one `notify_me` / `favourite` each), and that
//! is timed too. With `--cold` their actors are passivated before the restock (idle
//! timeout 1 s), so the fan-out also loads every customer from RocksDB.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Args;
use serde_json::json;
use stockbell_tests::poll::{give_up, poll_every};
use stockbell_tests::{overview_until, watch_overview};

use crate::admin::Admin;
use crate::daemon::{self, mib, set, BenchDir, Blackhole, Daemon, Delivery};
use crate::driver;
use crate::report::round2;
use crate::shop::{self, Interest, Producer};

/// The scenario a restock triggers.
const SCENARIO: &str = "back_in_stock";
/// How often the counters are polled while waiting for decisions.
const POLL: Duration = Duration::from_millis(5);
/// How often the newest outbox entry is checked once the decisions are counted.
const VISIBLE_POLL: Duration = Duration::from_millis(20);
/// How long the decisions may take before the run fails.
const DECISION_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the customers' actors may take to be passivated with `--cold`.
const PASSIVATE_TIMEOUT: Duration = Duration::from_secs(60);
/// The goal from issue 3.
const GOAL: Duration = Duration::from_secs(2);

#[derive(Args)]
pub struct FanoutArgs {
    /// Customers interested in the product.
    #[arg(long, default_value_t = 100_000)]
    customers: usize,
    /// How they are interested.
    #[arg(long, value_enum, default_value_t = Interest::NotifyMe)]
    interest: Interest,
    /// Events per batch while loading the customers.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Batches in flight while loading.
    #[arg(long, default_value_t = 4)]
    inflight: usize,
    /// Where the daemon's email goes meanwhile.
    #[arg(long, value_enum, default_value_t = Delivery::Hold)]
    delivery: Delivery,
    /// Passivate the customers' actors before the restock (actors.idle_timeout = 1s).
    #[arg(long)]
    cold: bool,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<std::path::PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

pub async fn run(args: FanoutArgs) -> anyhow::Result<()> {
    ensure!(args.customers >= 1, "--customers must be at least 1");
    ensure!(args.batch >= 2, "--batch must be at least 2");
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-fanout-", args.keep_dir)?;
    let hole = match args.delivery {
        Delivery::Hold => Some(Blackhole::start().await?),
        Delivery::Eml => None,
    };
    let mut config = daemon::base_config(&dir.path)?;
    daemon::set_delivery(&mut config, &dir.path, args.delivery, hole.as_ref())?;
    if args.cold {
        set(&mut config, "actors", "idle_timeout", "1s");
    }
    let mut daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let result = measure(&args, &mut daemon).await;
    // Close the held SMTP connection first so the dispatcher's send ends at once.
    drop(hole);
    let clean = daemon.stop().await;
    let mut line = result?;
    line["daemon_clean_exit"] = clean.into();
    println!("{line}");
    Ok(())
}

async fn measure(args: &FanoutArgs, daemon: &mut Daemon) -> anyhow::Result<serde_json::Value> {
    let n = args.customers;
    let mut client = driver::connect(&daemon.addr, None).await?;
    let admin = Admin::connect(&daemon.addr).await?;
    let mut producer = Producer::new("stockbell-load-fanout");
    let product = 0;
    shop::sold_out_product(&mut client, &mut producer, product).await?;

    let load = shop::stream(
        &mut client,
        &mut producer,
        "customers",
        shop::audience(n, product, args.interest),
        2 * n,
        args.batch,
        args.inflight,
    )
    .await?;
    let after_load = daemon.memory()?;
    if args.cold {
        // Idle 1 s, swept every 250 ms: wait until every customer actor is passivated.
        let what = "overview with no customer actor in memory";
        let mut overview = watch_overview(&admin.client(), 250).await?;
        overview_until(&mut overview, PASSIVATE_TIMEOUT, what, |o| {
            Ok(o.actors.is_some_and(|a| a.active_customers == 0))
        })
        .await?;
    }
    daemon.check_running()?;
    let before = admin.counters(SCENARIO).await?;
    ensure!(
        before.queued == 0 && before.triggered == 0,
        "the fresh daemon already has {SCENARIO} activity: {before:?}"
    );

    let cpu_before = daemon::cpu_seconds(daemon.pid)?;
    let sent = Instant::now();
    let acked = shop::publish(
        &mut client,
        &mut producer,
        "restock",
        vec![shop::stock(product, 10)],
    )
    .await?;
    let mut audience_at = None;
    let (counters, queued_at) = admin
        .wait_counters(SCENARIO, POLL, DECISION_TIMEOUT, |c| {
            if audience_at.is_none() && c.audience > 0 {
                audience_at = Some(Instant::now());
            }
            c.queued + c.suppressed_total() >= n as u64
        })
        .await?;
    // The entries are written in the same RocksDB write as the decisions were counted;
    // the newest one being readable means all of them are.
    // Less often than the counters: each ListOutbox seeks through a large memtable.
    let visible_at = poll_every(VISIBLE_POLL, DECISION_TIMEOUT, || {
        let running = daemon.check_running();
        let admin = &admin;
        async move {
            running?;
            let newest = admin.newest_outbox_seq().await.map_err(give_up)?;
            ensure!(newest >= counters.queued, "newest outbox entry {newest}");
            Ok(Instant::now())
        }
    })
    .await
    .with_context(|| format!("waiting for {} outbox entries", counters.queued))?;
    let cpu = daemon::cpu_seconds(daemon.pid)? - cpu_before;
    let after = daemon.memory()?;
    if counters.queued != n as u64 {
        bail!(
            "expected {n} messages queued, got {}; suppressed: {:?}",
            counters.queued,
            counters.suppressed
        );
    }

    let ms = |d: Duration| round2(d.as_secs_f64() * 1000.0);
    let decisions = visible_at.duration_since(acked);
    let met = decisions <= GOAL;
    println!(
        "restock-fanout: {n} customers ({:?}, {}), loaded in {:.2} s ({:.0} customers/s, {:.0} events/s)",
        args.interest,
        if args.cold { "cold actors" } else { "warm actors" },
        load.elapsed.as_secs_f64(),
        n as f64 / load.elapsed.as_secs_f64().max(1e-9),
        load.eps(),
    );
    println!(
        "restock acked in {:.1} ms; audience counted after {:.1} ms; {n} decisions queued after {:.1} ms, \
         all readable in the outbox after {:.1} ms (goal <= {} ms: {})",
        ms(acked.duration_since(sent)),
        audience_at.map_or(0.0, |t| ms(t.duration_since(acked))),
        ms(queued_at.duration_since(acked)),
        ms(decisions),
        GOAL.as_millis(),
        if met { "met" } else { "NOT met" },
    );
    println!(
        "daemon CPU during the fan-out {cpu:.2} s (user + system, all threads); \
         RSS {:.1} MiB after loading, {:.1} MiB after the fan-out, peak {:.1} MiB",
        mib(after_load.rss),
        mib(after.rss),
        mib(after.hwm)
    );
    Ok(json!({
        "mode": "restock-fanout",
        "customers": n,
        "interest": format!("{:?}", args.interest),
        "cold": args.cold,
        "delivery": format!("{:?}", args.delivery),
        "load_s": round2(load.elapsed.as_secs_f64()),
        "load_customers_per_s": round2(n as f64 / load.elapsed.as_secs_f64().max(1e-9)),
        "load_eps": round2(load.eps()),
        "restock_ack_ms": ms(acked.duration_since(sent)),
        "audience_ms": audience_at.map(|t| ms(t.duration_since(acked))),
        "queued_ms": ms(queued_at.duration_since(acked)),
        "decisions_in_outbox_ms": ms(decisions),
        "queued": counters.queued,
        "fanout_cpu_s": round2(cpu),
        "goal_ms": GOAL.as_millis() as u64,
        "goal_met": met,
        "rss_after_load_mib": mib(after_load.rss),
        "rss_after_fanout_mib": mib(after.rss),
        "rss_peak_mib": mib(after.hwm),
    }))
}
