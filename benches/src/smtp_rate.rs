//! `stockbell-load smtp-rate`: how fast the daemon delivers email over SMTP, next to
//! Postfix's own load generator, into the same Postfix `smtp-sink` in the same run.
//!
//! 1. `smtp-sink -c` on 127.0.0.1 (a free port), its running message counter read from
//!    its stdout.
//! 2. `smtp-source` sends N messages of the daemon's body size with the same number of
//!    parallel sessions as the daemon's `email_concurrency`: once reusing its connections
//!    (`-d`, like the daemon's connection pool), once with a connection per message (its
//!    default), and once more reusing them after the daemon ran (the machine is noisy).
//! 3. A fresh daemon (SMTP to the sink, `pool_size` = `email_concurrency` = sessions) gets
//!    N customers who asked to hear about a sold-out product, which is then restocked: N
//!    outbox entries in one write. Timed from the first entry being counted until the
//!    sink has received all N, and until the outbox shows all N delivered.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Args;
use serde_json::json;

use stockbell_tests::poll::{give_up, poll_every};

use crate::admin::Admin;
use crate::daemon::{self, stderr_stdio, BenchDir, Daemon};
use crate::driver;
use crate::report::round2;
use crate::shop::{self, Interest, Producer};
use crate::smtp_sink::{need_tool, Sink};

const SCENARIO: &str = "back_in_stock";
/// The goal from issue 3: the daemon reaches this share of smtp-source's rate.
const GOAL_RATIO: f64 = 0.7;
/// A delivery run fails when the sink's counter does not move for this long.
const STALL: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(2);

#[derive(Args)]
pub struct SmtpRateArgs {
    /// Messages per run (and customers given to the daemon).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// smtp-source sessions = the daemon's email_concurrency and SMTP pool_size.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The daemon's delivery.batch_size (due entries read per dispatcher poll).
    #[arg(long, default_value_t = 1024)]
    batch_size: usize,
    /// Events per batch while loading the customers.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    #[arg(long, default_value = "/usr/sbin/smtp-sink")]
    smtp_sink: PathBuf,
    #[arg(long, default_value = "/usr/sbin/smtp-source")]
    smtp_source: PathBuf,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
}

/// The size of the daemon's back-in-stock mail to `cust-0000000` about product 0, built
/// by the daemon's own code: (whole message, body after the header block, the outbox
/// entry as stored).
fn daemon_message_size(dir: &Path) -> anyhow::Result<(usize, usize, usize)> {
    use stockbelld::delivery::email::{EmailConfig, EmailSender};
    use stockbelld::delivery::templates::Templates;
    use stockbelld::delivery::unsubscribe::UnsubscribeLinks;
    use stockbelld::domain::customer::{Channel, Locale, Scenario};
    use stockbelld::domain::message::{ItemContext, MessageContext, OutboxEntry, OutboxStatus};
    use stockbelld::store::Schema;

    let sku = shop::sku(0);
    let customer = shop::customer_id(0);
    let now = stockbelld::clock::now_ms();
    let links = UnsubscribeLinks::new(vec![7; 32], "http://127.0.0.1:8080", 60 * 86_400_000);
    let context = MessageContext {
        scenario: Scenario::BackInStock,
        locale: Locale::Ja,
        customer_id: customer.clone(),
        items: vec![ItemContext {
            title: "Handmade Tea Set 1".into(),
            url: format!("https://shop.example.jp/products/{sku}"),
            image_url: format!("https://img.example.jp/products/{sku}.jpg"),
            currency: "JPY".into(),
            price_minor: 1980,
            old_price_minor: None,
            stock_left: None,
            sku,
        }],
        unsubscribe_url: links.url(&customer, Some(Channel::Email), now),
        order: None,
    };
    let rendered = Templates::new(None)
        .context("cannot load the built-in templates")?
        .render(&context)
        .context("cannot render the sample message")?;
    let entry = OutboxEntry {
        seq: 1,
        customer_id: customer.clone(),
        channel: Channel::Email,
        address: format!("{customer}@example.com"),
        scenario: Scenario::BackInStock,
        context,
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_ms: now,
        created_ms: now,
        delivered_ms: None,
        last_error: None,
    };
    let stored = stockbelld::store::outbox::Outbox::encode_value(&entry).len();
    let sender = EmailSender::new(&EmailConfig {
        eml_dir: dir.join("sample-eml"),
        ..EmailConfig::default()
    })
    .context("cannot set up the sample email sender")?;
    let bytes = sender
        .build_message(&entry, &rendered)
        .map_err(|e| anyhow::anyhow!("cannot build the sample message: {e}"))?
        .formatted();
    let body = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| bytes.len() - i - 4);
    Ok((bytes.len(), body, stored))
}

