//! Tests of a customer's decisions over time.

use super::*;
use crate::config::rules::{build, RulesConfig, ScenariosConfig};
use crate::domain::customer::{Consent, Locale};

// 2023-11-14 22:13:20 UTC = 2023-11-15 07:13:20 in Tokyo (inside 21:00–08:00).
const NIGHT_TOKYO: i64 = 1_700_000_000_000;
// 03:00 UTC = 12:00 in Tokyo.
const NOON_TOKYO: i64 = 1_700_017_200_000;

fn rules(window_ms: i64) -> DeliveryRules {
    let mut r = build(&RulesConfig::default(), &ScenariosConfig::default()).expect("defaults");
    r.arbitration_window_ms = window_ms;
    r
}

fn customer() -> CustomerState {
    CustomerState {
        id: "c1".into(),
        email: Some("a@example.jp".into()),
        line_user_id: None,
        locale: Locale::Ja,
        time_zone: "Asia/Tokyo".into(),
        consent: Consent {
            email: true,
            line: false,
            webhook: false,
        },
        tags: vec![],
        suppressed: vec![],
        ledger: vec![],
        pending: vec![],
        pending_due_ms: None,
        deferred: vec![],
        created_ms: 0,
        updated_ms: 0,
        orders: Vec::new(),
        lifecycle: Default::default(),
    }
}

fn offer(id: u64, scenario: Scenario, sku: &str, price: i64) -> Offer {
    Offer {
        candidate: Candidate {
            trigger_id: id,
            scenario,
            sku: sku.into(),
            at_ms: 0,
            score: 1.0,
        },
        item: ItemContext {
            sku: sku.into(),
            title: sku.into(),
            url: String::new(),
            image_url: String::new(),
            currency: "JPY".into(),
            price_minor: price,
            old_price_minor: None,
            stock_left: None,
        },
    }
}

#[test]
fn restock_and_price_drop_together_send_one_message_the_higher_priority_one() {
    let r = rules(60_000);
    let mut st = customer();
    let first = receive(
        &mut st,
        vec![offer(1, Scenario::PriceDrop, "tee", 900)],
        NOON_TOKYO,
        &r,
    );
    assert_eq!(
        first.timers,
        vec![(NOON_TOKYO + 60_000, TimerKind::CustomerArbitrate)]
    );
    let second = receive(
        &mut st,
        vec![offer(2, Scenario::BackInStock, "tee", 900)],
        NOON_TOKYO + 10_000,
        &r,
    );
    assert!(second.timers.is_empty() && second.send.is_empty());
    // Too early: nothing yet.
    assert_eq!(
        arbitrate_due(&mut st, NOON_TOKYO + 30_000, &r),
        Outcome::default()
    );
    let out = arbitrate_due(&mut st, NOON_TOKYO + 60_000, &r);
    assert_eq!(out.send.len(), 1, "{out:?}");
    assert_eq!(out.send[0].scenario, Scenario::BackInStock);
    assert_eq!(
        out.suppressed,
        vec![(Scenario::PriceDrop, SuppressReason::Priority)]
    );
    assert_eq!(st.ledger.len(), 1);
}

#[test]
fn quiet_hours_defer_and_a_stale_offer_is_dropped_with_its_cap_room_returned() {
    let r = rules(0);
    let mut st = customer();
    let out = receive(
        &mut st,
        vec![offer(1, Scenario::BackInStock, "tee", 900)],
        NIGHT_TOKYO,
        &r,
    );
    assert!(out.send.is_empty());
    let (release, kind) = out.timers[0];
    assert_eq!(kind, TimerKind::CustomerQuiet);
    // 08:00 Tokyo = 23:00 UTC.
    assert_eq!(release, 1_700_002_800_000);
    assert_eq!(
        st.ledger.len(),
        1,
        "the deferred message holds its cap room"
    );
    let out = release_quiet(&mut st, release, |_| Err(SuppressReason::QuietHoursStale));
    assert!(out.send.is_empty());
    assert_eq!(
        out.suppressed,
        vec![(Scenario::BackInStock, SuppressReason::QuietHoursStale)]
    );
    assert!(st.ledger.is_empty() && st.deferred.is_empty());
}

#[test]
fn a_deferred_offer_that_still_holds_is_sent_at_release() {
    let r = rules(0);
    let mut st = customer();
    let out = receive(
        &mut st,
        vec![offer(1, Scenario::PriceDrop, "tee", 900)],
        NIGHT_TOKYO,
        &r,
    );
    let release = out.timers[0].0;
    assert_eq!(
        release_quiet(&mut st, release - 1, |_| Ok(())),
        Outcome::default()
    );
    let out = release_quiet(&mut st, release, |_| Ok(()));
    assert_eq!(out.send.len(), 1);
    assert_eq!(st.ledger.len(), 1);
}

#[test]
fn no_consent_is_counted_not_sent() {
    let r = rules(0);
    let mut st = customer();
    st.consent.email = false;
    let out = receive(
        &mut st,
        vec![offer(1, Scenario::LowStock, "tee", 900)],
        NOON_TOKYO,
        &r,
    );
    assert!(out.send.is_empty());
    assert_eq!(
        out.suppressed,
        vec![(Scenario::LowStock, SuppressReason::Consent)]
    );
}

/// Customers whose holdout bucket is below the share are not sent: counted as `holdout`,
/// kept out of the ledger, recorded once as held out; the others are sent as before.
#[test]
fn the_holdout_keeps_its_share_from_the_scenario_and_records_them() {
    use crate::domain::lifecycle::attribution::holdout::{bucket, Holdout};
    let mut r = rules(0);
    r.holdouts.push(Holdout {
        scenario: Scenario::BackInStock,
        pct: 50.0,
    });
    let ids = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];
    let mut held = 0;
    for id in ids {
        let mut st = customer();
        st.id = id.into();
        let out = receive(
            &mut st,
            vec![offer(1, Scenario::BackInStock, "tee", 900)],
            NOON_TOKYO,
            &r,
        );
        if bucket(id, Scenario::BackInStock) < 5_000 {
            held += 1;
            assert!(out.send.is_empty(), "{id}");
            assert_eq!(
                out.suppressed,
                vec![(Scenario::BackInStock, SuppressReason::Holdout)]
            );
            assert!(
                st.ledger.is_empty(),
                "{id}: a held-out message takes no cap room"
            );
            assert_eq!(out.credits.len(), 1);
            assert_eq!(out.credits[0].tally.held_customers, 1);
            let e = &st.lifecycle.attribution.exposures;
            assert_eq!((e.len(), e[0].last_ms), (1, NOON_TOKYO));
        } else {
            assert_eq!(out.send.len(), 1, "{id}");
            assert!(out.suppressed.is_empty());
        }
    }
    assert!(held > 0 && held < ids.len(), "the ids fall on both sides");
    // Another scenario has no holdout.
    let mut st = customer();
    st.id = ids[0].into();
    let out = receive(
        &mut st,
        vec![offer(2, Scenario::PriceDrop, "tee", 900)],
        NOON_TOKYO,
        &r,
    );
    assert_eq!(out.send.len(), 1);
}
