use super::*;
use crate::domain::customer::Scenario;
use crate::domain::lifecycle::engagement::Click;

const DAY: Millis = 86_400_000;

fn policy() -> HygienePolicy {
    HygienePolicy {
        sunset: true,
        min_messages: 3,
        inactive_for_ms: 10 * DAY,
        soft_bounce_limit: 3,
    }
}

/// `n` marketing messages at `at`, recorded as the customer's actor does.
fn send(h: &mut Hygiene, e: &mut Engagement, n: u32, at: Millis) {
    for _ in 0..n {
        e.record_marketing(Channel::Email, at);
        h.record_marketing();
    }
}

fn click(at: Millis) -> Click {
    Click {
        at_ms: at,
        entry_seq: 1,
        link: 0,
        scenario: Scenario::BackInStock,
        channel: Channel::Email,
        skus: vec![],
    }
}

#[test]
fn inactive_needs_both_the_count_and_the_time() {
    let (mut h, mut e, p) = (Hygiene::default(), Engagement::default(), policy());
    send(&mut h, &mut e, 2, DAY);
    // Two messages, long ago: not enough messages.
    assert_eq!(h.gate(&e, 0, 30 * DAY, &p), Gate::Open);
    send(&mut h, &mut e, 1, 2 * DAY);
    // Three messages, but the customer was created 9 days ago.
    assert_eq!(h.gate(&e, DAY, 10 * DAY - 1, &p), Gate::Open);
    assert_eq!(h.gate(&e, DAY, 11 * DAY, &p), Gate::LastChance);
}

#[test]
fn the_last_chance_pauses_until_the_customer_engages_after_it() {
    let (mut h, mut e, p) = (Hygiene::default(), Engagement::default(), policy());
    send(&mut h, &mut e, 3, DAY);
    assert_eq!(h.gate(&e, 0, 20 * DAY, &p), Gate::LastChance);
    h.record_last_chance(20 * DAY);
    send(&mut h, &mut e, 1, 20 * DAY);
    assert_eq!(
        h.gate(&e, 0, 21 * DAY, &p),
        Gate::Closed(SuppressReason::Inactive)
    );
    // An interest event from before the last chance (reported late) does not resume.
    h.record_interest(19 * DAY);
    assert_eq!(
        h.gate(&e, 0, 21 * DAY, &p),
        Gate::Closed(SuppressReason::Inactive)
    );
    // A click after it does.
    e.record_click(click(22 * DAY), DAY);
    assert_eq!(h.gate(&e, 0, 22 * DAY + 1, &p), Gate::Open);
    assert_eq!(h.last_chance_ms, None);
}

#[test]
fn an_order_or_interest_event_resumes_and_restarts_the_count() {
    let (mut h, mut e, p) = (Hygiene::default(), Engagement::default(), policy());
    send(&mut h, &mut e, 5, DAY);
    h.record_last_chance(20 * DAY);
    assert!(h.record_interest(25 * DAY));
    assert_eq!(h.gate(&e, 0, 25 * DAY + 1, &p), Gate::Open);
    // Engagement still counts the 5 messages (no click), but the interest event
    // restarted the sunset's count and clock.
    assert_eq!(h.messages_since_engaged(&e), 0);
    send(&mut h, &mut e, 3, 26 * DAY);
    assert_eq!(h.gate(&e, 0, 34 * DAY, &p), Gate::Open);
    assert_eq!(h.gate(&e, 0, 35 * DAY, &p), Gate::LastChance);
    // A repeated or older interest event changes nothing.
    assert!(!h.record_interest(25 * DAY));
}

#[test]
fn with_the_policy_off_nobody_is_paused() {
    let (mut h, mut e) = (Hygiene::default(), Engagement::default());
    let off = HygienePolicy {
        sunset: false,
        ..policy()
    };
    send(&mut h, &mut e, 50, DAY);
    assert_eq!(h.gate(&e, 0, 400 * DAY, &off), Gate::Open);
    h.record_last_chance(400 * DAY);
    assert_eq!(h.gate(&e, 0, 401 * DAY, &off), Gate::Open);
}

#[test]
fn a_complaint_closes_marketing_for_good() {
    let (mut h, e, p) = (Hygiene::default(), Engagement::default(), policy());
    let c = Complaint {
        at_ms: 5,
        channel: Channel::Email,
        entry_seq: Some(7),
    };
    assert!(h.complain(c.clone()));
    assert!(!h.complain(Complaint { at_ms: 9, ..c }));
    assert_eq!(h.complaint.as_ref().map(|c| c.at_ms), Some(5));
    h.record_interest(10);
    assert_eq!(
        h.gate(&e, 0, 11, &p),
        Gate::Closed(SuppressReason::Complaint)
    );
}

