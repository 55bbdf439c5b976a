//! The abandoned cart / checkout journeys' config: `[journeys]` (`idle`: how long a cart
//! is left untouched before its journey starts) and `[scenarios.cart_abandoned]` /
//! `[scenarios.checkout_abandoned]` (marketing: `enabled`, `priority`, `channels`,
//! `cooldown` — also the least time between two abandonment messages of either journey
//! to one customer — `max_age`, and `after`, the steps' offsets from the journey's start).

use serde::Deserialize;

use super::order_scenarios::channels;
use crate::domain::customer::Scenario;
use crate::domain::lifecycle::journey::JourneyRules;
use crate::domain::rules::arbitration::ScenarioRules;
use crate::settings::{invalid, ConfigError, Dur};

/// Most steps a journey may have.
pub const MAX_STEPS: usize = 10;
/// Lines a reminder shows at most (the cart's own limit).
const MAX_ITEMS: usize = crate::domain::lifecycle::journey::MAX_LINES;
const DAY_S: u64 = 86_400;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JourneysConfig {
    /// A cart untouched this long starts its journey (default "1h").
    pub idle: Dur,
}

impl Default for JourneysConfig {
    fn default() -> Self {
        JourneysConfig {
            idle: Dur(std::time::Duration::from_secs(3_600)),
        }
    }
}

/// One journey scenario's section as written; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyScenarioConfig {
    pub enabled: Option<bool>,
    pub priority: Option<u32>,
    /// Preference order: "email", "line", "webhook".
    pub channels: Option<Vec<String>>,
    pub cooldown: Option<Dur>,
    pub max_age: Option<Dur>,
    /// The steps' offsets from the journey's start (the cart's last change + `idle`),
    /// ascending, e.g. ["1d", "3d"].
    pub after: Option<Vec<Dur>>,
    /// Share of customers kept from the scenario for comparison (0–50, default 0).
    pub holdout_pct: Option<f64>,
    /// Segment audience (marketing only): only members of these segments, when set.
    pub include_segments: Option<Vec<String>>,
    /// Segment audience: never members of these segments.
    pub exclude_segments: Option<Vec<String>>,
}

fn steps(key: &'static str, after: &[Dur]) -> Result<Vec<i64>, ConfigError> {
    if after.is_empty() || after.len() > MAX_STEPS {
        return Err(invalid(
            key,
            format!("after must list 1 to {MAX_STEPS} offsets, e.g. [\"1d\", \"3d\"]; disable the scenario with enabled = false instead"),
        ));
    }
    let ms: Vec<i64> = after.iter().map(|d| d.ms()).collect();
    if ms.windows(2).any(|w| w[1] <= w[0]) {
        return Err(invalid(
            key,
            "after must be in ascending order with no repeats, e.g. [\"1d\", \"3d\"]",
        ));
    }
    Ok(ms)
}

fn scenario(
    sc: Scenario,
    key: &'static str,
    cfg: &JourneyScenarioConfig,
    default_after: &[i64],
) -> Result<(ScenarioRules, Vec<i64>), ConfigError> {
    let names = cfg
        .channels
        .clone()
        .unwrap_or_else(|| vec!["email".into(), "line".into()]);
    let max_age = cfg
        .max_age
        .unwrap_or(Dur(std::time::Duration::from_secs(DAY_S)));
    if max_age.0 < std::time::Duration::from_secs(60) {
        return Err(invalid(
            key,
            "max_age must be at least \"1m\" (e.g. \"24h\"): a queued reminder older than it is dropped",
        ));
    }
    let cooldown = cfg
        .cooldown
        .unwrap_or(Dur(std::time::Duration::from_secs(DAY_S)));
    let after = match &cfg.after {
        Some(a) => steps(key, a)?,
        None => default_after.to_vec(),
    };
    let rules = ScenarioRules {
        scenario: sc,
        enabled: cfg.enabled.unwrap_or(true),
        priority: cfg.priority.unwrap_or(25),
        channels: channels(key, &names)?,
        cooldown_ms: cooldown.ms(),
        // A reminder's lines go out together, in one message.
        digest: true,
        digest_max_items: MAX_ITEMS,
        max_age_ms: max_age.ms(),
    };
    Ok((rules, after))
}

