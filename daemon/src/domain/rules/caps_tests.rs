use super::*;
use chrono::{TimeZone, Utc};
use chrono_tz::{America::New_York, Asia::Tokyo};
use proptest::prelude::*;

const H: i64 = 3_600_000;

fn sent(at_ms: Millis, scenario: Scenario, channel: Channel, skus: &[&str]) -> Sent {
    Sent {
        at_ms,
        scenario,
        channel,
        skus: skus.iter().map(|s| s.to_string()).collect(),
    }
}

fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .unwrap()
        .timestamp_millis()
}

fn rule(scope: CapScope, max: u32, window: CapWindow) -> CapRule {
    CapRule { scope, max, window }
}

use Channel::{Email, Line, Webhook};
use Scenario::{BackInStock, LowStock, PriceDrop};

#[test]
fn rolling_window_counts_the_last_ms_only() {
    let now = 1_000 * H;
    let rules = [rule(
        CapScope::AllMarketing,
        1,
        CapWindow::Rolling { ms: 16 * H },
    )];
    let ledger = [sent(now - 15 * H, LowStock, Line, &["a"])];
    let hit = cap_allows(&ledger, &rules, Tokyo, now, PriceDrop, Email).unwrap_err();
    assert_eq!(hit.rule_index, 0);
    assert_eq!(hit.description, "at most 1 marketing message per 16h");
    // Exactly 16h ago has left the window.
    let ledger = [sent(now - 16 * H, LowStock, Line, &["a"])];
    assert_eq!(
        cap_allows(&ledger, &rules, Tokyo, now, PriceDrop, Email),
        Ok(())
    );
    assert_eq!(
        cap_allows(&[], &rules, Tokyo, now, PriceDrop, Email),
        Ok(())
    );
}

/// Order updates are neither counted by a cap nor held back by one, whatever its scope;
/// cross-sell offers are marketing like the stock scenarios.
#[test]
fn caps_count_and_hold_back_marketing_only() {
    let now = 1_000 * H;
    let day = CapWindow::Rolling { ms: 24 * H };
    let rules = [
        rule(CapScope::AllMarketing, 1, day),
        rule(CapScope::Channel(Email), 1, day),
    ];
    let updates = [
        sent(now - H, Scenario::Shipped, Email, &["a"]),
        sent(now - H, Scenario::BackorderConfirmation, Email, &["a"]),
    ];
    assert_eq!(
        cap_allows(&updates, &rules, Tokyo, now, PriceDrop, Email),
        Ok(())
    );
    let offer = [sent(now - H, Scenario::CrossSellOrder, Email, &["b"])];
    assert!(cap_allows(&offer, &rules, Tokyo, now, PriceDrop, Email).is_err());
    assert_eq!(
        cap_allows(&offer, &rules, Tokyo, now, Scenario::Delayed, Email),
        Ok(())
    );
    let own = [rule(CapScope::Scenario(Scenario::Shipped), 1, day)];
    assert_eq!(
        cap_allows(&updates, &own, Tokyo, now, Scenario::Shipped, Email),
        Ok(())
    );
}

#[test]
fn scopes_count_only_their_own_messages_and_report_the_rule_index() {
    let now = 1_000 * H;
    let rules = [
        rule(
            CapScope::Channel(Email),
            2,
            CapWindow::Rolling { ms: 24 * H },
        ),
        rule(
            CapScope::Scenario(PriceDrop),
            1,
            CapWindow::Rolling { ms: 24 * H },
        ),
    ];
    let ledger = [
        sent(now - H, PriceDrop, Line, &["a"]),
        sent(now - 2 * H, BackInStock, Email, &["b"]),
    ];
    assert_eq!(
        cap_allows(&ledger, &rules, Tokyo, now, BackInStock, Email),
        Ok(())
    );
    assert_eq!(
        cap_allows(&ledger, &rules, Tokyo, now, PriceDrop, Email)
            .unwrap_err()
            .rule_index,
        1
    );
    let mut more = ledger.to_vec();
    more.push(sent(now - 3 * H, LowStock, Email, &["c"]));
    let hit = cap_allows(&more, &rules, Tokyo, now, BackInStock, Email).unwrap_err();
    assert_eq!(
        (hit.rule_index, hit.description.as_str()),
        (0, "at most 2 email messages per 1d")
    );
    assert_eq!(
        cap_allows(&more, &rules, Tokyo, now, BackInStock, Webhook),
        Ok(())
    );
}

#[test]
fn zero_max_blocks_everything_in_scope() {
    let rules = [rule(
        CapScope::Channel(Line),
        0,
        CapWindow::LocalDays { days: 1 },
    )];
    assert!(cap_allows(&[], &rules, Tokyo, 0, PriceDrop, Line).is_err());
    assert!(cap_allows(&[], &rules, Tokyo, 0, PriceDrop, Email).is_ok());
}

#[test]
fn local_day_starts_at_tokyo_midnight() {
    let rules = [rule(
        CapScope::AllMarketing,
        1,
        CapWindow::LocalDays { days: 1 },
    )];
    let now = at(Tokyo, 2024, 5, 2, 0, 30);
    let before_midnight = [sent(at(Tokyo, 2024, 5, 1, 23, 59), LowStock, Email, &["a"])];
    assert_eq!(
        cap_allows(&before_midnight, &rules, Tokyo, now, LowStock, Email),
        Ok(())
    );
    let at_midnight = [sent(at(Tokyo, 2024, 5, 2, 0, 0), LowStock, Email, &["a"])];
    assert!(cap_allows(&at_midnight, &rules, Tokyo, now, LowStock, Email).is_err());
    // Same instants judged in New York (still May 1st there): both count.
    let ny_now = now;
    assert!(cap_allows(&before_midnight, &rules, New_York, ny_now, LowStock, Email).is_err());
    assert_eq!(
        rules[0].describe(),
        "at most 1 marketing message per local day"
    );
}

