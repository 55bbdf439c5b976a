//! List hygiene of one customer: the sunset policy (a customer who stopped engaging gets
//! one last-chance message, then marketing pauses until they engage again), soft-bounce
//! runs per channel (a run of `soft_bounce_limit` suppresses the address like a hard
//! bounce), and complaints (marketing stops at once).
//!
//! Pure: time and the policy are parameters. The customer's actor is the one owner: it
//! asks [`Hygiene::gate`] before it decides a marketing candidate and records what was
//! sent, bounced or complained about.

use serde::{Deserialize, Serialize};

use super::engagement::Engagement;
use crate::domain::customer::{Channel, SuppressReason};
use crate::domain::Millis;

/// Interest events closer than this to the last one recorded are not recorded again
/// while nothing depends on them (see [`Hygiene::record_interest`]).
pub const INTEREST_GRANULARITY_MS: Millis = 86_400_000;

/// `[hygiene]` as the rules use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HygienePolicy {
    /// The sunset policy is on.
    pub sunset: bool,
    /// Marketing messages without engagement before a customer counts as inactive.
    pub min_messages: u32,
    /// How long without a click, an order or an interest event.
    pub inactive_for_ms: Millis,
    /// Soft bounces in a row on one channel that suppress its address (0 = never).
    pub soft_bounce_limit: u32,
}

