//! `stockbell-load order-ingest`: the ingest rate of order traffic (issue 11: what
//! keeping each customer's order aggregates in their record costs at ingest).
//!
//! A fresh daemon (loopback, temporary data directory, email to a black hole so that
//! nothing is delivered meanwhile) gets, untimed, `--products` products (upsert, stock
//! 10^9, so no line waits) and `--customers` `customer_upsert`s; then, timed, `--events`
//! order events: `order_placed` (1 to 3 lines of uniformly chosen products, one coupon
//! order in 5) from uniformly chosen customers and, `--refund-pct` of the events,
//! `order_refunded` (every line, 100 yen) of an order placed at least two batches
//! earlier. Batches of `--batch`, `--inflight` unacknowledged, over `Ingest.Stream`,
//! generated before the clock starts. The rate counts acknowledged events; any rejection
//! fails the run. The last stdout line is one JSON object.

use std::time::Instant;

use anyhow::{bail, ensure, Context};
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use stockbell_proto::v1::{event::Kind, EventBatch, OrderLine, OrderPlaced, OrderRefunded};

use crate::daemon::{self, mib, BenchDir, Blackhole, Daemon, Delivery};
use crate::driver;
use crate::report::round2;
use crate::shop::{self, Producer};

/// Batch size and window of the untimed setup phases.
const SETUP_BATCH: usize = 10_000;
const SETUP_INFLIGHT: usize = 4;

