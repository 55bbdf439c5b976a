//! `stockbell-load interest-rss`: the daemon's peak memory holding many customers and
//! interest edges, loaded through `Ingest`, and then through a burst of restocks whose
//! audiences add up to about `--burst-customers` offers.
//!
//! Phases (each timed, the daemon's VmRSS / VmHWM read from `/proc` after each):
//! 1. catalogue: `--products` products, stocked;
//! 2. customers: `--customers` `customer_upsert`s (email, consent);
//! 3. edges: `--edges` interest events, each customer `edges / customers` distinct
//!    products picked uniformly by a hash of (seed, customer, n), half notify-me and half
//!    favourites (every edge is above the back-in-stock threshold);
//! 4. arm: the first products whose audiences add up to `--burst-customers` sell out;
//! 5. burst: they are all restocked in one batch; timed until every offer is decided
//!    (queued, or suppressed by the cap of one marketing message per customer).
//!
//! Email goes to a black-hole SMTP server (`--delivery hold`), so the outbox keeps what the
//! burst wrote. The store size is measured before and after the daemon's clean shutdown.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use clap::Args;
use serde_json::{json, Value};
use stockbell_proto::v1::event::Kind;

use crate::admin::Admin;
use crate::daemon::{self, dir_size, mib, set, BenchDir, Blackhole, Daemon, Delivery, Memory};
use crate::driver;
use crate::report::round2;
use crate::shop::{self, Interest, Producer};

const SCENARIO: &str = "back_in_stock";
const POLL: Duration = Duration::from_millis(20);
const GOAL_BYTES: u64 = 2 << 30;

#[derive(Args)]
pub struct RssArgs {
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    /// Interest edges in all (spread evenly over the customers).
    #[arg(long, default_value_t = 10_000_000)]
    edges: usize,
    #[arg(long, default_value_t = 100_000)]
    products: usize,
    /// Restock products until their audiences add up to at least this many offers.
    #[arg(long, default_value_t = 100_000)]
    burst_customers: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Batches in flight.
    #[arg(long, default_value_t = 4)]
    inflight: usize,
    /// The daemon's actors.idle_timeout (default: the daemon's own, 5m).
    #[arg(long)]
    idle_timeout: Option<String>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where the daemon's email goes meanwhile.
    #[arg(long, value_enum, default_value_t = Delivery::Hold)]
    delivery: Delivery,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<std::path::PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

/// splitmix64: a fast, well-mixed hash of one word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Who is interested in what; every pick is derived from (seed, customer, n).
#[derive(Clone, Copy)]
struct Graph {
    seed: u64,
    customers: usize,
    edges: usize,
    products: usize,
}

impl Graph {
    /// Edges of customer `c`: `edges / customers`, one more for the first remainder.
    fn degree(&self, c: usize) -> usize {
        let (k, r) = (self.edges / self.customers, self.edges % self.customers);
        k + usize::from(c < r)
    }

