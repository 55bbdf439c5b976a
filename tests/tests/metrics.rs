//! `GET /metrics` against a real `stockbelld`: the bearer token, both text formats, the
//! output parsed by an independent parser (Python `prometheus_client.parser`), every
//! metric of the README's table exported and every exported `stockbell_` family in the
//! table, counters and histograms moving under a restock that mails (aiosmtpd), and the
//! Grafana dashboard's queries naming only exported metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::pb::ProductUpsert;
use stockbell_tests::{
    catalog, customer, notify_me, poll_until, publish_ok, sale, stock_set, upsert, Daemon,
    DaemonOptions, Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "metrics-token-0123456789abcdef";

/// The README's section with the metric table ("### Prometheus metrics", up to the next
/// `### ` heading).
fn readme_part() -> Result<String> {
    let path = stockbell_tests::crate_dir().join("../README.md");
    let readme = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let start = readme
        .find("\n### Prometheus metrics")
        .context("README: no \"### Prometheus metrics\" section")?
        + 1;
    let rest = &readme[start..];
    let end = rest[4..].find("\n### ").map_or(rest.len(), |i| i + 4);
    Ok(rest[..end].to_string())
}

/// The metrics the README documents: name → type, from the table's rows.
fn documented() -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for line in readme_part()?.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `name` | type | labels | meaning |" splits into ["", name, type, ...].
        if let [_, name, kind, ..] = cells.as_slice() {
            if let Some(name) = name.strip_prefix("`stockbell_") {
                let name = format!("stockbell_{}", name.trim_end_matches('`'));
                out.insert(name, kind.to_string());
            }
        }
    }
    ensure!(out.len() >= 20, "metric table not found: {out:?}");
    Ok(out)
}

/// One HTTP/1.1 GET with extra headers: the status, the head in lower case and the body.
async fn get(addr: SocketAddr, path: &str, headers: &str) -> Result<(u16, String, String)> {
    let (status, head, body) =
        stockbell_tests::web::request_with(addr, "GET", path, headers).await?;
    Ok((status, head.to_ascii_lowercase(), body))
}

/// Parses Prometheus text with `prometheus_client.parser` and prints JSON:
/// `[{name, type, samples: [[name, labels, value]]}]`.
const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type,
                "samples": [[s.name, s.labels, s.value] for s in f.samples]})
print(json.dumps(out))
"#;

/// A scrape as the Python parser read it.
struct Scrape {
    /// Family name (as exported: counters with `_total`) → type.
    families: BTreeMap<String, String>,
    /// (sample name, sorted labels) → value.
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
}

impl Scrape {
    fn parse(text: &str) -> Result<Scrape> {
        let mut child = std::process::Command::new("python3")
            .args(["-c", PARSER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("python3 (scripts/setup.sh installs prometheus_client)")?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().context("stdin")?;
            stdin.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        ensure!(
            out.status.success(),
            "the parser refused the text: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let mut families = BTreeMap::new();
        let mut samples = BTreeMap::new();
        for f in json.as_array().context("families")? {
            let name = f["name"].as_str().context("name")?;
            let kind = f["type"].as_str().context("type")?;
            // The parser names a counter family without its `_total`.
            let exported = if kind == "counter" && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            families.insert(exported, kind.to_string());
            for s in f["samples"].as_array().context("samples")? {
                let sname = s[0].as_str().context("sample name")?.to_string();
                let mut labels: Vec<(String, String)> = s[1]
                    .as_object()
                    .context("labels")?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                labels.sort();
                samples.insert((sname, labels), s[2].as_f64().unwrap_or(f64::NAN));
            }
        }
        Ok(Scrape { families, samples })
    }

    /// The value of sample `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64> {
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.sort();
        self.samples
            .get(&(name.to_string(), l))
            .copied()
            .with_context(|| format!("no sample {name}{labels:?}"))
    }

    /// The sum of every sample named `name`.
    fn sum(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, v)| *v)
            .sum()
    }
}

async fn scrape(addr: SocketAddr) -> Result<Scrape> {
    let (status, head, body) = get(
        addr,
        "/metrics",
        &format!("Authorization: Bearer {TOKEN}\r\n"),
    )
    .await?;
    ensure!(status == 200, "{status}: {body}");
    ensure!(
        head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    Scrape::parse(&body)
}

/// The metric names in a PromQL expression (identifiers starting `stockbell_`).
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("stockbell_") {
        let ident: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        rest = &rest[at + ident.len()..];
        out.push(ident);
    }
    out
}

/// Every `expr` of the dashboard.
fn dashboard_exprs() -> Result<Vec<String>> {
    let path = stockbell_tests::crate_dir().join("../deploy/grafana/stockbell.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).context("dashboard JSON")?;
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&json, &mut out);
    ensure!(out.len() >= 15, "too few queries: {out:?}");
    Ok(out)
}

