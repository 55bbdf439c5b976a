//! The `[rules]` and `[scenarios.*]` config sections: global caps, quiet hours, the
//! arbitration window, and per stock scenario its switch, priority, channels, interest
//! threshold, cooldown, digest, (back in stock) audience batching and how long a queued
//! message stays worth sending. The order scenarios' sections are `order_scenarios.rs`.

use serde::Deserialize;

use super::order_scenarios::{self, OrderScenarioConfig, OrderSections};
use crate::domain::customer::{Channel, Scenario};
use crate::domain::lifecycle::attribution::holdout::{self, Holdout};
use crate::domain::rules::arbitration::ScenarioRules;
use crate::domain::rules::caps::{CapRule, CapScope, CapWindow};
use crate::domain::rules::quiet::QuietHours;
use crate::domain::rules::DeliveryRules;
use crate::settings::{invalid, ConfigError, Dur};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    /// "marketing", a channel ("email", "line", "webhook") or a scenario name.
    pub scope: String,
    pub max: u32,
    /// A rolling window such as "16h" ...
    pub window: Option<Dur>,
    /// ... or local calendar days in the customer's time zone.
    pub local_days: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Candidates wait this long so competing scenarios meet (0s = decide at once).
    pub arbitration_window: Dur,
    /// Local quiet hours "HH:MM"; equal values turn them off.
    pub quiet_start: String,
    pub quiet_end: String,
    pub caps: Vec<CapConfig>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            arbitration_window: Dur(std::time::Duration::from_secs(60)),
            quiet_start: "21:00".into(),
            quiet_end: "08:00".into(),
            caps: vec![CapConfig {
                scope: "marketing".into(),
                max: 1,
                window: Some(Dur(std::time::Duration::from_secs(16 * 3600))),
                local_days: None,
            }],
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    pub enabled: bool,
    /// Higher wins.
    pub priority: u32,
    /// Preference order: "email", "line", "webhook".
    pub channels: Vec<String>,
    /// Minimum interest score (category affinity for new arrivals).
    pub threshold: f64,
    /// The same scenario and sku is not sent to a customer again within this.
    pub cooldown: Dur,
    pub digest: bool,
    pub digest_max_items: usize,
    /// Back in stock: customers released per available unit per batch (0 = all at once).
    pub per_unit: u32,
    pub batch_interval: Dur,
    /// A queued message not delivered within this of its decision is dropped (expired).
    pub max_age: Dur,
    /// Percent of customers (0–50) kept from the scenario to measure its lift.
    pub holdout_pct: f64,
    /// Segment audience: only members of these segments, when not empty.
    pub include_segments: Vec<String>,
    /// Segment audience: never members of these segments.
    pub exclude_segments: Vec<String>,
}

fn scenario_default(priority: u32, threshold: f64, digest: bool) -> ScenarioConfig {
    ScenarioConfig {
        enabled: true,
        priority,
        channels: vec!["email".into(), "line".into()],
        threshold,
        cooldown: Dur(std::time::Duration::from_secs(7 * 86_400)),
        digest,
        digest_max_items: 5,
        per_unit: 0,
        batch_interval: Dur(std::time::Duration::from_secs(600)),
        max_age: Dur(std::time::Duration::from_secs(86_400)),
        holdout_pct: 0.0,
        include_segments: Vec::new(),
        exclude_segments: Vec::new(),
    }
}

/// A scenario section as written: keys left out keep that scenario's own default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialScenario {
    enabled: Option<bool>,
    priority: Option<u32>,
    channels: Option<Vec<String>>,
    threshold: Option<f64>,
    cooldown: Option<Dur>,
    digest: Option<bool>,
    digest_max_items: Option<usize>,
    per_unit: Option<u32>,
    batch_interval: Option<Dur>,
    max_age: Option<Dur>,
    holdout_pct: Option<f64>,
    include_segments: Option<Vec<String>>,
    exclude_segments: Option<Vec<String>>,
}

