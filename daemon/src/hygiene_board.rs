//! The daemon's one book of complaint and hard-bounce rates per scenario and sending
//! domain (`domain::lifecycle::hygiene_rates`), shared by the dispatcher (deliveries,
//! hard bounces), the customers' actors (complaints, and the `paused` gate) and the Admin
//! API (stats, resume). In memory: after a restart the day's counts start from zero and
//! no scenario is paused (the operator saw the flag; the counts build up again).

use std::sync::Mutex;

use crate::domain::customer::{Channel, Scenario};
use crate::domain::lifecycle::hygiene_rates::{DayCounts, Event, Pause, PausePolicy, RateBook};
use crate::domain::Millis;

pub struct HygieneBoard {
    book: Mutex<RateBook>,
    policy: PausePolicy,
    /// The domain of the email From address.
    sending_domain: String,
}

impl HygieneBoard {
    pub fn new(policy: PausePolicy, email_from: &str) -> HygieneBoard {
        let addr = email_from.trim().trim_end_matches('>');
        let sending_domain = addr
            .rsplit_once('@')
            .map_or("email", |(_, d)| d)
            .to_ascii_lowercase();
        HygieneBoard {
            book: Mutex::new(RateBook::default()),
            policy,
            sending_domain,
        }
    }

    /// The sending domain of a message on `channel`: the From domain for email, the
    /// channel's name for the others.
    pub fn domain_of(&self, channel: Channel) -> &str {
        match channel {
            Channel::Email => &self.sending_domain,
            other => other.as_str(),
        }
    }

    /// Counts `event` of a message; a new pause is logged for the operator.
    pub fn record(&self, scenario: Scenario, channel: Channel, event: Event, at: Millis) {
        let domain = self.domain_of(channel).to_owned();
        let Ok(mut book) = self.book.lock() else {
            return;
        };
        if let Some(p) = book.record(scenario, &domain, event, at, &self.policy) {
            tracing::error!(scenario = scenario.as_str(), domain = %p.domain, why = %p.why, "Scenario paused for its complaint / hard-bounce rate: its candidates are suppressed as \"paused\" until an operator resumes it (UpdateScenario enabled=true).");
        }
    }

    pub fn paused(&self, scenario: Scenario) -> Option<Pause> {
        self.book.lock().ok()?.paused(scenario).cloned()
    }

    pub fn resume(&self, scenario: Scenario) -> bool {
        self.book.lock().is_ok_and(|mut b| b.resume(scenario))
    }

    /// The last day's counts of `scenario` per domain.
    pub fn domains(&self, scenario: Scenario, now: Millis) -> Vec<(String, DayCounts)> {
        self.book
            .lock()
            .map(|b| b.domains(scenario, now))
            .unwrap_or_default()
    }
}
