//! `stockbell-load`: load generator for stockbelld's `Ingest` gRPC API.
//!
//! * `run` streams a seeded workload (catalogue, then a Sale/StockAdjust/StockSet/PriceSet
//!   mix) to a server and reports throughput and ack latency;
//! * `sink` serves a no-op `Ingest` for baseline measurements;
//! * `compare` runs the same workload against a fresh sink and a fresh daemon;
//! * `triggers` lists a daemon's recent triggers via `Admin.ListTriggers`;
//! * `restock-fanout`, `smtp-rate` and `interest-rss` are the delivery benchmarks (a
//!   restock to 100k customers, SMTP delivery rate against Postfix's `smtp-source`, peak
//!   memory with 1M customers and 10M interest edges); each starts its own daemon;
//! * `sustained` measures the data directory, RSS and the kill -9 restart time after a
//!   long full-speed load (its own daemon too);
//! * `backorder-arrival` and `shipping-latency` are the order benchmarks (a restock
//!   covering 10k waiting order lines; a shipping notice through a 50k marketing flood
//!   into smtp-sink); each starts its own daemon;
//! * `clicks` measures click redirects per second next to a static 302 from the same
//!   HTTP server (its own daemon);
//! * `interest-ingest` measures the ingest rate of interest events (favourite, view,
//!   cart_add, notify_me) from known customers (its own daemon);
//! * `order-ingest` measures the ingest rate of order events (order_placed and some
//!   order_refunded) from known customers (its own daemon);
//! * `stream` sends a deterministic, paced stream of stock events to a running daemon
//!   (the state at any acknowledged sequence is computable; the backup test uses it).
//!
//! Human summaries go to stdout; for `run`, `compare`, the delivery and the order
//! benchmarks the last stdout line is one JSON object.

mod admin;
mod backorder_arrival;
mod clicks;
mod compare;
mod daemon;
mod driver;
mod fanout;
mod interest_ingest;
mod mix;
mod order_ingest;
mod report;
mod rss;
mod shipping_latency;
mod shop;
mod sink;
mod smtp_rate;
mod smtp_sink;
mod stream;
mod sustained;
mod triggers;
mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::ensure;
use clap::{Args, Parser, Subcommand};

use crate::mix::Mix;
use crate::workload::Spec;

#[derive(Parser)]
#[command(
    name = "stockbell-load",
    version,
    about = "Load generator for stockbelld"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Stream a workload to a running Ingest server and report the results.
    Run(RunArgs),
    /// Serve a no-op Ingest that acknowledges every batch at once.
    Sink(SinkArgs),
    /// Run the same workload against a fresh sink and a fresh daemon and compare.
    Compare(CompareArgs),
    /// List a daemon's recent triggers, newest first.
    Triggers(triggers::TriggersArgs),
    /// Time one restock to N interested customers until all N decisions are in the outbox.
    RestockFanout(fanout::FanoutArgs),
    /// SMTP delivery rate of the daemon into Postfix's smtp-sink, next to smtp-source.
    SmtpRate(smtp_rate::SmtpRateArgs),
    /// Peak RSS of the daemon holding many customers and interest edges, through a burst.
    InterestRss(rss::RssArgs),
    /// Data directory (WAL, SST), RSS and kill -9 restart time after N s of full-speed load.
    Sustained(sustained::SustainedArgs),
    /// Time one restock covering N waiting order lines until all N are allocated and
    /// their "arrived" messages are in the outbox.
    BackorderArrival(backorder_arrival::ArrivalArgs),
    /// Time a shipping notice from its event to smtp-sink while N marketing messages
    /// are being delivered there.
    ShippingLatency(shipping_latency::ShippingArgs),
    /// Click redirects per second next to a static 302 from the same HTTP server.
    Clicks(clicks::ClicksArgs),
    /// Ingest rate of interest events (favourite, view, cart_add, notify_me) from N known
    /// customers.
    InterestIngest(interest_ingest::InterestIngestArgs),
    /// Ingest rate of order events (order_placed, some order_refunded) from N known
    /// customers.
    OrderIngest(order_ingest::OrderIngestArgs),
    /// A deterministic, paced stream of stock events to a running daemon (event k sets
    /// the stock of `p-(k mod P)` to k), one acknowledged batch at a time.
    Stream(stream::StreamArgs),
}

