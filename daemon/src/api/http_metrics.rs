//! `GET /metrics`: the daemon's counters in the Prometheus text format (0.0.4), or
//! OpenMetrics when the scraper's `Accept` asks for it, from ONE registry built at start
//! ([`registry`]; no global state). Most numbers are read at scrape time from the atomics
//! the daemon keeps anyway ([`OverviewCollector`], the same functions the console's
//! overview uses), so nothing grows while nobody scrapes; the latency histograms are the
//! only state of their own (`metrics::histograms`, fixed label sets). The encoding (and the
//! outbox `due` count it reads from the store) runs on a blocking thread.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE,
    WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::admin::AdminApi;
use super::overview;
use crate::delivery::outbox::reads;
use crate::domain::customer::{Channel, Scenario, SuppressReason};
use crate::domain::TriggerKind;
use crate::store::health::WriteState;

/// `Content-Type` of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of the OpenMetrics text format.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Scrapes encoded at once (each may count up to 100 000 due outbox entries).
const MAX_SCRAPES: usize = 2;

/// The `/metrics` endpoint: the registry and the token a scrape must present.
pub struct MetricsEndpoint {
    registry: Registry,
    /// `[metrics] token`; `None` = no auth.
    token: Option<String>,
    scrapes: Semaphore,
}

impl MetricsEndpoint {
    /// The endpoint over `registry`; `token` empty = no `Authorization` needed.
    pub fn new(registry: Registry, token: &str) -> MetricsEndpoint {
        MetricsEndpoint {
            registry,
            token: (!token.is_empty()).then(|| token.to_owned()),
            scrapes: Semaphore::new(MAX_SCRAPES),
        }
    }

    /// The registry as text: OpenMetrics (with `# EOF`) or Prometheus 0.0.4.
    pub fn encode(&self, openmetrics: bool) -> Result<String, fmt::Error> {
        let mut out = String::with_capacity(64 * 1024);
        if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        }
        Ok(out)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(want) = &self.token else {
            return true;
        };
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        same_secret(given.trim(), want)
    }
}

/// Equal strings, compared in time independent of where they differ (and of the
/// expected token's length): both are hashed, the digests compared without a branch.
fn same_secret(given: &str, want: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(want.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether the scraper's `Accept` asks for OpenMetrics.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

/// Answers `/metrics` (any method): 404 when `[metrics] enabled = false`, 405 for other
/// methods than GET / HEAD, 401 without the configured bearer token.
pub(super) async fn handle(
    endpoint: Option<Arc<MetricsEndpoint>>,
    req: &Request<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    let Some(endpoint) = endpoint else {
        return answer(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n".into(),
        );
    };
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut resp = answer(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "method not allowed\n".into(),
            );
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
    };
    if !endpoint.authorized(req.headers()) {
        let mut resp = answer(
            StatusCode::UNAUTHORIZED,
            "text/plain; charset=utf-8",
            "send the [metrics] token as `Authorization: Bearer <token>`\n".into(),
        );
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"stockbell metrics\""),
        );
        return resp;
    }
    let openmetrics = wants_openmetrics(req.headers());
    let Ok(_permit) = endpoint.scrapes.acquire().await else {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "shutting down\n".into(),
        );
    };
    let ep = endpoint.clone();
    let encoded = tokio::task::spawn_blocking(move || ep.encode(openmetrics)).await;
    match encoded {
        Ok(Ok(text)) => {
            let ct = if openmetrics {
                OPENMETRICS_TEXT
            } else {
                PROMETHEUS_TEXT
            };
            let body = if head { String::new() } else { text };
            answer(StatusCode::OK, ct, body)
        }
        Ok(Err(_)) | Err(_) => {
            tracing::error!("Encoding /metrics failed.");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "metrics could not be encoded\n".into(),
            )
        }
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The one registry: the latency histograms (with every label value created up front,
/// so each series exists from the first scrape) and the [`OverviewCollector`].
pub fn registry(api: &AdminApi) -> Registry {
    let h = &api.metrics.histograms;
    for c in Channel::ALL {
        drop(h.delivery_latency.get_or_create(&[("channel", c.as_str())]));
    }
    for s in Scenario::ALL.into_iter().filter(|s| s.trigger().is_some()) {
        drop(h.fanout_duration.get_or_create(&[("scenario", s.as_str())]));
    }
    for rpc in ["publish", "stream"] {
        drop(h.ingest_ack_latency.get_or_create(&[("rpc", rpc)]));
    }
    let mut r = Registry::default();
    r.register(
        "stockbell_delivery_latency_seconds",
        "Message created to delivered, by channel",
        h.delivery_latency.clone(),
    );
    r.register(
        "stockbell_fanout_duration_seconds",
        "A trigger picked up by the fan-out to its audience's decisions written, by scenario",
        h.fanout_duration.clone(),
    );
    r.register(
        "stockbell_ingest_ack_latency_seconds",
        "An ingest batch received to its ack sent, by rpc (publish, stream)",
        h.ingest_ack_latency.clone(),
    );
    r.register_collector(Box::new(OverviewCollector { api: api.clone() }));
    r
}

/// Reads the overview's numbers, the per-scenario counters and the dispatcher's stats at
/// scrape time. Keeps nothing between scrapes.
pub struct OverviewCollector {
    api: AdminApi,
}

impl fmt::Debug for OverviewCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OverviewCollector")
    }
}

