//! The lapse scenarios' config: `[win_back]` (when a customer has lapsed, how much an
//! offer shows), `[birthday]` (the local send time, the coupon) and their
//! `[scenarios.win_back]` / `[scenarios.birthday]` (the marketing scenario settings:
//! `enabled`, `priority`, `channels`, `cooldown`, `max_age`). Every key optional.

use std::time::Duration;

use serde::Deserialize;

use super::order_scenarios::{channels, coupon, MAX_CROSS_SELL_ITEMS};
use super::Dur;
use crate::domain::customer::Scenario;
use crate::domain::lifecycle::lapse::{BirthdayRules, LapseRules, WinBackRules};
use crate::domain::rules::arbitration::ScenarioRules;
use crate::domain::rules::quiet::parse_hhmm;
use crate::settings::{invalid, ConfigError};

/// Most `[win_back] factor`: a lapse later than ten intervals is no longer a habit.
const MAX_FACTOR: f64 = 10.0;

/// `[win_back]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WinBackSection {
    /// A lapse starts `factor` × the customer's median repurchase interval after the
    /// last order (1.5).
    pub factor: Option<f64>,
    /// … and never sooner than this after it (`14d`).
    pub min_interval: Option<Dur>,
    /// Products a win-back shows at most (4, 1–20).
    pub max_items: Option<usize>,
}

/// `[birthday]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirthdaySection {
    /// Local time the birthday message goes, `HH:MM` (`09:00`).
    pub send_at: Option<String>,
    /// A coupon the message carries; unset = none.
    pub coupon_code: Option<String>,
}

/// `[scenarios.win_back]` / `[scenarios.birthday]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LapseScenarioConfig {
    pub enabled: Option<bool>,
    pub priority: Option<u32>,
    /// Preference order: "email", "line", "webhook".
    pub channels: Option<Vec<String>>,
    /// win_back: a product is not offered again within this; birthday: at most one
    /// message within this (besides once a year).
    pub cooldown: Option<Dur>,
    pub max_age: Option<Dur>,
    /// Share of customers kept from the scenario for comparison (0–50, default 0).
    pub holdout_pct: Option<f64>,
    /// Segment audience (marketing only): only members of these segments, when set.
    pub include_segments: Option<Vec<String>>,
    /// Segment audience: never members of these segments.
    pub exclude_segments: Option<Vec<String>>,
}

/// The two scenarios' rules (switch, priority, channels, cooldown, max_age).
pub fn scenario_rules(
    win_back: &LapseScenarioConfig,
    birthday: &LapseScenarioConfig,
) -> Result<Vec<ScenarioRules>, ConfigError> {
    const DAY: u64 = 86_400;
    let each = [
        (
            Scenario::WinBack,
            "scenarios.win_back",
            win_back,
            12,
            30 * DAY,
        ),
        (Scenario::Birthday, "scenarios.birthday", birthday, 25, DAY),
    ];
    let mut out = Vec::new();
    for (scenario, key, cfg, priority, cooldown) in each {
        let names = cfg
            .channels
            .clone()
            .unwrap_or_else(|| vec!["email".into(), "line".into()]);
        let max_age = cfg.max_age.unwrap_or(Dur(Duration::from_secs(DAY)));
        if max_age.0 < Duration::from_secs(60) {
            return Err(invalid(
                key,
                "max_age must be at least \"1m\" (e.g. \"24h\"): a queued message older than it is dropped",
            ));
        }
        out.push(ScenarioRules {
            scenario,
            enabled: cfg.enabled.unwrap_or(true),
            priority: cfg.priority.unwrap_or(priority),
            channels: channels(key, &names)?,
            cooldown_ms: cfg
                .cooldown
                .unwrap_or(Dur(Duration::from_secs(cooldown)))
                .ms(),
            // A win-back's products go out together, in one message ([win_back]
            // max_items bounds how many are picked).
            digest: true,
            digest_max_items: MAX_CROSS_SELL_ITEMS,
            max_age_ms: max_age.ms(),
        });
    }
    Ok(out)
}