#[test]
fn local_days_span_a_new_york_dst_change() {
    // 2 local days ending 2024-03-10 10:00 EDT start at 2024-03-09 00:00 EST (05:00 UTC).
    let rules = [rule(
        CapScope::Scenario(BackInStock),
        2,
        CapWindow::LocalDays { days: 2 },
    )];
    let now = at(New_York, 2024, 3, 10, 10, 0);
    assert_eq!(
        rules[0].window_start(New_York, now),
        Utc.with_ymd_and_hms(2024, 3, 9, 5, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
    let ledger = [
        sent(at(New_York, 2024, 3, 8, 23, 59), BackInStock, Email, &["a"]),
        sent(at(New_York, 2024, 3, 9, 0, 0), BackInStock, Email, &["b"]),
    ];
    assert_eq!(
        cap_allows(&ledger, &rules, New_York, now, BackInStock, Email),
        Ok(())
    );
    let mut full = ledger.to_vec();
    full.push(sent(
        at(New_York, 2024, 3, 10, 3, 0),
        BackInStock,
        Line,
        &["c"],
    ));
    assert_eq!(
        cap_allows(&full, &rules, New_York, now, BackInStock, Email)
            .unwrap_err()
            .description,
        "at most 2 back_in_stock messages per 2 local days"
    );
    // After fall-back the local day is 25h long and still starts at local midnight.
    let now = at(New_York, 2024, 11, 3, 23, 0);
    assert_eq!(
        rules[0].window_start(New_York, now),
        Utc.with_ymd_and_hms(2024, 11, 2, 4, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
}

#[test]
fn duplicate_means_same_scenario_and_sku_within_cooldown() {
    let now = 100 * H;
    let ledger = [sent(now - 2 * H, PriceDrop, Email, &["a", "b"])];
    assert!(is_duplicate(&ledger, PriceDrop, "b", now, 3 * H));
    assert!(
        !is_duplicate(&ledger, PriceDrop, "b", now, 2 * H),
        "exactly a cooldown ago is allowed"
    );
    assert!(!is_duplicate(&ledger, PriceDrop, "c", now, 3 * H));
    assert!(!is_duplicate(&ledger, BackInStock, "a", now, 3 * H));
    assert!(!is_duplicate(&ledger, PriceDrop, "a", now, 0));
}

#[test]
fn prune_keeps_exactly_the_recent_entries() {
    let now = 100 * H;
    let mut ledger = vec![
        sent(now - 10 * H, PriceDrop, Email, &["a"]),
        sent(now - 5 * H, PriceDrop, Email, &["b"]),
        sent(now - 5 * H + 1, PriceDrop, Email, &["c"]),
    ];
    prune(&mut ledger, now, 5 * H);
    let skus: Vec<&str> = ledger.iter().map(|s| s.skus[0].as_str()).collect();
    assert_eq!(skus, ["b", "c"]);
}

#[test]
fn longest_window_pads_local_days() {
    assert_eq!(longest_window_ms(&[]), 0);
    let rules = [
        rule(CapScope::AllMarketing, 1, CapWindow::Rolling { ms: 30 * H }),
        rule(CapScope::AllMarketing, 1, CapWindow::LocalDays { days: 1 }),
    ];
    assert_eq!(longest_window_ms(&rules), 48 * H);
    assert_eq!(longest_window_ms(&rules[..1]), 30 * H);
}

#[test]
fn describe_formats_spans() {
    let r = |ms| rule(CapScope::Channel(Webhook), 3, CapWindow::Rolling { ms }).describe();
    assert_eq!(r(7 * 24 * H), "at most 3 webhook messages per 7d");
    assert_eq!(r(90 * 60_000), "at most 3 webhook messages per 90m");
    assert_eq!(r(1_500), "at most 3 webhook messages per 1500ms");
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tokyo,
        New_York,
        chrono_tz::Europe::London,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::America::Santiago,
        chrono_tz::Pacific::Apia,
        chrono_tz::Pacific::Chatham,
    ])
}

fn window() -> impl Strategy<Value = CapWindow> {
    prop_oneof![
        (1i64..72 * H).prop_map(|ms| CapWindow::Rolling { ms }),
        (1u32..4).prop_map(|days| CapWindow::LocalDays { days }),
    ]
}

proptest! {
    /// Pruning to `longest_window_ms` never changes what the caps allow.
    #[test]
    fn pruning_to_the_longest_window_keeps_cap_answers(
        tz in zone(),
        now in 1_000_000_000_000i64..2_000_000_000_000,
        ages in prop::collection::vec(0i64..6 * 24 * H, 0..30),
        windows in prop::collection::vec(window(), 1..4),
        max in 0u32..6,
    ) {
        let rules: Vec<CapRule> = windows.into_iter().map(|w| rule(CapScope::AllMarketing, max, w)).collect();
        let mut ledger: Vec<Sent> = ages.iter().map(|a| sent(now - a, LowStock, Email, &["a"])).collect();
        let before = cap_allows(&ledger, &rules, tz, now, LowStock, Email);
        prune(&mut ledger, now, longest_window_ms(&rules));
        prop_assert_eq!(cap_allows(&ledger, &rules, tz, now, LowStock, Email), before);
    }
}
