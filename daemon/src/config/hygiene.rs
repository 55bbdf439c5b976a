//! The `[hygiene]` section (the sunset policy, soft-bounce runs, the feedback-loop
//! endpoint's tokens) and `[scenarios.last_chance]` (the sunset's one message).

use std::time::Duration;

use serde::Deserialize;

use super::order_scenarios;
use crate::domain::customer::Scenario;
use crate::domain::lifecycle::hygiene::HygienePolicy;
use crate::domain::lifecycle::hygiene_rates::PausePolicy;
use crate::domain::rules::arbitration::ScenarioRules;
use crate::settings::{invalid, ConfigError, Dur};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HygieneConfig {
    /// The sunset policy: off by default, so an operator previews it (`PreviewSunset`)
    /// before it pauses anyone.
    pub sunset: bool,
    pub min_messages: u32,
    pub inactive_for: Dur,
    /// Soft bounces in a row on one channel that suppress the address (0 = never).
    pub soft_bounce_limit: u32,
    /// Bearer tokens that may `POST /complaint` (empty = the endpoint is off: 404).
    pub complaint_tokens: Vec<String>,
    /// A marketing scenario pauses when, over the last day and for one sending domain,
    /// complaints per delivered message pass this (0.001 = 0.1 %) ...
    pub max_complaint_rate: f64,
    /// ... or hard bounces per message sent pass this (0.02 = 2 %) ...
    pub max_hard_bounce_rate: f64,
    /// ... with at least this many messages sent that day.
    pub min_volume: u64,
}

impl Default for HygieneConfig {
    fn default() -> Self {
        HygieneConfig {
            sunset: false,
            min_messages: 5,
            inactive_for: Dur(Duration::from_secs(180 * 86_400)),
            soft_bounce_limit: 7,
            complaint_tokens: Vec::new(),
            max_complaint_rate: 0.001,
            max_hard_bounce_rate: 0.02,
            min_volume: 1_000,
        }
    }
}

impl HygieneConfig {
    /// The policy the customers' actors apply; errors name the key.
    pub fn policy(&self) -> Result<HygienePolicy, ConfigError> {
        if self.min_messages == 0 {
            return Err(invalid(
                "hygiene.min_messages",
                "must be at least 1 (e.g. 5): the marketing messages without a click or an order before a customer counts as inactive",
            ));
        }
        if self.inactive_for.0 < Duration::from_secs(1) {
            return Err(invalid(
                "hygiene.inactive_for",
                "must be at least \"1s\" (e.g. \"180d\"): how long without a click, an order or an interest event",
            ));
        }
        for t in &self.complaint_tokens {
            if t.len() < 16 {
                return Err(invalid(
                    "hygiene.complaint_tokens",
                    "a token must be at least 16 characters (e.g. from `openssl rand -hex 24`)",
                ));
            }
        }
        Ok(HygienePolicy {
            sunset: self.sunset,
            min_messages: self.min_messages,
            inactive_for_ms: self.inactive_for.ms(),
            soft_bounce_limit: self.soft_bounce_limit,
        })
    }
}

impl HygieneConfig {
    /// When a scenario pauses for its rates; errors name the key.
    pub fn pause_policy(&self) -> Result<PausePolicy, ConfigError> {
        for (key, v) in [
            ("hygiene.max_complaint_rate", self.max_complaint_rate),
            ("hygiene.max_hard_bounce_rate", self.max_hard_bounce_rate),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(invalid(
                    key,
                    "must be a fraction above 0 and at most 1 (e.g. 0.001 for 0.1 %)",
                ));
            }
        }
        if self.min_volume == 0 {
            return Err(invalid(
                "hygiene.min_volume",
                "must be at least 1 (e.g. 1000): the messages in a day before a rate can pause a scenario",
            ));
        }
        Ok(PausePolicy {
            max_complaint_rate: self.max_complaint_rate,
            max_hard_bounce_rate: self.max_hard_bounce_rate,
            min_volume: self.min_volume,
        })
    }
}