/// Whether a name in a query is a series `families` (exported name → type) exports: a
/// gauge or counter by its exported name, a histogram by its `_bucket`, `_sum` or
/// `_count` series. A counter without `_total`, or a histogram's bare name, is no series.
fn is_exported(name: &str, families: &BTreeMap<String, String>) -> bool {
    match families.get(name).map(String::as_str) {
        Some("gauge" | "counter") => return true,
        Some(_) => return false,
        None => {}
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        name.strip_suffix(suffix)
            .and_then(|base| families.get(base))
            .is_some_and(|t| t == "histogram")
    })
}

/// Every query of the dashboard names only series of `families`.
fn check_dashboard(families: &BTreeMap<String, String>) -> Result<()> {
    let mut unknown = BTreeSet::new();
    let mut seen = 0;
    for expr in dashboard_exprs()? {
        for name in names_in(&expr) {
            seen += 1;
            if !is_exported(&name, families) {
                unknown.insert(format!("{name} (in {expr})"));
            }
        }
    }
    ensure!(seen >= 20, "too few metric names in the dashboard: {seen}");
    ensure!(unknown.is_empty(), "not exported: {unknown:#?}");
    Ok(())
}

#[test]
fn dashboard_names_only_documented_metrics() -> Result<()> {
    let docs = documented()?;
    check_dashboard(&docs)?;
    // The rule itself: suffixes belong to histograms only, counters need `_total`.
    ensure!(is_exported(
        "stockbell_delivery_latency_seconds_bucket",
        &docs
    ));
    ensure!(!is_exported("stockbell_delivery_latency_seconds", &docs));
    ensure!(!is_exported("stockbell_events", &docs));
    ensure!(!is_exported("stockbell_events_total_count", &docs));
    ensure!(!is_exported("stockbell_store_bytes_sum", &docs));
    ensure!(
        names_in("rate(stockbell_a_total[5m]) / stockbell_b")
            == ["stockbell_a_total", "stockbell_b"]
    );
    Ok(())
}