/// Validates the two scenario sections into their rules and the journeys' steps (with
/// the default `idle`; [`idle`] sets the configured one).
pub fn build(
    cart: &JourneyScenarioConfig,
    checkout: &JourneyScenarioConfig,
) -> Result<(Vec<ScenarioRules>, JourneyRules), ConfigError> {
    let d = JourneyRules::default();
    let (cart_rules, cart_after_ms) = scenario(
        Scenario::CartAbandoned,
        "scenarios.cart_abandoned",
        cart,
        &d.cart_after_ms,
    )?;
    let (checkout_rules, checkout_after_ms) = scenario(
        Scenario::CheckoutAbandoned,
        "scenarios.checkout_abandoned",
        checkout,
        &d.checkout_after_ms,
    )?;
    Ok((
        vec![cart_rules, checkout_rules],
        JourneyRules {
            idle_ms: d.idle_ms,
            cart_after_ms,
            checkout_after_ms,
        },
    ))
}

/// The configured `idle`, in ms.
pub fn idle(cfg: &JourneysConfig) -> Result<i64, ConfigError> {
    if cfg.idle.0 < std::time::Duration::from_secs(1) || cfg.idle.0.as_secs() > 30 * DAY_S {
        return Err(invalid(
            "journeys.idle",
            "idle must be between \"1s\" and \"30d\" (e.g. \"1h\"): how long a cart is left untouched before its journey starts",
        ));
    }
    Ok(cfg.idle.ms())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn error(toml: &str) -> String {
        let cfg: Config = toml::from_str(toml).expect("parses");
        cfg.delivery_rules().expect_err("refused").to_string()
    }

    #[test]
    fn defaults_and_overrides() {
        let cfg: Config = toml::from_str("").expect("parses");
        let r = cfg.delivery_rules().expect("defaults are valid");
        const H: i64 = 3_600_000;
        assert_eq!(r.journeys.idle_ms, H);
        assert_eq!(r.journeys.cart_after_ms, [24 * H, 72 * H]);
        assert_eq!(r.journeys.checkout_after_ms, [H]);
        let cfg: Config = toml::from_str(
            "[journeys]\nidle = \"2s\"\n[scenarios.cart_abandoned]\nafter = [\"3s\", \"9s\"]\npriority = 50\n[scenarios.checkout_abandoned]\nenabled = false\n",
        )
        .expect("parses");
        let r = cfg.delivery_rules().expect("valid");
        assert_eq!(r.journeys.idle_ms, 2_000);
        assert_eq!(r.journeys.cart_after_ms, [3_000, 9_000]);
        assert!(!r.enabled(crate::domain::customer::Scenario::CheckoutAbandoned));
        assert!(r.enabled(crate::domain::customer::Scenario::CartAbandoned));
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        for (toml, key, fix) in [
            ("[journeys]\nidle = \"0s\"\n", "journeys.idle", "between"),
            (
                "[scenarios.cart_abandoned]\nafter = [\"3d\", \"1d\"]\n",
                "scenarios.cart_abandoned",
                "ascending",
            ),
            (
                "[scenarios.checkout_abandoned]\nafter = []\n",
                "scenarios.checkout_abandoned",
                "enabled = false",
            ),
            (
                "[scenarios.cart_abandoned]\nchannels = [\"fax\"]\n",
                "scenarios.cart_abandoned",
                "not a channel",
            ),
            (
                "[scenarios.cart_abandoned]\nmax_age = \"1s\"\n",
                "scenarios.cart_abandoned",
                "at least",
            ),
        ] {
            let e = error(toml);
            assert!(e.starts_with(key) && e.contains(fix), "{toml}: {e}");
        }
        let cfg: Result<Config, _> = toml::from_str("[scenarios.cart_abandoned]\nthreshold = 1\n");
        assert!(cfg.is_err(), "an unknown key is refused");
    }
}