/// Wall time of one run and the CPU seconds the sender and smtp-sink used meanwhile.
#[derive(Clone, Copy)]
struct Timed {
    wall: Duration,
    sender_cpu: f64,
    sink_cpu: f64,
}

/// One smtp-source run.
async fn source_run(
    args: &SmtpRateArgs,
    sink: &Sink,
    body: usize,
    reuse: bool,
) -> anyhow::Result<Timed> {
    let before = sink.count();
    let (cpu0, sink0) = (daemon::children_cpu_seconds(), sink.cpu());
    let mut cmd = Command::new(&args.smtp_source);
    cmd.args(["-s", &args.concurrency.to_string()])
        .args(["-m", &args.messages.to_string()])
        .args(["-l", &body.to_string()])
        .args([
            "-f",
            "stockbell@localhost",
            "-t",
            "cust-0000000@example.com",
        ])
        .args(["-M", "localhost"]);
    if reuse {
        cmd.arg("-d");
    }
    cmd.arg(format!("127.0.0.1:{}", sink.port))
        .stdin(Stdio::null())
        .stdout(stderr_stdio()?);
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await?
        .context("cannot run smtp-source")?;
    let elapsed = started.elapsed();
    ensure!(status.success(), "smtp-source failed ({status})");
    // The counter line for the last message may trail the client's exit a little.
    let target = before + args.messages as u64;
    tokio::time::timeout(Duration::from_secs(5), sink.wait_for(target))
        .await
        .with_context(|| {
            format!(
                "smtp-sink counted {} of smtp-source's {} messages",
                sink.count() - before,
                args.messages
            )
        })??;
    Ok(Timed {
        wall: elapsed,
        sender_cpu: daemon::children_cpu_seconds() - cpu0,
        sink_cpu: sink.cpu() - sink0,
    })
}

/// What the daemon's delivery run measured.
struct DaemonRun {
    load_s: f64,
    /// First entry counted → sink has all N, with the daemon's and the sink's CPU.
    to_sink: Timed,
    /// First entry counted → the outbox shows all N delivered (checked after `to_sink`).
    to_marked: Duration,
    /// Restock acked → first entry counted.
    fanout: Duration,
    statuses: std::collections::BTreeMap<String, u64>,
    clean_exit: bool,
    rss_peak: u64,
}

async fn daemon_run(args: &SmtpRateArgs, dir: &Path, sink: &Sink) -> anyhow::Result<DaemonRun> {
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let mut config = daemon::base_config(dir)?;
    sink.configure(&mut config, args.concurrency, args.batch_size)?;
    let mut daemon = Daemon::start(&bin, dir, &config).await?;
    let result = async {
        let n = args.messages;
        let mut client = driver::connect(&daemon.addr, None).await?;
        let admin = Admin::connect(&daemon.addr).await?;
        let mut producer = Producer::new("stockbell-load-smtp-rate");
        shop::sold_out_product(&mut client, &mut producer, 0).await?;
        let load = shop::stream(
            &mut client,
            &mut producer,
            "customers",
            shop::audience(n, 0, Interest::NotifyMe),
            2 * n,
            args.batch,
            4,
        )
        .await?;
        let base = sink.count();
        let acked = shop::publish(
            &mut client,
            &mut producer,
            "restock",
            vec![shop::stock(0, 10)],
        )
        .await?;
        let (_, first) = admin
            .wait_counters(SCENARIO, POLL, Duration::from_secs(600), |c| c.queued > 0)
            .await?;
        let (cpu0, sink0) = (daemon::cpu_seconds(daemon.pid)?, sink.cpu());
        let sunk = sink.wait_for(base + n as u64).await?;
        let to_sink = Timed {
            wall: sunk.duration_since(first),
            sender_cpu: daemon::cpu_seconds(daemon.pid)? - cpu0,
            sink_cpu: sink.cpu() - sink0,
        };
        let deadline = STALL.saturating_sub(sunk.elapsed());
        let (statuses, marked) = poll_every(POLL, deadline, || {
            let running = daemon.check_running();
            let admin = &admin;
            async move {
                let statuses = admin.outbox_statuses().await.map_err(give_up)?;
                if statuses.get("delivered").copied().unwrap_or(0) >= n as u64 {
                    return Ok((statuses, Instant::now()));
                }
                running?;
                bail!("the sink has all {n} messages but the outbox shows {statuses:?}")
            }
        })
        .await?;
        let rss_peak = daemon.memory()?.hwm;
        Ok::<_, anyhow::Error>(DaemonRun {
            load_s: load.elapsed.as_secs_f64(),
            to_sink,
            to_marked: marked.duration_since(first),
            fanout: first.duration_since(acked),
            statuses,
            clean_exit: false,
            rss_peak,
        })
    }
    .await;
    let clean = daemon.stop().await;
    result.map(|r| DaemonRun {
        clean_exit: clean,
        ..r
    })
}

