//! Whether each channel is up: a state machine over send results (pure, time is a
//! parameter) and the board the dispatcher and the overview share.
//!
//! A send that finds the channel down (`SendError::ChannelDown`) takes the whole channel
//! down: its queue waits and one probe at a time tries it, the first `retry_base` after
//! the failure, then doubling up to `retry_max`. The first send that reaches the server
//! again (delivered or refused for its own reasons) brings it up. Results of sends that
//! started before the outage began change nothing but the last error, so a burst of
//! failures in flight is one outage, and a send that got through just before it does not
//! end it.

use std::sync::Mutex;

use super::SendError;
use crate::domain::customer::Channel;
use crate::domain::Millis;

/// How an outage is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbePolicy {
    /// The first probe comes this long after the channel went down ...
    pub base_ms: i64,
    /// ... and later ones double up to this.
    pub max_ms: i64,
}

impl ProbePolicy {
    /// The wait before the next probe after `failed` probes failed.
    fn delay(&self, failed: u32) -> i64 {
        let base = self.base_ms.max(1);
        base.saturating_mul(1_i64 << failed.min(62))
            .min(self.max_ms.max(base))
    }
}

/// A channel that is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    pub since_ms: Millis,
    /// What the last failed send said.
    pub last_error: String,
    pub failed_probes: u32,
    pub next_probe_ms: Millis,
    /// A probe is out: no other send starts until it is back.
    pub probing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Health {
    #[default]
    Up,
    Down(Outage),
}

/// Whether a send may start on the channel now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Up: as many as its slots allow.
    Send,
    /// Down and a probe is due: exactly one send, as the probe.
    Probe,
    /// Down: nothing until the next probe.
    Wait,
}

/// What a send was started as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendKind {
    /// Started while the channel was up, at `started_ms`.
    Regular {
        started_ms: Millis,
    },
    Probe,
}

/// What a send found out about the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered about the message (delivered, or refused it alone).
    Reached,
    /// The channel is down.
    Down(String),
    /// Nothing was sent (expired, stale, cancelled, unrenderable).
    NotSent,
}

impl Outcome {
    pub fn of(result: &Result<(), SendError>) -> Outcome {
        match result {
            Ok(()) => Outcome::Reached,
            Err(e) if e.channel_down() => Outcome::Down(e.reason().to_owned()),
            Err(e) if e.reached_server() => Outcome::Reached,
            Err(_) => Outcome::NotSent,
        }
    }
}

/// A state change, to log once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Same,
    WentDown {
        error: String,
        next_probe_ms: Millis,
    },
    CameUp {
        down_for_ms: i64,
    },
}

impl Health {
    pub fn admit(&self, now: Millis) -> Admit {
        match self {
            Health::Up => Admit::Send,
            Health::Down(o) if !o.probing && now >= o.next_probe_ms => Admit::Probe,
            Health::Down(_) => Admit::Wait,
        }
    }

    /// A probe was started (after [`Admit::Probe`]).
    pub fn probe_started(&mut self) {
        if let Health::Down(o) = self {
            o.probing = true;
        }
    }

