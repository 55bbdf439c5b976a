//! Complaint and hard-bounce rates per scenario and sending domain over the last day,
//! and when a scenario is paused for them. Pure: time is a parameter; the daemon keeps
//! one [`RateBook`] in memory (`hygiene_board`).
//!
//! Each (scenario, domain) keeps 24 hourly buckets of deliveries, hard bounces and
//! complaints; "the last day" is the buckets of the last 24 hours. Rates: complaints per
//! delivered message, hard bounces per attempted one (delivered + hard bounces). A
//! scenario pauses when, for one domain, a rate passes its limit with at least
//! `min_volume` messages behind it (so 1 complaint in 3 sends does not pause).

use std::collections::BTreeMap;

use crate::domain::customer::Scenario;
use crate::domain::Millis;

const HOUR_MS: Millis = 3_600_000;
const HOURS: i64 = 24;

/// `[hygiene]` pause limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PausePolicy {
    /// Complaints per delivered message (0.001 = 0.1 %).
    pub max_complaint_rate: f64,
    /// Hard bounces per attempted message (0.02 = 2 %).
    pub max_hard_bounce_rate: f64,
    /// Messages (delivered + hard bounces) in the day before a rate can pause.
    pub min_volume: u64,
}

impl Default for PausePolicy {
    fn default() -> Self {
        PausePolicy {
            max_complaint_rate: 0.001,
            max_hard_bounce_rate: 0.02,
            min_volume: 1_000,
        }
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Delivered,
    HardBounce,
    Complaint,
}

/// A day's counts for one (scenario, domain).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub delivered: u64,
    pub hard_bounces: u64,
    pub complaints: u64,
}

impl DayCounts {
    pub fn attempted(&self) -> u64 {
        self.delivered + self.hard_bounces
    }

    pub fn complaint_rate(&self) -> f64 {
        ratio(self.complaints, self.delivered)
    }

    pub fn hard_bounce_rate(&self) -> f64 {
        ratio(self.hard_bounces, self.attempted())
    }

    fn add(&mut self, o: &DayCounts) {
        self.delivered += o.delivered;
        self.hard_bounces += o.hard_bounces;
        self.complaints += o.complaints;
    }

    /// Why these counts pause their scenario under `p`, if they do.
    pub fn breach(&self, p: &PausePolicy) -> Option<String> {
        if self.attempted() < p.min_volume.max(1) {
            return None;
        }
        if self.complaint_rate() > p.max_complaint_rate {
            return Some(format!(
                "complaint rate {:.3} % ({} of {} delivered) over the last day passed {:.3} %",
                self.complaint_rate() * 100.0,
                self.complaints,
                self.delivered,
                p.max_complaint_rate * 100.0
            ));
        }
        if self.hard_bounce_rate() > p.max_hard_bounce_rate {
            return Some(format!(
                "hard-bounce rate {:.2} % ({} of {} sent) over the last day passed {:.2} %",
                self.hard_bounce_rate() * 100.0,
                self.hard_bounces,
                self.attempted(),
                p.max_hard_bounce_rate * 100.0
            ));
        }
        None
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// A pause in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub since_ms: Millis,
    pub domain: String,
    pub why: String,
}

/// The rates of every (scenario, domain) and the scenarios paused for them.
#[derive(Debug, Clone, Default)]
pub struct RateBook {
    /// Hourly buckets, oldest first: (hour, counts).
    buckets: BTreeMap<(Scenario, String), Vec<(i64, DayCounts)>>,
    paused: BTreeMap<Scenario, Pause>,
}

impl RateBook {
    /// Counts `event` of a `scenario` message from `domain` at `at`; returns the pause it
    /// starts, if it starts one.
    pub fn record(
        &mut self,
        scenario: Scenario,
        domain: &str,
        event: Event,
        at: Millis,
        p: &PausePolicy,
    ) -> Option<Pause> {
        let hour = at.div_euclid(HOUR_MS);
        let b = self
            .buckets
            .entry((scenario, domain.to_owned()))
            .or_default();
        b.retain(|(h, _)| *h > hour - HOURS);
        let i = match b.iter().position(|(h, _)| *h == hour) {
            Some(i) => i,
            None => {
                b.push((hour, DayCounts::default()));
                b.sort_by_key(|(h, _)| *h);
                b.iter().position(|(h, _)| *h == hour).unwrap_or(0)
            }
        };
        let c = &mut b[i].1;
        match event {
            Event::Delivered => c.delivered += 1,
            Event::HardBounce => c.hard_bounces += 1,
            Event::Complaint => c.complaints += 1,
        }
        // Only marketing pauses: an order update always goes.
        if event == Event::Delivered
            || !scenario.is_marketing()
            || self.paused.contains_key(&scenario)
        {
            return None;
        }
        let why = self.day(scenario, domain, at).breach(p)?;
        let pause = Pause {
            since_ms: at,
            domain: domain.to_owned(),
            why,
        };
        self.paused.insert(scenario, pause.clone());
        Some(pause)
    }

    /// The last day's counts of (scenario, domain) at `now`.
    pub fn day(&self, scenario: Scenario, domain: &str, now: Millis) -> DayCounts {
        let hour = now.div_euclid(HOUR_MS);
        let mut out = DayCounts::default();
        if let Some(b) = self.buckets.get(&(scenario, domain.to_owned())) {
            for (_, c) in b.iter().filter(|(h, _)| *h > hour - HOURS && *h <= hour) {
                out.add(c);
            }
        }
        out
    }

    /// The last day's counts of `scenario` per domain (domains with any).
    pub fn domains(&self, scenario: Scenario, now: Millis) -> Vec<(String, DayCounts)> {
        self.buckets
            .keys()
            .filter(|(s, _)| *s == scenario)
            .map(|(_, d)| (d.clone(), self.day(scenario, d, now)))
            .filter(|(_, c)| *c != DayCounts::default())
            .collect()
    }

    pub fn paused(&self, scenario: Scenario) -> Option<&Pause> {
        self.paused.get(&scenario)
    }

    /// The operator resumed `scenario`; returns whether it was paused. Its counts stay:
    /// it pauses again only on a new hard bounce or complaint past the limit.
    pub fn resume(&mut self, scenario: Scenario) -> bool {
        self.paused.remove(&scenario).is_some()
    }
}

#[cfg(test)]
#[path = "hygiene_rates_tests.rs"]
mod tests;
