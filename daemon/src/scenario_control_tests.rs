use super::*;
use crate::config::rules::{build, RulesConfig, ScenariosConfig};
use crate::domain::customer::Channel;
use crate::domain::rules::caps::{CapRule, CapScope, CapWindow};
use crate::store::test_db::TestDb;

fn base() -> DeliveryRules {
    build(&RulesConfig::default(), &ScenariosConfig::default()).expect("defaults")
}

fn day_cap(max: u32) -> CapRule {
    CapRule {
        scope: CapScope::AllMarketing,
        max,
        window: CapWindow::Rolling { ms: 86_400_000 },
    }
}

#[test]
fn overrides_change_only_their_scenario() {
    let b = base();
    let mut o = Overrides::new();
    o.insert(
        "price_drop".into(),
        ScenarioOverride {
            enabled: Some(false),
            threshold: Some(2.5),
            caps: Some(vec![day_cap(2)]),
            ..Default::default()
        },
    );
    let r = apply(&b, &o);
    assert!(!r.enabled(Scenario::PriceDrop));
    assert!(r.enabled(Scenario::BackInStock));
    assert_eq!(r.threshold(Scenario::PriceDrop), 2.5);
    assert_eq!(
        r.threshold(Scenario::LowStock),
        b.threshold(Scenario::LowStock)
    );
    // The global cap stays; the scenario's own cap is added with its scope.
    assert_eq!(r.caps.len(), b.caps.len() + 1);
    assert!(r
        .caps
        .iter()
        .any(|c| c.scope == CapScope::Scenario(Scenario::PriceDrop) && c.max == 2));
    // Replacing the caps again does not pile them up.
    let r2 = apply(&r, &o);
    assert_eq!(r2.caps.len(), b.caps.len() + 1);
}

#[test]
fn bad_changes_name_the_field() {
    let bad = ScenarioOverride {
        threshold: Some(101.0),
        ..Default::default()
    };
    let e = validate(Scenario::PriceDrop, &bad)
        .expect_err("101")
        .to_string();
    assert!(e.starts_with("threshold"), "{e}");
    let zero = ScenarioOverride {
        caps: Some(vec![day_cap(0)]),
        ..Default::default()
    };
    let e = validate(Scenario::PriceDrop, &zero)
        .expect_err("0")
        .to_string();
    assert!(e.starts_with("caps.max"), "{e}");
}

/// An order update takes enable / disable and channels only; a cross-sell offer has no
/// interest threshold.
#[test]
fn order_scenarios_take_only_the_changes_that_mean_something() {
    let change = |f: fn(&mut ScenarioOverride)| {
        let mut o = ScenarioOverride::default();
        f(&mut o);
        o
    };
    let cases: [(Scenario, ScenarioOverride, &str); 5] = [
        (
            Scenario::Shipped,
            change(|o| o.priority = Some(3)),
            "priority",
        ),
        (
            Scenario::Shipped,
            change(|o| o.caps = Some(vec![day_cap(1)])),
            "caps",
        ),
        (
            Scenario::Arrived,
            change(|o| o.threshold = Some(0.5)),
            "threshold",
        ),
        (
            Scenario::CrossSellOrder,
            change(|o| o.threshold = Some(0.5)),
            "threshold",
        ),
        (
            Scenario::Delayed,
            change(|o| o.channels = Some(vec![Channel::Line, Channel::Line])),
            "channels: line is listed twice",
        ),
    ];
    for (s, o, field) in cases {
        let e = validate(s, &o).expect_err(field).to_string();
        assert!(e.starts_with(field), "{s:?}: {e}");
    }
    assert!(validate(
        Scenario::Shipped,
        &change(|o| o.channels = Some(vec![Channel::Webhook]))
    )
    .is_ok());
    assert!(validate(Scenario::CrossSellOrder, &change(|o| o.priority = Some(1))).is_ok());
    let empty = change(|o| o.channels = Some(vec![]));
    assert!(validate(Scenario::Shipped, &empty).is_err());
}

#[test]
fn a_channels_change_replaces_the_preference_order() {
    let b = base();
    let mut o = Overrides::new();
    o.insert(
        "shipped".into(),
        ScenarioOverride {
            channels: Some(vec![Channel::Webhook, Channel::Email]),
            enabled: Some(false),
            ..Default::default()
        },
    );
    let r = apply(&b, &o);
    let shipped = r.scenarios.iter().find(|s| s.scenario == Scenario::Shipped);
    assert_eq!(
        shipped.map(|s| (s.enabled, s.channels.clone())),
        Some((false, vec![Channel::Webhook, Channel::Email]))
    );
    assert!(r.enabled(Scenario::Arrived));
    // A change stored before channels existed still reads.
    let old: Overrides = serde_json::from_str(
        r#"{"low_stock":{"enabled":false,"priority":null,"threshold":null,"caps":null}}"#,
    )
    .expect("old JSON");
    assert_eq!(old["low_stock"].channels, None);
}

#[tokio::test]
async fn changes_are_stored_and_survive_a_reload_and_reset_drops_them() {
    let db = TestDb::new();
    let (writer, _thread) = Writer::start(db.store.clone(), false);
    let c = ScenarioControl::load(base(), &db.store, writer.clone()).expect("load");
    c.update(
        Scenario::LowStock,
        Some(ScenarioOverride {
            priority: Some(99),
            ..Default::default()
        }),
    )
    .await
    .expect("update");
    c.update(
        Scenario::LowStock,
        Some(ScenarioOverride {
            enabled: Some(false),
            ..Default::default()
        }),
    )
    .await
    .expect("update");
    let live = c.live.get();
    assert!(!live.enabled(Scenario::LowStock));
    let prio = |r: &DeliveryRules| {
        r.scenarios
            .iter()
            .find(|s| s.scenario == Scenario::LowStock)
            .map(|s| s.priority)
    };
    // The second change kept the first.
    assert_eq!(prio(&live), Some(99));

    let again = ScenarioControl::load(base(), &db.store, writer.clone()).expect("reload");
    assert_eq!(again.overrides(), c.overrides());
    assert_eq!(*again.live.get(), *live);

    // A rejected change changes nothing.
    let before = again.overrides();
    assert!(again
        .update(
            Scenario::LowStock,
            Some(ScenarioOverride {
                threshold: Some(f64::NAN),
                ..Default::default()
            }),
        )
        .await
        .is_err());
    assert_eq!(again.overrides(), before);

    again.update(Scenario::LowStock, None).await.expect("reset");
    assert_eq!(*again.live.get(), base());
    let third = ScenarioControl::load(base(), &db.store, writer).expect("reload");
    assert!(third.overrides().is_empty());
}
