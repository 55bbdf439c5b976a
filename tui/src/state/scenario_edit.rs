//! The scenario edits in progress: the enable/disable question, the channels and
//! priority boxes, and the threshold box whose reach estimates carry tickets so a stale
//! reply is dropped. Keys in, the RPCs to start out.

use stockbell_proto::v1 as pb;

use super::{Note, Remote, ScenariosState};
use crate::fmt;
use crate::input::Action;
use crate::rpc::Request;

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

/// A threshold as typed, if it is a number in 0..=100.
pub fn parse_threshold(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && (0.0..=100.0).contains(&v)).then_some(v)
}

impl ScenariosState {
    pub(super) fn handle_edit(&mut self, action: Action) -> Vec<Request> {
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
    pub(super) fn ticket(&mut self) -> u64 {
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
}

pub(super) fn reach(ticket: u64, scenario: &str, threshold: f64) -> Request {
    Request::EstimateReach {
        ticket,
        req: pb::EstimateReachRequest {
            scenario: scenario.to_string(),
            threshold,
            sku: String::new(),
        },
    }
}

pub(super) fn update(scenario: String, f: impl FnOnce(&mut pb::UpdateScenarioRequest)) -> Request {
    let mut u = pb::UpdateScenarioRequest {
        scenario,
        ..Default::default()
    };
    f(&mut u);
    Request::UpdateScenario(u)
}
