use super::*;
use crate::domain::rules::caps::{CapScope, CapWindow};
use chrono_tz::Asia::Tokyo;
use Channel::{Email, Line, Webhook};
use Scenario::{BackInStock, LowStock, NewArrival, PriceDrop};
use SuppressReason as R;

#[path = "arbitration_props.rs"]
mod props;

const H: i64 = 3_600_000;
const NOW: Millis = 1_700_000_000_000;
const ALL_YES: Consent = Consent {
    email: true,
    line: true,
    webhook: true,
};
const BOTH: Addresses = Addresses {
    email: true,
    line: true,
};

fn cand(id: u64, scenario: Scenario, sku: &str, score: f64) -> Candidate {
    Candidate {
        trigger_id: id,
        scenario,
        sku: sku.to_string(),
        at_ms: NOW - id as i64,
        score,
    }
}

fn sr(scenario: Scenario, priority: u32, channels: &[Channel]) -> ScenarioRules {
    ScenarioRules {
        scenario,
        enabled: true,
        priority,
        channels: channels.to_vec(),
        cooldown_ms: 24 * H,
        digest: false,
        digest_max_items: 1,
        max_age_ms: 24 * H,
    }
}

fn one_per_16h() -> Vec<CapRule> {
    vec![CapRule {
        scope: CapScope::AllMarketing,
        max: 1,
        window: CapWindow::Rolling { ms: 16 * H },
    }]
}

fn run(
    cands: Vec<Candidate>,
    profile: &Profile<'_>,
    ledger: &[Sent],
    rules: &[ScenarioRules],
    caps: &[CapRule],
) -> Decision {
    decide(cands, profile, ledger, rules, caps, Tokyo, NOW)
}

fn reasons(d: &Decision) -> Vec<(u64, SuppressReason)> {
    let mut v: Vec<_> = d
        .suppressed
        .iter()
        .map(|(c, r)| (c.trigger_id, *r))
        .collect();
    v.sort();
    v
}

fn plain() -> Profile<'static> {
    Profile {
        consent: &ALL_YES,
        suppressed: &[],
        addresses: BOTH,
    }
}

#[test]
fn disabled_or_unconfigured_scenarios_are_suppressed() {
    let mut off = sr(PriceDrop, 5, &[Email]);
    off.enabled = false;
    let d = run(
        vec![
            cand(1, PriceDrop, "a", 1.0),
            cand(2, NewArrival, "b", 1.0),
            cand(3, LowStock, "c", 1.0),
        ],
        &plain(),
        &[],
        &[off, sr(LowStock, 1, &[Email])],
        &[],
    );
    assert_eq!(reasons(&d), [(1, R::Disabled), (2, R::Disabled)]);
    assert_eq!(d.messages.len(), 1);
}

#[test]
fn dedupe_against_the_ledger_and_within_the_batch() {
    let ledger = [Sent {
        at_ms: NOW - 23 * H,
        scenario: PriceDrop,
        channel: Line,
        skus: vec!["a".into(), "z".into()],
    }];
    let rules = [sr(PriceDrop, 1, &[Email]), sr(BackInStock, 1, &[Email])];
    let cands = vec![
        cand(1, PriceDrop, "a", 1.0),
        cand(2, PriceDrop, "b", 1.0),
        cand(3, PriceDrop, "b", 2.0),
        cand(4, BackInStock, "a", 1.0),
    ];
    let d = run(cands, &plain(), &ledger, &rules, &[]);
    // The higher-scored copy of "b" is the one kept.
    assert_eq!(reasons(&d), [(1, R::Dedupe), (2, R::Dedupe)]);
    let kept: Vec<u64> = d.messages.iter().map(|m| m.items[0].trigger_id).collect();
    assert_eq!(kept, [3, 4]);
}

#[test]
fn channel_is_the_first_usable_preference() {
    let rules = [sr(PriceDrop, 1, &[Line, Email, Webhook])];
    let only_email = Consent {
        email: true,
        ..Consent::default()
    };
    let p = Profile {
        consent: &ALL_YES,
        suppressed: &[Line],
        addresses: BOTH,
    };
    assert_eq!(choose_channel(&rules[0], &p), Ok(Email));
    let p = Profile {
        consent: &ALL_YES,
        suppressed: &[],
        addresses: Addresses::default(),
    };
    assert_eq!(
        choose_channel(&rules[0], &p),
        Ok(Webhook),
        "a webhook needs no address"
    );
    let p = Profile {
        consent: &Consent::default(),
        suppressed: &[],
        addresses: BOTH,
    };
    assert_eq!(choose_channel(&rules[0], &p), Err(R::Consent));
    let p = Profile {
        consent: &only_email,
        suppressed: &[Email],
        addresses: BOTH,
    };
    assert_eq!(choose_channel(&rules[0], &p), Err(R::Suppressed));
    let p = Profile {
        consent: &only_email,
        suppressed: &[],
        addresses: Addresses::default(),
    };
    assert_eq!(choose_channel(&rules[0], &p), Err(R::NoAddress));
    assert_eq!(
        choose_channel(&sr(PriceDrop, 1, &[]), &plain()),
        Err(R::Consent)
    );
    let d = run(vec![cand(1, PriceDrop, "a", 1.0)], &p, &[], &rules, &[]);
    assert_eq!(reasons(&d), [(1, R::NoAddress)]);
}

