//! List hygiene in the customer's actor (rules in `domain::lifecycle::hygiene`): marketing
//! candidates pass the customer's gate (complaint, sunset) before they are decided; the
//! candidate that finds the customer newly inactive is replaced by the one last-chance
//! message; every marketing entry written is recorded (engagement and the sunset's
//! count); the dispatcher's soft bounces and deliveries move the runs; a complaint closes
//! marketing.
//!
//! When the last chance goes: at decision time, the next time a marketing candidate
//! arrives for a customer who has turned inactive (no timer: a customer nobody offers
//! anything to receives nothing, so there is nothing to pause). It waits for the end of
//! the customer's quiet hours like any marketing message.

use chrono_tz::Tz;

use super::customer::{CustomerApplied, CustomerShared};
use crate::domain::customer::{Channel, Scenario, SuppressReason};
use crate::domain::decide::Offer;
use crate::domain::lifecycle::hygiene::{marketing_after, Bounce, Complaint, Gate, HygienePolicy};
use crate::domain::lifecycle::hygiene_rates::Event as RateEvent;
use crate::domain::message::{MessageContext, NewEntry};
use crate::domain::profile::CustomerState;
use crate::domain::rules::arbitration::{choose_channel, Addresses, Profile};
use crate::domain::rules::quiet::{parse_tz, quiet_until};
use crate::domain::rules::DeliveryRules;
use crate::domain::Millis;

/// Before the sunset pauses a customer (or keeps them paused): their latest interest
/// signal, read from their interest edges (interest events reach the products' actors
/// only), counts as engagement. The marketing sent since it is counted from the
/// customer's ledger (recent sends). A failed read changes nothing (and is logged).
async fn refresh_interest(c: &mut CustomerState, now: Millis, shared: &CustomerShared) {
    let (lc, p) = (&c.lifecycle, &shared.hygiene);
    if !p.sunset
        || !lc
            .hygiene
            .needs_interest(&lc.engagement, c.created_ms, now, p)
    {
        return;
    }
    let id = c.id.clone();
    let latest = shared
        .store
        .read(move |s| crate::store::interest::latest_signal_ms(s, &id))
        .await;
    match latest {
        Ok(Some(at)) => {
            let after = marketing_after(&c.ledger, at);
            c.lifecycle.hygiene.interest_seen(at, after);
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(customer_id = %c.id, error = %e, "Cannot read the customer's interest for the sunset; deciding without it.");
        }
    }
}

/// The offers that may be decided now; the rest are suppressed into `out`, and a
/// last-chance message may be written in their place.
pub(super) async fn gate(
    c: &mut CustomerState,
    offers: Vec<Offer>,
    now: Millis,
    shared: &CustomerShared,
    rules: &DeliveryRules,
    out: &mut CustomerApplied,
) -> Vec<Offer> {
    if offers.is_empty() {
        return offers;
    }
    refresh_interest(c, now, shared).await;
    let lc = &mut c.lifecycle;
    let reason = match lc
        .hygiene
        .gate(&lc.engagement, c.created_ms, now, &shared.hygiene)
    {
        Gate::Open => {
            // A scenario paused for its complaint / hard-bounce rate sends nothing.
            let (paused, open): (Vec<Offer>, Vec<Offer>) = offers
                .into_iter()
                .partition(|o| shared.board.paused(o.candidate.scenario).is_some());
            out.suppressed.extend(
                paused
                    .iter()
                    .map(|o| (o.candidate.scenario, SuppressReason::Paused)),
            );
            let (outside, open): (Vec<Offer>, Vec<Offer>) =
                audience_split(c, open, now, shared, rules);
            out.suppressed.extend(
                outside
                    .iter()
                    .map(|o| (o.candidate.scenario, SuppressReason::Segment)),
            );
            return open;
        }
        Gate::Closed(reason) => reason,
        Gate::LastChance => {
            // Paused from now on, whether or not the message can go.
            c.lifecycle.hygiene.record_last_chance(now);
            match last_chance(c, now, shared, rules) {
                Ok(entry) => {
                    tracing::info!(customer_id = %c.id, channel = entry.channel.as_str(), "Customer inactive: last-chance message, then marketing pauses.");
                    record_sent(c, std::slice::from_ref(&entry), now);
                    out.entries.push(entry);
                }
                Err(reason) => {
                    tracing::info!(customer_id = %c.id, reason = reason.as_str(), "Customer inactive: marketing pauses without a last-chance message.");
                    out.suppressed.push((Scenario::LastChance, reason));
                }
            }
            SuppressReason::Inactive
        }
    };
    out.suppressed
        .extend(offers.iter().map(|o| (o.candidate.scenario, reason)));
    Vec::new()
}