/// One metric family written into a [`DescriptorEncoder`].
struct Out<'a, 'b>(&'a mut DescriptorEncoder<'b>);

impl Out<'_, '_> {
    /// A counter; `name` without `_total` (the encoder appends it).
    fn counter(&mut self, name: &str, help: &str, v: u64) -> fmt::Result {
        let c = ConstCounter::new(v);
        let m = self
            .0
            .encode_descriptor(name, help, None, c.metric_type())?;
        c.encode(m)
    }

    fn gauge<N: EncodeGaugeValue>(&mut self, name: &str, help: &str, v: N) -> fmt::Result {
        let g = ConstGauge::new(v);
        let m = self
            .0
            .encode_descriptor(name, help, None, g.metric_type())?;
        g.encode(m)
    }

    /// A labelled family of counters or gauges (integers, written exactly).
    fn family<L: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        rows: impl IntoIterator<Item = (L, u64)>,
    ) -> fmt::Result {
        let mut m = self.0.encode_descriptor(name, help, None, kind)?;
        for (labels, v) in rows {
            let one = m.encode_family(&labels)?;
            match kind {
                MetricType::Counter => ConstCounter::new(v).encode(one)?,
                _ => ConstGauge::new(v).encode(one)?,
            }
        }
        Ok(())
    }
}

type L1 = [(&'static str, &'static str); 1];
type L2 = [(&'static str, &'static str); 2];

const TRIGGER_KINDS: [TriggerKind; 4] = [
    TriggerKind::BackInStock,
    TriggerKind::LowStock,
    TriggerKind::PriceDrop,
    TriggerKind::NewArrival,
];

/// The daemon's health as one of a fixed set of states (the overview's health line).
fn health_state(api: &AdminApi) -> &'static str {
    if api.metrics.fatal().is_some() {
        return "fatal";
    }
    match api.store_health.state() {
        WriteState::Taking => "ok",
        WriteState::Refusing { .. } => "store_refusing",
        WriteState::Failed { .. } => "store_failed",
    }
}