/// SMTP to `smtp`, decisions at once, no quiet hours, `/metrics` behind a token.
fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
        .set("metrics", "token", TOKEN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_metric_is_exported_and_moves_under_load() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let http = daemon.http_addr()?;

    // The token.
    for auth in ["", "Authorization: Bearer not-the-token-0123456789\r\n"] {
        let (status, head, body) = get(http, "/metrics", auth).await?;
        ensure!(status == 401, "{auth:?}: {status} {body}");
        ensure!(head.contains("www-authenticate: bearer"), "{head}");
        ensure!(!body.contains("stockbell_"), "{body}");
    }

    // OpenMetrics when asked.
    let (status, head, body) = get(
        http,
        "/metrics",
        &format!("Authorization: Bearer {TOKEN}\r\nAccept: application/openmetrics-text; version=1.0.0\r\n"),
    )
    .await?;
    ensure!(status == 200, "{status}");
    ensure!(
        head.contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    ensure!(body.ends_with("# EOF\n"), "{body}");

    // Before any load: every documented metric is there, and nothing undocumented.
    let docs = documented()?;
    let before = scrape(http).await?;
    let exported: BTreeMap<String, String> = before
        .families
        .iter()
        .filter(|(n, _)| n.starts_with("stockbell_"))
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    ensure!(
        exported == docs,
        "exported and documented differ:\n only exported: {:?}\n only documented: {:?}\n types: {exported:?} vs {docs:?}",
        exported.keys().filter(|n| !docs.contains_key(*n)).collect::<Vec<_>>(),
        docs.keys().filter(|n| !exported.contains_key(*n)).collect::<Vec<_>>(),
    );
    check_dashboard(&exported)?;
    ensure!(
        before.value(
            "stockbell_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        )? == 1.0
    );
    ensure!(before.value("stockbell_health", &[("state", "ok")])? == 1.0);
    ensure!(before.value("stockbell_health", &[("state", "fatal")])? == 0.0);
    let now_s = stockbell_tests::now_ms() as f64 / 1000.0;
    let started = before.value("stockbell_start_time_seconds", &[])?;
    ensure!(
        (now_s - 120.0..=now_s).contains(&started),
        "{started} vs {now_s}"
    );
    ensure!(before.value("stockbell_channel_up", &[("channel", "email")])? == 1.0);
    let rss = before.value("stockbell_process_resident_memory_bytes", &[])?;
    ensure!((1e6..1e10).contains(&rss), "{rss}");

    // Load: customers wait for a sold-out product, it comes back (one publish), then a
    // stream of two more batches.
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut events = vec![upsert(ProductUpsert {
        imported: true,
        ..catalog("sku-1", 1980)
    })];
    events.push(stock_set("sku-1", 1));
    events.push(sale("sku-1", 1));
    for n in 0..3 {
        let id = format!("c{n}");
        events.push(customer(&id, &format!("{id}@example.jp")));
        events.push(notify_me(&id, "sku-1"));
    }
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("sku-1", 20)])).await?;
    smtp.wait_for(3, WAIT).await?;
    let batches = vec![
        seq.batch(vec![sale("sku-1", 1)]),
        seq.batch(vec![sale("sku-1", 1), stock_set("", 5)]),
    ];
    let mut acks = ingest
        .stream(tokio_stream::iter(batches))
        .await
        .context("Ingest.Stream")?
        .into_inner();
    for _ in 0..2 {
        let ack = acks.message().await?.context("ack")?;
        ensure!(ack.batch_error.is_empty(), "{ack:?}");
    }

    // After: the counters and histograms moved.
    let after = poll_until(WAIT, || async {
        let s = scrape(http).await?;
        let sent = s.value(
            "stockbell_scenario_sent_total",
            &[("scenario", "back_in_stock")],
        )?;
        ensure!(sent >= 3.0, "sent {sent}");
        let lat = s.value(
            "stockbell_delivery_latency_seconds_count",
            &[("channel", "email")],
        )?;
        ensure!(lat >= 3.0, "latency count {lat}");
        Ok(s)
    })
    .await?;
    let moved = |name: &str, labels: &[(&str, &str)], by: f64| -> Result<()> {
        let (b, a) = (before.value(name, labels)?, after.value(name, labels)?);
        ensure!(a - b >= by, "{name}{labels:?}: {b} -> {a}, expected +{by}");
        Ok(())
    };
    moved("stockbell_batches_total", &[], 4.0)?;
    moved("stockbell_events_total", &[], 12.0)?;
    moved("stockbell_events_rejected_total", &[], 1.0)?;
    moved(
        "stockbell_triggers_total",
        &[("kind", "back_in_stock")],
        1.0,
    )?;
    moved(
        "stockbell_scenario_audience_total",
        &[("scenario", "back_in_stock")],
        3.0,
    )?;
    moved(
        "stockbell_scenario_queued_total",
        &[("scenario", "back_in_stock")],
        3.0,
    )?;
    moved(
        "stockbell_scenario_sent_total",
        &[("scenario", "back_in_stock")],
        3.0,
    )?;
    moved(
        "stockbell_delivery_attempts_total",
        &[("status", "delivered")],
        3.0,
    )?;
    moved("stockbell_outbox_entries", &[("state", "delivered")], 3.0)?;
    moved(
        "stockbell_delivery_latency_seconds_count",
        &[("channel", "email")],
        3.0,
    )?;
    moved(
        "stockbell_fanout_duration_seconds_count",
        &[("scenario", "back_in_stock")],
        1.0,
    )?;
    moved(
        "stockbell_ingest_ack_latency_seconds_count",
        &[("rpc", "publish")],
        2.0,
    )?;
    moved(
        "stockbell_ingest_ack_latency_seconds_count",
        &[("rpc", "stream")],
        2.0,
    )?;
    moved("stockbell_actors_active", &[("kind", "customer")], 1.0)?;
    // A histogram's +Inf bucket is its count; its sum is positive once observed.
    let count = after.value(
        "stockbell_delivery_latency_seconds_count",
        &[("channel", "email")],
    )?;
    let inf = after.value(
        "stockbell_delivery_latency_seconds_bucket",
        &[("channel", "email"), ("le", "+Inf")],
    )?;
    ensure!(count == inf, "{count} vs {inf}");
    ensure!(after.sum("stockbell_delivery_latency_seconds_sum") > 0.0);
    ensure!(after.value("stockbell_store_bytes", &[])? > 0.0);
    drop(daemon);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_metrics_answer_404_and_open_ones_need_no_token() -> Result<()> {
    let off = Daemon::start(DaemonOptions::new().set("metrics", "enabled", false)).await?;
    let (status, _, body) = get(off.http_addr()?, "/metrics", "").await?;
    ensure!(status == 404, "{status}: {body}");
    drop(off);
    let open = Daemon::start(DaemonOptions::new()).await?;
    let (status, head, body) = get(open.http_addr()?, "/metrics", "").await?;
    ensure!(status == 200, "{status}: {body}");
    ensure!(head.contains("text/plain; version=0.0.4"), "{head}");
    let s = Scrape::parse(&body)?;
    ensure!(
        s.families.contains_key("stockbell_events_total"),
        "{:?}",
        s.families.keys()
    );
    drop(open);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_names_a_bad_metrics_token() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("stockbelld.toml");
    std::fs::write(&path, "[metrics]\ntoken = \"too short\"\n")?;
    let out = stockbell_tests::check_config(&path)?;
    if out.status.success() {
        bail!("accepted a bad token: {}", out.text());
    }
    ensure!(out.text().contains("metrics.token"), "{}", out.text());
    Ok(())
}