/// `[scenarios.last_chance]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LastChanceConfig {
    /// Off: an inactive customer is paused without a last-chance message.
    pub enabled: bool,
    /// Preference order; the first the customer can be reached on is used.
    pub channels: Vec<String>,
    /// A queued last chance older than this is dropped.
    pub max_age: Dur,
    /// The "keep me posted" link (e.g. the shop's top page); empty = no such button (the
    /// customer keeps receiving by clicking any link or by any interest event).
    pub keep_url: String,
}

impl Default for LastChanceConfig {
    fn default() -> Self {
        LastChanceConfig {
            enabled: true,
            channels: vec!["email".into(), "line".into()],
            max_age: Dur(Duration::from_secs(7 * 86_400)),
            keep_url: String::new(),
        }
    }
}

impl LastChanceConfig {
    pub fn rules(&self) -> Result<ScenarioRules, ConfigError> {
        const KEY: &str = "scenarios.last_chance";
        if self.max_age.0 < Duration::from_secs(60) {
            return Err(invalid(
                KEY,
                "max_age must be at least \"1m\" (e.g. \"7d\")",
            ));
        }
        let url = &self.keep_url;
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(char::is_whitespace)
        {
            return Err(invalid(
                KEY,
                format!("keep_url {url:?} is not an http(s) URL; write e.g. \"https://shop.example/\" or leave it empty"),
            ));
        }
        Ok(ScenarioRules {
            scenario: Scenario::LastChance,
            enabled: self.enabled,
            priority: 0,
            channels: order_scenarios::channels(KEY, &self.channels)?,
            // Sent once per inactivity; never competes with offers (it replaces them).
            cooldown_ms: 0,
            digest: false,
            digest_max_items: 1,
            max_age_ms: self.max_age.ms(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values_name_the_key() {
        let cfg = crate::config::Config::parse("").expect("empty");
        let p = cfg.hygiene.policy().expect("defaults");
        assert_eq!(p, HygienePolicy::default());
        let cfg = crate::config::Config::parse("[hygiene]\nmin_messages = 0\n").expect("parses");
        let err = cfg.hygiene.policy().expect_err("zero").to_string();
        assert!(err.starts_with("hygiene.min_messages"), "{err}");
        let cfg = crate::config::Config::parse("[hygiene]\ncomplaint_tokens = [\"short\"]\n")
            .expect("parses");
        let err = cfg.hygiene.policy().expect_err("short").to_string();
        assert!(err.starts_with("hygiene.complaint_tokens"), "{err}");
        assert_eq!(
            cfg.hygiene.pause_policy().ok(),
            Some(PausePolicy::default())
        );
        let cfg =
            crate::config::Config::parse("[hygiene]\nmax_complaint_rate = 1.5\n").expect("parses");
        let err = cfg.hygiene.pause_policy().expect_err("above 1").to_string();
        assert!(err.starts_with("hygiene.max_complaint_rate"), "{err}");
        let err = crate::config::Config::parse("[hygiene]\nsunset_days = 3\n").expect_err("typo");
        assert!(err.contains("sunset_days"), "{err}");
        let cfg = crate::config::Config::parse("[scenarios.last_chance]\nchannels = [\"fax\"]\n")
            .expect("parses");
        let err = cfg
            .scenarios
            .last_chance
            .rules()
            .expect_err("fax")
            .to_string();
        assert!(err.starts_with("scenarios.last_chance"), "{err}");
    }

    #[test]
    fn example_config_documents_the_defaults() {
        let text = include_str!("../../../deploy/stockbelld.toml");
        let cfg = crate::config::Config::parse(text).expect("parses");
        let d = HygieneConfig::default();
        assert_eq!(cfg.hygiene.policy().ok(), d.policy().ok());
        assert_eq!(cfg.hygiene.pause_policy().ok(), d.pause_policy().ok());
        assert_eq!(cfg.hygiene.complaint_tokens, d.complaint_tokens);
        let example = cfg.scenarios.last_chance;
        assert_eq!(
            example.rules().ok(),
            LastChanceConfig::default().rules().ok()
        );
        assert_eq!(example.keep_url, "");
    }
}
