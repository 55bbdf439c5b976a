//! `stockbell-load backorder-arrival`: one restock of a backorderable product that N
//! orders wait for (one unit each), timed from the acknowledged stock event until every
//! line is allocated and all N "arrived" order updates are in the outbox.
//!
//! A fresh daemon as for `restock-fanout` (decides at once, no quiet hours; email to a
//! black-hole SMTP server, so the outbox stays as written). N customers each place one
//! order of one unit while the product has no stock: N waiting lines, and N backorder
//! confirmations, which are waited for so that the setup is done. Then one restock of N
//! units: the product allocates them to the lines oldest first (in the write of the
//! restock), the order-notice log carries "these lines are covered" to each customer,
//! and each customer's actor queues its `arrived` message.
//!
//! `--model zero` keeps the stock at 0 and restocks with `stock_set N`; `--model negative`
//! sells each ordered unit from stock (stock −N) and restocks with `stock_adjust +N`.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Args;
use serde_json::json;
use stockbell_proto::v1::{AdjustReason, Product};
use stockbell_tests::poll::{give_up, poll_every};

use crate::admin::Admin;
use crate::daemon::{self, mib, BenchDir, Blackhole, Daemon, Delivery};
use crate::driver;
use crate::report::round2;
use crate::shop::{self, IntoEvent, Producer};

/// The order update for covered lines, and the one for waiting lines.
const ARRIVED: &str = "arrived";
const CONFIRMATION: &str = "backorder_confirmation";
/// How often the counters are polled while waiting for the arrived messages.
const POLL: Duration = Duration::from_millis(5);
/// How often GetProduct (all N lines) and the newest outbox entry are checked.
const SLOW_POLL: Duration = Duration::from_millis(20);
/// How long the setup and the arrival may take before the run fails.
const TIMEOUT: Duration = Duration::from_secs(600);
/// The goal from issue 9.
const GOAL: Duration = Duration::from_secs(1);

/// How the shop keeps the stock of a product it takes backorders for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// Stock stays at 0, the owed units are only in the orders; restock: `stock_set N`.
    Zero,
    /// Each order's unit is sold from stock (a `sale` after the order: stock −N);
    /// restock: `stock_adjust +N` (reason restock), back to 0.
    Negative,
}

