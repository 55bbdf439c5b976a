//! Scenario settings an operator changes at run time (enable / disable, channels,
//! priority, threshold, the scenario's own caps) on top of the config file's; an order
//! update (transactional) takes only enable / disable and channels. The changes are kept
//! in the meta column family, so they outlive restarts, and published through
//! [`LiveRules`], which the fan-out and every customer actor read per decision.

pub mod segment_defs;

use std::sync::{Arc, Mutex, RwLock};

use thiserror::Error;

use crate::domain::customer::Scenario;
pub use crate::domain::rules::overrides::{apply, Overrides, ScenarioOverride};
use crate::domain::rules::DeliveryRules;
use crate::store::meta::ScenarioOverrides;
use crate::store::writer::Writer;
use crate::store::{Batch, Store, StoreError};

/// The delivery rules in force. Readers take a cheap snapshot per decision.
#[derive(Debug)]
pub struct LiveRules(RwLock<Arc<DeliveryRules>>);

impl LiveRules {
    pub fn new(rules: DeliveryRules) -> Arc<LiveRules> {
        Arc::new(LiveRules(RwLock::new(Arc::new(rules))))
    }

    pub fn get(&self) -> Arc<DeliveryRules> {
        match self.0.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, rules: DeliveryRules) {
        let mut w = match self.0.write() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        *w = Arc::new(rules);
    }
}

#[derive(Debug, Error)]
pub enum ControlError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored scenario changes are unreadable ({0}); delete meta key scenario_overrides")]
    Corrupt(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ControlError {
    ControlError::Invalid {
        field,
        message: message.into(),
    }
}

/// Checks one change to `scenario`; the error names the field and the fix.
pub fn validate(scenario: Scenario, change: &ScenarioOverride) -> Result<(), ControlError> {
    let name = scenario.as_str();
    if change.threshold.is_some() && scenario.trigger().is_none() {
        return Err(invalid(
            "threshold",
            format!("{name} has no interest threshold (only the stock scenarios back_in_stock, low_stock, price_drop and new_arrival have one)"),
        ));
    }
    if !scenario.is_marketing() && (change.priority.is_some() || change.caps.is_some()) {
        let field = if change.priority.is_some() {
            "priority"
        } else {
            "caps"
        };
        return Err(invalid(
            field,
            format!("{name} is an order update: it goes whenever it applies, never held back by priorities or caps; change enabled or channels instead"),
        ));
    }
    if change.include_segments.is_some() || change.exclude_segments.is_some() {
        let field = if change.include_segments.is_some() {
            "include_segments"
        } else {
            "exclude_segments"
        };
        if !scenario.is_marketing() || scenario == Scenario::LastChance {
            return Err(invalid(
                field,
                format!("{name} takes no segment audience (only marketing scenarios other than last_chance do); leave include_segments / exclude_segments unset"),
            ));
        }
    }
    if let Some(channels) = &change.channels {
        if channels.is_empty() {
            return Err(invalid(
                "channels",
                "is empty; list at least one of email, line, webhook (or disable the scenario)",
            ));
        }
        if let Some(twice) = channels
            .iter()
            .enumerate()
            .find_map(|(i, c)| channels[..i].contains(c).then_some(c))
        {
            return Err(invalid(
                "channels",
                format!(
                    "{} is listed twice; list each channel once, in preference order",
                    twice.as_str()
                ),
            ));
        }
    }
    if let Some(t) = change.threshold {
        if !t.is_finite() || !(0.0..=100.0).contains(&t) {
            return Err(invalid(
                "threshold",
                format!("{t} is outside 0..100; use a score such as 0.4"),
            ));
        }
    }
    for c in change.caps.iter().flatten() {
        if c.max == 0 {
            return Err(invalid(
                "caps.max",
                "0 would block the scenario; disable it instead (enabled = false)",
            ));
        }
        let window_ok = match c.window {
            crate::domain::rules::caps::CapWindow::Rolling { ms } => ms > 0,
            crate::domain::rules::caps::CapWindow::LocalDays { days } => days > 0,
        };
        if !window_ok {
            return Err(invalid(
                "caps.window_ms",
                "set window_ms > 0 (rolling) or local_days > 0 (calendar days)",
            ));
        }
    }
    Ok(())
}

/// Owns the operator's changes: loads them at start, applies and stores updates.
pub struct ScenarioControl {
    base: DeliveryRules,
    overrides: Mutex<Overrides>,
    pub live: Arc<LiveRules>,
    writer: Writer,
    /// One update at a time: read, store, publish.
    updating: tokio::sync::Mutex<()>,
}

impl ScenarioControl {
    /// The config's rules plus whatever operators changed before the last stop.
    pub fn load(
        base: DeliveryRules,
        store: &Store,
        writer: Writer,
    ) -> Result<ScenarioControl, ControlError> {
        let overrides = store.get::<ScenarioOverrides>(())?.unwrap_or_default();
        let live = LiveRules::new(apply(&base, &overrides));
        Ok(ScenarioControl {
            base,
            overrides: Mutex::new(overrides),
            live,
            writer,
            updating: tokio::sync::Mutex::new(()),
        })
    }

    pub fn overrides(&self) -> Overrides {
        match self.overrides.lock() {
            Ok(o) => o.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Applies `change` to `scenario` (or drops its changes when `reset`), stores it and
    /// publishes the new rules. Nothing changes if the write fails.
    pub async fn update(
        &self,
        scenario: Scenario,
        change: Option<ScenarioOverride>,
    ) -> Result<(), ControlError> {
        if let Some(c) = &change {
            validate(scenario, c)?;
        }
        let _one_at_a_time = self.updating.lock().await;
        let mut next = self.overrides();
        match change {
            Some(c) => next.entry(scenario.as_str().into()).or_default().merge(c),
            None => {
                next.remove(scenario.as_str());
            }
        }
        let mut batch = Batch::default();
        batch.put::<ScenarioOverrides>((), &next);
        self.writer.write(batch, 0).await?;
        // Store first, then publish: a crash in between leaves the stored (newer) value,
        // which the next start loads.
        let rules = apply(&self.base, &next);
        match self.overrides.lock() {
            Ok(mut o) => *o = next,
            Err(p) => *p.into_inner() = next,
        }
        self.live.set(rules);
        Ok(())
    }
}

#[cfg(test)]
#[path = "scenario_control_tests.rs"]
mod tests;
