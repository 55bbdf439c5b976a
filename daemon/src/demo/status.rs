//! `stockbelld demo-status`: a plain-text summary of a running demo over the Admin API —
//! triggers per kind, what each scenario did with them, what the marketing scenarios
//! earned (attributed orders, revenue, conversion, holdout), the outbox by state and the
//! `.eml` files written. For headless runs (`DEMO_SECONDS=N make demo`, CI smoke tests)
//! and terminals without the console.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use stockbell_proto::v1::{
    admin_client::AdminClient, GetProducerRequest, GetScenarioStatsRequest, ListOutboxRequest,
    ListSegmentsRequest, ListTriggersRequest, OutboxDepth, TriggerKind, WatchOverviewRequest,
};
use tonic::transport::{Channel, Endpoint};

/// Pages of 1000 read at most per count (so a huge store answers in bounded time).
const MAX_PAGES: usize = 200;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The demo daemon's gRPC address (`http://127.0.0.1:PORT` or `127.0.0.1:PORT`).
    #[arg(long)]
    pub addr: String,
    /// The demo's data directory, where `outbox-eml/` holds the written messages.
    #[arg(long, default_value = "./demo-data")]
    pub data_dir: PathBuf,
}

async fn connect(addr: &str) -> Result<AdminClient<Channel>> {
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let channel = Endpoint::from_shared(uri.clone())
        .map_err(|_| {
            anyhow!("--addr: {addr:?} is not an address; write e.g. http://127.0.0.1:50051")
        })?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .with_context(|| format!("--addr: cannot connect to {uri}"))?;
    Ok(AdminClient::new(channel).max_decoding_message_size(64 << 20))
}

/// Triggers of one kind in the trigger log (`None` past [`MAX_PAGES`] pages).
async fn count_triggers(
    admin: &mut AdminClient<Channel>,
    kind: TriggerKind,
) -> Result<(u64, bool)> {
    let (mut n, mut before) = (0u64, 0u64);
    for _ in 0..MAX_PAGES {
        let page = admin
            .list_triggers(ListTriggersRequest {
                kind: kind as i32,
                sku: String::new(),
                limit: 1000,
                before_id: before,
            })
            .await
            .map_err(|s| anyhow!("Admin.ListTriggers: {}", s.message()))?
            .into_inner()
            .triggers;
        n += page.len() as u64;
        match page.last() {
            Some(t) if page.len() == 1000 => before = t.id,
            _ => return Ok((n, false)),
        }
    }
    Ok((n, true))
}

/// Outbox entries by state: from the live overview, else by paging `ListOutbox`.
async fn outbox_depth(admin: &mut AdminClient<Channel>) -> Result<OutboxDepth> {
    let overview = async {
        let mut s = admin
            .watch_overview(WatchOverviewRequest { interval_ms: 0 })
            .await?
            .into_inner();
        s.message().await
    };
    if let Ok(Some(o)) = overview.await {
        if let Some(d) = o.outbox {
            return Ok(d);
        }
    }
    let mut depth = OutboxDepth::default();
    for status in ["pending", "delivered", "failed", "cancelled"] {
        let (mut n, mut before) = (0u64, 0u64);
        for _ in 0..MAX_PAGES {
            let page = admin
                .list_outbox(ListOutboxRequest {
                    status: status.into(),
                    customer_id: String::new(),
                    limit: 1000,
                    before_seq: before,
                })
                .await
                .map_err(|s| anyhow!("Admin.ListOutbox: {}", s.message()))?
                .into_inner()
                .entries;
            n += page.len() as u64;
            match page.last() {
                Some(e) if page.len() == 1000 => before = e.seq,
                _ => break,
            }
        }
        match status {
            "pending" => depth.pending = n,
            "delivered" => depth.delivered = n,
            "failed" => depth.failed = n,
            _ => depth.cancelled = n,
        }
    }
    Ok(depth)
}

