//! `stockbell-load interest-ingest`: the ingest rate of interest-heavy traffic (issue 10:
//! what routing interest and cart events to the customer's actor costs at ingest).
//!
//! A fresh daemon (loopback, temporary data directory, email to a black hole so that
//! nothing is delivered meanwhile) gets, untimed, `--products` products (upsert + stock 20)
//! and `--customers` `customer_upsert`s, so every customer is known and its actor exists;
//! then, timed, `--events` interest events (favourite, view, cart_add, notify_me in the
//! `--kinds` weights) from uniformly chosen customers on uniformly chosen products, in
//! batches of `--batch` with `--inflight` unacknowledged, over `Ingest.Stream` (the batches
//! are generated before the clock starts). The rate counts acknowledged events; any
//! rejection fails the run. The daemon's CPU time over the timed phase and its RSS / peak
//! RSS after each phase come from `/proc`. The last stdout line is one JSON object.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{bail, ensure, Context};
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use stockbell_proto::v1::{event::Kind, CartAdd, EventBatch, Favourite, NotifyMe, View};

use crate::daemon::{self, mib, BenchDir, Blackhole, Daemon, Delivery};
use crate::driver;
use crate::report::round2;
use crate::shop::{self, Producer};

/// Batch size and window of the untimed setup phases.
const SETUP_BATCH: usize = 10_000;
const SETUP_INFLIGHT: usize = 4;

#[derive(Args)]
pub struct InterestIngestArgs {
    #[arg(long, default_value_t = 100_000)]
    customers: usize,
    #[arg(long, default_value_t = 100_000)]
    products: usize,
    /// Interest events in the timed phase.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Events per batch in the timed phase.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Batches sent but not yet acknowledged, at most.
    #[arg(long, default_value_t = 8)]
    inflight: usize,
    /// Relative weights of the interest kinds.
    #[arg(long, default_value_t = Kinds::default())]
    kinds: Kinds,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The daemon's actors.max_active (default: the daemon's own, 50000 product and 50000
    /// customer actors in memory; past it the least recently used are passivated).
    #[arg(long)]
    max_active: Option<u32>,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<std::path::PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

/// Relative weights of the interest kinds, from `favourite=25,view=25,cart_add=25,notify_me=25`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kinds {
    favourite: u32,
    view: u32,
    cart_add: u32,
    notify_me: u32,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds {
            favourite: 25,
            view: 25,
            cart_add: 25,
            notify_me: 25,
        }
    }
}

impl Kinds {
    fn total(&self) -> u32 {
        self.favourite + self.view + self.cart_add + self.notify_me
    }

    /// The event for a roll in `0..self.total()`.
    fn event(&self, roll: u32, customer: usize, product: usize) -> Kind {
        let (customer_id, sku) = (shop::customer_id(customer), shop::sku(product));
        if roll < self.favourite {
            Kind::Favourite(Favourite { customer_id, sku })
        } else if roll < self.favourite + self.view {
            Kind::View(View {
                customer_id,
                sku,
                dwell_ms: 20_000,
            })
        } else if roll < self.favourite + self.view + self.cart_add {
            Kind::CartAdd(CartAdd {
                customer_id,
                sku,
                ..Default::default()
            })
        } else {
            Kind::NotifyMe(NotifyMe {
                customer_id,
                sku,
                expires_ms: 0,
            })
        }
    }
}

impl FromStr for Kinds {
    type Err = anyhow::Error;

    /// `key=weight` pairs separated by commas; keys not given weigh 0.
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let mut k = Kinds {
            favourite: 0,
            view: 0,
            cart_add: 0,
            notify_me: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .with_context(|| format!("--kinds entry {part:?} is not key=weight"))?;
            let weight: u32 = value
                .trim()
                .parse()
                .with_context(|| format!("--kinds weight {value:?} is not a whole number"))?;
            ensure!(weight <= 1_000_000, "--kinds weight {weight} is too large");
            let slot = match key.trim() {
                "favourite" => &mut k.favourite,
                "view" => &mut k.view,
                "cart_add" => &mut k.cart_add,
                "notify_me" => &mut k.notify_me,
                other => bail!(
                    "unknown --kinds key {other:?} (expected favourite, view, cart_add, notify_me)"
                ),
            };
            *slot = weight;
        }
        ensure!(k.total() > 0, "--kinds {s:?} has no non-zero weight");
        Ok(k)
    }
}

impl fmt::Display for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "favourite={},view={},cart_add={},notify_me={}",
            self.favourite, self.view, self.cart_add, self.notify_me
        )
    }
}