    /// The distinct products customer `c` is interested in.
    fn picks(&self, c: usize, out: &mut Vec<usize>) {
        out.clear();
        let want = self.degree(c).min(self.products);
        let mut n = 0u64;
        while out.len() < want {
            let h = mix(self.seed ^ mix((c as u64) << 20 | n));
            n += 1;
            let p = (h % self.products as u64) as usize;
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }

    fn events(self) -> impl Iterator<Item = Kind> + Send {
        let mut picks = Vec::new();
        (0..self.customers).flat_map(move |c| {
            self.picks(c, &mut picks);
            picks
                .iter()
                .map(|&p| shop::interest(Interest::Mixed, c, p))
                .collect::<Vec<_>>()
        })
    }
}

/// The burst: the first products whose audiences add up to `target` offers; returns
/// (products, offers, distinct customers).
fn burst(g: &Graph, target: usize) -> (Vec<usize>, u64, u64) {
    let mut audience = vec![0u32; g.products];
    let mut picks = Vec::new();
    for c in 0..g.customers {
        g.picks(c, &mut picks);
        for &p in &picks {
            audience[p] += 1;
        }
    }
    let mut chosen = Vec::new();
    let mut offers = 0u64;
    for (p, &n) in audience.iter().enumerate() {
        if offers >= target as u64 {
            break;
        }
        chosen.push(p);
        offers += u64::from(n);
    }
    let set: HashSet<usize> = chosen.iter().copied().collect();
    let mut distinct = 0u64;
    for c in 0..g.customers {
        g.picks(c, &mut picks);
        distinct += u64::from(picks.iter().any(|p| set.contains(p)));
    }
    (chosen, offers, distinct)
}

/// One phase's line in the report.
struct Phase {
    name: &'static str,
    events: usize,
    secs: f64,
    mem: Memory,
}

impl Phase {
    fn json(&self) -> Value {
        json!({
            "phase": self.name,
            "events": self.events,
            "s": round2(self.secs),
            "eps": round2(self.events as f64 / self.secs.max(1e-9)),
            "rss_mib": mib(self.mem.rss),
            "hwm_mib": mib(self.mem.hwm),
        })
    }
}

pub async fn run(args: RssArgs) -> anyhow::Result<()> {
    ensure!(args.customers >= 1, "--customers must be at least 1");
    ensure!(args.products >= 1, "--products must be at least 1");
    ensure!(
        args.edges / args.customers <= args.products,
        "--edges / --customers must not exceed --products (edges are distinct per customer)"
    );
    ensure!(args.batch >= 1, "--batch must be at least 1");
    let g = Graph {
        seed: args.seed,
        customers: args.customers,
        edges: args.edges,
        products: args.products,
    };
    let started = Instant::now();
    let (chosen, offers, distinct) = burst(&g, args.burst_customers);
    eprintln!(
        "stockbell-load: burst of {} restocks: {offers} offers to {distinct} customers (computed in {:.2} s)",
        chosen.len(),
        started.elapsed().as_secs_f64()
    );

    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-rss-", args.keep_dir)?;
    let hole = match args.delivery {
        Delivery::Hold => Some(Blackhole::start().await?),
        Delivery::Eml => None,
    };
    let mut config = daemon::base_config(&dir.path)?;
    daemon::set_delivery(&mut config, &dir.path, args.delivery, hole.as_ref())?;
    if let Some(t) = &args.idle_timeout {
        set(&mut config, "actors", "idle_timeout", t.as_str());
    }
    let mut daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let result = measure(&args, g, &chosen, offers, &mut daemon).await;
    let store_running = dir_size(&dir.path.join("data"));
    drop(hole);
    let clean = daemon.stop().await;
    let store_stopped = dir_size(&dir.path.join("data"));
    let (phases, burst_line) = result?;

    let peak = phases.iter().map(|p| p.mem.hwm).max().unwrap_or(0);
    let load_s: f64 = phases.iter().take(3).map(|p| p.secs).sum();
    let met = peak <= GOAL_BYTES;
    for p in &phases {
        println!(
            "{:<10} {:>9} events {:>8.2} s {:>9.0} events/s   RSS {:>7.1} MiB, peak so far {:>7.1} MiB",
            p.name,
            p.events,
            p.secs,
            p.events as f64 / p.secs.max(1e-9),
            mib(p.mem.rss),
            mib(p.mem.hwm)
        );
    }
    let (running, stopped) = (store_running?, store_stopped?);
    println!(
        "{} customers, {} edges, {} products: loaded in {load_s:.1} s; peak RSS {:.1} MiB \
         (goal <= {} MiB: {}); store {:.1} MiB running, {:.1} MiB after shutdown",
        args.customers,
        args.edges,
        args.products,
        mib(peak),
        GOAL_BYTES >> 20,
        if met { "met" } else { "NOT met" },
        mib(running),
        mib(stopped),
    );
    let line = json!({
        "mode": "interest-rss",
        "customers": args.customers,
        "edges": args.edges,
        "products": args.products,
        "idle_timeout": args.idle_timeout,
        "load_s": round2(load_s),
        "phases": phases.iter().map(Phase::json).collect::<Vec<_>>(),
        "burst": burst_line,
        "peak_rss_mib": mib(peak),
        "goal_mib": GOAL_BYTES >> 20,
        "goal_met": met,
        "store_mib_running": mib(running),
        "store_mib_stopped": mib(stopped),
        "daemon_clean_exit": clean,
    });
    println!("{line}");
    Ok(())
}

async fn measure(
    args: &RssArgs,
    g: Graph,
    chosen: &[usize],
    offers: u64,
    daemon: &mut Daemon,
) -> anyhow::Result<(Vec<Phase>, Value)> {
    let mut client = driver::connect(&daemon.addr, None).await?;
    let admin = Admin::connect(&daemon.addr).await?;
    let mut producer = Producer::new("stockbell-load-rss");
    let mut phases = Vec::new();
    let (batch, inflight) = (args.batch, args.inflight);

    let products = args.products;
    let catalogue = (0..products).flat_map(|p| [shop::product(p), shop::stock(p, 20)]);
    let s = shop::stream(
        &mut client,
        &mut producer,
        "catalogue",
        catalogue,
        2 * products,
        batch,
        inflight,
    )
    .await?;
    phases.push(Phase {
        name: "catalogue",
        events: s.events,
        secs: s.elapsed.as_secs_f64(),
        mem: daemon.memory()?,
    });

    let n = args.customers;
    let s = shop::stream(
        &mut client,
        &mut producer,
        "customers",
        (0..n).map(shop::customer),
        n,
        batch,
        inflight,
    )
    .await?;
    phases.push(Phase {
        name: "customers",
        events: s.events,
        secs: s.elapsed.as_secs_f64(),
        mem: daemon.memory()?,
    });

    let s = shop::stream(
        &mut client,
        &mut producer,
        "edges",
        g.events(),
        args.edges,
        batch,
        inflight,
    )
    .await?;
    phases.push(Phase {
        name: "edges",
        events: s.events,
        secs: s.elapsed.as_secs_f64(),
        mem: daemon.memory()?,
    });
    daemon.check_running()?;

    let started = Instant::now();
    let arm: Vec<Kind> = chosen.iter().map(|&p| shop::stock(p, 0)).collect();
    shop::publish(&mut client, &mut producer, "sell-out", arm).await?;
    phases.push(Phase {
        name: "sell-out",
        events: chosen.len(),
        secs: started.elapsed().as_secs_f64(),
        mem: daemon.memory()?,
    });

    let before = admin.counters(SCENARIO).await?;
    let started = Instant::now();
    let restock: Vec<Kind> = chosen.iter().map(|&p| shop::stock(p, 10)).collect();
    let acked = shop::publish(&mut client, &mut producer, "restock burst", restock).await?;
    let (after, done) = admin
        .wait_counters(SCENARIO, POLL, Duration::from_secs(1800), |c| {
            let audience = c.audience.saturating_sub(before.audience);
            let decided = (c.queued + c.suppressed_total())
                .saturating_sub(before.queued + before.suppressed_total());
            audience >= offers && decided >= audience
        })
        .await?;
    let mem = daemon.memory()?;
    phases.push(Phase {
        name: "burst",
        events: chosen.len(),
        secs: done.duration_since(started).as_secs_f64(),
        mem,
    });
    if after.triggered - before.triggered != chosen.len() as u64 {
        bail!(
            "{} restocks fired {} back-in-stock triggers",
            chosen.len(),
            after.triggered - before.triggered
        );
    }
    // A few seconds later: what stays resident once the burst is over.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = daemon.memory()?;
    let burst_line = json!({
        "restocks": chosen.len(),
        "offers": after.audience - before.audience,
        "queued": after.queued - before.queued,
        "suppressed": after.suppressed,
        "ack_ms": round2(acked.duration_since(started).as_secs_f64() * 1000.0),
        "decided_ms": round2(done.duration_since(acked).as_secs_f64() * 1000.0),
        "rss_settled_mib": mib(settled.rss),
    });
    println!(
        "burst: {} restocks, {} offers, {} queued, suppressed {:?}; all decided {:.0} ms after the ack",
        chosen.len(),
        after.audience - before.audience,
        after.queued - before.queued,
        after.suppressed,
        done.duration_since(acked).as_secs_f64() * 1000.0
    );
    Ok((phases, burst_line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_distinct_deterministic_and_add_up() {
        let g = Graph {
            seed: 7,
            customers: 100,
            edges: 1_003,
            products: 50,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut total = 0;
        for c in 0..g.customers {
            g.picks(c, &mut a);
            g.picks(c, &mut b);
            assert_eq!(a, b);
            let set: HashSet<usize> = a.iter().copied().collect();
            assert_eq!(set.len(), a.len());
            assert!(a.iter().all(|&p| p < g.products));
            total += a.len();
        }
        assert_eq!(total, g.edges);
        assert_eq!(g.events().count(), g.edges);
        let (chosen, offers, distinct) = burst(&g, 100);
        assert!(offers >= 100 && distinct <= offers && !chosen.is_empty());
    }
}