impl PartialScenario {
    fn over(self, d: ScenarioConfig) -> ScenarioConfig {
        ScenarioConfig {
            enabled: self.enabled.unwrap_or(d.enabled),
            priority: self.priority.unwrap_or(d.priority),
            channels: self.channels.unwrap_or(d.channels),
            threshold: self.threshold.unwrap_or(d.threshold),
            cooldown: self.cooldown.unwrap_or(d.cooldown),
            digest: self.digest.unwrap_or(d.digest),
            digest_max_items: self.digest_max_items.unwrap_or(d.digest_max_items),
            per_unit: self.per_unit.unwrap_or(d.per_unit),
            batch_interval: self.batch_interval.unwrap_or(d.batch_interval),
            max_age: self.max_age.unwrap_or(d.max_age),
            holdout_pct: self.holdout_pct.unwrap_or(d.holdout_pct),
            include_segments: self.include_segments.unwrap_or(d.include_segments),
            exclude_segments: self.exclude_segments.unwrap_or(d.exclude_segments),
        }
    }
}

fn overlay<'de, D: serde::Deserializer<'de>>(
    d: D,
    base: ScenarioConfig,
) -> Result<ScenarioConfig, D::Error> {
    PartialScenario::deserialize(d).map(|p| p.over(base))
}

fn back_in_stock<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ScenarioConfig, D::Error> {
    overlay(d, ScenariosConfig::default().back_in_stock)
}

fn price_drop<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ScenarioConfig, D::Error> {
    overlay(d, ScenariosConfig::default().price_drop)
}

fn low_stock<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ScenarioConfig, D::Error> {
    overlay(d, ScenariosConfig::default().low_stock)
}

