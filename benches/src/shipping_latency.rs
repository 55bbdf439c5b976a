//! `stockbell-load shipping-latency`: how long a shipping notice takes to reach the SMTP
//! server while a flood of marketing mail is being delivered to it.
//!
//! Postfix's `smtp-sink` receives the daemon's email (as in `smtp-rate`), dumping every
//! transaction into a FIFO that is scanned for the buyer's envelope recipient. A fresh
//! daemon gets a product in stock, a buyer who orders one unit of it, and N customers who
//! asked to hear about a sold-out product; that product is restocked, N back-in-stock
//! messages are queued and delivery starts. Once all N are queued and smtp-sink has
//! received `--ship-after` of them (the dispatcher is in full swing: every SMTP session
//! busy, a batch of marketing entries read ahead), the buyer's order is shipped
//! (`order_shipped`, every line, with tracking): timed from that event's ack until
//! smtp-sink has received the shipping notice. The daemon's own record of it (the
//! outbox entry's `created_ms` and `delivered_ms`) is reported next to it, and so is
//! when the last of the flood arrived (what the notice would have waited for in line).

use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context};
use clap::Args;
use serde_json::json;
use stockbell_proto::v1::OutboxEntry;
use stockbell_tests::poll::{give_up, poll_every};

use crate::admin::Admin;
use crate::daemon::{self, mib, BenchDir, Daemon};
use crate::driver;
use crate::report::round2;
use crate::shop::{self, Interest, IntoEvent, Producer};
use crate::smtp_sink::{need_tool, Sink};

/// The marketing flood's scenario and the notice's.
const FLOOD: &str = "back_in_stock";
const SHIPPED: &str = "shipped";
const BUYER: &str = "ship-buyer";
const ORDER: &str = "ship-order";
/// The flood's product (sold out, then restocked) and the buyer's (in stock).
const FLOOD_PRODUCT: usize = 0;
const BOUGHT_PRODUCT: usize = 1;
const POLL: Duration = Duration::from_millis(5);
/// How often our own process checks whether the sink's dump showed the notice.
const RECEIPT_POLL: Duration = Duration::from_millis(1);
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the notice may take to reach smtp-sink before the run fails.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The goal from issue 9.
const GOAL: Duration = Duration::from_secs(1);

