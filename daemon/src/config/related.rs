//! The `[related]` section: how the related-products table counts co-purchases (half
//! life, minimum support, how many suggestions and partners it keeps per SKU). Checked
//! by `related()`, which names the offending key and the fix.

use std::time::Duration;

use serde::Deserialize;

use super::Dur;
use crate::domain::order::related::RelatedConfig;
use crate::settings::{invalid, ConfigError};

/// Most suggestions kept per SKU, partners counted per SKU, SKUs counted per order and
/// best sellers kept per category: a bound on each record's size.
const MAX_KEPT: usize = 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelatedSection {
    /// Co-purchase counts halve every this long.
    pub half_life: Dur,
    /// Fewest (decayed) orders holding both products for a pair to be suggested.
    pub min_support: f64,
    /// Related products kept per product (by lift).
    pub top_k: usize,
    /// Partners whose counts are kept per product (the most co-bought).
    pub max_pairs: usize,
    /// SKUs of one order that count (the first ones by line order).
    pub max_order_skus: usize,
    /// Best sellers kept per category (the fallback when support is thin).
    pub max_category_skus: usize,
}

impl Default for RelatedSection {
    fn default() -> Self {
        let d = RelatedConfig::default();
        RelatedSection {
            half_life: Dur(Duration::from_millis(d.half_life_ms as u64)),
            min_support: d.min_support,
            top_k: d.top_k,
            max_pairs: d.max_pairs,
            max_order_skus: d.max_order_skus,
            max_category_skus: d.max_category_skus,
        }
    }
}

impl RelatedSection {
    /// The validated settings.
    pub fn related(&self) -> Result<RelatedConfig, ConfigError> {
        if self.half_life.0 < Duration::from_secs(60) {
            return Err(invalid(
                "related.half_life",
                "must be at least \"1m\" (e.g. \"90d\")",
            ));
        }
        if !self.min_support.is_finite() || self.min_support <= 0.0 {
            return Err(invalid(
                "related.min_support",
                "must be a number above 0 (e.g. 3.0: bought together in at least 3 recent orders)",
            ));
        }
        let counts = [
            ("related.top_k", self.top_k),
            ("related.max_pairs", self.max_pairs),
            ("related.max_order_skus", self.max_order_skus),
            ("related.max_category_skus", self.max_category_skus),
        ];
        for (key, n) in counts {
            if !(1..=MAX_KEPT).contains(&n) {
                return Err(invalid(key, format!("must be from 1 to {MAX_KEPT}")));
            }
        }
        if self.max_pairs < self.top_k {
            return Err(invalid(
                "related.max_pairs",
                "must be at least related.top_k (suggestions are chosen among the partners kept)",
            ));
        }
        Ok(RelatedConfig {
            half_life_ms: self.half_life.ms(),
            min_support: self.min_support,
            top_k: self.top_k,
            max_pairs: self.max_pairs,
            max_order_skus: self.max_order_skus,
            max_category_skus: self.max_category_skus,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<RelatedConfig, String> {
        let s: RelatedSection = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        s.related().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_domains() {
        assert_eq!(parse(""), Ok(RelatedConfig::default()));
    }

    #[test]
    fn bad_values_name_the_key_and_change_nothing() {
        let bad = [
            ("min_support = 0.0", "related.min_support"),
            ("half_life = \"1s\"", "related.half_life"),
            ("top_k = 0", "related.top_k"),
            ("top_k = 8\nmax_pairs = 4", "related.max_pairs"),
        ];
        for (text, key) in bad {
            let err = parse(text).expect_err(text);
            assert!(err.contains(key), "{text}: {err}");
        }
        assert!(parse("bogus = 1").is_err());
        let ok = parse("half_life = \"1h\"\nmin_support = 1.5\ntop_k = 3").expect("valid");
        assert_eq!(
            (ok.half_life_ms, ok.min_support, ok.top_k),
            (3_600_000, 1.5, 3)
        );
    }
}