/// Resident set size of this process, from `/proc/self/status` (`VmRSS`, in kB).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Collector for OverviewCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        use MetricType::{Counter, Gauge};
        let api = &self.api;
        let m = &api.metrics;
        let d = &api.delivery;
        let mut out = Out(&mut encoder);

        out.family::<L1>(
            "stockbell_build_info",
            "Always 1; the version label is the daemon's",
            Gauge,
            [([("version", env!("CARGO_PKG_VERSION"))], 1)],
        )?;
        out.gauge(
            "stockbell_start_time_seconds",
            "When the daemon started (Unix time)",
            api.started_ms as f64 / 1_000.0,
        )?;
        let now_state = health_state(api);
        out.family::<L1>(
            "stockbell_health",
            "1 for the daemon's current state: ok, store_refusing (disk full / read-only), store_failed, fatal",
            Gauge,
            ["ok", "store_refusing", "store_failed", "fatal"]
                .map(|s| ([("state", s)], u64::from(s == now_state))),
        )?;

        // Totals (the overview's, from the same function).
        let t = overview::totals(api);
        out.counter("stockbell_batches", "Ingest batches applied", t.batches)?;
        out.counter(
            "stockbell_batches_duplicate",
            "Ingest batches recognised as duplicates (producer, sequence) and not applied again",
            t.duplicates,
        )?;
        out.counter("stockbell_events", "Ingest events applied", t.events)?;
        out.counter(
            "stockbell_events_rejected",
            "Ingest events rejected (validation)",
            t.rejected,
        )?;
        out.family::<L1>(
            "stockbell_triggers",
            "Triggers fired, by kind",
            Counter,
            TRIGGER_KINDS.map(|k| ([("kind", k.as_str())], m.triggers_of(k))),
        )?;
        out.gauge(
            "stockbell_triggers_waiting",
            "Triggers written and not yet fanned out",
            m.last_trigger_id
                .load(Relaxed)
                .saturating_sub(m.fanout_cursor.load(Relaxed)),
        )?;

        // Per scenario.
        let per_scenario =
            |name: &str, help: &str, get: &dyn Fn(Scenario) -> u64, out: &mut Out| {
                out.family::<L1>(
                    name,
                    help,
                    Counter,
                    Scenario::ALL.map(|s| ([("scenario", s.as_str())], get(s))),
                )
            };
        per_scenario(
            "stockbell_scenario_audience",
            "Customers offered a scenario by the fan-out",
            &|s| m.scenario(s).audience.load(Relaxed),
            &mut out,
        )?;
        per_scenario(
            "stockbell_scenario_queued",
            "Messages written to the outbox, by scenario",
            &|s| m.scenario(s).queued.load(Relaxed),
            &mut out,
        )?;
        per_scenario(
            "stockbell_scenario_sent",
            "Messages the channel accepted, by scenario",
            &|s| m.scenario(s).sent.load(Relaxed),
            &mut out,
        )?;
        per_scenario(
            "stockbell_scenario_failed",
            "Messages that failed for good, by scenario",
            &|s| m.scenario(s).failed.load(Relaxed),
            &mut out,
        )?;
        let suppressed = Scenario::ALL.into_iter().flat_map(|s| {
            SuppressReason::ALL.into_iter().map(move |r| {
                let labels: L2 = [("scenario", s.as_str()), ("reason", r.as_str())];
                (labels, m.suppressed(s, r))
            })
        });
        out.family(
            "stockbell_scenario_suppressed",
            "Messages not sent, by scenario and reason",
            Counter,
            suppressed,
        )?;
        let rules = api.control.live.get();
        out.family::<L1>(
            "stockbell_scenario_enabled",
            "1 while a scenario is enabled",
            Gauge,
            Scenario::ALL.map(|s| ([("scenario", s.as_str())], u64::from(rules.enabled(s)))),
        )?;
        out.family::<L1>(
            "stockbell_scenario_paused",
            "1 while list hygiene pauses a scenario (complaint or hard-bounce rate)",
            Gauge,
            Scenario::ALL.map(|s| {
                let paused = api.board.paused(s).is_some();
                ([("scenario", s.as_str())], u64::from(paused))
            }),
        )?;

        // The dispatcher.
        out.family::<L1>(
            "stockbell_delivery_attempts",
            "Send attempts by status: delivered, retried (will retry), channel_down (waits, not charged), failed (for good), skipped (cancelled just before sending)",
            Counter,
            [
                ("delivered", &d.delivered),
                ("retried", &d.retried),
                ("channel_down", &d.channel_down),
                ("failed", &d.failed),
                ("skipped", &d.skipped),
            ]
            .map(|(s, c)| ([("status", s)], c.load(Relaxed))),
        )?;
        let channels = overview::channels(api);
        out.family::<L1>(
            "stockbell_channel_up",
            "1 while a configured channel is up, 0 while down",
            Gauge,
            channels.iter().filter_map(|c| {
                let ch = Channel::ALL.into_iter().find(|x| x.as_str() == c.channel)?;
                Some(([("channel", ch.as_str())], u64::from(!c.down)))
            }),
        )?;
        out.family::<L1>(
            "stockbell_channel_failed_probes",
            "Failed probes of a channel in its current outage (0 while up)",
            Gauge,
            channels.iter().filter_map(|c| {
                let ch = Channel::ALL.into_iter().find(|x| x.as_str() == c.channel)?;
                Some(([("channel", ch.as_str())], u64::from(c.failed_probes)))
            }),
        )?;

        // The outbox: census at start + transitions, and the due count from the store.
        let now = crate::clock::now_ms();
        let due = reads::count_due(&api.store, now, overview::MAX_DUE_COUNT).unwrap_or(0);
        let depth = overview::depth(api, &t, due);
        out.family::<L1>(
            "stockbell_outbox_entries",
            "Outbox entries by state",
            Gauge,
            [
                ("pending", depth.pending),
                ("delivered", depth.delivered),
                ("failed", depth.failed),
                ("cancelled", depth.cancelled),
            ]
            .map(|(s, v)| ([("state", s)], v)),
        )?;
        out.gauge(
            "stockbell_outbox_due_entries",
            "Pending entries due now (counted up to 100000)",
            due,
        )?;
        out.counter(
            "stockbell_outbox_cancelled",
            "Outbox entries cancelled (unsubscribe, scenario disabled)",
            m.outbox_cancelled.load(Relaxed),
        )?;
        out.counter(
            "stockbell_outbox_requeued",
            "Failed outbox entries an operator sent again",
            m.outbox_requeued.load(Relaxed),
        )?;

        // Actors and the store.
        out.family::<L1>(
            "stockbell_actors_active",
            "Actors in memory, by kind",
            Gauge,
            [
                ("product", m.active_products.load(Relaxed)),
                ("customer", m.active_customers.load(Relaxed)),
            ]
            .map(|(k, v)| ([("kind", k)], v)),
        )?;
        out.counter(
            "stockbell_actors_passivated",
            "Actors dropped from memory after idling",
            m.passivated.load(Relaxed),
        )?;
        out.gauge(
            "stockbell_store_bytes",
            "Approximate size of the RocksDB store (SST files and memtables)",
            api.store.approximate_size(),
        )?;
        if let Some(rss) = resident_bytes() {
            out.gauge(
                "stockbell_process_resident_memory_bytes",
                "Resident memory of the daemon (VmRSS)",
                rss,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "http_metrics_tests.rs"]
mod tests;
