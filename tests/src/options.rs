//! The configuration a test daemon runs with: the harness's base TOML (loopback gRPC and
//! HTTP listeners on ephemeral ports, storage in the test's temp dir, `info` logging)
//! with the caller's sections and keys merged over it, key by key.

use std::path::Path;

use anyhow::{bail, Result};
use toml::{Table, Value};

/// What a test wants on top of the base config. Build with [`DaemonOptions::toml`] (whole
/// TOML fragments) and [`DaemonOptions::set`] (single keys); later settings win.
///
/// ```
/// use stockbell_tests::DaemonOptions;
/// let opts = DaemonOptions::new()
///     .set("server", "max_message_bytes", 65536)
///     .toml("[triggers]\nstable_for = \"1s\"\nmin_restock_qty = 3");
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    overrides: Table,
    error: Option<String>,
}

impl DaemonOptions {
    /// No overrides: the base config only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges a TOML fragment (sections and keys) into the config. A fragment that does not
    /// parse makes [`crate::Daemon::start`] fail with the parse error.
    pub fn toml(mut self, fragment: &str) -> Self {
        match fragment.parse::<Table>() {
            Ok(table) => merge(&mut self.overrides, table),
            Err(e) => {
                self.error
                    .get_or_insert(format!("invalid TOML fragment {fragment:?}: {e}"));
            }
        }
        self
    }

    /// Sets `[section] key = value`.
    pub fn set(mut self, section: &str, key: &str, value: impl Into<Value>) -> Self {
        let mut inner = Table::new();
        inner.insert(key.to_owned(), value.into());
        let mut outer = Table::new();
        outer.insert(section.to_owned(), Value::Table(inner));
        merge(&mut self.overrides, outer);
        self
    }

    /// Configures bearer tokens for both services; the harness's clients send them.
    pub fn auth(self, ingest_token: &str, admin_token: &str) -> Self {
        self.set("auth", "ingest_tokens", vec![ingest_token]).set(
            "auth",
            "admin_tokens",
            vec![admin_token],
        )
    }

    /// The complete config table for a daemon whose files live in `dir`.
    pub fn render(&self, dir: &Path) -> Result<Table> {
        if let Some(e) = &self.error {
            bail!("{e}");
        }
        let data = dir.join("data");
        let mut base = Table::new();
        base.insert(
            "server".into(),
            Value::Table(Table::from_iter([(
                "listen".to_owned(),
                Value::from("127.0.0.1:0"),
            )])),
        );
        // The HTTP server (unsubscribe page) too: parallel daemons must not share 8080.
        base.insert(
            "http".into(),
            Value::Table(Table::from_iter([(
                "listen".to_owned(),
                Value::from("127.0.0.1:0"),
            )])),
        );
        base.insert(
            "storage".into(),
            Value::Table(Table::from_iter([(
                "path".to_owned(),
                Value::from(data.to_string_lossy().into_owned()),
            )])),
        );
        base.insert(
            "log".into(),
            Value::Table(Table::from_iter([(
                "level".to_owned(),
                Value::from("info"),
            )])),
        );
        merge(&mut base, self.overrides.clone());
        Ok(base)
    }
}

/// Merges `src` into `dst`: tables recursively, any other value replaces.
fn merge(dst: &mut Table, src: Table) {
    for (key, value) in src {
        match (dst.get_mut(&key), value) {
            (Some(Value::Table(d)), Value::Table(s)) => merge(d, s),
            (_, value) => {
                dst.insert(key, value);
            }
        }
    }
}

/// The first token of `[auth] <list>` in a rendered config, if any.
pub(crate) fn first_token(config: &Table, list: &str) -> Option<String> {
    config
        .get("auth")?
        .get(list)?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_merge_key_by_key() {
        let opts = DaemonOptions::new()
            .set("server", "max_message_bytes", 65536)
            .toml("[triggers]\nstable_for = \"1s\"")
            .auth("a", "b");
        let cfg = opts.render(Path::new("/tmp/x")).expect("renders");
        assert_eq!(cfg["server"]["listen"].as_str(), Some("127.0.0.1:0"));
        assert_eq!(cfg["server"]["max_message_bytes"].as_integer(), Some(65536));
        assert_eq!(cfg["storage"]["path"].as_str(), Some("/tmp/x/data"));
        assert_eq!(cfg["triggers"]["stable_for"].as_str(), Some("1s"));
        assert_eq!(first_token(&cfg, "ingest_tokens").as_deref(), Some("a"));
        assert_eq!(first_token(&cfg, "admin_tokens").as_deref(), Some("b"));
    }

    #[test]
    fn bad_fragment_is_reported_at_render() {
        let opts = DaemonOptions::new().toml("[server");
        assert!(opts.render(Path::new("/tmp/x")).is_err());
    }
}