#[derive(Args)]
pub struct OrderIngestArgs {
    #[arg(long, default_value_t = 10_000)]
    customers: usize,
    #[arg(long, default_value_t = 1_000)]
    products: usize,
    /// Order events in the timed phase.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Percent of the timed events that are refunds (0 to 50).
    #[arg(long, default_value_t = 10)]
    refund_pct: u32,
    /// Events per batch in the timed phase.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Batches sent but not yet acknowledged, at most.
    #[arg(long, default_value_t = 8)]
    inflight: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<std::path::PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

fn order_id(i: usize) -> String {
    format!("bench-order-{i:08}")
}

/// The timed phase's events, deterministic for the seed: placed orders (customer of
/// each kept for its refunds) and refunds of orders placed two batches back or more.
fn order_events(args: &OrderIngestArgs) -> (Vec<Kind>, usize) {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut owners: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(args.events);
    let mut refunds = 0;
    for i in 0..args.events {
        let settled = i.saturating_sub(2 * args.batch);
        let settled = owners.len().min(settled);
        if settled > 0 && rng.random_range(0..100) < args.refund_pct {
            let k = rng.random_range(0..settled);
            out.push(Kind::OrderRefunded(OrderRefunded {
                order_id: order_id(k),
                customer_id: shop::customer_id(owners[k]),
                lines: Vec::new(),
                amount_minor: 100,
            }));
            refunds += 1;
            continue;
        }
        let c = rng.random_range(0..args.customers);
        let lines = (0..rng.random_range(1..=3usize))
            .map(|l| OrderLine {
                line_id: (l + 1).to_string(),
                sku: shop::sku(rng.random_range(0..args.products)),
                quantity: rng.random_range(1..=3),
                unit_price_minor: 1_980,
                ..Default::default()
            })
            .collect();
        out.push(Kind::OrderPlaced(OrderPlaced {
            order_id: order_id(owners.len()),
            customer_id: shop::customer_id(c),
            currency: "JPY".into(),
            coupon_code: if rng.random_range(0..5) == 0 {
                "WELCOME".into()
            } else {
                String::new()
            },
            lines,
        }));
        owners.push(c);
    }
    (out, refunds)
}

fn batches(args: &OrderIngestArgs, events: Vec<Kind>, p: &mut Producer) -> Vec<EventBatch> {
    let total = events.len();
    let (lazy, _) = p.batches(events.into_iter(), total, args.batch);
    lazy.collect()
}

pub async fn run(args: OrderIngestArgs) -> anyhow::Result<()> {
    ensure!(args.customers >= 1, "--customers must be at least 1");
    ensure!(args.products >= 1, "--products must be at least 1");
    ensure!(args.batch >= 1, "--batch must be at least 1");
    ensure!(args.refund_pct <= 50, "--refund-pct must be 0 to 50");
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-orders-", args.keep_dir)?;
    let hole = Blackhole::start().await?;
    let mut config = daemon::base_config(&dir.path)?;
    daemon::set_delivery(&mut config, &dir.path, Delivery::Hold, Some(&hole))?;
    let mut daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let result = measure(&args, &mut daemon).await;
    let clean = daemon.stop().await;
    drop(hole);
    let mut line = result?;
    line["daemon_clean_exit"] = json!(clean);
    line["daemon_bin"] = json!(bin.display().to_string());
    println!("{line}");
    Ok(())
}

async fn measure(args: &OrderIngestArgs, daemon: &mut Daemon) -> anyhow::Result<serde_json::Value> {
    let mut client = driver::connect(&daemon.addr, None).await?;
    let mut producer = Producer::new("stockbell-load-orders");
    let products = args.products;
    let catalogue = (0..products).flat_map(|p| [shop::product(p), shop::stock(p, 1_000_000_000)]);
    shop::stream(
        &mut client,
        &mut producer,
        "catalogue",
        catalogue,
        2 * products,
        SETUP_BATCH,
        SETUP_INFLIGHT,
    )
    .await?;
    let n = args.customers;
    shop::stream(
        &mut client,
        &mut producer,
        "customers",
        (0..n).map(shop::customer),
        n,
        SETUP_BATCH,
        SETUP_INFLIGHT,
    )
    .await?;

    let (events, refunds) = order_events(args);
    let batches = batches(args, events, &mut producer);
    let cpu_before = daemon::cpu_seconds(daemon.pid)?;
    let started = Instant::now();
    let stats = driver::run_phase(&mut client, &producer.id, batches, args.inflight)
        .await
        .context("order phase")?;
    let wall = started.elapsed();
    let cpu = daemon::cpu_seconds(daemon.pid)? - cpu_before;
    let mem = daemon.memory()?;
    daemon.check_running()?;
    if stats.rejected > 0 || stats.events != args.events {
        bail!(
            "order phase: {} of {} events acknowledged, {} rejected",
            stats.events,
            args.events,
            stats.rejected
        );
    }
    let cpu_us = cpu * 1e6 / stats.events.max(1) as f64;
    println!(
        "orders: {} events ({} refunds) from {} customers on {} products in {:.2} s: {:.0} \
         events/s; ack p50 {:.1} ms, p99 {:.1} ms; daemon CPU {:.2} s ({cpu_us:.1} µs/event); \
         RSS {:.1} MiB (peak {:.1})",
        stats.events,
        refunds,
        args.customers,
        args.products,
        wall.as_secs_f64(),
        stats.eps(),
        stats.quantile_ms(0.5),
        stats.quantile_ms(0.99),
        cpu,
        mib(mem.rss),
        mib(mem.hwm),
    );
    Ok(json!({
        "mode": "order-ingest",
        "customers": args.customers,
        "products": args.products,
        "events": stats.events,
        "refunds": refunds,
        "batch": args.batch,
        "inflight": args.inflight,
        "eps": round2(stats.eps()),
        "ack_p50_ms": round2(stats.quantile_ms(0.5)),
        "ack_p99_ms": round2(stats.quantile_ms(0.99)),
        "daemon_cpu_s": round2(cpu),
        "cpu_us_per_event": round2(cpu_us),
        "rss_mib": mib(mem.rss),
        "peak_rss_mib": mib(mem.hwm),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(events: usize, refund_pct: u32) -> OrderIngestArgs {
        OrderIngestArgs {
            customers: 10,
            products: 5,
            events,
            refund_pct,
            batch: 10,
            inflight: 1,
            seed: 7,
            daemon_bin: None,
            keep_dir: false,
        }
    }

    #[test]
    fn refunds_name_orders_placed_two_batches_earlier() {
        let (events, refunds) = order_events(&args(1_000, 20));
        assert_eq!(events.len(), 1_000);
        assert!(refunds > 100 && refunds < 300, "{refunds}");
        let mut placed: Vec<String> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            match e {
                Kind::OrderPlaced(p) => placed.push(p.order_id.clone()),
                Kind::OrderRefunded(r) => {
                    let at = placed
                        .iter()
                        .position(|id| *id == r.order_id)
                        .expect("placed");
                    assert!(at < i.saturating_sub(20), "refund {i} of order {at}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(order_events(&args(50, 0)).1, 0);
    }
}
