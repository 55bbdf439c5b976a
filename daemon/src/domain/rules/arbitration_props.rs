//! Property tests: one customer's stream of candidate batches through `decide`, checked
//! against naive recounts of the resulting ledger.

use super::*;
use crate::domain::rules::caps::{cap_allows, longest_window_ms, prune};
use crate::domain::rules::quiet::local_date;
use chrono::Days;
use proptest::prelude::*;

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tokyo,
        chrono_tz::America::New_York,
        chrono_tz::Europe::London,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::America::Santiago,
        chrono_tz::Pacific::Apia,
        chrono_tz::Asia::Kolkata,
        chrono_tz::UTC,
    ])
}

fn scenario_rules() -> impl Strategy<Value = Vec<ScenarioRules>> {
    let one = |s: Scenario| {
        (
            prop::bool::weighted(0.85),
            0u32..4,
            prop::sample::subsequence(Channel::ALL.to_vec(), 1..=3).prop_shuffle(),
            0i64..48 * H,
            any::<bool>(),
            0usize..4,
        )
            .prop_map(
                move |(enabled, priority, channels, cooldown_ms, digest, digest_max_items)| {
                    ScenarioRules {
                        scenario: s,
                        enabled,
                        priority,
                        channels,
                        cooldown_ms,
                        digest,
                        digest_max_items,
                        max_age_ms: 24 * H,
                    }
                },
            )
    };
    (
        one(BackInStock),
        one(LowStock),
        one(PriceDrop),
        one(NewArrival),
    )
        .prop_map(|(a, b, c, d)| vec![a, b, c, d])
}

fn cap_rule() -> impl Strategy<Value = CapRule> {
    let scope = prop_oneof![
        Just(CapScope::AllMarketing),
        prop::sample::select(Channel::ALL.to_vec()).prop_map(CapScope::Channel),
        prop::sample::select(Scenario::ALL.to_vec()).prop_map(CapScope::Scenario),
    ];
    let window = prop_oneof![
        (1i64..48 * H).prop_map(|ms| CapWindow::Rolling { ms }),
        (1u32..4).prop_map(|days| CapWindow::LocalDays { days }),
    ];
    (scope, 0u32..4, window).prop_map(|(scope, max, window)| CapRule { scope, max, window })
}

/// (advance ms, candidates as (scenario, sku, score, age ms))
type Step = (i64, Vec<(usize, usize, u8, i64)>);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let cand = (0usize..4, 0usize..5, 0u8..4, 0i64..H);
    prop::collection::vec((0i64..14 * H, prop::collection::vec(cand, 0..6)), 1..40)
}

/// The reference channel model: first listed channel with consent, no suppression and
/// an address (webhook always has one).
fn model_channel(r: &ScenarioRules, p: &Profile<'_>) -> Option<Channel> {
    r.channels.iter().copied().find(|c| {
        p.consent.get(*c)
            && !p.suppressed.contains(c)
            && (*c == Webhook
                || (*c == Email && p.addresses.email)
                || (*c == Line && p.addresses.line))
    })
}

