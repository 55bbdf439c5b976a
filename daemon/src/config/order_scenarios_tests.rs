//! The order scenarios' sections: defaults, timing, quiet-hours modes, and errors that
//! name the key and the fix.

use crate::config::rules::build;
use crate::config::Config;
use crate::domain::customer::{Channel, Scenario};
use crate::domain::rules::order_messages::QuietMode;
use crate::domain::rules::DeliveryRules;

const DAY: i64 = 86_400_000;

fn rules(toml: &str) -> Result<DeliveryRules, String> {
    let cfg = Config::parse(toml)?;
    build(&cfg.rules, &cfg.scenarios).map_err(|e| e.to_string())
}

fn error(toml: &str) -> String {
    rules(toml).expect_err("refused")
}

#[test]
fn defaults_cover_every_order_scenario() {
    let r = rules("").expect("defaults");
    for s in Scenario::ORDER {
        let sr = r.scenarios.iter().find(|x| x.scenario == s).expect("rules");
        assert!(sr.enabled, "{s:?}");
        assert_eq!(sr.channels, [Channel::Email, Channel::Line], "{s:?}");
    }
    let o = &r.orders;
    assert_eq!(o.update_every_ms, 10 * DAY);
    assert_eq!(o.followup_after_ms, 3 * DAY);
    assert_eq!(o.review_url, None);
    assert_eq!(o.cross_sell_order.after_ms, 3_600_000);
    assert_eq!(o.cross_sell_delivery.after_ms, 7 * DAY);
    assert_eq!(o.cross_sell_order.max_items, 4);
    assert_eq!(o.cross_sell_delivery.coupon_code, None);
    let at_once: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| r.quiet_mode(*s) == QuietMode::Send)
        .collect();
    assert_eq!(
        at_once,
        [Scenario::Arrived, Scenario::Delayed, Scenario::Shipped]
    );
    // Order updates never expire; offers do, like the stock scenarios.
    assert_eq!(r.max_age_ms(Scenario::Shipped), None);
    assert_eq!(r.max_age_ms(Scenario::CrossSellOrder), Some(DAY));
}

#[test]
fn sections_set_timing_links_coupon_and_quiet_mode() {
    let r = rules(
        r#"
[scenarios.backorder_update]
update_every = "14d"
quiet = "send"
[scenarios.shipped]
quiet = "wait"
channels = ["line", "email"]
[scenarios.delivered_followup]
after = "5d"
review_url = "https://shop.example/review?order={order_id}"
[scenarios.cross_sell_order]
after = "2h"
max_items = 6
priority = 3
[scenarios.cross_sell_delivery]
enabled = false
coupon_code = "THANKS10"
"#,
    )
    .expect("valid");
    let o = &r.orders;
    assert_eq!(o.update_every_ms, 14 * DAY);
    assert_eq!(r.quiet_mode(Scenario::BackorderUpdate), QuietMode::Send);
    assert_eq!(r.quiet_mode(Scenario::Shipped), QuietMode::Wait);
    assert_eq!(o.followup_after_ms, 5 * DAY);
    assert_eq!(
        o.review_link("A-1", "c1").as_deref(),
        Some("https://shop.example/review?order=A-1")
    );
    assert_eq!(
        (o.cross_sell_order.after_ms, o.cross_sell_order.max_items),
        (7_200_000, 6)
    );
    assert_eq!(
        o.cross_sell_delivery.coupon_code.as_deref(),
        Some("THANKS10")
    );
    assert!(!r.enabled(Scenario::CrossSellDelivery));
    let shipped = r.scenarios.iter().find(|x| x.scenario == Scenario::Shipped);
    assert_eq!(
        shipped.map(|x| x.channels.clone()),
        Some(vec![Channel::Line, Channel::Email])
    );
    let offer = r
        .scenarios
        .iter()
        .find(|x| x.scenario == Scenario::CrossSellOrder);
    assert_eq!(offer.map(|x| x.priority), Some(3));
}

#[test]
fn a_key_the_scenario_does_not_have_is_named_with_the_ones_it_has() {
    let err = error("[scenarios.shipped]\nupdate_every = \"1d\"\n");
    assert!(
        err.starts_with("scenarios.shipped: update_every is not a setting of shipped")
            && err.contains("enabled, channels, quiet"),
        "{err}"
    );
    let err = error("[scenarios.cross_sell_order]\nquiet = \"send\"\n");
    assert!(
        err.starts_with("scenarios.cross_sell_order: quiet"),
        "{err}"
    );
    let err = error("[scenarios.cross_sell_order]\ncoupon_code = \"X\"\n");
    assert!(err.contains("coupon_code is not a setting"), "{err}");
    let err = error("[scenarios.arrived]\npriority = 3\n");
    assert!(err.starts_with("scenarios.arrived: priority"), "{err}");
    let err = Config::parse("[scenarios.shipped]\nthreshhold = 1\n").expect_err("unknown");
    assert!(err.contains("threshhold"), "{err}");
}

#[test]
fn bad_values_name_the_key_and_the_fix() {
    let cases = [
        (
            "[scenarios.delayed]\nquiet = \"later\"\n",
            "scenarios.delayed",
            "\"send\"",
        ),
        (
            "[scenarios.arrived]\nchannels = [\"fax\"]\n",
            "scenarios.arrived",
            "fax",
        ),
        (
            "[scenarios.shipped]\nchannels = []\n",
            "scenarios.shipped",
            "channels is empty",
        ),
        (
            "[scenarios.backorder_update]\nupdate_every = \"0s\"\n",
            "scenarios.backorder_update",
            "update_every must be at least",
        ),
        (
            "[scenarios.cross_sell_order]\nmax_items = 0\n",
            "scenarios.cross_sell_order",
            "max_items must be between 1 and 20",
        ),
        (
            "[scenarios.cross_sell_delivery]\ncoupon_code = \" \"\n",
            "scenarios.cross_sell_delivery",
            "leave the key out",
        ),
        (
            "[scenarios.delivered_followup]\nreview_url = \"https://s.example/{sku}\"\n",
            "scenarios.delivered_followup",
            "{order_id}",
        ),
        (
            "[scenarios.cross_sell_delivery]\nmax_age = \"10s\"\n",
            "scenarios.cross_sell_delivery",
            "max_age",
        ),
    ];
    for (toml, key, hint) in cases {
        let err = error(toml);
        assert!(err.starts_with(key) && err.contains(hint), "{toml}: {err}");
    }
}

#[test]
fn caps_take_marketing_scenarios_only() {
    let cap =
        |scope: &str| format!("[[rules.caps]]\nscope = \"{scope}\"\nmax = 1\nwindow = \"1d\"\n");
    assert!(rules(&cap("cross_sell_delivery")).is_ok());
    let err = error(&cap("shipped"));
    assert!(
        err.starts_with("rules.caps.scope") && err.contains("order update"),
        "{err}"
    );
    let err = error(&cap("flash_sale"));
    assert!(err.contains("cross_sell_order"), "{err}");
}

#[test]
fn an_offers_products_go_in_one_message() {
    let r = rules("[scenarios.cross_sell_delivery]\nmax_items = 7\n").expect("valid");
    let of = |s: Scenario| {
        let sr = r.scenarios.iter().find(|x| x.scenario == s).expect("rules");
        (sr.digest, sr.digest_max_items)
    };
    assert_eq!(of(Scenario::CrossSellOrder), (true, 4));
    assert_eq!(of(Scenario::CrossSellDelivery), (true, 7));
    assert_eq!(of(Scenario::Shipped), (false, 1));
}
