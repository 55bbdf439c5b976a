//! `stockbell-load clicks`: click redirects per second next to a static 302 from the same
//! HTTP server, in the same run, over loopback.
//!
//! A fresh daemon (email to `.eml` files, `[engagement] bench_static_redirect = true`, a
//! known link secret) sends a back-in-stock mail to N customers. Then, for `--rounds`
//! rounds, `--connections` keep-alive HTTP/1.1 connections each send GET requests back
//! to back for `--seconds`: first to `/bench/static-redirect` (a 302 that reads and
//! records nothing), then to `/c/<token>` for the N messages' links in turn (token
//! check, the message read from the store, the click queued for the customer's actor,
//! 302). Every answer must be a 302. The clicks must then show up in GetCustomer. The
//! ratio is click redirects/s ÷ static 302s/s (goal ≥ 0.5). Stops by itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Args;
use serde_json::json;
use stockbell_proto::v1::GetCustomerRequest;
use stockbell_tests::poll::{give_up, poll_every};
use stockbelld::delivery::click_link::{sign_click_token, ClickToken};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::admin::Admin;
use crate::daemon::{self, BenchDir, Daemon, Delivery};
use crate::driver;
use crate::shop::{self, Interest, Producer};

const SECRET: &str = "stockbell-load clicks secret 0123";
const TIMEOUT: Duration = Duration::from_secs(300);
const STATIC_PATH: &str = "/bench/static-redirect";

#[derive(Args)]
pub struct ClicksArgs {
    /// Customers, each sent one back-in-stock mail (the tokens requested in turn).
    #[arg(long, default_value_t = 2_000)]
    messages: usize,
    /// Keep-alive connections sending requests back to back.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Rounds of (static, clicks); each side's rate is over all its rounds.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// The stockbelld binary (default: `stockbelld` next to this executable).
    #[arg(long)]
    daemon_bin: Option<std::path::PathBuf>,
    /// Keep the temporary directory (config, daemon data) and print its path.
    #[arg(long)]
    keep_dir: bool,
    /// Follow the click links with HEAD (looked up and redirected, not recorded): the
    /// redirect's cost without the recording.
    #[arg(long)]
    head: bool,
}

pub async fn run(args: ClicksArgs) -> anyhow::Result<()> {
    ensure!(args.messages >= 1, "--messages must be at least 1");
    ensure!(args.connections >= 1, "--connections must be at least 1");
    ensure!(args.seconds >= 1, "--seconds must be at least 1");
    ensure!(args.rounds >= 1, "--rounds must be at least 1");
    let bin = daemon::resolve_bin(args.daemon_bin.clone())?;
    let dir = BenchDir::new("stockbell-clicks-", args.keep_dir)?;
    let mut config = daemon::base_config(&dir.path)?;
    daemon::set_delivery(&mut config, &dir.path, Delivery::Eml, None)?;
    daemon::set(&mut config, "delivery", "unsubscribe_secret", SECRET);
    daemon::set(&mut config, "engagement", "bench_static_redirect", true);
    let daemon = Daemon::start(&bin, &dir.path, &config).await?;
    let result = measure(&args, &daemon, &dir.path).await;
    let clean = daemon.stop().await;
    let mut line = result?;
    line["daemon_clean_exit"] = clean.into();
    println!("{line}");
    Ok(())
}

