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
        let e = super::definitions(&cfg.segments).expect_err("bad name").to_string();
        assert!(e.starts_with("segments.Vip:"), "{e}");
        assert!(crate::config::Config::parse("[segments.vip]\nmatsh = 'coupon'\n").is_err());
    }
}