#[test]
fn soft_bounces_in_a_row_suppress_and_a_delivery_ends_the_run() {
    let (mut h, p) = (Hygiene::default(), policy());
    assert_eq!(h.soft_bounce(Channel::Email, &p), Bounce::Counted(1));
    assert_eq!(h.soft_bounce(Channel::Email, &p), Bounce::Counted(2));
    // Another channel has its own run; a delivery ends only its channel's run.
    assert_eq!(h.soft_bounce(Channel::Line, &p), Bounce::Counted(1));
    assert!(h.delivered(Channel::Email));
    assert!(!h.delivered(Channel::Email));
    assert_eq!(h.soft_bounce(Channel::Email, &p), Bounce::Counted(1));
    assert_eq!(h.soft_bounce(Channel::Email, &p), Bounce::Counted(2));
    assert_eq!(h.soft_bounce(Channel::Email, &p), Bounce::Suppress);
    // The run starts over after the suppression.
    assert_eq!(h.soft_bounce(Channel::Email, &p), Bounce::Counted(1));
    let never = HygienePolicy {
        soft_bounce_limit: 0,
        ..p
    };
    for n in 2..20 {
        assert_eq!(h.soft_bounce(Channel::Email, &never), Bounce::Counted(n));
    }
}

#[test]
fn interest_is_recorded_only_when_it_can_matter() {
    let (mut h, mut e) = (Hygiene::default(), Engagement::default());
    assert!(h.record_interest(DAY));
    // Browsing the same day, nothing sent since: no write.
    assert!(!h.record_interest(DAY + 1_000));
    assert!(h.record_interest(2 * DAY));
    // A marketing message since: the next interest event restarts the count.
    send(&mut h, &mut e, 1, 2 * DAY + 5);
    assert!(h.record_interest(2 * DAY + 10));
    assert_eq!(h.marketing_since_interest, 0);
    // Paused: recorded, so it resumes.
    h.record_last_chance(2 * DAY + 20);
    assert!(h.record_interest(2 * DAY + 30));
}

#[test]
fn the_preview_standing_follows_the_gate() {
    let (mut h, mut e, p) = (Hygiene::default(), Engagement::default(), policy());
    assert_eq!(h.standing(&e, 0, 20 * DAY, &p), Standing::Active);
    send(&mut h, &mut e, 3, DAY);
    assert_eq!(h.standing(&e, 0, 20 * DAY, &p), Standing::WouldPause);
    // The preview changes nothing; the gate agrees with it.
    assert_eq!(h.gate(&e, 0, 20 * DAY, &p), Gate::LastChance);
    h.record_last_chance(20 * DAY);
    assert_eq!(h.standing(&e, 0, 21 * DAY, &p), Standing::Paused);
    // A stricter policy (more messages) would not have paused this customer.
    let strict = HygienePolicy {
        min_messages: 10,
        ..p
    };
    let fresh = Hygiene {
        last_chance_ms: None,
        ..h.clone()
    };
    assert_eq!(fresh.standing(&e, 0, 21 * DAY, &strict), Standing::Active);
    h.complain(Complaint {
        at_ms: 1,
        channel: Channel::Email,
        entry_seq: None,
    });
    assert_eq!(h.standing(&e, 0, 21 * DAY, &p), Standing::Complained);
}

/// Interest signals are read from the edges only when the sunset would pause (or keep
/// paused) a customer; a signal seen then resumes them and counts only the marketing
/// sent after it; an older signal than the one recorded changes nothing.
#[test]
fn an_interest_signal_seen_on_the_edges_counts_only_when_it_matters() {
    let (mut h, mut e, p) = (Hygiene::default(), Engagement::default(), policy());
    send(&mut h, &mut e, 3, DAY);
    assert!(!h.needs_interest(&e, 0, 5 * DAY, &p), "not inactive yet");
    assert!(h.needs_interest(&e, 0, 11 * DAY, &p));
    // A view at day 2, one message after it: active again, one message counted.
    assert!(h.interest_seen(2 * DAY, 1));
    assert!(!h.needs_interest(&e, 0, 11 * DAY, &p));
    assert_eq!(h.messages_since_engaged(&e), 1);
    assert!(!h.interest_seen(DAY, 0), "an older signal changes nothing");
    // Two more messages: inactive again at day 13 (3 since day 2, 11 days).
    send(&mut h, &mut e, 2, 3 * DAY);
    assert!(h.needs_interest(&e, 0, 13 * DAY, &p));
    // Paused after the last chance; a signal after it resumes at the gate.
    assert_eq!(h.gate(&e, 0, 13 * DAY, &p), Gate::LastChance);
    h.record_last_chance(13 * DAY);
    assert!(h.needs_interest(&e, 0, 14 * DAY, &p), "paused");
    assert!(h.interest_seen(14 * DAY, 0));
    assert_eq!(h.gate(&e, 0, 15 * DAY, &p), Gate::Open);
    let sent = |at_ms, scenario| crate::domain::customer::Sent {
        at_ms,
        scenario,
        channel: Channel::Email,
        skus: vec![],
    };
    let ledger = [
        sent(DAY, Scenario::BackInStock),
        sent(3 * DAY, Scenario::PriceDrop),
        sent(4 * DAY, Scenario::Shipped),
    ];
    assert_eq!(
        marketing_after(&ledger, 2 * DAY),
        1,
        "order updates do not count"
    );
}