fn new_arrival<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ScenarioConfig, D::Error> {
    overlay(d, ScenariosConfig::default().new_arrival)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenariosConfig {
    #[serde(deserialize_with = "back_in_stock")]
    pub back_in_stock: ScenarioConfig,
    #[serde(deserialize_with = "price_drop")]
    pub price_drop: ScenarioConfig,
    #[serde(deserialize_with = "low_stock")]
    pub low_stock: ScenarioConfig,
    #[serde(deserialize_with = "new_arrival")]
    pub new_arrival: ScenarioConfig,
    pub backorder_confirmation: OrderScenarioConfig,
    pub backorder_update: OrderScenarioConfig,
    pub arrived: OrderScenarioConfig,
    pub delayed: OrderScenarioConfig,
    pub shipped: OrderScenarioConfig,
    pub delivered_followup: OrderScenarioConfig,
    pub cross_sell_order: OrderScenarioConfig,
    pub cross_sell_delivery: OrderScenarioConfig,
    pub cart_abandoned: super::journeys::JourneyScenarioConfig,
    pub checkout_abandoned: super::journeys::JourneyScenarioConfig,
    pub last_chance: super::hygiene::LastChanceConfig,
    pub win_back: crate::config::lapse::LapseScenarioConfig,
    pub birthday: crate::config::lapse::LapseScenarioConfig,
}

impl Default for ScenariosConfig {
    fn default() -> Self {
        ScenariosConfig {
            back_in_stock: scenario_default(40, 0.4, false),
            price_drop: scenario_default(30, 0.3, false),
            low_stock: scenario_default(20, 0.4, false),
            new_arrival: scenario_default(10, 0.8, true),
            backorder_confirmation: OrderScenarioConfig::default(),
            backorder_update: OrderScenarioConfig::default(),
            arrived: OrderScenarioConfig::default(),
            delayed: OrderScenarioConfig::default(),
            shipped: OrderScenarioConfig::default(),
            delivered_followup: OrderScenarioConfig::default(),
            cross_sell_order: OrderScenarioConfig::default(),
            cross_sell_delivery: OrderScenarioConfig::default(),
            cart_abandoned: Default::default(),
            checkout_abandoned: Default::default(),
            last_chance: super::hygiene::LastChanceConfig::default(),
            win_back: Default::default(),
            birthday: Default::default(),
        }
    }
}

fn channel(s: &str) -> Option<Channel> {
    Channel::ALL.into_iter().find(|c| c.as_str() == s)
}

impl ScenariosConfig {
    fn orders(&self) -> OrderSections<'_> {
        OrderSections {
            backorder_confirmation: &self.backorder_confirmation,
            backorder_update: &self.backorder_update,
            arrived: &self.arrived,
            delayed: &self.delayed,
            shipped: &self.shipped,
            delivered_followup: &self.delivered_followup,
            cross_sell_order: &self.cross_sell_order,
            cross_sell_delivery: &self.cross_sell_delivery,
        }
    }

    fn each(&self) -> [(Scenario, &'static str, &ScenarioConfig); 4] {
        [
            (
                Scenario::BackInStock,
                "scenarios.back_in_stock",
                &self.back_in_stock,
            ),
            (
                Scenario::PriceDrop,
                "scenarios.price_drop",
                &self.price_drop,
            ),
            (Scenario::LowStock, "scenarios.low_stock", &self.low_stock),
            (
                Scenario::NewArrival,
                "scenarios.new_arrival",
                &self.new_arrival,
            ),
        ]
    }
}

/// Validates `[rules]` and `[scenarios]` into `DeliveryRules`; errors name the key.
pub fn build(
    rules: &RulesConfig,
    scenarios: &ScenariosConfig,
) -> Result<DeliveryRules, ConfigError> {
    let quiet = QuietHours::from_hhmm(&rules.quiet_start, &rules.quiet_end)
        .map_err(|e| invalid("rules.quiet_start", e))?;
    let mut caps = Vec::new();
    for c in &rules.caps {
        let scope = match c.scope.as_str() {
            "marketing" => CapScope::AllMarketing,
            s => match (channel(s), Scenario::parse(s)) {
                (Some(ch), _) => CapScope::Channel(ch),
                (_, Some(sc)) if sc.is_marketing() => CapScope::Scenario(sc),
                (_, Some(sc)) => return Err(invalid("rules.caps.scope", format!("{:?} is an order update, which no cap holds back; caps are for marketing: \"marketing\", a channel or a marketing scenario ({})", sc.as_str(), marketing_names()))),
                _ => return Err(invalid("rules.caps.scope", format!("{s:?}: use \"marketing\", a channel (email, line, webhook) or a marketing scenario ({})", marketing_names()))),
            },
        };
        let window = match (c.window, c.local_days) {
            (Some(w), None) if w.ms() > 0 => CapWindow::Rolling { ms: w.ms() },
            (None, Some(d)) if d > 0 => CapWindow::LocalDays { days: d },
            _ => {
                return Err(invalid(
                    "rules.caps.window",
                    "set exactly one of window (e.g. \"16h\") or local_days (e.g. 1)",
                ))
            }
        };
        caps.push(CapRule {
            scope,
            max: c.max,
            window,
        });
    }
    let (order_rules, orders) = order_scenarios::build(scenarios.orders())?;
    let (journey_rules, journeys) =
        super::journeys::build(&scenarios.cart_abandoned, &scenarios.checkout_abandoned)?;
    let mut out = DeliveryRules {
        scenarios: Vec::new(),
        thresholds: Vec::new(),
        batching: Vec::new(),
        caps,
        quiet,
        arbitration_window_ms: rules.arbitration_window.ms(),
        orders,
        holdouts: Vec::new(),
        attribution: Default::default(),
        journeys,
        // `[win_back]` / `[birthday]` are outside `[scenarios]`: `Config::delivery_rules`.
        lapse: Default::default(),
        audiences: Vec::new(),
    };
    for (sc, key, cfg) in scenarios.each() {
        let channels = order_scenarios::channels(key, &cfg.channels)?;
        if !(0.0..=100.0).contains(&cfg.threshold) {
            return Err(invalid(key, "threshold must be between 0 and 100"));
        }
        if cfg.max_age.0 < std::time::Duration::from_secs(60) {
            return Err(invalid(
                key,
                "max_age must be at least \"1m\" (e.g. \"24h\"): a queued message older than it is dropped",
            ));
        }
        out.scenarios.push(ScenarioRules {
            scenario: sc,
            enabled: cfg.enabled,
            priority: cfg.priority,
            channels,
            cooldown_ms: cfg.cooldown.ms(),
            digest: cfg.digest,
            digest_max_items: cfg.digest_max_items.max(1),
            max_age_ms: cfg.max_age.ms(),
        });
        push_holdout(&mut out, sc, key, Some(cfg.holdout_pct))?;
        push_audience(
            &mut out,
            sc,
            Some(&cfg.include_segments),
            Some(&cfg.exclude_segments),
        );
        out.thresholds.push((sc, cfg.threshold));
        out.batching
            .push((sc, cfg.per_unit, cfg.batch_interval.ms().max(1000)));
    }
    out.scenarios.extend(order_rules);
    for (sc, key, cfg) in scenarios.orders().each() {
        push_holdout(&mut out, sc, key, cfg.holdout_pct)?;
        push_audience(
            &mut out,
            sc,
            cfg.include_segments.as_ref(),
            cfg.exclude_segments.as_ref(),
        );
    }
    for (sc, inc, exc) in [
        (
            Scenario::CartAbandoned,
            &scenarios.cart_abandoned.include_segments,
            &scenarios.cart_abandoned.exclude_segments,
        ),
        (
            Scenario::CheckoutAbandoned,
            &scenarios.checkout_abandoned.include_segments,
            &scenarios.checkout_abandoned.exclude_segments,
        ),
        (
            Scenario::WinBack,
            &scenarios.win_back.include_segments,
            &scenarios.win_back.exclude_segments,
        ),
        (
            Scenario::Birthday,
            &scenarios.birthday.include_segments,
            &scenarios.birthday.exclude_segments,
        ),
    ] {
        push_audience(&mut out, sc, inc.as_ref(), exc.as_ref());
    }
    out.scenarios.extend(journey_rules);
    out.scenarios.push(scenarios.last_chance.rules()?);
    out.scenarios.extend(crate::config::lapse::scenario_rules(
        &scenarios.win_back,
        &scenarios.birthday,
    )?);
    // The journeys' and lapse scenarios' holdouts (last_chance has none: it is the list's
    // hygiene, not an offer).
    let s = scenarios;
    for (sc, key, pct) in [
        (
            Scenario::CartAbandoned,
            "scenarios.cart_abandoned",
            s.cart_abandoned.holdout_pct,
        ),
        (
            Scenario::CheckoutAbandoned,
            "scenarios.checkout_abandoned",
            s.checkout_abandoned.holdout_pct,
        ),
        (
            Scenario::WinBack,
            "scenarios.win_back",
            s.win_back.holdout_pct,
        ),
        (
            Scenario::Birthday,
            "scenarios.birthday",
            s.birthday.holdout_pct,
        ),
    ] {
        push_holdout(&mut out, sc, key, pct)?;
    }
    Ok(out)
}

/// Checks a scenario's `holdout_pct` and adds it to the rules (none when 0 or unset).
/// Shared by every `[scenarios.*]` section of a marketing scenario.
pub fn push_holdout(
    out: &mut DeliveryRules,
    scenario: Scenario,
    key: &'static str,
    pct: Option<f64>,
) -> Result<(), ConfigError> {
    let Some(pct) = pct else { return Ok(()) };
    let pct = holdout::check_pct(pct).map_err(|e| invalid(key, e))?;
    if pct > 0.0 {
        out.holdouts.push(Holdout { scenario, pct });
    }
    Ok(())
}

/// Adds a marketing scenario's segment audience (none when both lists are empty). The
/// names are checked against the defined segments by `Config::validate`.
fn push_audience(
    out: &mut DeliveryRules,
    scenario: Scenario,
    include: Option<&Vec<String>>,
    exclude: Option<&Vec<String>>,
) {
    let a = crate::domain::segments::definition::Audience {
        include: include.cloned().unwrap_or_default(),
        exclude: exclude.cloned().unwrap_or_default(),
    };
    if !a.is_empty() {
        out.audiences.push((scenario, a));
    }
}

/// The marketing scenarios' names, for errors.
fn marketing_names() -> String {
    Scenario::ALL
        .into_iter()
        .filter(|s| s.is_marketing())
        .map(Scenario::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build_and_bad_values_name_the_key() {
        let r = build(&RulesConfig::default(), &ScenariosConfig::default()).expect("defaults");
        assert_eq!(r.caps.len(), 1);
        assert!(r.enabled(Scenario::NewArrival));
        let mut s = ScenariosConfig::default();
        s.price_drop.channels = vec!["fax".into()];
        let err = build(&RulesConfig::default(), &s)
            .expect_err("fax")
            .to_string();
        assert!(
            err.starts_with("scenarios.price_drop") && err.contains("fax"),
            "{err}"
        );
        let mut r = RulesConfig::default();
        r.caps[0].local_days = Some(1);
        assert!(build(&r, &ScenariosConfig::default())
            .expect_err("both")
            .to_string()
            .starts_with("rules.caps.window"));
    }

    #[test]
    fn a_section_keeps_the_scenarios_other_defaults() {
        let cfg = crate::config::Config::parse("[scenarios.back_in_stock]\nper_unit = 2\n")
            .expect("parses");
        let r = build(&cfg.rules, &cfg.scenarios).expect("valid");
        let bis = r
            .scenarios
            .iter()
            .find(|x| x.scenario == Scenario::BackInStock)
            .expect("bis");
        assert_eq!((bis.priority, r.batching(Scenario::BackInStock).0), (40, 2));
        assert!((r.threshold(Scenario::BackInStock) - 0.4).abs() < 1e-9);
        let err = crate::config::Config::parse("[scenarios.low_stock]\nprioritee = 3\n")
            .expect_err("unknown key");
        assert!(err.contains("prioritee"), "{err}");
    }

    #[test]
    fn example_config_documents_the_scenario_defaults() {
        let text = include_str!("../../../deploy/stockbelld.toml");
        let cfg = crate::config::Config::parse(text).expect("parses");
        let example = build(&cfg.rules, &cfg.scenarios).expect("valid");
        let defaults = build(&RulesConfig::default(), &ScenariosConfig::default()).expect("valid");
        assert_eq!(example, defaults);
    }

    #[test]
    fn max_age_defaults_to_a_day_and_is_checked() {
        let cfg = crate::config::Config::parse("[scenarios.price_drop]\nmax_age = \"6h\"\n")
            .expect("parses");
        let r = build(&cfg.rules, &cfg.scenarios).expect("valid");
        assert_eq!(r.max_age_ms(Scenario::PriceDrop), Some(6 * 3_600_000));
        assert_eq!(r.max_age_ms(Scenario::NewArrival), Some(86_400_000));
        let cfg = crate::config::Config::parse("[scenarios.new_arrival]\nmax_age = \"10s\"\n")
            .expect("parses");
        let err = build(&cfg.rules, &cfg.scenarios)
            .expect_err("too short")
            .to_string();
        assert!(
            err.starts_with("scenarios.new_arrival") && err.contains("max_age"),
            "{err}"
        );
    }

    #[test]
    fn the_journey_and_lapse_scenarios_take_a_holdout() {
        let cfg = crate::config::Config::parse(
            "[scenarios.cart_abandoned]\nholdout_pct = 5\n\
             [scenarios.birthday]\nholdout_pct = 10\n",
        )
        .expect("parses");
        let r = cfg.delivery_rules().expect("valid");
        assert_eq!(r.holdout_pct(Scenario::CartAbandoned), 5.0);
        assert_eq!(r.holdout_pct(Scenario::Birthday), 10.0);
        assert_eq!(r.holdout_pct(Scenario::WinBack), 0.0);
        let bad = crate::config::Config::parse("[scenarios.win_back]\nholdout_pct = 60\n")
            .expect("parses")
            .delivery_rules()
            .expect_err("over 50")
            .to_string();
        assert!(bad.starts_with("scenarios.win_back"), "{bad}");
        let last = crate::config::Config::parse("[scenarios.last_chance]\nholdout_pct = 5\n");
        assert!(last.is_err_and(|e| e.contains("holdout_pct")));
    }
}