    /// Takes a send's outcome into account.
    pub fn record(
        &mut self,
        kind: SendKind,
        outcome: Outcome,
        now: Millis,
        policy: &ProbePolicy,
    ) -> Change {
        match (&mut *self, kind, outcome) {
            (Health::Up, _, Outcome::Down(error)) => {
                let next_probe_ms = now.saturating_add(policy.delay(0));
                *self = Health::Down(Outage {
                    since_ms: now,
                    last_error: error.clone(),
                    failed_probes: 0,
                    next_probe_ms,
                    probing: false,
                });
                Change::WentDown {
                    error,
                    next_probe_ms,
                }
            }
            (Health::Up, _, _) => Change::Same,
            (Health::Down(o), SendKind::Probe, Outcome::Reached) => {
                let down_for_ms = now.saturating_sub(o.since_ms);
                *self = Health::Up;
                Change::CameUp { down_for_ms }
            }
            (Health::Down(o), SendKind::Probe, Outcome::Down(error)) => {
                o.failed_probes = o.failed_probes.saturating_add(1);
                o.next_probe_ms = now.saturating_add(policy.delay(o.failed_probes));
                o.last_error = error;
                o.probing = false;
                Change::Same
            }
            (Health::Down(o), SendKind::Probe, Outcome::NotSent) => {
                // The probe found nothing to send; the next one may go at once.
                o.probing = false;
                Change::Same
            }
            (Health::Down(o), SendKind::Regular { started_ms }, outcome) => {
                if let Outcome::Down(error) = outcome {
                    o.last_error = error;
                } else if started_ms >= o.since_ms && outcome == Outcome::Reached {
                    // Only probes start while down; be safe if one did anyway.
                    let down_for_ms = now.saturating_sub(o.since_ms);
                    *self = Health::Up;
                    return Change::CameUp { down_for_ms };
                }
                Change::Same
            }
        }
    }
}

/// One channel's state as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelHealth {
    pub channel: Channel,
    pub health: Health,
}

/// Every configured channel's health; shared by the dispatcher's send tasks (which
/// report) and the overview (which reads). Logs one line per state change.
#[derive(Debug)]
pub struct HealthBoard {
    policy: ProbePolicy,
    channels: Mutex<Vec<ChannelHealth>>,
}

impl Default for HealthBoard {
    fn default() -> Self {
        HealthBoard::new(
            &[Channel::Email],
            ProbePolicy {
                base_ms: 30_000,
                max_ms: 3_600_000,
            },
        )
    }
}

impl HealthBoard {
    pub fn new(configured: &[Channel], policy: ProbePolicy) -> HealthBoard {
        let channels = configured
            .iter()
            .map(|&channel| ChannelHealth {
                channel,
                health: Health::Up,
            })
            .collect();
        HealthBoard {
            policy,
            channels: Mutex::new(channels),
        }
    }

    fn with<T>(&self, channel: Channel, f: impl FnOnce(&mut Health) -> T) -> Option<T> {
        let mut all = self.channels.lock().ok()?;
        all.iter_mut()
            .find(|c| c.channel == channel)
            .map(|c| f(&mut c.health))
    }

    /// Whether a send may start on `channel` now (an unknown channel is treated as up:
    /// its sends fail on their own).
    pub fn admit(&self, channel: Channel, now: Millis) -> Admit {
        self.with(channel, |h| h.admit(now)).unwrap_or(Admit::Send)
    }

    /// Takes the probe slot of a down channel; `false` if it is not free (any more).
    pub fn start_probe(&self, channel: Channel, now: Millis) -> bool {
        self.with(channel, |h| {
            let free = h.admit(now) == Admit::Probe;
            if free {
                h.probe_started();
            }
            free
        })
        .unwrap_or(false)
    }

    /// Records a send's outcome and logs a change of state.
    pub fn record(&self, channel: Channel, kind: SendKind, outcome: Outcome, now: Millis) {
        let policy = self.policy;
        let change = self.with(channel, |h| h.record(kind, outcome, now, &policy));
        match change {
            Some(Change::WentDown {
                error,
                next_probe_ms,
            }) => tracing::warn!(
                channel = channel.as_str(),
                error = %error,
                first_probe_in_ms = next_probe_ms - now,
                max_probe_interval_ms = policy.max_ms,
                "Channel down: its messages wait (no attempts charged) while one probe at a time checks it."
            ),
            Some(Change::CameUp { down_for_ms }) => tracing::info!(
                channel = channel.as_str(),
                down_for_ms,
                "Channel up again: its waiting messages go out."
            ),
            Some(Change::Same) | None => {}
        }
    }

    /// Every configured channel, in configuration order.
    pub fn snapshot(&self) -> Vec<ChannelHealth> {
        self.channels.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