async fn measure(
    args: &ClicksArgs,
    daemon: &Daemon,
    dir: &std::path::Path,
) -> anyhow::Result<serde_json::Value> {
    let n = args.messages;
    let http: SocketAddr = std::fs::read_to_string(dir.join("ready.http"))
        .context("cannot read the daemon's HTTP address (ready.http)")?
        .trim()
        .parse()
        .context("ready.http holds no address")?;
    let mut client = driver::connect(&daemon.addr, None).await?;
    let admin = Admin::connect(&daemon.addr).await?;
    let mut producer = Producer::new("stockbell-load-clicks");
    shop::sold_out_product(&mut client, &mut producer, 0).await?;
    let audience = shop::audience(n, 0, Interest::NotifyMe);
    shop::stream(
        &mut client,
        &mut producer,
        "customers",
        audience,
        2 * n,
        5_000,
        4,
    )
    .await?;
    shop::publish(
        &mut client,
        &mut producer,
        "restock",
        vec![shop::stock(0, 1_000_000)],
    )
    .await?;
    let (counters, _) = admin
        .wait_counters("back_in_stock", Duration::from_millis(20), TIMEOUT, |c| {
            c.queued + c.suppressed_total() >= n as u64
        })
        .await?;
    ensure!(
        counters.queued == n as u64,
        "expected {n} messages, got {counters:?}"
    );
    // The only messages: seqs newest − n + 1 ..= newest, one link each. The counters
    // move as the customers decide, a moment before their write: wait for the outbox.
    let newest = poll_every(Duration::from_millis(20), TIMEOUT, || {
        let admin = &admin;
        async move {
            let newest = admin.newest_outbox_seq().await.map_err(give_up)?;
            ensure!(
                newest >= n as u64,
                "the outbox holds up to seq {newest} of {n}"
            );
            Ok(newest)
        }
    })
    .await?;
    let first = newest + 1 - n as u64;
    let paths: Arc<Vec<String>> = Arc::new(
        (first..=newest)
            .map(|seq| {
                let token = sign_click_token(SECRET.as_bytes(), ClickToken { seq, link: 0 });
                format!("/c/{token}")
            })
            .collect(),
    );
    let statics: Arc<Vec<String>> = Arc::new(vec![STATIC_PATH.to_string()]);
    let phase = Duration::from_secs(args.seconds);
    let (mut static_n, mut static_t, mut click_n, mut click_t) = (0u64, 0f64, 0u64, 0f64);
    for round in 0..args.rounds {
        let (k, t) = load(http, args.connections, phase, statics.clone(), false).await?;
        eprintln!(
            "stockbell-load: round {round}: static 302 {:.0}/s",
            k as f64 / t
        );
        static_n += k;
        static_t += t;
        let (k, t) = load(http, args.connections, phase, paths.clone(), args.head).await?;
        eprintln!(
            "stockbell-load: round {round}: click redirect {:.0}/s",
            k as f64 / t
        );
        click_n += k;
        click_t += t;
    }
    // The clicks were recorded: customer 0's engagement shows one.
    let admin_client = admin.client();
    let recorded = if args.head {
        Ok(())
    } else {
        poll_every(Duration::from_millis(50), TIMEOUT, || {
            let mut c = admin_client.clone();
            async move {
                let got = c
                    .get_customer(GetCustomerRequest {
                        customer_id: shop::customer_id(0),
                        email: String::new(),
                    })
                    .await
                    .map_err(|s| give_up(anyhow::anyhow!("GetCustomer: {s}")))?
                    .into_inner();
                let clicks = got.engagement.map_or(0, |e| e.clicks.len());
                ensure!(clicks > 0, "no click recorded for customer 0 yet");
                Ok(())
            }
        })
        .await
    };
    recorded?;
    let static_rps = static_n as f64 / static_t;
    let click_rps = click_n as f64 / click_t;
    let ratio = click_rps / static_rps;
    println!(
        "static 302: {static_rps:.0}/s   click redirect: {click_rps:.0}/s   ratio {ratio:.2} \
         ({} connections, {} × {} s per side, {n} messages)",
        args.connections, args.rounds, args.seconds
    );
    Ok(json!({
        "bench": "clicks",
        "messages": n,
        "connections": args.connections,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "static_302_per_s": static_rps.round(),
        "click_redirect_per_s": click_rps.round(),
        "ratio": (ratio * 1000.0).round() / 1000.0,
        "head": args.head,
    }))
}

/// `connections` keep-alive connections each GET `paths` in turn (connection `i` starts
/// at path `i`) for `phase`; the answers counted and the seconds it took.
async fn load(
    http: SocketAddr,
    connections: usize,
    phase: Duration,
    paths: Arc<Vec<String>>,
    head: bool,
) -> anyhow::Result<(u64, f64)> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + phase;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..connections {
        let (paths, done) = (paths.clone(), done.clone());
        tasks.spawn(async move { connection(http, i, deadline, &paths, &done, head).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a load connection panicked")??;
    }
    Ok((done.load(Relaxed), start.elapsed().as_secs_f64()))
}

async fn connection(
    http: SocketAddr,
    start: usize,
    deadline: Instant,
    paths: &[String],
    done: &AtomicU64,
    head: bool,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect(http).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    // Each connection starts its own stretch of the links and walks on from there.
    let mut i = start * (paths.len() / 64 + 1);
    while Instant::now() < deadline {
        let path = &paths[i % paths.len()];
        i += 1;
        let method = if head && path.starts_with("/c/") {
            "HEAD"
        } else {
            "GET"
        };
        let req = format!("{method} {path} HTTP/1.1\r\nHost: {http}\r\n\r\n");
        write.write_all(req.as_bytes()).await?;
        line.clear();
        read.read_line(&mut line).await?;
        if !line.starts_with("HTTP/1.1 302") {
            bail!("GET {path}: {}", line.trim());
        }
        let mut length = 0usize;
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                bail!("GET {path}: the connection closed mid-response");
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        read.read_exact(&mut body).await?;
        done.fetch_add(1, Relaxed);
    }
    Ok(())
}
