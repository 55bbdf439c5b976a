//! Scenarios: settings from `ListScenarios` joined with live counters, the selection, and
//! the edits in progress (enable/disable confirmation, channels, priority, threshold with
//! a reach estimate shown before the operator confirms). An order update (transactional)
//! has no priority or threshold; a cross-sell offer no threshold.

use stockbell_proto::v1 as pb;

use super::{step, Note, Remote};
use crate::fmt;
use crate::input::Action;
use crate::rpc::{Reply, Request};

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

/// The channels a scenario may use, in the order the daemon names them.
pub const CHANNELS: [&str; 3] = ["email", "line", "webhook"];

/// Channels as typed ("line, email"), if every name is a channel and none repeats.
pub fn parse_channels(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in s.split([',', ' ']).map(str::trim).filter(|n| !n.is_empty()) {
        if !CHANNELS.contains(&name) {
            return Err(format!(
                "channels: {name:?} is not a channel; type e.g. email,line (email, line, webhook)"
            ));
        }
        if out.iter().any(|c| c == name) {
            return Err(format!("channels: {name} is listed twice; list each once"));
        }
        out.push(name.to_string());
    }
    if out.is_empty() {
        return Err("channels: type at least one, e.g. email,line".into());
    }
    Ok(out)
}

/// A threshold being typed, and the reach at it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdEdit {
    pub scenario: String,
    pub input: String,
    pub current: Option<f64>,
    /// For the latest valid input (or the current threshold before any input).
    pub estimate: Remote<pb::ReachEstimate>,
    pub ticket: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Waiting for y/n.
    Toggle {
        scenario: String,
        enable: bool,
        /// An order update: switching it changes what customers hear about their orders.
        order_update: bool,
    },
    /// Channels in preference order, typed as "email,line".
    Channels {
        scenario: String,
        input: String,
        current: Vec<String>,
    },
    Priority {
        scenario: String,
        input: String,
        current: Option<u32>,
    },
    Threshold(ThresholdEdit),
}

#[derive(Debug, Default)]
pub struct ScenariosState {
    pub settings: Remote<Vec<pb::ScenarioSettings>>,
    pub selected: usize,
    pub edit: Option<Edit>,
    pub note: Option<Note>,
    tickets: u64,
}

