//! `stockbelld demo`: the daemon with a built-in shop simulator feeding it.
//!
//! The daemon part is exactly `stockbelld run` ([`root::run`], same startup, ready file,
//! graceful shutdown) with the embedded defaults plus [`DEMO_TOML`], which speeds the
//! clock up for a live demo (see the comments in it). Everything lives in one data
//! directory: `db/` (RocksDB), `outbox-eml/` (the messages, as `.eml` files) and, unless
//! `--ready-file` says otherwise, `ready` (the bound gRPC address).
//!
//! The shop ([`shop`], [`moves`], [`visit`], [`carts`], [`orders`]; products in
//! [`catalog`], customers in [`people`], randomness in [`rng`]) talks to the daemon only
//! through the real gRPC Ingest API over loopback ([`driver`]), as producer `demo-shop`;
//! a restarted demo on the same data directory continues the same shop ([`resume`]). Its
//! customers read their mail ([`reader`], [`mailbox`]): the `.eml` files, whose tracked
//! links they follow on the daemon's HTTP server, and some then order.
//! SIGTERM / SIGINT stop the shop and the daemon together (the daemon's usual graceful
//! shutdown). Logs go to stderr; the one line on stdout says where the daemon listens.
//!
//! Quiet hours are left at the defaults (21:00 to 08:00 in each customer's time zone):
//! the customers live in nine time zones (half in Tokyo, the rest from Honolulu to
//! Sydney), so whatever the time of day some of them can be sent to at once and the
//! others' messages are visibly held for their morning.

pub mod carts;
pub mod catalog;
pub mod driver;
pub mod mailbox;
pub mod moves;
pub mod orders;
pub mod people;
pub mod reader;
pub mod resume;
pub mod rng;
pub mod shop;
pub mod status;
pub mod visit;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use stockbelld::config::Config;
use stockbelld::root::{self, Exit};
use tokio::sync::watch;

/// The demo's settings on top of the built-in defaults.
pub const DEMO_TOML: &str = r#"
[server]
shutdown_grace = "5s"

[triggers]
# Sales velocity and predicted sell-out are judged over the demo's minutes, not a real
# shop's days: a product selling out within 15 minutes at its recent pace is "a few left".
velocity_half_life = "1h"
sellout_horizon = "15m"
# A lower price must hold 15 s (not 1 h) to be announced; the shop's sales last longer,
# its flickers do not.
stable_for = "15s"
new_arrival_grace = "1h"

[rules]
# Competing offers for one customer meet within 5 s (not 1 min).
arbitration_window = "5s"
# Quiet hours: the defaults (21:00-08:00 local); customers are spread over time zones.
[[rules.caps]]
scope = "marketing"
max = 3
window = "1h"

# Back in stock goes out in batches: 3 customers per unit in stock, every 15 s.
[scenarios.back_in_stock]
per_unit = 3
batch_interval = "15s"
cooldown = "30m"

[scenarios.price_drop]
cooldown = "30m"

[scenarios.low_stock]
cooldown = "30m"

[scenarios.new_arrival]
cooldown = "30m"
# 10 % of the customers never get new-arrival messages, so the Scenarios view's lift
# column compares the others with them.
holdout_pct = 10.0

# Abandoned carts and checkouts on the demo's clock: a cart untouched for 30 s (not 1 h)
# starts its journey; reminders 20 s and 2 min after that (not 1 d and 3 d), 15 s after
# a left checkout (not 1 h); at most one such reminder per customer a minute (not a day).
[journeys]
idle = "30s"

[scenarios.cart_abandoned]
after = ["20s", "2m"]
cooldown = "1m"

[scenarios.checkout_abandoned]
after = ["15s"]
cooldown = "1m"

[email]
from = "stockbell demo shop <shop@example.jp>"

# Segments (the console's Segments view, key 7): the shop's orders move customers in and
# out of them as the demo runs. Metrics are live; history is snapshotted every minute
# (not every day) and RFM cutoffs recomputed every 10 s.
[segment_settings]
snapshot_every = "1m"
rfm_refresh = "10s"

[segments.repeaters]
match = "orders >= 2"
description = "ordered at least twice"

[segments.coupon_users]
match = "coupon"
description = "used the SPRING10 coupon"

[segments.subscribers_without_orders]
match = "subscribed and orders = 0"
description = "newsletter subscribers who never ordered"

