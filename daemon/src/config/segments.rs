//! `[segments.<name>]`: segments defined in the config file (read-only over the API).
//!
//! ```toml
//! [segments.repeat_buyers]
//! match = 'orders >= 2 and spend >= 10000'
//! description = "Bought twice or more, 10,000 or more in total"
//! webhook = false
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::segments::definition::{compile, Definition, DefinitionText, Source};
use crate::settings::{invalid, ConfigError};

/// One `[segments.<name>]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentSection {
    /// The predicate (README, "Segment predicates").
    #[serde(rename = "match")]
    pub match_: String,
    /// Free text for operators (at most 1000 characters).
    pub description: String,
    /// Send segment_entered / segment_left events to the shop webhook.
    pub webhook: bool,
}

/// Every `[segments.<name>]`, by name.
pub type SegmentsConfig = BTreeMap<String, SegmentSection>;

/// Checks and compiles the config's segments; the error names `segments.<name>.<field>`.
pub fn definitions(cfg: &SegmentsConfig) -> Result<Vec<Definition>, ConfigError> {
    cfg.iter()
        .map(|(name, s)| {
            compile(
                DefinitionText {
                    name: name.clone(),
                    match_: s.match_.clone(),
                    description: s.description.clone(),
                    webhook: s.webhook,
                },
                Source::Config,
            )
            .map_err(|e| {
                let field = if e.field == "name" { "" } else { e.field };
                let key = if field.is_empty() {
                    format!("segments.{name}")
                } else {
                    format!("segments.{name}.{field}")
                };
                // Config errors carry a static key; a bad config stops the daemon, so
                // this one string lives until exit anyway.
                invalid(Box::leak(key.into_boxed_str()), e.message)
            })
        })
        .collect()
}

/// Checks the config's segments and that every scenario audience names a segment
/// defined in the config or built in (API-defined ones are set with UpdateScenario).
pub fn check_audiences(cfg: &crate::config::Config) -> Result<(), ConfigError> {
    let defs = definitions(&cfg.segments)?;
    if let Some(d) = defs.iter().find(|d| d.text.webhook) {
        if cfg.shop_webhook.url.trim().is_empty() {
            let key = format!("segments.{}.webhook", d.text.name);
            return Err(invalid(
                Box::leak(key.into_boxed_str()),
                "needs the shop webhook: set [shop_webhook] url and secret, or webhook = false",
            ));
        }
    }
    let known = |n: &str| {
        defs.iter().any(|d| d.text.name == n)
            || n.strip_prefix(crate::domain::segments::definition::RFM_PREFIX)
                .is_some_and(|g| crate::domain::segments::RfmGroup::parse(g).is_some())
    };
    let rules = cfg.delivery_rules()?;
    for (scenario, a) in &rules.audiences {
        for (field, names) in [
            ("include_segments", &a.include),
            ("exclude_segments", &a.exclude),
        ] {
            if let Some(bad) = names.iter().find(|n| !known(n)) {
                let key = format!("scenarios.{}.{field}", scenario.as_str());
                return Err(invalid(
                    Box::leak(key.into_boxed_str()),
                    format!("segment \"{bad}\" is not defined; define it as [segments.{bad}] or use a built-in rfm:<group> (API-defined segments are set with UpdateScenario)"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_parse_and_errors_name_the_key() {
        let cfg = crate::config::Config::parse(
            "[segments.vip]\nmatch = 'orders >= 2 and tag \"vip\"'\nwebhook = true\n",
        )
        .expect("parses");
        let d = super::definitions(&cfg.segments).expect("valid");
        assert_eq!(d[0].canonical(), "orders >= 2 and tag \"vip\"");
        assert!(d[0].text.webhook);
        let cfg = crate::config::Config::parse("[segments.vip]\nmatch = 'orders >= x'\n")
            .expect("parses");
        let e = cfg.validate().expect_err("bad match").to_string();
        assert!(e.starts_with("segments.vip.match: at 10:"), "{e}");
        let cfg =
            crate::config::Config::parse("[segments.Vip]\nmatch = 'coupon'\n").expect("parses");
        let e = super::definitions(&cfg.segments)
            .expect_err("bad name")
            .to_string();
        assert!(e.starts_with("segments.Vip:"), "{e}");
        assert!(crate::config::Config::parse("[segments.vip]\nmatsh = 'coupon'\n").is_err());
    }

    #[test]
    fn scenario_audiences_name_defined_segments() {
        let cfg = crate::config::Config::parse(
            "[segments.vip]\nmatch = 'tag \"vip\"'\n\
             [scenarios.price_drop]\nexclude_segments = [\"vip\"]\n\
             [scenarios.win_back]\ninclude_segments = [\"rfm:at_risk\"]\n",
        )
        .expect("parses");
        cfg.validate().expect("valid");
        let r = cfg.delivery_rules().expect("rules");
        let pd = r
            .audience(crate::domain::customer::Scenario::PriceDrop)
            .expect("pd");
        assert_eq!(pd.exclude, ["vip"]);
        let wb = r
            .audience(crate::domain::customer::Scenario::WinBack)
            .expect("wb");
        assert_eq!(wb.include, ["rfm:at_risk"]);
        let cfg = crate::config::Config::parse(
            "[scenarios.cart_abandoned]\ninclude_segments = [\"nope\"]\n",
        )
        .expect("parses");
        let e = cfg.validate().expect_err("unknown").to_string();
        assert!(
            e.starts_with("scenarios.cart_abandoned.include_segments"),
            "{e}"
        );
        // Transactional scenarios and last_chance refuse an audience.
        let e = crate::config::Config::parse("[scenarios.shipped]\nexclude_segments = [\"vip\"]\n")
            .expect("parses")
            .validate()
            .expect_err("transactional")
            .to_string();
        assert!(
            e.contains("exclude_segments is not a setting of shipped"),
            "{e}"
        );
        assert!(crate::config::Config::parse(
            "[scenarios.last_chance]\nexclude_segments = [\"vip\"]\n"
        )
        .is_err());
    }
}
