//! The `[attribution]` section: how long after a click on a message (per channel of the
//! message) an order is credited to the message's scenario; the same windows decide
//! whether a sent or held-out customer converted. Opens never count.

use serde::Deserialize;

use super::Dur;
use crate::domain::lifecycle::attribution::AttributionWindows;
use crate::settings::{invalid, ConfigError};

const MIN_WINDOW: Dur = Dur(std::time::Duration::from_secs(60));
const MAX_WINDOW: Dur = Dur(std::time::Duration::from_secs(90 * 86_400));

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributionConfig {
    /// After a click on an email.
    pub email_window: Dur,
    /// After a click on a LINE message.
    pub line_window: Dur,
    /// After a click on a link of a webhook message (the shop shows it itself).
    pub webhook_window: Dur,
}

impl Default for AttributionConfig {
    fn default() -> Self {
        let w = AttributionWindows::default();
        let dur = |ms: i64| Dur(std::time::Duration::from_millis(ms.unsigned_abs()));
        AttributionConfig {
            email_window: dur(w.email_ms),
            line_window: dur(w.line_ms),
            webhook_window: dur(w.webhook_ms),
        }
    }
}

impl AttributionConfig {
    /// The windows, checked (each from "1m" to "90d").
    pub fn windows(&self) -> Result<AttributionWindows, ConfigError> {
        let check = |key: &'static str, d: Dur| {
            if d.0 < MIN_WINDOW.0 || d.0 > MAX_WINDOW.0 {
                Err(invalid(
                    key,
                    "must be between \"1m\" and \"90d\" (e.g. \"5d\"): orders this long after a \
                     click are credited to the clicked message's scenario",
                ))
            } else {
                Ok(d.ms())
            }
        };
        Ok(AttributionWindows {
            email_ms: check("attribution.email_window", self.email_window)?,
            line_ms: check("attribution.line_window", self.line_window)?,
            webhook_ms: check("attribution.webhook_window", self.webhook_window)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_five_days_for_email_and_a_day_for_line_and_webhook() {
        let w = AttributionConfig::default().windows().expect("defaults");
        assert_eq!(w, AttributionWindows::default());
        assert_eq!(w.email_ms, 5 * 86_400_000);
        assert_eq!((w.line_ms, w.webhook_ms), (86_400_000, 86_400_000));
    }

    #[test]
    fn a_window_out_of_range_names_its_key() {
        let cfg =
            crate::config::Config::parse("[attribution]\nline_window = \"10s\"\n").expect("parses");
        let err = cfg
            .attribution
            .windows()
            .expect_err("too short")
            .to_string();
        assert!(err.starts_with("attribution.line_window"), "{err}");
        let cfg =
            crate::config::Config::parse("[attribution]\nemail_window = \"2d\"\n").expect("parses");
        assert_eq!(
            cfg.attribution.windows().expect("valid").email_ms,
            2 * 86_400_000
        );
    }
}