#[derive(Args)]
pub struct ShippingArgs {
    /// Marketing (back-in-stock) messages queued before the order ships.
    #[arg(long, default_value_t = 50_000)]
    queued: usize,
    /// Ship the order once smtp-sink has received this many of them.
    #[arg(long, default_value_t = 2_000)]
    ship_after: usize,
    /// SMTP sessions: the daemon's email_concurrency and SMTP pool_size.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The daemon's delivery.batch_size (due entries read per lane scan).
    #[arg(long, default_value_t = 1024)]
    batch_size: usize,
    /// Events per batch while loading the customers.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    #[arg(long, default_value = "/usr/sbin/smtp-sink")]
    smtp_sink: std::path::PathBuf,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<std::path::PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

pub async fn run(args: ShippingArgs) -> anyhow::Result<()> {
    ensure!(args.queued >= 1, "--queued must be at least 1");
    ensure!(
        args.ship_after < args.queued,
        "--ship-after must be below --queued (the order ships while marketing waits)"
    );
    ensure!(
        (1..=1024).contains(&args.concurrency),
        "--concurrency must be from 1 to 1024"
    );
    ensure!(args.batch >= 2, "--batch must be at least 2");
    need_tool(&args.smtp_sink)?;
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-shipping-", args.keep_dir)?;
    let sink = Sink::start_watching(&args.smtp_sink, &format!("{BUYER}@example.com")).await?;
    let mut config = daemon::base_config(&dir.path)?;
    sink.configure(&mut config, args.concurrency, args.batch_size)?;
    let mut daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let result = measure(&args, &mut daemon, &sink).await;
    let clean = daemon.stop().await;
    if let Err(e) = sink.stop().await {
        eprintln!("stockbell-load: warning: {e:#}");
    }
    let mut line = result?;
    line["daemon_clean_exit"] = clean.into();
    println!("{line}");
    Ok(())
}

/// The buyer's shipping notice once the daemon has recorded it delivered.
async fn delivered_notice(admin: &Admin) -> anyhow::Result<OutboxEntry> {
    poll_every(POLL, Duration::from_secs(30), || async move {
        let entries = admin.outbox_of(BUYER).await.map_err(give_up)?;
        let scenarios: Vec<&str> = entries.iter().map(|e| e.scenario.as_str()).collect();
        if scenarios != [SHIPPED] {
            return Err(give_up(anyhow!(
                "{BUYER}'s outbox holds {scenarios:?}, expected one {SHIPPED} notice"
            )));
        }
        let entry = entries.into_iter().next().context("no entry")?;
        ensure!(entry.delivered_ms > 0, "notice {}", entry.status);
        Ok(entry)
    })
    .await
    .context("waiting for the outbox to show the shipping notice delivered")
}

async fn measure(
    args: &ShippingArgs,
    daemon: &mut Daemon,
    sink: &Sink,
) -> anyhow::Result<serde_json::Value> {
    let n = args.queued;
    let mut client = driver::connect(&daemon.addr, None).await?;
    let admin = Admin::connect(&daemon.addr).await?;
    let mut producer = Producer::new("stockbell-load-shipping");
    shop::sold_out_product(&mut client, &mut producer, FLOOD_PRODUCT).await?;
    shop::publish(
        &mut client,
        &mut producer,
        "the buyer's product",
        vec![
            shop::product(BOUGHT_PRODUCT),
            shop::stock(BOUGHT_PRODUCT, 100),
        ],
    )
    .await?;
    let bought = shop::sku(BOUGHT_PRODUCT);
    let order = stockbell_tests::order_placed(ORDER, BUYER, &[("1", &bought, 1)]);
    shop::publish(
        &mut client,
        &mut producer,
        "the buyer and the order",
        vec![shop::named_customer(BUYER.into()).into_event(), order],
    )
    .await?;
    let load = shop::stream(
        &mut client,
        &mut producer,
        "customers",
        shop::audience(n, FLOOD_PRODUCT, Interest::NotifyMe),
        2 * n,
        args.batch,
        4,
    )
    .await?;
    let early = admin.outbox_of(BUYER).await?;
    ensure!(
        early.is_empty(),
        "{BUYER} got {} messages before the shipment (an in-stock order gets none)",
        early.len()
    );

    // The flood: N back-in-stock messages, delivered into smtp-sink from the first one on.
    let base = sink.count();
    let restocked = shop::publish(
        &mut client,
        &mut producer,
        "restock",
        vec![shop::stock(FLOOD_PRODUCT, 10)],
    )
    .await?;
    let (flood, all_queued_at) = admin
        .wait_counters(FLOOD, POLL, SETUP_TIMEOUT, |c| {
            c.queued + c.suppressed_total() >= n as u64
        })
        .await?;
    ensure!(
        flood.queued == n as u64,
        "expected {n} back-in-stock messages queued, got {flood:?}"
    );
    tokio::time::timeout(SETUP_TIMEOUT, sink.wait_for(base + args.ship_after as u64))
        .await
        .context("waiting for the flood to reach smtp-sink")??;
    daemon.check_running()?;
    let at_ship = admin.counters(FLOOD).await?;
    let sunk_at_ship = sink.count() - base;
    let backlog = at_ship.pending();

    let (cpu_before, sink_cpu_before) = (daemon::cpu_seconds(daemon.pid)?, sink.cpu());
    let sent = Instant::now();
    let shipped = stockbell_tests::order_shipped(ORDER, BUYER);
    let acked = shop::publish(&mut client, &mut producer, "order shipped", vec![shipped]).await?;
    let acked_ms = stockbell_tests::now_ms();
    let received = poll_every(RECEIPT_POLL, RECEIPT_TIMEOUT, || {
        let running = daemon.check_running();
        let got = sink.received();
        async move {
            running?;
            got.context("smtp-sink has not received the shipping notice yet")
        }
    })
    .await?;
    let sunk_at_receipt = sink.count() - base;
    let cpu = daemon::cpu_seconds(daemon.pid)? - cpu_before;
    let at_receipt = admin.counters(FLOOD).await?;
    let notice = delivered_notice(&admin).await?;
    // What the notice would have waited for behind the flood: the rest of it.
    let drained = sink.wait_for(base + n as u64 + 1).await?;
    let drain_cpu = daemon::cpu_seconds(daemon.pid)? - cpu_before;
    let drain_sink_cpu = sink.cpu() - sink_cpu_before;
    let rss_peak = daemon.memory()?.hwm;

    let ms = |d: Duration| round2(d.as_secs_f64() * 1000.0);
    // The notice can reach smtp-sink before the ack reaches us: the dispatcher is woken
    // as soon as the write is durable. Then the time from the ack is negative.
    let from_ack = |t: Instant| match t.checked_duration_since(acked) {
        Some(d) => ms(d),
        None => -ms(acked.duration_since(t)),
    };
    let latency = from_ack(received);
    let from_sent = received.saturating_duration_since(sent);
    let met = received.saturating_duration_since(acked) <= GOAL;
    let meanwhile = sunk_at_receipt.saturating_sub(sunk_at_ship);
    let still_queued = at_receipt.pending();
    println!(
        "shipping-latency: {n} back-in-stock messages queued {:.1} ms after their restock \
         (customers loaded in {:.2} s); when the order shipped {sunk_at_ship} had reached \
         smtp-sink and {backlog} were still queued",
        ms(all_queued_at.duration_since(restocked)),
        load.elapsed.as_secs_f64(),
    );
    println!(
        "order_shipped acked in {:.1} ms; smtp-sink received the shipping notice {:.1} ms \
         after the ack, {:.1} ms after it was sent (goal <= {} ms: {}); the outbox shows it \
         decided {} ms and delivered {} ms after the ack; meanwhile {meanwhile} marketing \
         messages reached smtp-sink, {still_queued} were still queued after it",
        ms(acked.duration_since(sent)),
        latency,
        ms(from_sent),
        GOAL.as_millis(),
        if met { "met" } else { "NOT met" },
        notice.created_ms - acked_ms,
        notice.delivered_ms - acked_ms,
    );
    println!(
        "the flood's last message reached smtp-sink {:.1} ms after the ack (CPU meanwhile: \
         daemon {drain_cpu:.2} s, smtp-sink {drain_sink_cpu:.2} s); daemon CPU from the ack to \
         the receipt {cpu:.2} s; RSS peak {:.1} MiB",
        ms(drained.saturating_duration_since(acked)),
        mib(rss_peak)
    );
    Ok(json!({
        "mode": "shipping-latency",
        "queued": n,
        "ship_after": args.ship_after,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "load_s": round2(load.elapsed.as_secs_f64()),
        "flood_queued_ms": ms(all_queued_at.duration_since(restocked)),
        "marketing_sunk_at_ship": sunk_at_ship,
        "marketing_queued_at_ship": backlog,
        "ship_ack_ms": ms(acked.duration_since(sent)),
        "shipped_to_sink_ms": latency,
        "sent_to_sink_ms": ms(from_sent),
        "outbox_created_after_ack_ms": notice.created_ms - acked_ms,
        "outbox_delivered_after_ack_ms": notice.delivered_ms - acked_ms,
        "marketing_sunk_meanwhile": meanwhile,
        "marketing_queued_at_receipt": still_queued,
        "flood_drained_after_ack_ms": ms(drained.saturating_duration_since(acked)),
        "drain_cpu_s": {"daemon": round2(drain_cpu), "smtp_sink": round2(drain_sink_cpu)},
        "cpu_s": round2(cpu),
        "goal_ms": GOAL.as_millis() as u64,
        "goal_met": met,
        "rss_peak_mib": mib(rss_peak),
    }))
}