pub async fn run(args: SmtpRateArgs) -> anyhow::Result<()> {
    ensure!(args.messages >= 1, "--messages must be at least 1");
    ensure!(
        (1..=1024).contains(&args.concurrency),
        "--concurrency must be from 1 to 1024"
    );
    ensure!(args.batch >= 2, "--batch must be at least 2");
    need_tool(&args.smtp_sink)?;
    need_tool(&args.smtp_source)?;
    let dir = BenchDir::new("stockbell-smtp-", args.keep_dir)?;
    let (total, body, stored) = daemon_message_size(&dir.path)?;
    let sink = Sink::start(&args.smtp_sink).await?;
    let n = args.messages as f64;

    let n_u = args.messages;
    let per_msg_us = |cpu: f64| round2(cpu / n * 1e6);
    let show = |label: &str, t: &Timed| {
        println!(
            "{label}: {n_u} messages in {:.3} s, {:.0} msg/s; CPU per message: sender {:.0} µs, smtp-sink {:.0} µs",
            t.wall.as_secs_f64(),
            n / t.wall.as_secs_f64().max(1e-9),
            t.sender_cpu / n * 1e6,
            t.sink_cpu / n * 1e6,
        )
    };
    let reuse1 = source_run(&args, &sink, body, true).await?;
    show("smtp-source -d (connections reused)", &reuse1);
    let fresh = source_run(&args, &sink, body, false).await?;
    show("smtp-source (a connection per message)", &fresh);
    let d = daemon_run(&args, &dir.path, &sink).await?;
    show(
        "daemon (first outbox entry -> all in smtp-sink)",
        &d.to_sink,
    );
    println!(
        "daemon: all {n_u} marked delivered {:.3} s after the first outbox entry ({:.0} msg/s); \
         fan-out {:.1} ms; customers loaded in {:.2} s",
        d.to_marked.as_secs_f64(),
        n / d.to_marked.as_secs_f64().max(1e-9),
        d.fanout.as_secs_f64() * 1000.0,
        d.load_s
    );
    let reuse2 = source_run(&args, &sink, body, true).await?;
    show("smtp-source -d again", &reuse2);
    let sink_total = sink.count();
    if let Err(e) = sink.stop().await {
        eprintln!("stockbell-load: warning: {e:#}");
    }

    let rate = |d: Duration| n / d.as_secs_f64().max(1e-9);
    let source_best = rate(reuse1.wall.min(reuse2.wall));
    let daemon_rate = rate(d.to_sink.wall);
    let ratio = daemon_rate / source_best;
    let ratio_fresh = daemon_rate / rate(fresh.wall);
    let met = ratio >= GOAL_RATIO;
    println!(
        "daemon / smtp-source -d (best of 2): {ratio:.3} (goal >= {GOAL_RATIO}: {}); \
         daemon / smtp-source without -d: {ratio_fresh:.3}; message {total} bytes ({body} body), \
         outbox entry {stored} bytes",
        if met { "met" } else { "NOT met" }
    );
    let line = json!({
        "mode": "smtp-rate",
        "messages": args.messages,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "message_bytes": total,
        "body_bytes": body,
        "outbox_entry_bytes": stored,
        "source_reuse_msg_s": [round2(rate(reuse1.wall)), round2(rate(reuse2.wall))],
        "source_per_connection_msg_s": round2(rate(fresh.wall)),
        "daemon_msg_s": round2(daemon_rate),
        "daemon_marked_msg_s": round2(rate(d.to_marked)),
        "daemon_to_sink_s": round2(d.to_sink.wall.as_secs_f64()),
        "cpu_us_per_msg": {
            "source_reuse": [per_msg_us(reuse1.sender_cpu), per_msg_us(reuse2.sender_cpu)],
            "source_per_connection": per_msg_us(fresh.sender_cpu),
            "daemon": per_msg_us(d.to_sink.sender_cpu),
            "sink_during_source_reuse": per_msg_us(reuse1.sink_cpu),
            "sink_during_daemon": per_msg_us(d.to_sink.sink_cpu),
        },
        "daemon_fanout_ms": round2(d.fanout.as_secs_f64() * 1000.0),
        "daemon_load_s": round2(d.load_s),
        "daemon_rss_peak_mib": daemon::mib(d.rss_peak),
        "outbox": d.statuses,
        "ratio": (ratio * 1000.0).round() / 1000.0,
        "ratio_vs_per_connection": (ratio_fresh * 1000.0).round() / 1000.0,
        "goal_met": met,
        "sink_messages": sink_total,
        "daemon_clean_exit": d.clean_exit,
    });
    println!("{line}");
    Ok(())
}