[segments.big_spenders]
match = "spend >= 20000 or (orders >= 3 and mean_order >= 5000)"
description = "spent 20,000 yen, or three orders of 5,000 on average"
"#;

/// Events per second of the live shop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    PerSec(f64),
    /// As fast as the daemon acknowledges.
    Max,
}

impl Rate {
    pub fn events_per_sec(self) -> Option<f64> {
        match self {
            Rate::PerSec(r) => Some(r),
            Rate::Max => None,
        }
    }
}

/// `--rate`: a number of events per second, or low (200), normal (1000), high (4000), max.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    match s {
        "low" => Ok(Rate::PerSec(200.0)),
        "normal" => Ok(Rate::PerSec(1000.0)),
        "high" => Ok(Rate::PerSec(4000.0)),
        "max" => Ok(Rate::Max),
        n => match n.parse::<f64>() {
            Ok(r) if r >= 1.0 && r.is_finite() => Ok(Rate::PerSec(r)),
            _ => Err(format!(
                "{s:?} is not a rate; write events per second (e.g. 1000) or low, normal, high, max"
            )),
        },
    }
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database (db/) and messages (outbox-eml/); reused on
    /// restart, the shop continues.
    #[arg(long, default_value = "./demo-data")]
    pub data_dir: PathBuf,
    /// gRPC address, loopback only; port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Address of the unsubscribe page, loopback only; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub http_listen: String,
    /// Write the bound gRPC address here once ready (default: <data-dir>/ready).
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Products in the opening catalogue (new arrivals are added while it runs).
    #[arg(long, default_value_t = 3000)]
    pub products: usize,
    /// Customers.
    #[arg(long, default_value_t = 20_000)]
    pub customers: usize,
    /// Seed of the shop: the same seed gives the same catalogue, customers and behaviour.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Events per second once the shop is open: a number, or low (200), normal (1000),
    /// high (4000), max (as fast as acknowledged).
    #[arg(long, default_value = "1000", value_parser = parse_rate)]
    pub rate: Rate,
    /// Log filter (to stderr), e.g. "info" or "stockbelld=debug,info".
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

fn loopback(flag: &str, value: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = value
        .parse()
        .map_err(|_| format!("{flag}: {value:?} is not an address; write e.g. 127.0.0.1:50051"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{flag}: {addr} is not a loopback address; the demo runs without tokens, so it \
             listens on 127.0.0.1 (or ::1) only"
        ));
    }
    Ok(addr)
}

/// The daemon's config for a demo: defaults, [`DEMO_TOML`], then the flags.
pub fn config(args: &DemoArgs) -> Result<Config, String> {
    if args.products == 0 || args.products > 1_000_000 {
        return Err("--products: use 1 to 1000000".into());
    }
    if args.customers == 0 || args.customers > 10_000_000 {
        return Err("--customers: use 1 to 10000000".into());
    }
    if args.data_dir.as_os_str().is_empty() {
        return Err("--data-dir: give a directory".into());
    }
    let mut cfg = Config::parse(DEMO_TOML).map_err(|e| format!("built-in demo settings: {e}"))?;
    cfg.server.listen = loopback("--listen", &args.listen)?.to_string();
    let mut http = loopback("--http-listen", &args.http_listen)?;
    if http.port() == 0 {
        // Fixed now, so that the unsubscribe links in the messages point at it.
        http = TcpListener::bind(http)
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("--http-listen: cannot find a free port on {http}: {e}"))?;
    }
    cfg.http.listen = http.to_string();
    cfg.templates.public_url = format!("http://{http}");
    cfg.storage.path = args.data_dir.join("db");
    cfg.email.eml_dir = Some(args.data_dir.join("outbox-eml"));
    cfg.log.level = args.log_level.clone();
    cfg.validate().map_err(|e| {
        let e = e.to_string();
        if e.starts_with("log.level") {
            format!("--log-level: {e}")
        } else {
            e
        }
    })?;
    Ok(cfg)
}

/// Where the demo's customers find their mail and follow its links: the `.eml` files
/// and the daemon's HTTP server (`None` when either is not set up).
fn mailbox(cfg: &Config) -> Option<reader::Mailbox> {
    Some(reader::Mailbox {
        eml_dir: cfg.email.eml_dir.clone()?,
        public_url: cfg.templates.public_url.clone(),
        http: cfg.http.listen.parse().ok()?,
    })
}

