//! Measurements of a run (per phase: throughput, ack latency histogram, rejections,
//! duplicates) and how they are printed: a human summary and a JSON object.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Highest ack latency the histogram tracks, in microseconds (1 h); larger ones saturate.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// What one phase (catalogue or mix) measured.
pub struct PhaseStats {
    pub batches: usize,
    pub events: usize,
    pub elapsed: Duration,
    /// Ack latency (batch handed to gRPC until its Ack arrived), microseconds.
    pub latency_us: Histogram<u64>,
    pub applied: u64,
    pub rejected: u64,
    pub duplicates: u64,
}

impl PhaseStats {
    pub fn new() -> anyhow::Result<Self> {
        Ok(PhaseStats {
            batches: 0,
            events: 0,
            elapsed: Duration::ZERO,
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
            applied: 0,
            rejected: 0,
            duplicates: 0,
        })
    }

    pub fn record_latency(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(us.max(1));
    }

    /// Events per second over the phase (0 for an empty phase).
    pub fn eps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if self.events == 0 || secs <= 0.0 {
            0.0
        } else {
            self.events as f64 / secs
        }
    }

    /// Latency quantile in milliseconds (0 when nothing was recorded).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latency_us.is_empty() {
            0.0
        } else {
            self.latency_us.value_at_quantile(q) as f64 / 1000.0
        }
    }

    pub fn max_ms(&self) -> f64 {
        if self.latency_us.is_empty() {
            0.0
        } else {
            self.latency_us.max() as f64 / 1000.0
        }
    }

    fn line(&self, label: &str, phase: &str) -> String {
        format!(
            "[{label}] {phase:<9} {:>9} events in {:>6} batches, {:>8.3} s, {:>10.0} events/s; \
             ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; applied {}, rejected {}, duplicates {}",
            self.events,
            self.batches,
            self.elapsed.as_secs_f64(),
            self.eps(),
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.max_ms(),
            self.applied,
            self.rejected,
            self.duplicates,
        )
    }
}

/// Both phases of one run against one server.
pub struct RunReport {
    /// None when the catalogue phase was skipped.
    pub catalogue: Option<PhaseStats>,
    pub mix: PhaseStats,
}

/// Rounds to 2 decimals so the JSON stays readable.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl RunReport {
    pub fn catalogue_eps(&self) -> Option<f64> {
        self.catalogue.as_ref().map(PhaseStats::eps)
    }

    pub fn rejected(&self) -> u64 {
        self.mix.rejected + self.catalogue.as_ref().map_or(0, |c| c.rejected)
    }

    pub fn duplicates(&self) -> u64 {
        self.mix.duplicates + self.catalogue.as_ref().map_or(0, |c| c.duplicates)
    }

    /// The human summary, one line per phase.
    pub fn summary(&self, label: &str) -> String {
        let mut out = String::new();
        if let Some(c) = &self.catalogue {
            out.push_str(&c.line(label, "catalogue"));
            out.push('\n');
        }
        out.push_str(&self.mix.line(label, "mix"));
        out
    }

    /// The `run` subcommand's result line.
    pub fn json(&self) -> Value {
        json!({
            "mode": "run",
            "events": self.mix.events,
            "eps": round2(self.mix.eps()),
            "catalogue_events": self.catalogue.as_ref().map_or(0, |c| c.events),
            "catalogue_eps": self.catalogue_eps().map(round2),
            "ack_p50_ms": round2(self.mix.quantile_ms(0.5)),
            "ack_p99_ms": round2(self.mix.quantile_ms(0.99)),
            "ack_max_ms": round2(self.mix.max_ms()),
            "rejected": self.rejected(),
            "duplicates": self.duplicates(),
        })
    }
}