impl Default for HygienePolicy {
    fn default() -> Self {
        HygienePolicy {
            sunset: false,
            min_messages: 5,
            inactive_for_ms: 180 * 86_400_000,
            soft_bounce_limit: 7,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hygiene {
    /// When the last-chance message was written: marketing is paused (sunset) until the
    /// customer engages after it.
    pub last_chance_ms: Option<Millis>,
    /// The latest interest event (favourite, cart, notify-me, view) or order: engagement
    /// that `Engagement` does not count as a click.
    pub last_interest_ms: Option<Millis>,
    /// Marketing messages since `last_interest_ms` (the sunset counts the smaller of this
    /// and `Engagement::marketing_since_engaged`, so any engagement restarts the count).
    pub marketing_since_interest: u32,
    /// Soft bounces in a row, per channel (a delivered message ends the run).
    pub soft_bounces: Vec<SoftBounceRun>,
    /// The customer complained (feedback loop or the shop): no more marketing.
    pub complaint: Option<Complaint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftBounceRun {
    pub channel: Channel,
    pub run: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    pub at_ms: Millis,
    pub channel: Channel,
    /// The outbox entry complained about, when the report named it.
    pub entry_seq: Option<u64>,
}

/// What happens to a marketing candidate for this customer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Decide it as usual.
    Open,
    /// The customer just turned inactive: send the last-chance message instead of it,
    /// then pause.
    LastChance,
    /// Suppressed for this reason (`Inactive` or `Complaint`).
    Closed(SuppressReason),
}

/// A customer's place under a sunset policy, for the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    /// Inactive now: the next candidate brings the last chance, then the pause.
    WouldPause,
    /// The last chance went and the customer has not engaged since.
    Paused,
    Complained,
}

/// What a soft bounce did to the channel's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounce {
    /// The run is this long now.
    Counted(u32),
    /// The run reached the limit: suppress the address (the run starts over).
    Suppress,
}

/// Marketing messages in `ledger` (the customer's recent sends) after `at`.
pub fn marketing_after(ledger: &[crate::domain::customer::Sent], at: Millis) -> u32 {
    let n = ledger
        .iter()
        .filter(|s| s.scenario.is_marketing() && s.at_ms > at)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Hygiene {
    /// The time of the customer's latest engagement of any kind.
    pub fn engaged_ms(&self, e: &Engagement) -> Option<Millis> {
        e.last_engaged_ms().max(self.last_interest_ms)
    }

    /// Marketing messages since the customer last engaged in any way.
    pub fn messages_since_engaged(&self, e: &Engagement) -> u32 {
        e.marketing_since_engaged()
            .min(self.marketing_since_interest)
    }

    /// Whether the customer is inactive under `p` at `now`: at least `min_messages`
    /// marketing messages and no engagement for `inactive_for` (a customer who never
    /// engaged counts from `created_ms`).
    pub fn inactive(
        &self,
        e: &Engagement,
        created_ms: Millis,
        now: Millis,
        p: &HygienePolicy,
    ) -> bool {
        let since = self.engaged_ms(e).unwrap_or(created_ms);
        self.messages_since_engaged(e) >= p.min_messages
            && now.saturating_sub(since) >= p.inactive_for_ms
    }

    /// Where a sunset policy `p` puts this customer now, without changing anything (the
    /// operator's preview).
    pub fn standing(
        &self,
        e: &Engagement,
        created_ms: Millis,
        now: Millis,
        p: &HygienePolicy,
    ) -> Standing {
        if self.complaint.is_some() {
            return Standing::Complained;
        }
        let engaged = self.engaged_ms(e);
        if self
            .last_chance_ms
            .is_some_and(|sent| engaged.is_none_or(|at| at <= sent))
        {
            return Standing::Paused;
        }
        if self.inactive(e, created_ms, now, p) {
            Standing::WouldPause
        } else {
            Standing::Active
        }
    }

    /// The gate for a marketing candidate at `now`. A sunset ends (the pause is lifted)
    /// when the customer engaged after the last chance; that is the one change it makes.
    pub fn gate(
        &mut self,
        e: &Engagement,
        created_ms: Millis,
        now: Millis,
        p: &HygienePolicy,
    ) -> Gate {
        if self.complaint.is_some() {
            return Gate::Closed(SuppressReason::Complaint);
        }
        if let Some(sent) = self.last_chance_ms {
            if self.engaged_ms(e).is_some_and(|at| at > sent) {
                self.last_chance_ms = None;
            } else if p.sunset {
                return Gate::Closed(SuppressReason::Inactive);
            }
        }
        if p.sunset && self.last_chance_ms.is_none() && self.inactive(e, created_ms, now, p) {
            return Gate::LastChance;
        }
        Gate::Open
    }

    /// A marketing message was written at `at` (the caller records it in `Engagement`
    /// too).
    pub fn record_marketing(&mut self) {
        self.marketing_since_interest = self.marketing_since_interest.saturating_add(1);
    }

    /// The last-chance message was written at `at`: marketing pauses.
    pub fn record_last_chance(&mut self, at: Millis) {
        self.last_chance_ms = Some(at);
    }

    /// An interest event or an order at `at`: the customer engaged. Returns whether the
    /// state changed: a late event changes nothing, and neither does one within
    /// [`INTEREST_GRANULARITY_MS`] of the last recorded when no marketing came between
    /// and nothing is paused (so a browsing customer's views are not a write each; the
    /// sunset's clock is then at most that much early, against an `inactive_for` of
    /// months).
    pub fn record_interest(&mut self, at: Millis) -> bool {
        let quiet = self.marketing_since_interest == 0 && self.last_chance_ms.is_none();
        match self.last_interest_ms {
            Some(t) if t >= at => return false,
            Some(t) if quiet && at - t < INTEREST_GRANULARITY_MS => return false,
            _ => {}
        }
        self.last_interest_ms = Some(at);
        self.marketing_since_interest = 0;
        true
    }

    /// Whether a sunset policy `p` would pause this customer now, or keep them paused:
    /// only then does the customer's actor (with the sunset on) or the preview look up
    /// their latest interest signal (interest events are not sent to the customer's
    /// actor, they stay on the products' edges).
    pub fn needs_interest(
        &self,
        e: &Engagement,
        created_ms: Millis,
        now: Millis,
        p: &HygienePolicy,
    ) -> bool {
        self.complaint.is_none()
            && matches!(
                self.standing(e, created_ms, now, p),
                Standing::WouldPause | Standing::Paused
            )
    }

    /// The latest interest signal, found at `at` on the customer's edges, with
    /// `marketing_after` marketing messages sent since it (as far as the customer's
    /// ledger goes back). Returns whether the state changed.
    pub fn interest_seen(&mut self, at: Millis, marketing_after: u32) -> bool {
        if self.last_interest_ms.is_some_and(|t| t >= at) {
            return false;
        }
        self.last_interest_ms = Some(at);
        self.marketing_since_interest = marketing_after;
        true
    }

    /// A soft bounce (the server refused this message for now) on `channel`.
    pub fn soft_bounce(&mut self, channel: Channel, p: &HygienePolicy) -> Bounce {
        let run = match self.soft_bounces.iter_mut().find(|r| r.channel == channel) {
            Some(r) => r,
            None => {
                self.soft_bounces.push(SoftBounceRun { channel, run: 0 });
                let last = self.soft_bounces.len() - 1;
                &mut self.soft_bounces[last]
            }
        };
        run.run = run.run.saturating_add(1);
        if p.soft_bounce_limit > 0 && run.run >= p.soft_bounce_limit {
            self.soft_bounces.retain(|r| r.channel != channel);
            return Bounce::Suppress;
        }
        Bounce::Counted(run.run)
    }

    /// A message was delivered on `channel`: the run ends. Returns whether there was one.
    pub fn delivered(&mut self, channel: Channel) -> bool {
        let before = self.soft_bounces.len();
        self.soft_bounces.retain(|r| r.channel != channel);
        before != self.soft_bounces.len()
    }

    /// The customer complained; the first complaint is kept. Returns whether it is new.
    pub fn complain(&mut self, c: Complaint) -> bool {
        if self.complaint.is_some() {
            return false;
        }
        self.complaint = Some(c);
        true
    }
}

#[cfg(test)]
#[path = "hygiene_tests.rs"]
mod tests;