fn remove_stale(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the stale ready file {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Waits for the server's ready file to name its address.
async fn wait_ready(path: &Path) -> SocketAddr {
    loop {
        if let Some(addr) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return addr;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A future for the first SIGTERM / SIGINT.
fn signals() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Runs the daemon and the shop until SIGTERM / SIGINT (or a fatal daemon error).
pub async fn run(cfg: Config, args: DemoArgs) -> anyhow::Result<Exit> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("--data-dir: cannot create {}", args.data_dir.display()))?;
    let ready = args
        .ready_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join("ready"));
    remove_stale(&ready)?;
    let sim = driver::SimOptions {
        seed: args.seed,
        products: args.products,
        customers: args.customers,
        rate: args.rate,
        stable_for_ms: cfg.triggers.stable_for.ms(),
        mailbox: mailbox(&cfg),
    };
    let mut server = tokio::spawn(root::run(cfg, Some(ready.clone())));
    let addr = tokio::select! {
        addr = wait_ready(&ready) => addr,
        res = &mut server => return res.context("the daemon task failed")?,
    };
    // The daemon installed its signal handlers before it became ready; the shop listens
    // too, so that it stops sending at once instead of meeting a closing stream.
    let signal = signals().context("cannot install signal handlers")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopper = stop_tx.clone();
    let on_signal = tokio::spawn(async move {
        signal.await;
        let _ = stopper.send(true);
    });
    println!(
        "stockbelld demo: gRPC on {addr} (stockbell-console --addr http://{addr}); data in {}",
        args.data_dir.display()
    );
    let shop = tokio::spawn(driver::simulate(addr, sim, stop_rx));
    let exit = (&mut server).await.context("the daemon task failed");
    let _ = stop_tx.send(true);
    on_signal.abort();
    match tokio::time::timeout(Duration::from_secs(5), shop).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %format!("{e:#}"), "The demo shop failed."),
        Ok(Err(e)) => tracing::warn!(error = %e, "The demo shop task failed."),
        Err(_) => tracing::warn!("The demo shop did not stop within 5 s."),
    }
    tracing::info!("Demo stopped; run it again on the same --data-dir to continue.");
    exit?
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        demo: DemoArgs,
    }

    fn args(extra: &[&str]) -> DemoArgs {
        let mut argv = vec!["demo"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).expect("parses").demo
    }

    #[test]
    fn demo_settings_are_valid_and_demo_friendly() {
        let cfg = config(&args(&["--data-dir", "/tmp/sb-demo"])).expect("valid");
        assert_eq!(cfg.storage.path, Path::new("/tmp/sb-demo/db"));
        assert_eq!(
            cfg.email.eml_dir.as_deref(),
            Some(Path::new("/tmp/sb-demo/outbox-eml"))
        );
        assert_eq!(cfg.rules.arbitration_window.ms(), 5_000);
        assert_eq!(cfg.scenarios.back_in_stock.per_unit, 3);
        assert_eq!(cfg.rules.quiet_start, "21:00");
        assert!(cfg.templates.public_url.ends_with(&cfg.http.listen));
        assert!(!cfg.http.listen.ends_with(":0"));
        assert_eq!(cfg.journeys.idle.ms(), 30_000);
        let mailbox = mailbox(&cfg).expect("the demo's mail is read");
        assert_eq!(mailbox.eml_dir, Path::new("/tmp/sb-demo/outbox-eml"));
        assert_eq!(mailbox.http.to_string(), cfg.http.listen);
    }

    #[test]
    fn bad_flags_are_named() {
        for (flags, name) in [
            (&["--listen", "0.0.0.0:50051"][..], "--listen"),
            (&["--listen", "nowhere"][..], "--listen"),
            (&["--http-listen", "10.0.0.1:80"][..], "--http-listen"),
            (&["--products", "0"][..], "--products"),
            (&["--customers", "0"][..], "--customers"),
            (&["--log-level", "[["][..], "--log-level"),
        ] {
            let err = config(&args(flags)).expect_err(name);
            assert!(err.starts_with(name), "{err}");
        }
        assert_eq!(parse_rate("high"), Ok(Rate::PerSec(4000.0)));
        assert_eq!(parse_rate("250"), Ok(Rate::PerSec(250.0)));
        assert_eq!(parse_rate("max"), Ok(Rate::Max));
        assert!(parse_rate("fast").is_err() && parse_rate("0").is_err());
    }
}