/// Naive recount: entries in `rule`'s scope inside the window that ends at `t`.
fn recount(history: &[Sent], rule: &CapRule, tz: Tz, t: Millis) -> usize {
    let in_window = |s: &Sent| match rule.window {
        CapWindow::Rolling { ms } => s.at_ms > t - ms && s.at_ms <= t,
        CapWindow::LocalDays { days } => {
            let (Some(d), Some(end)) = (local_date(s.at_ms, tz), local_date(t, tz)) else {
                return true;
            };
            let first = end
                .checked_sub_days(Days::new(u64::from(days - 1)))
                .unwrap();
            s.at_ms <= t && d >= first && d <= end
        }
    };
    history
        .iter()
        .filter(|s| rule.scope.applies(s.scenario, s.channel) && in_window(s))
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn simulated_stream_respects_caps_priority_and_cooldowns(
        tz in zone(),
        start in 1_500_000_000_000i64..2_000_000_000_000,
        rules in scenario_rules(),
        caps in prop::collection::vec(cap_rule(), 0..4),
        consent in (prop::bool::weighted(0.9), prop::bool::weighted(0.9), prop::bool::weighted(0.9)),
        suppressed in prop::sample::subsequence(Channel::ALL.to_vec(), 0..=1),
        addresses in (prop::bool::weighted(0.9), prop::bool::weighted(0.9)),
        steps in steps(),
    ) {
        let consent = Consent { email: consent.0, line: consent.1, webhook: consent.2 };
        let profile = Profile { consent: &consent, suppressed: &suppressed, addresses: Addresses { email: addresses.0, line: addresses.1 } };
        let rules_of = |s: Scenario| rules.iter().find(|r| r.scenario == s).unwrap();
        let keep = longest_window_ms(&caps).max(rules.iter().map(|r| r.cooldown_ms).max().unwrap_or(0));
        let (mut now, mut next_id) = (start, 0u64);
        let (mut ledger, mut history): (Vec<Sent>, Vec<Sent>) = (Vec::new(), Vec::new());
        for (advance, raw) in steps {
            now += advance;
            let cands: Vec<Candidate> = raw.iter().map(|&(s, sku, score, age)| {
                next_id += 1;
                Candidate { trigger_id: next_id, scenario: Scenario::ALL[s], sku: format!("sku-{sku}"), at_ms: now - age, score: f64::from(score) }
            }).collect();
            let d = decide(cands.clone(), &profile, &ledger, &rules, &caps, tz, now);

            // Every candidate is accounted for exactly once.
            let mut ids: Vec<u64> = d.messages.iter().flat_map(|m| m.items.iter().map(|c| c.trigger_id)).chain(d.suppressed.iter().map(|(c, _)| c.trigger_id)).collect();
            ids.sort_unstable();
            prop_assert_eq!(ids, cands.iter().map(|c| c.trigger_id).collect::<Vec<_>>());

            let prio = |s: Scenario| rules_of(s).priority;
            for w in d.messages.windows(2) {
                prop_assert!(prio(w[0].scenario) >= prio(w[1].scenario), "messages out of priority order");
            }
            for m in &d.messages {
                let r = rules_of(m.scenario);
                prop_assert!(r.enabled);
                prop_assert_eq!(Some(m.channel), model_channel(r, &profile));
                prop_assert!(m.items.iter().all(|c| c.scenario == m.scenario));
                let per_message = if r.digest { r.digest_max_items.max(1) } else { 1 };
                prop_assert!(m.items.len() <= per_message);
            }
            let planned: Vec<Sent> = d.messages.iter().map(|m| to_sent(m, now)).collect();
            let mut keys: Vec<(Scenario, &String)> = planned.iter().flat_map(|s| s.skus.iter().map(move |k| (s.scenario, k))).collect();
            let before = keys.len();
            keys.sort_unstable();
            keys.dedup();
            prop_assert_eq!(keys.len(), before, "same scenario+sku twice in one batch");
            for (c, reason) in &d.suppressed {
                let r = rules_of(c.scenario);
                match reason {
                    R::Disabled => prop_assert!(!r.enabled),
                    R::Consent | R::Suppressed | R::NoAddress => prop_assert!(model_channel(r, &profile).is_none()),
                    R::Cap | R::Priority => {
                        // (b) No lower-priority message took this candidate's room: it does
                        // not fit even counting only messages of its priority or higher.
                        let ch = model_channel(r, &profile).unwrap();
                        let higher: Vec<Sent> = ledger.iter().cloned().chain(planned.iter().filter(|s| prio(s.scenario) >= r.priority).cloned()).collect();
                        prop_assert!(cap_allows(&higher, &caps, tz, now, c.scenario, ch).is_err(), "{:?} lost to lower priority", c);
                        let own: Vec<Sent> = ledger.iter().cloned().chain(planned.iter().filter(|s| s.scenario == c.scenario).cloned()).collect();
                        prop_assert_eq!(*reason == R::Priority, cap_allows(&own, &caps, tz, now, c.scenario, ch).is_ok());
                    }
                    R::Dedupe => {}
                    other => prop_assert!(false, "unexpected reason {:?}", other),
                }
            }
            ledger.extend(planned.iter().cloned());
            history.extend(planned);
            prune(&mut ledger, now, keep);
        }

        // (a) No cap is exceeded in any window ending at any send time.
        for (i, rule) in caps.iter().enumerate() {
            for s in &history {
                let n = recount(&history, rule, tz, s.at_ms);
                prop_assert!(n <= rule.max as usize, "cap #{} ({}) counted {} at {}", i, rule.describe(), n, s.at_ms);
            }
        }
        // (c) No (scenario, sku) twice within its cooldown.
        for (i, a) in history.iter().enumerate() {
            for b in &history[i + 1..] {
                if a.scenario == b.scenario && a.skus.iter().any(|k| b.skus.contains(k)) {
                    let cooldown = rules_of(a.scenario).cooldown_ms;
                    prop_assert!(b.at_ms - a.at_ms >= cooldown, "{:?} then {:?} within {}ms", a, b, cooldown);
                }
            }
        }
    }

    /// (b) Two scenarios compete for cap room: the higher-priority one is planned whenever
    /// it fits, and when only one fits the other loses with `Priority`.
    #[test]
    fn higher_priority_wins_when_only_one_fits(
        tz in zone(),
        pair in prop::sample::subsequence(Scenario::ALL.to_vec(), 2),
        prios in (0u32..10, 0u32..10).prop_filter("distinct", |(a, b)| a != b),
        channels in (prop::sample::select(Channel::ALL.to_vec()), prop::sample::select(Channel::ALL.to_vec())),
        scores in (0u8..10, 0u8..10),
        caps in prop::collection::vec(cap_rule(), 1..4),
        past in prop::collection::vec((0usize..4, prop::sample::select(Channel::ALL.to_vec()), 0i64..72 * H), 0..6),
    ) {
        let ledger: Vec<Sent> = past.iter().map(|&(s, channel, age)| Sent { at_ms: NOW - age, scenario: Scenario::ALL[s], channel, skus: vec!["old".into()] }).collect();
        let rules = [sr(pair[0], prios.0, &[channels.0]), sr(pair[1], prios.1, &[channels.1])];
        let cands = vec![cand(1, pair[0], "a", f64::from(scores.0)), cand(2, pair[1], "b", f64::from(scores.1))];
        let d = decide(cands, &plain(), &ledger, &rules, &caps, tz, NOW);
        let (hi, lo) = if prios.0 > prios.1 { (0, 1) } else { (1, 0) };
        let fits = |i: usize, extra: &[Sent]| {
            let all: Vec<Sent> = ledger.iter().chain(extra).cloned().collect();
            cap_allows(&all, &caps, tz, NOW, pair[i], rules[i].channels[0]).is_ok()
        };
        let planned = |i: usize| d.messages.iter().any(|m| m.scenario == pair[i]);
        prop_assert_eq!(planned(hi), fits(hi, &[]));
        let hi_sent = Sent { at_ms: NOW, scenario: pair[hi], channel: rules[hi].channels[0], skus: vec!["x".into()] };
        if fits(hi, &[]) && fits(lo, &[]) && !fits(lo, &[hi_sent]) {
            prop_assert!(!planned(lo));
            prop_assert_eq!(reasons(&d), vec![(lo as u64 + 1, R::Priority)]);
        }
        if planned(hi) {
            prop_assert_eq!(d.messages[0].scenario, pair[hi]);
        }
    }
}