#[derive(Args)]
pub struct ArrivalArgs {
    /// Waiting order lines (one order of one unit per customer).
    #[arg(long, default_value_t = 10_000)]
    lines: usize,
    /// How the shop keeps the product's stock.
    #[arg(long, value_enum, default_value_t = Model::Zero)]
    model: Model,
    /// Events per batch while loading the customers and their orders.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Batches in flight while loading.
    #[arg(long, default_value_t = 4)]
    inflight: usize,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<std::path::PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

pub async fn run(args: ArrivalArgs) -> anyhow::Result<()> {
    ensure!(args.lines >= 1, "--lines must be at least 1");
    ensure!(args.batch >= 3, "--batch must be at least 3");
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-arrival-", args.keep_dir)?;
    let hole = Blackhole::start().await?;
    let mut config = daemon::base_config(&dir.path)?;
    daemon::set_delivery(&mut config, &dir.path, Delivery::Hold, Some(&hole))?;
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

/// Lines of `p` by state: (waiting, allocated).
fn line_states(p: &Product) -> (usize, usize) {
    let lines = p.backorders.as_ref().map_or(&[][..], |b| &b.lines[..]);
    let count = |s: &str| lines.iter().filter(|l| l.state == s).count();
    (count("waiting"), count("allocated"))
}

async fn measure(args: &ArrivalArgs, daemon: &mut Daemon) -> anyhow::Result<serde_json::Value> {
    let n = args.lines;
    let product = 0;
    let sku = shop::sku(product);
    let mut client = driver::connect(&daemon.addr, None).await?;
    let admin = Admin::connect(&daemon.addr).await?;
    let mut producer = Producer::new("stockbell-load-arrival");
    shop::publish(
        &mut client,
        &mut producer,
        "backorderable product",
        vec![
            shop::backorderable_product(product),
            shop::stock(product, 0),
        ],
    )
    .await?;

    // Each customer, then their order (and, negative model, the unit sold from stock).
    let model = args.model;
    let events = shop::buyers(n, product).flat_map(move |e| {
        let is_order = matches!(
            &e.kind,
            Some(stockbell_proto::v1::event::Kind::OrderPlaced(_))
        );
        let sale = (model == Model::Negative && is_order)
            .then(|| stockbell_tests::sale(&shop::sku(product), 1));
        std::iter::once(e).chain(sale)
    });
    let per_buyer = if model == Model::Negative { 3 } else { 2 };
    let load = shop::stream(
        &mut client,
        &mut producer,
        "customers and orders",
        events,
        per_buyer * n,
        args.batch,
        args.inflight,
    )
    .await?;
    let loaded = Instant::now();
    let (confirmations, _) = admin
        .wait_counters(CONFIRMATION, POLL, TIMEOUT, |c| {
            c.queued + c.suppressed_total() >= n as u64
        })
        .await?;
    let confirmed = loaded.elapsed();
    ensure!(
        confirmations.queued == n as u64,
        "expected {n} backorder confirmations, got {confirmations:?}"
    );
    let before = admin.product(&sku).await?;
    let (waiting, allocated) = line_states(&before);
    ensure!(
        waiting == n && allocated == 0,
        "before the restock {sku} shows {waiting} waiting and {allocated} allocated lines, \
         expected {n} waiting"
    );
    let after_load = daemon.memory()?;
    let seq_before = admin.newest_outbox_seq().await?;
    let arrived_before = admin.counters(ARRIVED).await?;
    ensure!(
        arrived_before.queued == 0,
        "arrived messages before the restock: {arrived_before:?}"
    );
    daemon.check_running()?;

    let restock: Vec<stockbell_proto::v1::Event> = match model {
        Model::Zero => vec![shop::stock(product, n as i64).into_event()],
        Model::Negative => vec![stockbell_tests::stock_adjust(
            &sku,
            n as i64,
            AdjustReason::Restock,
        )],
    };
    let cpu_before = daemon::cpu_seconds(daemon.pid)?;
    let sent = Instant::now();
    let acked = shop::publish(&mut client, &mut producer, "restock", restock).await?;

    // Every line allocated, as the warehouse sees it (GetProduct lists all N lines).
    let allocation = poll_every(SLOW_POLL, TIMEOUT, || {
        let admin = &admin;
        let sku = &sku;
        async move {
            let p = admin.product(sku).await.map_err(give_up)?;
            let (waiting, allocated) = line_states(&p);
            ensure!(
                allocated == n && waiting == 0,
                "{waiting} waiting, {allocated} allocated"
            );
            Ok((Instant::now(), p.available, p.stock))
        }
    });
    // All N arrived messages counted, then the newest of them readable in the outbox.
    let messages = async {
        let (counters, queued_at) = admin
            .wait_counters(ARRIVED, POLL, TIMEOUT, |c| {
                c.queued + c.suppressed_total() >= n as u64
            })
            .await?;
        let visible_at = poll_every(SLOW_POLL, TIMEOUT, || {
            let admin = &admin;
            async move {
                let newest = admin.newest_outbox_seq().await.map_err(give_up)?;
                ensure!(
                    newest >= seq_before + counters.queued,
                    "newest outbox entry {newest}"
                );
                Ok(Instant::now())
            }
        })
        .await
        .with_context(|| format!("waiting for {} arrived outbox entries", counters.queued))?;
        Ok::<_, anyhow::Error>((counters, queued_at, visible_at))
    };
    let (allocation, messages) = tokio::join!(allocation, messages);
    let (allocated_at, available, stock) = allocation.context("waiting for the allocation")?;
    let (counters, queued_at, visible_at) = messages?;
    let cpu = daemon::cpu_seconds(daemon.pid)? - cpu_before;
    let after = daemon.memory()?;
    daemon.check_running()?;
    if counters.queued != n as u64 {
        bail!(
            "expected {n} arrived messages queued, got {}; suppressed: {:?}",
            counters.queued,
            counters.suppressed
        );
    }
    // Nothing was left after the allocation, so nobody may be told "back in stock".
    let back_in_stock = admin.counters("back_in_stock").await?;

    let ms = |d: Duration| round2(d.as_secs_f64() * 1000.0);
    let done = visible_at.duration_since(acked);
    let met = done <= GOAL;
    println!(
        "backorder-arrival: {n} waiting lines ({model:?} model), customers and orders loaded in \
         {:.2} s ({:.0} orders/s), {n} confirmations queued {:.2} s later",
        load.elapsed.as_secs_f64(),
        n as f64 / load.elapsed.as_secs_f64().max(1e-9),
        confirmed.as_secs_f64(),
    );
    println!(
        "restock of {n} acked in {:.1} ms; GetProduct showed all {n} lines allocated after \
         {:.1} ms (stock {stock}, available {available}); {n} arrived messages queued after \
         {:.1} ms, all readable in the outbox after {:.1} ms ({:.1} ms after the restock was \
         sent; goal <= {} ms after the ack: {})",
        ms(acked.duration_since(sent)),
        ms(allocated_at.saturating_duration_since(acked)),
        ms(queued_at.duration_since(acked)),
        ms(done),
        ms(visible_at.duration_since(sent)),
        GOAL.as_millis(),
        if met { "met" } else { "NOT met" },
    );
    println!(
        "daemon CPU during the arrival {cpu:.2} s (user + system, all threads); \
         RSS {:.1} MiB after loading, {:.1} MiB after the arrival, peak {:.1} MiB; \
         back-in-stock triggers {} (nothing was left for them)",
        mib(after_load.rss),
        mib(after.rss),
        mib(after.hwm),
        back_in_stock.triggered,
    );
    Ok(json!({
        "mode": "backorder-arrival",
        "lines": n,
        "model": format!("{model:?}"),
        "load_s": round2(load.elapsed.as_secs_f64()),
        "load_orders_per_s": round2(n as f64 / load.elapsed.as_secs_f64().max(1e-9)),
        "confirmations_s": round2(confirmed.as_secs_f64()),
        "restock_ack_ms": ms(acked.duration_since(sent)),
        "allocated_ms": ms(allocated_at.saturating_duration_since(acked)),
        "arrived_queued_ms": ms(queued_at.duration_since(acked)),
        "arrived_in_outbox_ms": ms(done),
        "sent_to_outbox_ms": ms(visible_at.duration_since(sent)),
        "queued": counters.queued,
        "stock_after": stock,
        "available_after": available,
        "back_in_stock_triggers": back_in_stock.triggered,
        "arrival_cpu_s": round2(cpu),
        "goal_ms": GOAL.as_millis() as u64,
        "goal_met": met,
        "rss_after_load_mib": mib(after_load.rss),
        "rss_after_arrival_mib": mib(after.rss),
        "rss_peak_mib": mib(after.hwm),
    }))
}