/// The timed phase's batches: `events` interest events, deterministic for `seed`.
fn interest_batches(args: &InterestIngestArgs, producer: &mut Producer) -> Vec<EventBatch> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let total = args.kinds.total();
    let events = (0..args.events).map(|_| {
        let c = rng.random_range(0..args.customers);
        let p = rng.random_range(0..args.products);
        args.kinds.event(rng.random_range(0..total), c, p)
    });
    let (lazy, _) = producer.batches(events, args.events, args.batch);
    lazy.collect()
}

pub async fn run(args: InterestIngestArgs) -> anyhow::Result<()> {
    ensure!(args.customers >= 1, "--customers must be at least 1");
    ensure!(args.products >= 1, "--products must be at least 1");
    ensure!(args.batch >= 1, "--batch must be at least 1");
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-interest-", args.keep_dir)?;
    let hole = Blackhole::start().await?;
    let mut config = daemon::base_config(&dir.path)?;
    daemon::set_delivery(&mut config, &dir.path, Delivery::Hold, Some(&hole))?;
    if let Some(n) = args.max_active {
        daemon::set(&mut config, "actors", "max_active", i64::from(n));
    }
    let mut daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let result = measure(&args, &mut daemon).await;
    let clean = daemon.stop().await;
    drop(hole);
    let mut line = result?;
    line["daemon_clean_exit"] = json!(clean);
    println!("{line}");
    Ok(())
}

async fn measure(
    args: &InterestIngestArgs,
    daemon: &mut Daemon,
) -> anyhow::Result<serde_json::Value> {
    let mut client = driver::connect(&daemon.addr, None).await?;
    let mut producer = Producer::new("stockbell-load-interest");
    let products = args.products;
    let catalogue = (0..products).flat_map(|p| [shop::product(p), shop::stock(p, 20)]);
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
    let setup = daemon.memory()?;

    let generated = Instant::now();
    let batches = interest_batches(args, &mut producer);
    eprintln!(
        "stockbell-load: generated {} interest events in {} batches in {:.2} s",
        args.events,
        batches.len(),
        generated.elapsed().as_secs_f64()
    );
    let cpu_before = daemon::cpu_seconds(daemon.pid)?;
    let stats = driver::run_phase(&mut client, &producer.id, batches, args.inflight)
        .await
        .context("interest phase")?;
    let cpu = daemon::cpu_seconds(daemon.pid)? - cpu_before;
    let mem = daemon.memory()?;
    daemon.check_running()?;
    if stats.rejected > 0 || stats.events != args.events {
        bail!(
            "interest phase: {} of {} events acknowledged, {} rejected",
            stats.events,
            args.events,
            stats.rejected
        );
    }
    let cpu_us = cpu * 1e6 / stats.events.max(1) as f64;
    println!(
        "interest: {} events ({}) from {} customers on {} products in {:.2} s: {:.0} events/s; \
         ack p50 {:.1} ms, p99 {:.1} ms; daemon CPU {:.2} s ({cpu_us:.1} µs/event); \
         RSS after setup {:.1} MiB, after the interest phase {:.1} MiB (peak {:.1})",
        stats.events,
        args.kinds,
        args.customers,
        args.products,
        stats.elapsed.as_secs_f64(),
        stats.eps(),
        stats.quantile_ms(0.5),
        stats.quantile_ms(0.99),
        cpu,
        mib(setup.rss),
        mib(mem.rss),
        mib(mem.hwm),
    );
    Ok(json!({
        "mode": "interest-ingest",
        "customers": args.customers,
        "products": args.products,
        "events": stats.events,
        "kinds": args.kinds.to_string(),
        "batch": args.batch,
        "inflight": args.inflight,
        "max_active": args.max_active,
        "eps": round2(stats.eps()),
        "ack_p50_ms": round2(stats.quantile_ms(0.5)),
        "ack_p99_ms": round2(stats.quantile_ms(0.99)),
        "daemon_cpu_s": round2(cpu),
        "cpu_us_per_event": round2(cpu_us),
        "rss_after_setup_mib": mib(setup.rss),
        "rss_mib": mib(mem.rss),
        "peak_rss_mib": mib(mem.hwm),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_round_trip_and_pick() {
        let k: Kinds = "view=3, cart_add=1".parse().unwrap();
        assert_eq!(k.total(), 4);
        assert!(matches!(k.event(0, 1, 2), Kind::View(_)));
        assert!(matches!(k.event(2, 1, 2), Kind::View(_)));
        assert!(matches!(k.event(3, 1, 2), Kind::CartAdd(_)));
        let d = Kinds::default();
        assert_eq!(d.to_string().parse::<Kinds>().unwrap(), d);
        assert!("".parse::<Kinds>().is_err());
        assert!("view=0".parse::<Kinds>().is_err());
        assert!("purchase=1".parse::<Kinds>().is_err());
    }
}
