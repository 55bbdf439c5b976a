//! The `[engagement]` section: click tracking (the `/c/<token>` redirector), the link
//! scanner window, how long clicks are kept, the page for a link whose message is gone,
//! and the benchmark-only static redirect. Checked by `settings()`, which names the
//! offending key and the fix.

use std::time::Duration;

use serde::Deserialize;

use super::Dur;
use crate::domain::Millis;
use crate::settings::{invalid, ConfigError};

/// Longest scanner window: scanners fetch links as the message arrives.
const MAX_SCANNER_WINDOW: Duration = Duration::from_secs(600);
const MIN_KEEP: Duration = Duration::from_secs(3_600);
const MAX_KEEP: Duration = Duration::from_secs(400 * 86_400);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngagementSection {
    /// Rewrite the item links of marketing messages to the redirector and record clicks.
    pub click_tracking: bool,
    /// Clicks on every link of a message (two or more) within this long of its delivery
    /// are a link scanner's and do not count; "0s" turns the filter off.
    pub scanner_window: Dur,
    /// How long a customer's clicks are kept (attribution reads them).
    pub keep_clicks: Dur,
    /// The shop's home page, linked from the page a link of a removed message shows.
    pub home_url: String,
    /// Serve `GET /bench/static-redirect` (a 302 that reads and records nothing), for
    /// `stockbell-load clicks` only. Keep it off in production.
    pub bench_static_redirect: bool,
}

impl Default for EngagementSection {
    fn default() -> Self {
        EngagementSection {
            click_tracking: true,
            scanner_window: Dur(Duration::from_secs(10)),
            keep_clicks: Dur(Duration::from_secs(30 * 86_400)),
            home_url: String::new(),
            bench_static_redirect: false,
        }
    }
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngagementSettings {
    pub click_tracking: bool,
    pub scanner_window_ms: Millis,
    pub keep_ms: Millis,
    pub home_url: String,
    pub bench_static_redirect: bool,
}

impl EngagementSection {
    pub fn settings(&self) -> Result<EngagementSettings, ConfigError> {
        if self.scanner_window.0 > MAX_SCANNER_WINDOW {
            return Err(invalid(
                "engagement.scanner_window",
                "must be at most \"10m\" (scanners follow links as the message arrives; the default is \"10s\")",
            ));
        }
        if !(MIN_KEEP..=MAX_KEEP).contains(&self.keep_clicks.0) {
            return Err(invalid(
                "engagement.keep_clicks",
                "must be from \"1h\" to \"400d\" (at least the longest attribution window; the default is \"30d\")",
            ));
        }
        let home_url = self.home_url.trim().to_string();
        let web = ["https://", "http://"]
            .iter()
            .any(|p| home_url.starts_with(p));
        if !home_url.is_empty() && !web {
            return Err(invalid(
                "engagement.home_url",
                "must be an http:// or https:// URL (e.g. \"https://shop.example/\"), or empty",
            ));
        }
        Ok(EngagementSettings {
            click_tracking: self.click_tracking,
            scanner_window_ms: self.scanner_window.ms(),
            keep_ms: self.keep_clicks.ms(),
            home_url,
            bench_static_redirect: self.bench_static_redirect,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<EngagementSettings, String> {
        let s: EngagementSection = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        s.settings().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_bad_values_name_the_key() {
        let d = parse("").expect("defaults");
        assert!(d.click_tracking && !d.bench_static_redirect);
        assert_eq!((d.scanner_window_ms, d.keep_ms), (10_000, 30 * 86_400_000));
        let e = parse("scanner_window = \"1h\"").expect_err("too long");
        assert!(e.contains("engagement.scanner_window"), "{e}");
        let e = parse("keep_clicks = \"1m\"").expect_err("too short");
        assert!(e.contains("engagement.keep_clicks"), "{e}");
        let e = parse("home_url = \"shop.example\"").expect_err("no scheme");
        assert!(e.contains("engagement.home_url"), "{e}");
        assert!(
            parse("open_pixel = true").is_err(),
            "unknown keys are errors"
        );
    }
}
