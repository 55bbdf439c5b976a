//! A customer's decisions over time: offers wait for the arbitration window, the rules
//! (`rules::arbitration`) pick what to send, quiet hours defer it, and a deferred message
//! is re-checked at release. A planned marketing message the scenario's holdout keeps
//! from the customer is not sent: it is counted (suppression `holdout`) and recorded as
//! a would-have-been send for the lift. Pure: time and the product re-check are
//! parameters.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::customer::{Candidate, Channel, Scenario, Sent, SuppressReason};
use super::profile::CustomerState;
use super::rules::arbitration::{decide, to_sent, Addresses, Profile};
use super::rules::caps::{longest_window_ms, prune};
use super::rules::quiet::{parse_tz, quiet_until};
use super::{Millis, TimerKind};
use crate::domain::lifecycle::attribution::ScenarioCredit;
use crate::domain::message::ItemContext;
use crate::domain::rules::DeliveryRules;

/// A candidate with what a message about it needs to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub candidate: Candidate,
    pub item: ItemContext,
}

/// A planned message held until quiet hours end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deferred {
    pub scenario: Scenario,
    pub channel: Channel,
    pub offers: Vec<Offer>,
    pub release_ms: Millis,
    /// When it was planned (its ledger entry's time).
    pub planned_ms: Millis,
}

/// A message to write to the outbox now.
#[derive(Debug, Clone, PartialEq)]
pub struct ToSend {
    pub scenario: Scenario,
    pub channel: Channel,
    pub offers: Vec<Offer>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    pub send: Vec<ToSend>,
    pub suppressed: Vec<(Scenario, SuppressReason)>,
    /// Durable timers to set for this customer.
    pub timers: Vec<(Millis, TimerKind)>,
    /// Attribution counters the decision adds (a customer newly held out).
    pub credits: Vec<ScenarioCredit>,
}

fn tz_of(st: &CustomerState) -> Tz {
    parse_tz(&st.time_zone).unwrap_or(Tz::UTC)
}

/// New offers arrive: decided at once, or held for the arbitration window.
pub fn receive(
    st: &mut CustomerState,
    offers: Vec<Offer>,
    now: Millis,
    rules: &DeliveryRules,
) -> Outcome {
    if rules.arbitration_window_ms <= 0 {
        return decide_now(st, offers, now, rules);
    }
    st.pending.extend(offers);
    let mut out = Outcome::default();
    if st.pending_due_ms.is_none() {
        let due = now + rules.arbitration_window_ms;
        st.pending_due_ms = Some(due);
        out.timers.push((due, TimerKind::CustomerArbitrate));
    }
    out
}

/// The arbitration window is over: decide everything held.
pub fn arbitrate_due(st: &mut CustomerState, now: Millis, rules: &DeliveryRules) -> Outcome {
    match st.pending_due_ms {
        Some(due) if due <= now => {
            st.pending_due_ms = None;
            let offers = std::mem::take(&mut st.pending);
            decide_now(st, offers, now, rules)
        }
        _ => Outcome::default(),
    }
}

fn decide_now(
    st: &mut CustomerState,
    offers: Vec<Offer>,
    now: Millis,
    rules: &DeliveryRules,
) -> Outcome {
    let tz = tz_of(st);
    let mut out = Outcome::default();
    prune(
        &mut st.ledger,
        now,
        longest_window_ms(&rules.caps).max(longest_cooldown(rules)),
    );
    let profile = Profile {
        consent: &st.consent,
        suppressed: &st.suppressed,
        addresses: Addresses {
            email: st.has_address(Channel::Email),
            line: st.has_address(Channel::Line),
        },
    };
    let candidates = offers.iter().map(|o| o.candidate.clone()).collect();
    let decision = decide(
        candidates,
        &profile,
        &st.ledger,
        &rules.scenarios,
        &rules.caps,
        tz,
        now,
    );
    for (c, reason) in decision.suppressed {
        out.suppressed.push((c.scenario, reason));
    }
    let take = |c: &Candidate| {
        offers
            .iter()
            .find(|o| o.candidate.trigger_id == c.trigger_id && o.candidate.sku == c.sku)
            .cloned()
    };
    for planned in decision.messages {
        if rules.held_out(&st.id, planned.scenario) {
            // Not sent and not in the ledger (it takes no cap room): the customer is on
            // the held-out side of this scenario's split.
            out.suppressed.extend(
                planned
                    .items
                    .iter()
                    .map(|c| (c.scenario, SuppressReason::Holdout)),
            );
            let attribution = &mut st.lifecycle.attribution;
            out.credits
                .extend(attribution.on_held_out(planned.scenario, planned.channel, now));
            continue;
        }
        st.ledger.push(to_sent(&planned, now));
        let chosen: Vec<Offer> = planned.items.iter().filter_map(take).collect();
        match quiet_until(now, tz, &rules.quiet) {
            Some(release) => {
                out.timers.push((release, TimerKind::CustomerQuiet));
                st.deferred.push(Deferred {
                    scenario: planned.scenario,
                    channel: planned.channel,
                    offers: chosen,
                    release_ms: release,
                    planned_ms: now,
                });
            }
            None => out.send.push(ToSend {
                scenario: planned.scenario,
                channel: planned.channel,
                offers: chosen,
            }),
        }
    }
    out
}

fn longest_cooldown(rules: &DeliveryRules) -> i64 {
    rules
        .scenarios
        .iter()
        .map(|s| s.cooldown_ms)
        .max()
        .unwrap_or(0)
}

/// Quiet hours are over: send each due deferred message with the offers `check` still
/// passes, and drop the others for the reason it gives (the trigger no longer holds:
/// quiet-hours-stale; the scenario was disabled meanwhile: disabled). A message left
/// with no offers gives its cap room back.
pub fn release_quiet(
    st: &mut CustomerState,
    now: Millis,
    check: impl Fn(&Offer) -> Result<(), SuppressReason>,
) -> Outcome {
    let mut out = Outcome::default();
    let (due, later): (Vec<Deferred>, Vec<Deferred>) = std::mem::take(&mut st.deferred)
        .into_iter()
        .partition(|d| d.release_ms <= now);
    st.deferred = later;
    for d in due {
        let mut keep = Vec::new();
        for o in d.offers {
            match check(&o) {
                Ok(()) => keep.push(o),
                Err(reason) => out.suppressed.push((o.candidate.scenario, reason)),
            }
        }
        if keep.is_empty() {
            let planned = Sent {
                at_ms: d.planned_ms,
                scenario: d.scenario,
                channel: d.channel,
                skus: Vec::new(),
            };
            st.ledger.retain(|s| {
                !(s.at_ms == planned.at_ms
                    && s.scenario == planned.scenario
                    && s.channel == planned.channel)
            });
        } else {
            out.send.push(ToSend {
                scenario: d.scenario,
                channel: d.channel,
                offers: keep,
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
