//! Scenarios: settings from `ListScenarios` joined with live counters, the selection, and
//! the edits in progress (enable/disable confirmation, channels, priority, threshold with
//! a reach estimate shown before the operator confirms). An order update (transactional)
//! has no priority or threshold; a cross-sell offer no threshold.

use stockbell_proto::v1 as pb;

use super::{step, Note, Remote};
use crate::fmt;
use crate::input::Action;
use crate::rpc::{Reply, Request};

#[path = "scenario_edit.rs"]
mod edit;
use edit::reach;
pub use edit::{parse_channels, parse_threshold, Edit, ThresholdEdit, CHANNELS};

/// One table row: a scenario's settings and/or counters (either may be missing).
#[derive(Debug, Clone, Copy)]
pub struct ScenarioRow<'a> {
    pub name: &'a str,
    pub settings: Option<&'a pb::ScenarioSettings>,
    pub stats: Option<&'a pb::ScenarioStats>,
}

impl ScenarioRow<'_> {
    pub fn enabled(&self) -> Option<bool> {
        self.settings
            .map(|s| s.enabled)
            .or(self.stats.map(|s| s.enabled))
    }

    /// An order update (transactional): no priority, threshold or caps.
    pub fn order_update(&self) -> bool {
        self.settings.is_some_and(|s| s.class == "transactional")
    }

    /// Whether a threshold applies (assumed while the settings are not known).
    pub fn has_threshold(&self) -> bool {
        self.settings
            .is_none_or(|s| s.has_threshold || s.class.is_empty())
    }

    pub fn suppressed(&self) -> u64 {
        self.stats
            .map(|s| s.suppressed.iter().map(|c| c.count).sum())
            .unwrap_or(0)
    }
}

/// Rows in settings order, then scenarios only the counters know.
pub fn rows<'a>(
    settings: &'a [pb::ScenarioSettings],
    stats: &'a [pb::ScenarioStats],
) -> Vec<ScenarioRow<'a>> {
    let mut rows: Vec<ScenarioRow<'a>> = settings
        .iter()
        .map(|s| ScenarioRow {
            name: &s.scenario,
            settings: Some(s),
            stats: stats.iter().find(|c| c.scenario == s.scenario),
        })
        .collect();
    for c in stats {
        if !settings.iter().any(|s| s.scenario == c.scenario) {
            rows.push(ScenarioRow {
                name: &c.scenario,
                settings: None,
                stats: Some(c),
            });
        }
    }
    rows
}

/// What an edit needs to know about the selected scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub enabled: Option<bool>,
    pub priority: Option<u32>,
    pub threshold: Option<f64>,
    pub channels: Option<Vec<String>>,
    pub order_update: bool,
    pub has_threshold: bool,
}

impl From<&ScenarioRow<'_>> for Target {
    fn from(r: &ScenarioRow<'_>) -> Self {
        Target {
            name: r.name.to_string(),
            enabled: r.enabled(),
            priority: r.settings.map(|s| s.priority),
            threshold: r.settings.map(|s| s.threshold),
            channels: r.settings.map(|s| s.channels.clone()),
            order_update: r.order_update(),
            has_threshold: r.has_threshold(),
        }
    }
}

#[derive(Debug, Default)]
pub struct ScenariosState {
    pub settings: Remote<Vec<pb::ScenarioSettings>>,
    pub selected: usize,
    pub edit: Option<Edit>,
    pub note: Option<Note>,
    tickets: u64,
}

impl ScenariosState {
    /// Settings as known so far (empty before `ListScenarios` answers).
    pub fn settings(&self) -> &[pb::ScenarioSettings] {
        self.settings.ready().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Handles an action; `len` is the number of rows and `target` the selected one.
    pub fn handle(&mut self, action: Action, len: usize, target: Option<Target>) -> Vec<Request> {
        if self.edit.is_some() {
            return self.handle_edit(action);
        }
        let Some(t) = target else {
            if action == Action::Refresh {
                self.settings.reload();
                return vec![Request::ListScenarios];
            }
            return Vec::new();
        };
        match action {
            Action::Toggle => match t.enabled {
                Some(enabled) => {
                    self.edit = Some(Edit::Toggle {
                        scenario: t.name,
                        enable: !enabled,
                        order_update: t.order_update,
                    })
                }
                None => self.note = Note::error("whether it is enabled is not known yet"),
            },
            Action::Channels => {
                let current = t.channels.unwrap_or_default();
                self.edit = Some(Edit::Channels {
                    scenario: t.name,
                    input: current.join(","),
                    current,
                })
            }
            Action::Priority if t.order_update => {
                self.note = Note::error(format!(
                    "priority: {} is an order update, sent whenever it applies (never weighed against others)",
                    t.name
                ))
            }
            Action::Threshold if !t.has_threshold => {
                self.note = Note::error(format!(
                    "threshold: {} has no interest threshold (only the stock scenarios do)",
                    t.name
                ))
            }
            Action::Priority => {
                self.edit = Some(Edit::Priority {
                    scenario: t.name,
                    input: String::new(),
                    current: t.priority,
                })
            }
            Action::Threshold => {
                let ticket = self.ticket();
                let mut reqs = Vec::new();
                let mut estimate = Remote::Idle;
                // Show the reach and the curve at the current threshold straight away.
                if let Some(current) = t.threshold {
                    estimate = Remote::Loading;
                    reqs.push(reach(ticket, &t.name, current));
                }
                self.edit = Some(Edit::Threshold(ThresholdEdit {
                    scenario: t.name,
                    input: String::new(),
                    current: t.threshold,
                    estimate,
                    ticket,
                }));
                return reqs;
            }
            Action::Refresh => {
                self.settings.reload();
                return vec![Request::ListScenarios];
            }
            a => self.selected = step(self.selected, len, a),
        }
        Vec::new()
    }

    /// Takes this view's replies (others are ignored).
    pub fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Scenarios(r) => {
                if let Err(e) = &r {
                    if self.settings.ready().is_some() {
                        self.note = Note::error(e.to_string());
                        return;
                    }
                }
                self.settings = r.into();
            }
            Reply::ScenarioUpdated(Ok(s)) => {
                let on = if s.enabled { "enabled" } else { "disabled" };
                let what = if s.class == "transactional" {
                    format!("{on}, channels {}", s.channels.join(", "))
                } else if s.has_threshold || s.class.is_empty() {
                    format!(
                        "{on}, priority {}, threshold {}",
                        s.priority,
                        fmt::score(s.threshold)
                    )
                } else {
                    format!(
                        "{on}, priority {}, channels {}",
                        s.priority,
                        s.channels.join(", ")
                    )
                };
                self.note = Note::info(format!("{}: saved ({what})", s.scenario));
                match &mut self.settings {
                    Remote::Ready(list) => match list.iter_mut().find(|x| x.scenario == s.scenario)
                    {
                        Some(x) => *x = s,
                        None => list.push(s),
                    },
                    other => *other = Remote::Ready(vec![s]),
                }
            }
            Reply::ScenarioUpdated(Err(e)) => self.note = Note::error(e.to_string()),
            Reply::Reach { ticket, result } => {
                if let Some(Edit::Threshold(t)) = &mut self.edit {
                    if t.ticket == ticket {
                        t.estimate = result.into();
                    }
                }
            }
            _ => {}
        }
    }
}
