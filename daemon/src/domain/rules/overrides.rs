//! Operators' run-time changes to scenarios (enable / disable, channels, priority,
//! threshold, the scenario's own caps) and how they apply on top of the configured rules.
//! Plain data and a pure function; `scenario_control` checks, stores and publishes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::caps::{CapRule, CapScope};
use super::DeliveryRules;
use crate::domain::customer::{Channel, Scenario};

/// One scenario's operator changes; `None` = the config's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioOverride {
    pub enabled: Option<bool>,
    pub priority: Option<u32>,
    pub threshold: Option<f64>,
    /// Replaces the scenario's own caps (scope = this scenario).
    pub caps: Option<Vec<CapRule>>,
    /// Replaces the scenario's channels (preference order). Stored changes from before
    /// this field read as `None`.
    #[serde(default)]
    pub channels: Option<Vec<Channel>>,
    /// Replaces the scenario's include / exclude segments (marketing only).
    #[serde(default)]
    pub include_segments: Option<Vec<String>>,
    #[serde(default)]
    pub exclude_segments: Option<Vec<String>>,
}

impl ScenarioOverride {
    /// Names of the changed settings, as the API spells them.
    pub fn fields(&self) -> Vec<String> {
        [
            ("enabled", self.enabled.is_some()),
            ("priority", self.priority.is_some()),
            ("threshold", self.threshold.is_some()),
            ("caps", self.caps.is_some()),
            ("channels", self.channels.is_some()),
            ("include_segments", self.include_segments.is_some()),
            ("exclude_segments", self.exclude_segments.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name.to_owned())
        .collect()
    }

    /// Folds a later change into this one; its set fields win.
    pub fn merge(&mut self, change: ScenarioOverride) {
        self.enabled = change.enabled.or(self.enabled);
        self.priority = change.priority.or(self.priority);
        self.threshold = change.threshold.or(self.threshold);
        if change.caps.is_some() {
            self.caps = change.caps;
        }
        if change.channels.is_some() {
            self.channels = change.channels;
        }
        if change.include_segments.is_some() {
            self.include_segments = change.include_segments;
        }
        if change.exclude_segments.is_some() {
            self.exclude_segments = change.exclude_segments;
        }
    }
}

pub type Overrides = BTreeMap<String, ScenarioOverride>;

/// The config's rules with `overrides` applied.
pub fn apply(base: &DeliveryRules, overrides: &Overrides) -> DeliveryRules {
    let mut out = base.clone();
    for s in Scenario::ALL {
        let Some(o) = overrides.get(s.as_str()) else {
            continue;
        };
        if let Some(r) = out.scenarios.iter_mut().find(|r| r.scenario == s) {
            r.enabled = o.enabled.unwrap_or(r.enabled);
            r.priority = o.priority.unwrap_or(r.priority);
            if let Some(channels) = o.channels.as_ref().filter(|c| !c.is_empty()) {
                r.channels.clone_from(channels);
            }
        }
        if let (Some(t), Some(slot)) = (
            o.threshold,
            out.thresholds.iter_mut().find(|(x, _)| *x == s),
        ) {
            slot.1 = t;
        }
        if o.include_segments.is_some() || o.exclude_segments.is_some() {
            let i = match out.audiences.iter().position(|(x, _)| *x == s) {
                Some(i) => i,
                None => {
                    out.audiences.push((s, Default::default()));
                    out.audiences.len() - 1
                }
            };
            let a = &mut out.audiences[i].1;
            if let Some(inc) = &o.include_segments {
                a.include.clone_from(inc);
            }
            if let Some(exc) = &o.exclude_segments {
                a.exclude.clone_from(exc);
            }
        }
        if let Some(caps) = &o.caps {
            out.caps.retain(|c| c.scope != CapScope::Scenario(s));
            out.caps.extend(caps.iter().map(|c| CapRule {
                scope: CapScope::Scenario(s),
                ..*c
            }));
        }
    }
    out
}
