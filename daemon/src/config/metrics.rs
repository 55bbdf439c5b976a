//! The `[metrics]` config section: whether `GET /metrics` answers on the public HTTP
//! server, and the bearer token it may require.

use serde::Deserialize;

use crate::settings::{invalid, ConfigError};

/// Shortest accepted `metrics.token`.
const MIN_TOKEN: usize = 16;

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `false`: `/metrics` answers 404.
    pub enabled: bool,
    /// Non-empty: a scrape must send `Authorization: Bearer <token>`.
    pub token: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            token: String::new(),
        }
    }
}

impl MetricsConfig {
    /// Checks the token: empty (no auth), or at least 16 visible ASCII characters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.token;
        if t.is_empty() {
            return Ok(());
        }
        if !t.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid(
                "metrics.token",
                "must be printable ASCII without spaces (it is sent as `Authorization: Bearer <token>`); or \"\" for no token",
            ));
        }
        if t.len() < MIN_TOKEN {
            return Err(invalid(
                "metrics.token",
                "must be at least 16 characters (e.g. `openssl rand -hex 24`); or \"\" for no token",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_on_without_token() {
        let cfg = Config::parse("").expect("parses");
        assert!(cfg.metrics.enabled);
        assert!(cfg.metrics.token.is_empty());
        let cfg = Config::parse("[metrics]\nenabled = false\ntoken = \"0123456789abcdef\"\n")
            .expect("parses");
        assert!(!cfg.metrics.enabled);
        cfg.validate().expect("valid");
    }

    #[test]
    fn bad_tokens_name_the_key() {
        for text in [
            "[metrics]\ntoken = \"short\"\n",
            "[metrics]\ntoken = \"with a space in the token\"\n",
            "[metrics]\ntoken = \"0123456789abcdef\\n\"\n",
            "[metrics]\ntoken = \"0123456789abcdefé\"\n",
        ] {
            let e = Config::parse(text)
                .expect("parses")
                .validate()
                .expect_err(text)
                .to_string();
            assert!(e.starts_with("metrics.token"), "{text}: {e}");
        }
        assert!(Config::parse("[metrics]\ntokens = \"x\"\n").is_err());
        assert!(Config::parse("[metrics]\nenabled = \"yes\"\n").is_err());
    }
}