/// A threshold as typed, if it is a number in 0..=100.
pub fn parse_threshold(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && (0.0..=100.0).contains(&v)).then_some(v)
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

    fn handle_edit(&mut self, action: Action) -> Vec<Request> {
        let Some(edit) = self.edit.take() else {
            return Vec::new();
        };
        match (edit, action) {
            (
                Edit::Toggle {
                    scenario, enable, ..
                },
                Action::Yes,
            ) => {
                let verb = if enable { "enabling" } else { "disabling" };
                self.note = Note::info(format!("{verb} {scenario}…"));
                return vec![update(scenario, |u| u.enabled = Some(enable))];
            }
            (Edit::Toggle { .. }, Action::No) => self.note = Note::info("unchanged"),
            (Edit::Priority { .. } | Edit::Threshold(_) | Edit::Channels { .. }, Action::Back) => {
                self.note = Note::info("unchanged")
            }
            (
                Edit::Channels {
                    scenario,
                    input,
                    current,
                },
                Action::Enter,
            ) => match parse_channels(&input) {
                Ok(channels) => {
                    self.note = Note::info(format!(
                        "setting {scenario} channels to {}…",
                        channels.join(", ")
                    ));
                    return vec![update(scenario, |u| {
                        u.channels = Some(pb::ChannelList { channels })
                    })];
                }
                Err(e) => {
                    self.note = Note::error(e);
                    self.edit = Some(Edit::Channels {
                        scenario,
                        input,
                        current,
                    });
                }
            },
            (
                Edit::Channels {
                    scenario,
                    mut input,
                    current,
                },
                a,
            ) => {
                match a {
                    Action::Char(c)
                        if (c.is_ascii_lowercase() || c == ',' || c == ' ') && input.len() < 32 =>
                    {
                        input.push(c)
                    }
                    Action::Erase => {
                        input.pop();
                    }
                    _ => {}
                }
                self.edit = Some(Edit::Channels {
                    scenario,
                    input,
                    current,
                });
            }
            (
                Edit::Priority {
                    scenario,
                    input,
                    current,
                },
                Action::Enter,
            ) => match input.parse::<u32>() {
                Ok(p) => {
                    self.note = Note::info(format!("setting {scenario} priority to {p}…"));
                    return vec![update(scenario, |u| u.priority = Some(p))];
                }
                Err(_) => {
                    self.note = Note::error("priority: type a whole number, e.g. 5");
                    self.edit = Some(Edit::Priority {
                        scenario,
                        input,
                        current,
                    });
                }
            },
            (
                Edit::Priority {
                    scenario,
                    mut input,
                    current,
                },
                a,
            ) => {
                match a {
                    Action::Char(c) if c.is_ascii_digit() && input.len() < 5 => input.push(c),
                    Action::Erase => {
                        input.pop();
                    }
                    _ => {}
                }
                self.edit = Some(Edit::Priority {
                    scenario,
                    input,
                    current,
                });
            }
            (Edit::Threshold(t), Action::Enter) => return self.confirm_threshold(t),
            (Edit::Threshold(mut t), a) => {
                let changed = match a {
                    Action::Char(c) if (c.is_ascii_digit() || c == '.') && t.input.len() < 6 => {
                        t.input.push(c);
                        true
                    }
                    Action::Erase => t.input.pop().is_some(),
                    _ => false,
                };
                let reqs = if changed {
                    self.reestimate(&mut t)
                } else {
                    Vec::new()
                };
                self.edit = Some(Edit::Threshold(t));
                return reqs;
            }
            (edit @ Edit::Toggle { .. }, _) => self.edit = Some(edit),
        }
        Vec::new()
    }

    /// The next ticket for an estimate; replies with an older one are stale.
    fn ticket(&mut self) -> u64 {
        self.tickets += 1;
        self.tickets
    }

    fn reestimate(&mut self, t: &mut ThresholdEdit) -> Vec<Request> {
        t.ticket = self.ticket();
        // An emptied box shows the current threshold's reach again.
        let value = if t.input.is_empty() {
            t.current
        } else {
            parse_threshold(&t.input)
        };
        match value {
            Some(v) => {
                t.estimate = Remote::Loading;
                vec![reach(t.ticket, &t.scenario, v)]
            }
            None => {
                t.estimate = Remote::Idle;
                Vec::new()
            }
        }
    }

    fn confirm_threshold(&mut self, t: ThresholdEdit) -> Vec<Request> {
        let Some(v) = parse_threshold(&t.input) else {
            self.note = Note::error("threshold: type a number from 0 to 100, Esc to cancel");
            self.edit = Some(Edit::Threshold(t));
            return Vec::new();
        };
        if t.estimate.is_loading() {
            self.note = Note::info(format!(
                "waiting for the reach at {} before saving…",
                fmt::score(v)
            ));
            self.edit = Some(Edit::Threshold(t));
            return Vec::new();
        }
        self.note = Note::info(format!(
            "setting {} threshold to {}…",
            t.scenario,
            fmt::score(v)
        ));
        vec![update(t.scenario, |u| u.threshold = Some(v))]
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

fn reach(ticket: u64, scenario: &str, threshold: f64) -> Request {
    Request::EstimateReach {
        ticket,
        req: pb::EstimateReachRequest {
            scenario: scenario.to_string(),
            threshold,
            sku: String::new(),
        },
    }
}

fn update(scenario: String, f: impl FnOnce(&mut pb::UpdateScenarioRequest)) -> Request {
    let mut u = pb::UpdateScenarioRequest {
        scenario,
        ..Default::default()
    };
    f(&mut u);
    Request::UpdateScenario(u)
}