/// `.eml` files in `dir` (0 when it does not exist yet).
pub fn count_eml(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

/// The segments with live size, repeat rate and LTV (config-defined ones first, the
/// built-in RFM groups last; empty groups left out).
async fn segments(admin: &mut AdminClient<Channel>, out: &mut String) -> Result<()> {
    let list = admin
        .list_segments(ListSegmentsRequest {})
        .await
        .map_err(|s| anyhow!("Admin.ListSegments: {}", s.message()))?
        .into_inner()
        .segments;
    writeln!(out, "segments:")?;
    for s in &list {
        let Some(m) = &s.metrics else { continue };
        let name = s.definition.as_ref().map_or("", |d| d.name.as_str());
        if s.source == "builtin" && m.size == 0 {
            continue;
        }
        writeln!(
            out,
            "  {name:<26} size {:>6}  buyers {:>6}  repeat {:>5.1} %  LTV {:>9.0}  AOV {:>7.0}",
            m.size,
            m.buyers,
            m.repeat_rate * 100.0,
            m.ltv_minor,
            m.aov_per_order_minor,
        )?;
    }
    Ok(())
}

/// Builds the summary text.
pub async fn summary(args: &StatusArgs) -> Result<String> {
    let mut admin = connect(&args.addr).await?;
    let mut out = String::new();
    let producer = admin
        .get_producer(GetProducerRequest {
            producer_id: super::driver::PRODUCER.into(),
        })
        .await
        .map_err(|s| anyhow!("Admin.GetProducer: {}", s.message()))?
        .into_inner();
    writeln!(
        out,
        "stockbell demo at {} — producer {:?} at batch {}",
        args.addr, producer.producer_id, producer.last_sequence
    )?;
    let mut kinds = Vec::new();
    let mut total = 0;
    for (kind, name) in [
        (TriggerKind::BackInStock, "back_in_stock"),
        (TriggerKind::LowStock, "low_stock"),
        (TriggerKind::PriceDrop, "price_drop"),
        (TriggerKind::NewArrival, "new_arrival"),
    ] {
        let (n, more) = count_triggers(&mut admin, kind).await?;
        total += n;
        kinds.push(format!("{name} {}{n}", if more { ">=" } else { "" }));
    }
    writeln!(out, "triggers:  {} (total {total})", kinds.join(", "))?;
    let stats = admin
        .get_scenario_stats(GetScenarioStatsRequest {})
        .await
        .map_err(|s| anyhow!("Admin.GetScenarioStats: {}", s.message()))?
        .into_inner();
    for s in &stats.scenarios {
        let suppressed: Vec<String> = s
            .suppressed
            .iter()
            .filter(|x| x.count > 0)
            .map(|x| format!("{} {}", x.reason, x.count))
            .collect();
        writeln!(
            out,
            "  {:<22} triggered {:>6}  audience {:>7}  queued {:>6}  sent {:>6}  suppressed: {}",
            s.scenario,
            s.triggered,
            s.audience,
            s.queued,
            s.sent,
            if suppressed.is_empty() {
                "-".into()
            } else {
                suppressed.join(", ")
            }
        )?;
    }
    for s in stats.scenarios.iter().filter(|s| s.messages > 0) {
        let revenue: Vec<String> = s
            .revenue
            .iter()
            .map(|r| format!("{} {}", r.currency, r.amount_minor))
            .collect();
        let holdout = match &s.holdout {
            Some(h) if h.holdout_pct > 0.0 => {
                let lift = if h.has_lift {
                    format!("{:+.2}", h.lift)
                } else {
                    "-".into()
                };
                format!(
                    "  held out {} ({} ordered) vs sent {} ({} ordered), lift {lift}",
                    h.held_customers, h.held_converted, h.sent_customers, h.sent_converted
                )
            }
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:<22} messages {:>6}  attributed orders {:>5}  revenue {}  conv {:.2} %{holdout}",
            s.scenario,
            s.messages,
            s.attributed_orders,
            if revenue.is_empty() {
                "-".into()
            } else {
                revenue.join(", ")
            },
            s.conversion_rate * 100.0,
        )?;
    }
    segments(&mut admin, &mut out).await?;
    let d = outbox_depth(&mut admin).await?;
    writeln!(
        out,
        "outbox:    pending {}, delivered {}, failed {}, cancelled {}",
        d.pending, d.delivered, d.failed, d.cancelled
    )?;
    let eml = args.data_dir.join("outbox-eml");
    writeln!(out, ".eml files: {} in {}", count_eml(&eml), eml.display())?;
    Ok(out)
}