/// The workload shared by `run` and `compare`.
#[derive(Args)]
struct WorkloadArgs {
    /// Number of products in the catalogue.
    #[arg(long, default_value_t = 100_000)]
    products: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Events in the mix phase.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Batches sent but not yet acknowledged, at most.
    #[arg(long, default_value_t = 8)]
    inflight: usize,
    /// RNG seed; the same seed gives the same batches.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Relative weights of the mix phase's event kinds.
    #[arg(long, default_value_t = Mix::default())]
    mix: Mix,
    /// Upsert catalogue products as new (new-arrival triggers) instead of imported.
    #[arg(long)]
    new_arrivals: bool,
}

impl WorkloadArgs {
    fn spec(&self, producer_id: String, catalogue: bool) -> anyhow::Result<Spec> {
        ensure!(self.products >= 1, "--products must be at least 1");
        ensure!(self.batch >= 1, "--batch must be at least 1");
        ensure!(self.inflight >= 1, "--inflight must be at least 1");
        Ok(Spec {
            producer_id,
            products: self.products,
            batch: self.batch,
            events: self.events,
            seed: self.seed,
            mix: self.mix,
            catalogue,
            new_arrivals: self.new_arrivals,
        })
    }
}

#[derive(Args)]
struct RunArgs {
    /// Server address, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    addr: String,
    /// Bearer token for the `authorization` header.
    #[arg(long)]
    token: Option<String>,
    #[command(flatten)]
    tls: driver::TlsArgs,
    /// Producer id of all batches (default: unique per run).
    #[arg(long)]
    producer: Option<String>,
    /// Upsert and stock the products before the mix phase (default).
    #[arg(long, overrides_with = "no_catalogue")]
    catalogue: bool,
    /// Skip the catalogue phase (the products must exist already).
    #[arg(long, overrides_with = "catalogue")]
    no_catalogue: bool,
    #[command(flatten)]
    workload: WorkloadArgs,
}

#[derive(Args)]
struct SinkArgs {
    /// Loopback address to listen on; port 0 picks a free one.
    #[arg(long)]
    listen: SocketAddr,
    /// Where to write the bound address once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

#[derive(Args)]
struct CompareArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<PathBuf>,
    /// Keep the temporary directory (configs, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

fn unique_producer_id() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("stockbell-load-{}-{ms}", std::process::id())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let producer = args.producer.clone().unwrap_or_else(unique_producer_id);
    ensure!(!producer.is_empty(), "--producer must not be empty");
    let spec = args.workload.spec(producer, !args.no_catalogue)?;
    let workload = compare::generate_timed(&spec);
    let client = driver::connect_with(&args.addr, args.token.as_deref(), &args.tls.flags()).await?;
    let report =
        driver::execute_on(client, &spec.producer_id, workload, args.workload.inflight).await?;
    println!("{}", report.summary("run"));
    println!("{}", report.json());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run(args) => run(args).await,
        Cmd::Triggers(args) => triggers::run(args).await,
        Cmd::RestockFanout(args) => fanout::run(args).await,
        Cmd::SmtpRate(args) => smtp_rate::run(args).await,
        Cmd::InterestRss(args) => rss::run(args).await,
        Cmd::Sustained(args) => sustained::run(args).await,
        Cmd::BackorderArrival(args) => backorder_arrival::run(args).await,
        Cmd::ShippingLatency(args) => shipping_latency::run(args).await,
        Cmd::Clicks(args) => clicks::run(args).await,
        Cmd::InterestIngest(args) => interest_ingest::run(args).await,
        Cmd::OrderIngest(args) => order_ingest::run(args).await,
        Cmd::Stream(args) => stream::run(args).await,
        Cmd::Sink(args) => sink::serve(args.listen, args.ready_file.as_deref()).await,
        Cmd::Compare(args) => {
            let producer = format!("stockbell-load-compare-{}", args.workload.seed);
            let spec = args.workload.spec(producer, true)?;
            compare::compare(compare::Options {
                spec,
                inflight: args.workload.inflight,
                daemon_bin: args.daemon_bin,
                keep_dir: args.keep_dir,
            })
            .await
        }
    }
}
