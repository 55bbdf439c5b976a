//! The daemon's latency histograms (Prometheus `Histogram`s with explicit buckets in
//! seconds). Created once with [`super::Metrics`], registered in the one `/metrics`
//! registry at start (`api::http_metrics::registry`) and observed where the work
//! happens: the dispatcher (delivery latency), the fan-out (per trigger) and ingest
//! (batch received → ack sent). Every label comes from a fixed set, so memory is bounded.

use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// One label: a fixed key and a value from a bounded set.
pub type Label = [(&'static str, &'static str); 1];

/// A labelled histogram family whose buckets are fixed by a plain function.
pub type HistogramFamily = Family<Label, Histogram, fn() -> Histogram>;

/// Created → delivered, in seconds: from 50 ms up to a day (messages can wait for quiet
/// hours or a channel outage).
pub const DELIVERY_BUCKETS: [f64; 16] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1_800.0, 3_600.0, 21_600.0,
    43_200.0, 86_400.0,
];

/// A trigger picked up → its audience's decisions written, in seconds.
pub const FANOUT_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A batch received → its ack sent, in seconds.
pub const ACK_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn delivery() -> Histogram {
    Histogram::new(DELIVERY_BUCKETS)
}

fn fanout() -> Histogram {
    Histogram::new(FANOUT_BUCKETS)
}

fn ack() -> Histogram {
    Histogram::new(ACK_BUCKETS)
}

/// The three latency histograms. Cloning shares them (the families are `Arc`s inside).
#[derive(Debug, Clone)]
pub struct Histograms {
    /// `stockbell_delivery_latency_seconds{channel}`.
    pub delivery_latency: HistogramFamily,
    /// `stockbell_fanout_duration_seconds{scenario}`.
    pub fanout_duration: HistogramFamily,
    /// `stockbell_ingest_ack_latency_seconds{rpc}` (`publish` or `stream`).
    pub ingest_ack_latency: HistogramFamily,
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            delivery_latency: Family::new_with_constructor(delivery as fn() -> Histogram),
            fanout_duration: Family::new_with_constructor(fanout as fn() -> Histogram),
            ingest_ack_latency: Family::new_with_constructor(ack as fn() -> Histogram),
        }
    }
}

impl Histograms {
    /// A message delivered on `channel` `latency_ms` after it was created.
    pub fn observe_delivery(&self, channel: &'static str, latency_ms: i64) {
        let secs = latency_ms.max(0) as f64 / 1_000.0;
        self.delivery_latency
            .get_or_create(&[("channel", channel)])
            .observe(secs);
    }

    /// One trigger of `scenario` fanned out in `took`.
    pub fn observe_fanout(&self, scenario: &'static str, took: Duration) {
        self.fanout_duration
            .get_or_create(&[("scenario", scenario)])
            .observe(took.as_secs_f64());
    }

    /// One batch acked `took` after it was received, on `rpc` (`publish` / `stream`).
    pub fn observe_ack(&self, rpc: &'static str, took: Duration) {
        self.ingest_ack_latency
            .get_or_create(&[("rpc", rpc)])
            .observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    #[test]
    fn observations_land_in_their_buckets() {
        let h = Histograms::default();
        h.observe_delivery("email", 700); // 0.7 s: le=1.0 and above
        h.observe_delivery("email", 40); // 0.04 s: every bucket
        h.observe_delivery("email", -5); // clock skew counts as 0
        h.observe_fanout("restock", Duration::from_millis(3));
        h.observe_ack("stream", Duration::from_micros(800));
        let mut r = Registry::default();
        r.register("d", "d", h.delivery_latency.clone());
        r.register("f", "f", h.fanout_duration.clone());
        r.register("a", "a", h.ingest_ack_latency.clone());
        let mut out = String::new();
        encode(&mut out, &r).expect("encodes");
        for line in [
            "d_sum{channel=\"email\"} 0.74",
            "d_count{channel=\"email\"} 3",
            "d_bucket{le=\"0.05\",channel=\"email\"} 2",
            "d_bucket{le=\"0.5\",channel=\"email\"} 2",
            "d_bucket{le=\"1.0\",channel=\"email\"} 3",
            "f_bucket{le=\"0.0025\",scenario=\"restock\"} 0",
            "f_bucket{le=\"0.005\",scenario=\"restock\"} 1",
            "a_bucket{le=\"0.0005\",rpc=\"stream\"} 0",
            "a_bucket{le=\"0.001\",rpc=\"stream\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in\n{out}");
        }
    }
}