/// Splits `offers` into those whose scenario's segment audience leaves the customer out
/// and the rest. The customer's row is `row_of` their current record; categories are
/// the cached map (refreshed by readers off the actor), scores the board's.
fn audience_split(
    c: &CustomerState,
    offers: Vec<Offer>,
    now: Millis,
    shared: &CustomerShared,
    rules: &DeliveryRules,
) -> (Vec<Offer>, Vec<Offer>) {
    if offers
        .iter()
        .all(|o| rules.audience(o.candidate.scenario).is_none())
    {
        return (Vec::new(), offers);
    }
    let row = crate::domain::segments::build::row_of(c);
    let categories = shared.segment_defs.cached_categories();
    let scores = shared.segments.scores(now);
    let defs = &shared.segment_defs;
    offers.into_iter().partition(|o| {
        rules.audience(o.candidate.scenario).is_some_and(|a| {
            !a.admits(|name| defs.is_member(name, &row, now, &categories, scores.as_ref()))
        })
    })
}

/// The last-chance entry, on the first of its channels the customer can be reached on.
fn last_chance(
    c: &CustomerState,
    now: Millis,
    shared: &CustomerShared,
    rules: &DeliveryRules,
) -> Result<NewEntry, SuppressReason> {
    let scenario = Scenario::LastChance;
    let r = rules
        .scenarios
        .iter()
        .find(|r| r.scenario == scenario && r.enabled)
        .ok_or(SuppressReason::Disabled)?;
    let profile = Profile {
        consent: &c.consent,
        suppressed: &c.suppressed,
        addresses: Addresses {
            email: c.has_address(Channel::Email),
            line: c.has_address(Channel::Line),
        },
    };
    let channel = choose_channel(r, &profile)?;
    let address = c
        .address(channel)
        .ok_or(SuppressReason::NoAddress)?
        .to_owned();
    let tz = parse_tz(&c.time_zone).unwrap_or(Tz::UTC);
    Ok(NewEntry {
        customer_id: c.id.clone(),
        channel,
        address,
        scenario,
        context: MessageContext {
            scenario,
            locale: c.locale,
            customer_id: c.id.clone(),
            items: Vec::new(),
            unsubscribe_url: (shared.links)(&c.id, channel),
            order: None,
        },
        created_ms: now,
        due_ms: quiet_until(now, tz, &rules.quiet).unwrap_or(now),
    })
}

/// Entries written for the customer at `now`: each marketing one counts as a marketing
/// message received (engagement, per channel, and the sunset's count).
pub(super) fn record_sent(c: &mut CustomerState, entries: &[NewEntry], now: Millis) {
    for e in entries.iter().filter(|e| e.scenario.is_marketing()) {
        c.lifecycle.engagement.record_marketing(e.channel, now);
        c.lifecycle.hygiene.record_marketing();
    }
}

/// A soft bounce on `channel`; a run at the limit suppresses the address.
pub(super) fn soft_bounce(c: &mut CustomerState, channel: Channel, p: &HygienePolicy) {
    match c.lifecycle.hygiene.soft_bounce(channel, p) {
        Bounce::Counted(run) => {
            tracing::debug!(customer_id = %c.id, channel = channel.as_str(), run, "Soft bounce.");
        }
        Bounce::Suppress => {
            if !c.suppressed.contains(&channel) {
                c.suppressed.push(channel);
            }
            tracing::info!(customer_id = %c.id, channel = channel.as_str(), limit = p.soft_bounce_limit, "Soft bounces in a row: the address is suppressed like a hard bounce.");
        }
    }
}

/// Counts a new complaint about outbox entry `seq` against its scenario's rate.
pub(super) async fn count_complaint(shared: &CustomerShared, seq: u64, at: Millis) {
    let read = shared
        .store
        .read(move |s| s.get::<crate::store::outbox::Outbox>(seq))
        .await;
    match read {
        Ok(Some(e)) => shared
            .board
            .record(e.scenario, e.channel, RateEvent::Complaint, at),
        Ok(None) => tracing::info!(
            seq,
            "A complaint names an outbox entry that is gone; not counted in a rate."
        ),
        Err(e) => {
            tracing::warn!(seq, error = %e, "Cannot read the outbox entry of a complaint; not counted in a rate.")
        }
    }
}

/// The customer complained; returns whether it is new.
pub(super) fn complain(
    c: &mut CustomerState,
    channel: Channel,
    entry_seq: Option<u64>,
    at: Millis,
) -> bool {
    let new = c.lifecycle.hygiene.complain(Complaint {
        at_ms: at,
        channel,
        entry_seq,
    });
    if new {
        // Whatever waits for the arbitration window or quiet hours is marketing too.
        c.pending.clear();
        c.pending_due_ms = None;
        c.deferred.retain(|d| !d.scenario.is_marketing());
        tracing::info!(customer_id = %c.id, channel = channel.as_str(), entry_seq, "Complaint: marketing to this customer stops.");
    }
    new
}
