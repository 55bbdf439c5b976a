//! `[segment_settings]`: how segments' metrics, scores, history and membership sync run.

use std::time::Duration;

use serde::Deserialize;

use crate::settings::{invalid, ConfigError, Dur};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentSettings {
    /// A customer whose last order is older than this is dormant (the monthly table).
    pub dormant_after: Dur,
    /// How often every segment's metrics are snapshotted for its history.
    pub snapshot_every: Dur,
    /// Days of snapshots kept.
    pub history_days: u32,
    /// How often RFM cutoffs and the median interval are recomputed from all customers.
    pub rfm_refresh: Dur,
    /// How often segments with `webhook = true` are compared with their stored members
    /// (entered / left events for the shop webhook).
    pub webhook_every: Dur,
}

impl Default for SegmentSettings {
    fn default() -> Self {
        SegmentSettings {
            dormant_after: Dur(Duration::from_secs(180 * 86_400)),
            snapshot_every: Dur(Duration::from_secs(86_400)),
            history_days: 400,
            rfm_refresh: Dur(Duration::from_secs(60)),
            webhook_every: Dur(Duration::from_secs(60)),
        }
    }
}

impl SegmentSettings {
    /// Checks the values; errors name the key and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let at_least = |d: &Dur, key: &'static str, min: Duration, hint: &'static str| {
            if d.0 < min {
                Err(invalid(key, hint))
            } else {
                Ok(())
            }
        };
        at_least(
            &self.dormant_after,
            "segment_settings.dormant_after",
            Duration::from_secs(86_400),
            "must be at least \"1d\" (e.g. \"180d\")",
        )?;
        at_least(
            &self.snapshot_every,
            "segment_settings.snapshot_every",
            Duration::from_secs(1),
            "must be at least \"1s\" (e.g. \"1d\")",
        )?;
        at_least(
            &self.rfm_refresh,
            "segment_settings.rfm_refresh",
            Duration::from_secs(1),
            "must be at least \"1s\" (e.g. \"60s\")",
        )?;
        at_least(
            &self.webhook_every,
            "segment_settings.webhook_every",
            Duration::from_millis(100),
            "must be at least \"100ms\" (e.g. \"1m\")",
        )?;
        if !(1..=3650).contains(&self.history_days) {
            return Err(invalid(
                "segment_settings.history_days",
                "must be 1 to 3650 (e.g. 400)",
            ));
        }
        Ok(())
    }
}
