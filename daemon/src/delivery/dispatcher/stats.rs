//! Delivery counters for operators: attempts by outcome, a latency histogram (created →
//! delivered), and each channel's health. Plain atomics (and the health board's lock),
//! written by the send tasks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::delivery::health::HealthBoard;

/// Upper bounds (ms) of the delivery-latency buckets; the last bucket is everything above.
pub const LATENCY_BOUNDS_MS: [i64; 16] = [
    50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 1_800_000, 3_600_000,
    21_600_000, 43_200_000, 86_400_000,
];

/// Counters for operators; plain atomics.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub delivered: AtomicU64,
    /// Attempts that failed and will be retried.
    pub retried: AtomicU64,
    /// Attempts that found their channel down (not charged to the entry).
    pub channel_down: AtomicU64,
    pub failed: AtomicU64,
    /// Entries found cancelled (or changed) just before sending.
    pub skipped: AtomicU64,
    /// Delivered counts by created → delivered latency, per [`LATENCY_BOUNDS_MS`].
    pub latency: [AtomicU64; LATENCY_BOUNDS_MS.len() + 1],
    pub latency_sum_ms: AtomicU64,
    /// Whether each configured channel is up, and since when it is down.
    pub health: HealthBoard,
}

impl DeliveryStats {
    /// The latency under which `q` (0..1) of the deliveries so far fell, as the upper
    /// bound of its bucket (`None` before the first delivery; `i64::MAX` past the last).
    pub fn latency_quantile(&self, q: f64) -> Option<i64> {
        let counts: Vec<u64> = self.latency.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(LATENCY_BOUNDS_MS.get(i).copied().unwrap_or(i64::MAX));
            }
        }
        Some(i64::MAX)
    }

    pub(super) fn record_delivery(&self, latency_ms: i64) {
        let latency_ms = latency_ms.max(0);
        let bucket = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| latency_ms <= *b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        self.delivered.fetch_add(1, Relaxed);
        self.latency[bucket].fetch_add(1, Relaxed);
        self.latency_sum_ms
            .fetch_add(u64::try_from(latency_ms).unwrap_or(0), Relaxed);
    }
}