/// `[win_back]` and `[birthday]` into the lapse rules; errors name the key and the fix.
pub fn lapse_rules(
    win_back: &WinBackSection,
    birthday: &BirthdaySection,
) -> Result<LapseRules, ConfigError> {
    let d = LapseRules::default();
    let factor = win_back.factor.unwrap_or(d.win_back.factor);
    if !(1.0..=MAX_FACTOR).contains(&factor) {
        return Err(invalid(
            "win_back.factor",
            format!("must be from 1.0 to {MAX_FACTOR} (e.g. 1.5: a lapse starts at 1.5 × the customer's median repurchase interval)"),
        ));
    }
    let min_interval_ms = win_back
        .min_interval
        .map_or(d.win_back.min_interval_ms, Dur::ms);
    if min_interval_ms < 1_000 {
        return Err(invalid(
            "win_back.min_interval",
            "must be at least \"1s\" (e.g. \"14d\"): the shortest time after the last order a lapse can start",
        ));
    }
    let max_items = win_back.max_items.unwrap_or(d.win_back.max_items);
    if !(1..=MAX_CROSS_SELL_ITEMS).contains(&max_items) {
        return Err(invalid(
            "win_back.max_items",
            format!("must be between 1 and {MAX_CROSS_SELL_ITEMS} (e.g. 4)"),
        ));
    }
    let send_at_min = match &birthday.send_at {
        Some(t) => parse_hhmm(t).map_err(|e| {
            invalid(
                "birthday.send_at",
                format!("{e}; the local time the birthday message goes, e.g. \"09:00\""),
            )
        })?,
        None => d.birthday.send_at_min,
    };
    let coupon_code = match &birthday.coupon_code {
        Some(c) => Some(coupon("birthday", c)?),
        None => None,
    };
    Ok(LapseRules {
        win_back: WinBackRules {
            factor,
            min_interval_ms,
            max_items,
        },
        birthday: BirthdayRules {
            send_at_min,
            coupon_code,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn err(toml: &str) -> String {
        let cfg = Config::parse(toml).expect("parses");
        lapse_rules(&cfg.win_back, &cfg.birthday)
            .map(|_| ())
            .and_then(|()| crate::config::rules::build(&cfg.rules, &cfg.scenarios).map(|_| ()))
            .expect_err(toml)
            .to_string()
    }

    #[test]
    fn defaults_and_settings() {
        let d =
            lapse_rules(&WinBackSection::default(), &BirthdaySection::default()).expect("defaults");
        assert_eq!(d, LapseRules::default());
        let cfg = Config::parse(
            "[win_back]\nfactor = 2.0\nmin_interval = \"3d\"\nmax_items = 2\n\
             [birthday]\nsend_at = \"10:30\"\ncoupon_code = \"HBD\"\n\
             [scenarios.win_back]\npriority = 7\ncooldown = \"1h\"\n",
        )
        .expect("parses");
        let r = lapse_rules(&cfg.win_back, &cfg.birthday).expect("valid");
        assert_eq!(
            (
                r.win_back.factor,
                r.win_back.min_interval_ms,
                r.win_back.max_items
            ),
            (2.0, 3 * 86_400_000, 2)
        );
        assert_eq!(r.birthday.send_at_min, 10 * 60 + 30);
        assert_eq!(r.birthday.coupon_code.as_deref(), Some("HBD"));
        let rules = crate::config::rules::build(&cfg.rules, &cfg.scenarios).expect("valid");
        let wb = rules
            .scenarios
            .iter()
            .find(|s| s.scenario == Scenario::WinBack)
            .expect("win_back");
        assert_eq!((wb.priority, wb.cooldown_ms), (7, 3_600_000));
        assert!(rules.enabled(Scenario::Birthday));
    }

    #[test]
    fn example_config_documents_the_defaults() {
        let cfg = Config::parse(include_str!("../../../deploy/stockbelld.toml")).expect("parses");
        let r = lapse_rules(&cfg.win_back, &cfg.birthday).expect("valid");
        assert_eq!(r, LapseRules::default());
        let d = Config::default();
        let ours = |c: &Config| {
            scenario_rules(&c.scenarios.win_back, &c.scenarios.birthday).expect("valid")
        };
        assert_eq!(ours(&cfg), ours(&d));
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let e = err("[win_back]\nfactor = 0.5\n");
        assert!(e.starts_with("win_back.factor") && e.contains("1.5"), "{e}");
        let e = err("[win_back]\nmin_interval = \"0s\"\n");
        assert!(e.starts_with("win_back.min_interval"), "{e}");
        let e = err("[win_back]\nmax_items = 0\n");
        assert!(e.starts_with("win_back.max_items"), "{e}");
        let e = err("[birthday]\nsend_at = \"9am\"\n");
        assert!(
            e.starts_with("birthday.send_at") && e.contains("09:00"),
            "{e}"
        );
        let e = err("[birthday]\ncoupon_code = \" \"\n");
        assert!(
            e.starts_with("birthday") && e.contains("coupon_code"),
            "{e}"
        );
        let e = err("[scenarios.birthday]\nchannels = [\"fax\"]\n");
        assert!(
            e.starts_with("scenarios.birthday") && e.contains("fax"),
            "{e}"
        );
        let e = err("[scenarios.win_back]\nmax_age = \"5s\"\n");
        assert!(
            e.starts_with("scenarios.win_back") && e.contains("max_age"),
            "{e}"
        );
        let e = Config::parse("[win_back]\nfactr = 2.0\n").expect_err("unknown key");
        assert!(e.contains("factr"), "{e}");
    }
}