/// An order update goes without marketing consent (an unsubscribed customer still hears
/// about their order), but not to a bounced address or one the customer does not have.
#[test]
fn an_order_update_needs_an_address_not_consent() {
    let shipped = sr(Scenario::Shipped, 0, &[Line, Email]);
    let offer = sr(Scenario::CrossSellOrder, 1, &[Line, Email]);
    let unsubscribed = Profile {
        consent: &Consent::default(),
        suppressed: &[],
        addresses: BOTH,
    };
    assert_eq!(choose_channel(&shipped, &unsubscribed), Ok(Line));
    assert_eq!(choose_channel(&offer, &unsubscribed), Err(R::Consent));
    let bounced = Profile {
        consent: &Consent::default(),
        suppressed: &[Line, Email],
        addresses: BOTH,
    };
    assert_eq!(choose_channel(&shipped, &bounced), Err(R::Suppressed));
    let email_only = Profile {
        consent: &Consent::default(),
        suppressed: &[],
        addresses: Addresses {
            email: true,
            line: false,
        },
    };
    assert_eq!(choose_channel(&shipped, &email_only), Ok(Email));
}

#[test]
fn higher_priority_takes_the_only_cap_slot() {
    let rules = [sr(PriceDrop, 1, &[Email]), sr(BackInStock, 9, &[Line])];
    let cands = vec![cand(1, PriceDrop, "a", 9.0), cand(2, BackInStock, "b", 0.1)];
    let d = run(cands, &plain(), &[], &rules, &one_per_16h());
    assert_eq!(d.messages.len(), 1);
    assert_eq!(
        (d.messages[0].scenario, d.messages[0].channel),
        (BackInStock, Line)
    );
    assert_eq!(reasons(&d), [(1, R::Priority)]);
}

#[test]
fn cap_already_used_by_the_ledger_is_cap_not_priority() {
    let ledger = [Sent {
        at_ms: NOW - 15 * H,
        scenario: LowStock,
        channel: Email,
        skus: vec!["x".into()],
    }];
    let rules = [sr(PriceDrop, 1, &[Email]), sr(BackInStock, 9, &[Line])];
    let cands = vec![cand(1, PriceDrop, "a", 1.0), cand(2, BackInStock, "b", 1.0)];
    let d = run(cands, &plain(), &ledger, &rules, &one_per_16h());
    assert!(d.messages.is_empty());
    assert_eq!(reasons(&d), [(1, R::Cap), (2, R::Cap)]);
}

#[test]
fn digest_merges_best_items_and_further_chunks_need_cap_room() {
    let mut rules = sr(BackInStock, 1, &[Email]);
    rules.digest = true;
    rules.digest_max_items = 2;
    let cands = vec![
        cand(1, BackInStock, "a", 1.0),
        cand(2, BackInStock, "b", 3.0),
        cand(3, BackInStock, "c", 2.0),
    ];
    let d = run(
        cands.clone(),
        &plain(),
        &[],
        std::slice::from_ref(&rules),
        &one_per_16h(),
    );
    assert_eq!(d.messages.len(), 1);
    let ids: Vec<u64> = d.messages[0].items.iter().map(|c| c.trigger_id).collect();
    assert_eq!(ids, [2, 3]);
    assert_eq!(
        reasons(&d),
        [(1, R::Cap)],
        "its own scenario used the room: cap"
    );
    let d = run(cands, &plain(), &[], &[rules], &[]);
    let sizes: Vec<usize> = d.messages.iter().map(|m| m.items.len()).collect();
    assert_eq!(sizes, [2, 1]);
}

#[test]
fn equal_priority_ties_go_to_score_then_age() {
    let rules = [sr(PriceDrop, 3, &[Email]), sr(LowStock, 3, &[Email])];
    let d = run(
        vec![cand(1, PriceDrop, "a", 1.0), cand(2, LowStock, "b", 2.0)],
        &plain(),
        &[],
        &rules,
        &one_per_16h(),
    );
    assert_eq!(d.messages[0].scenario, LowStock);
    assert_eq!(reasons(&d), [(1, R::Priority)]);
    // Same score: the older trigger (larger id here = older at_ms) wins.
    let d = run(
        vec![cand(1, PriceDrop, "a", 2.0), cand(2, LowStock, "b", 2.0)],
        &plain(),
        &[],
        &rules,
        &one_per_16h(),
    );
    assert_eq!(d.messages[0].items[0].trigger_id, 2);
}

#[test]
fn messages_come_out_in_priority_order_and_become_ledger_entries() {
    let rules = [
        sr(PriceDrop, 1, &[Email]),
        sr(BackInStock, 9, &[Line]),
        sr(LowStock, 5, &[Webhook]),
    ];
    let cands = vec![
        cand(1, PriceDrop, "a", 1.0),
        cand(2, BackInStock, "b", 1.0),
        cand(3, LowStock, "c", 1.0),
    ];
    let d = run(cands, &plain(), &[], &rules, &[]);
    let order: Vec<Scenario> = d.messages.iter().map(|m| m.scenario).collect();
    assert_eq!(order, [BackInStock, LowStock, PriceDrop]);
    assert_eq!(
        to_sent(&d.messages[1], NOW),
        Sent {
            at_ms: NOW,
            scenario: LowStock,
            channel: Webhook,
            skus: vec!["c".into()],
        }
    );
}
