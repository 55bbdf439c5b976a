//! The TOML configuration (`deploy/stockbelld.toml` documents every key). Unknown keys
//! are errors; `Config::validate` checks values and names the offending key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod attribution;
pub mod delivery;
pub mod engagement;
pub mod hygiene;
pub mod journeys;
pub mod lapse;
pub mod metrics;
pub mod order_scenarios;
pub mod orders;
pub mod related;
pub mod rules;
pub mod segment_settings;
pub mod segments;
pub mod tls;

use crate::domain::TriggerConfig;
use crate::settings::invalid;
pub use crate::settings::{ConfigError, Dur};

/// Smallest `storage.max_wal_bytes` / `storage.max_memtable_bytes` (4 MiB).
const MIN_STORE_BYTES: u64 = 4 << 20;
const MAX_MEMTABLE_BYTES: u64 = 16 << 30;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub storage: StorageConfig,
    pub actors: ActorsConfig,
    pub triggers: TriggersConfig,
    pub interest: InterestConfig,
    pub customers: CustomersConfig,
    pub rules: crate::config::rules::RulesConfig,
    pub scenarios: crate::config::rules::ScenariosConfig,
    pub templates: TemplatesConfig,
    pub delivery: crate::config::delivery::DeliveryConfig,
    pub http: crate::config::delivery::HttpConfig,
    pub email: crate::config::delivery::EmailSection,
    pub line: Option<crate::delivery::line::LineConfig>,
    pub webhook: Option<crate::delivery::webhook::WebhookConfig>,
    pub log: LogConfig,
    pub orders: crate::config::orders::OrdersConfig,
    pub shop_webhook: crate::delivery::shop_webhook::ShopWebhookConfig,
    pub related: crate::config::related::RelatedSection,
    pub engagement: crate::config::engagement::EngagementSection,
    pub attribution: crate::config::attribution::AttributionConfig,
    pub journeys: crate::config::journeys::JourneysConfig,
    pub hygiene: crate::config::hygiene::HygieneConfig,
    pub win_back: crate::config::lapse::WinBackSection,
    pub birthday: crate::config::lapse::BirthdaySection,
    pub segment_settings: crate::config::segment_settings::SegmentSettings,
    /// `[segments.<name>]` definitions.
    pub segments: crate::config::segments::SegmentsConfig,
    /// `[metrics]`: the `/metrics` endpoint.
    pub metrics: crate::config::metrics::MetricsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplatesConfig {
    /// Directory with `ja/` and `en/` template overrides (unset = built-in templates).
    pub dir: Option<PathBuf>,
    /// Base URL of this daemon's HTTP server as customers reach it (unsubscribe and
    /// cancel links); empty = order updates carry no cancel link.
    pub public_url: String,
}

impl Default for TemplatesConfig {
    fn default() -> Self {
        TemplatesConfig {
            dir: None,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterestConfig {
    /// Half-life of implicit interest signals and of category affinity.
    pub half_life: Dur,
}

impl Default for InterestConfig {
    fn default() -> Self {
        InterestConfig {
            half_life: Dur(Duration::from_secs(30 * 86_400)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomersConfig {
    /// Time zone of customers whose upsert names none (IANA name).
    pub default_time_zone: String,
    /// Locale of customers whose upsert names none: "ja" or "en".
    pub default_locale: String,
}

impl Default for CustomersConfig {
    fn default() -> Self {
        CustomersConfig {
            default_time_zone: "Asia/Tokyo".into(),
            default_locale: "ja".into(),
        }
    }
}

/// Defaults applied to customer upserts at ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDefaults {
    pub time_zone: String,
    pub locale: crate::domain::customer::Locale,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    pub max_message_bytes: usize,
    pub max_batch_events: usize,
    pub shutdown_grace: Dur,
    /// `[server.tls]`: serve gRPC over TLS (and optionally mTLS); unset = plain text.
    pub tls: Option<crate::config::tls::TlsConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub ingest_tokens: Vec<String>,
    pub admin_tokens: Vec<String>,
    /// Client-certificate names (subject CN or DNS SAN) allowed to use Ingest (mTLS).
    pub ingest_client_names: Vec<String>,
    /// Client-certificate names (subject CN or DNS SAN) allowed to use Admin (mTLS).
    pub admin_client_names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub path: PathBuf,
    pub sync: bool,
    /// Write-ahead log size past which the column families pinning its oldest file are
    /// flushed (bounds the log on disk and the replay after a crash).
    pub max_wal_bytes: u64,
    /// All memtables together.
    pub max_memtable_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActorsConfig {
    pub idle_timeout: Dur,
    /// Most product actors, and most customer actors, in memory at once; past it the
    /// least recently used go first (their state is on disk).
    pub max_active: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggersConfig {
    pub min_restock_qty: i64,
    pub low_stock_qty: i64,
    pub sellout_horizon: Dur,
    pub velocity_half_life: Dur,
    pub min_drop_pct: f64,
    pub min_drop_abs: i64,
    pub stable_for: Dur,
    pub new_arrival_min_stock: i64,
    pub new_arrival_grace: Dur,
    pub price_history_len: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: String,
    pub format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:50051".into(),
            max_message_bytes: 4 << 20,
            max_batch_events: 10_000,
            shutdown_grace: Dur(Duration::from_secs(10)),
            tls: None,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: PathBuf::from("/var/lib/stockbell"),
            sync: false,
            max_wal_bytes: 256 << 20,
            max_memtable_bytes: 128 << 20,
        }
    }
}

impl Default for ActorsConfig {
    fn default() -> Self {
        ActorsConfig {
            idle_timeout: Dur(Duration::from_secs(300)),
            max_active: 50_000,
        }
    }
}

impl Default for TriggersConfig {
    fn default() -> Self {
        let d = TriggerConfig::default();
        let ms = |v: i64| Dur(Duration::from_millis(v as u64));
        TriggersConfig {
            min_restock_qty: d.min_restock_qty,
            low_stock_qty: d.low_stock_qty,
            sellout_horizon: ms(d.sellout_horizon_ms),
            velocity_half_life: ms(d.velocity_half_life_ms),
            min_drop_pct: d.min_drop_pct,
            min_drop_abs: d.min_drop_abs,
            stable_for: ms(d.stable_for_ms),
            new_arrival_min_stock: d.new_arrival_min_stock,
            new_arrival_grace: ms(d.new_arrival_grace_ms),
            price_history_len: d.price_history_len,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

impl Config {
    /// The delivery rules `[rules]`, `[scenarios.*]`, `[journeys]`, `[attribution]` and
    /// the lapse scenarios' own `[win_back]` / `[birthday]` describe.
    pub fn delivery_rules(&self) -> Result<crate::domain::rules::DeliveryRules, ConfigError> {
        let mut rules = crate::config::rules::build(&self.rules, &self.scenarios)?;
        rules.journeys.idle_ms = crate::config::journeys::idle(&self.journeys)?;
        rules.attribution = self.attribution.windows()?;
        rules.lapse = crate::config::lapse::lapse_rules(&self.win_back, &self.birthday)?;
        Ok(rules)
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let cfg = Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.into(),
            message,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML; the error names the key (e.g. `unknown field `low_stok_qty``, with its
    /// line) as the toml crate reports it.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.listen.parse().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "{:?} is not an address; write e.g. \"127.0.0.1:50051\"",
                    self.server.listen
                ),
            )
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let addr = self.listen_addr()?;
        let auth = &self.auth;
        let tls = self.server.tls.as_ref();
        if let Some(tls) = tls {
            tls.load()?;
        }
        let mtls = tls.is_some_and(|t| t.client_ca.is_some());
        for (key, names) in [
            ("auth.ingest_client_names", &auth.ingest_client_names),
            ("auth.admin_client_names", &auth.admin_client_names),
        ] {
            if !names.is_empty() && !mtls {
                return Err(invalid(
                    key,
                    "client-certificate names need client certificates: set server.tls.client_ca (with server.tls.cert and server.tls.key)",
                ));
            }
            if names.iter().any(|n| n.trim().is_empty() || n.trim() != n) {
                return Err(invalid(
                    key,
                    "names must be non-empty, without leading or trailing spaces (a certificate's CN or DNS name)",
                ));
            }
        }
        // mTLS in place of tokens: every client must present a certificate, and each
        // service is guarded by tokens or client names.
        let certs_guard = tls.is_some_and(|t| t.requires_client_certs())
            && (!auth.ingest_tokens.is_empty() || !auth.ingest_client_names.is_empty())
            && (!auth.admin_tokens.is_empty() || !auth.admin_client_names.is_empty());
        if !addr.ip().is_loopback()
            && (auth.ingest_tokens.is_empty() || auth.admin_tokens.is_empty())
            && !certs_guard
        {
            return Err(invalid(
                "server.listen",
                format!("{addr} is not a loopback address; set both auth.ingest_tokens and auth.admin_tokens to listen there, or require client certificates (server.tls.client_ca with client_auth = \"required\") and set auth.ingest_client_names and auth.admin_client_names"),
            ));
        }
        for (key, tokens) in [
            ("auth.ingest_tokens", &auth.ingest_tokens),
            ("auth.admin_tokens", &auth.admin_tokens),
        ] {
            if tokens
                .iter()
                .any(|t| t.len() < 16 || t.chars().any(|c| c.is_whitespace()))
            {
                return Err(invalid(
                    key,
                    "tokens must be at least 16 characters without spaces",
                ));
            }
        }
        if self.server.max_message_bytes < 1024 {
            return Err(invalid("server.max_message_bytes", "must be at least 1024"));
        }
        if self.server.max_batch_events == 0 {
            return Err(invalid("server.max_batch_events", "must be at least 1"));
        }
        if self.storage.path.as_os_str().is_empty() {
            return Err(invalid("storage.path", "set a directory for the database"));
        }
        if self.storage.max_wal_bytes < MIN_STORE_BYTES {
            return Err(invalid(
                "storage.max_wal_bytes",
                "must be at least 4194304 (4 MiB); the default is 268435456 (256 MiB)",
            ));
        }
        if !(MIN_STORE_BYTES..=MAX_MEMTABLE_BYTES).contains(&self.storage.max_memtable_bytes) {
            return Err(invalid(
                "storage.max_memtable_bytes",
                "must be from 4194304 (4 MiB) to 17179869184 (16 GiB); the default is 134217728 (128 MiB)",
            ));
        }
        self.related.related()?;
        self.engagement.settings()?;
        self.hygiene.policy()?;
        self.hygiene.pause_policy()?;
        self.segment_settings.validate()?;
        crate::config::segments::check_audiences(self)?;
        if self.actors.max_active < 100 {
            return Err(invalid(
                "actors.max_active",
                "must be at least 100 (each kind keeps its busiest actors in memory)",
            ));
        }
        if self.actors.idle_timeout.0 < Duration::from_secs(1) {
            return Err(invalid("actors.idle_timeout", "must be at least \"1s\""));
        }
        let t = &self.triggers;
        if t.min_restock_qty < 1 {
            return Err(invalid("triggers.min_restock_qty", "must be at least 1"));
        }
        if t.low_stock_qty < 0 {
            return Err(invalid("triggers.low_stock_qty", "must be 0 or more"));
        }
        if t.velocity_half_life.0 < Duration::from_secs(60) {
            return Err(invalid(
                "triggers.velocity_half_life",
                "must be at least \"1m\"",
            ));
        }
        if !(0.0..100.0).contains(&t.min_drop_pct) || t.min_drop_pct.is_nan() {
            return Err(invalid(
                "triggers.min_drop_pct",
                "must be from 0 up to (not including) 100",
            ));
        }
        if t.min_drop_abs < 0 {
            return Err(invalid("triggers.min_drop_abs", "must be 0 or more"));
        }
        if t.min_drop_pct == 0.0 && t.min_drop_abs == 0 {
            return Err(invalid(
                "triggers.min_drop_pct",
                "set min_drop_pct or min_drop_abs, or every change would be a drop",
            ));
        }
        if t.new_arrival_min_stock < 0 {
            return Err(invalid(
                "triggers.new_arrival_min_stock",
                "must be 0 or more",
            ));
        }
        if t.price_history_len == 0 {
            return Err(invalid("triggers.price_history_len", "must be at least 1"));
        }
        if self.interest.half_life.0 < Duration::from_secs(60) {
            return Err(invalid("interest.half_life", "must be at least \"1m\""));
        }
        crate::domain::rules::quiet::parse_tz(&self.customers.default_time_zone)
            .map_err(|e| invalid("customers.default_time_zone", e))?;
        if !matches!(self.customers.default_locale.as_str(), "ja" | "en") {
            return Err(invalid(
                "customers.default_locale",
                "must be \"ja\" or \"en\"",
            ));
        }
        self.delivery_rules()?;
        crate::config::delivery::validate(
            &self.delivery,
            &self.http,
            &self.email,
            self.line.as_ref(),
            self.webhook.as_ref(),
        )?;
        crate::config::orders::validate(&self.orders, &self.shop_webhook)?;
        self.metrics.validate()?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be \"text\" or \"json\""));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                format!(
                    "{:?} is not a log filter; write e.g. \"info\"",
                    self.log.level
                ),
            ));
        }
        Ok(())
    }

    /// Warnings about a valid config: things that work but are probably not meant
    /// (check-config prints them, `run` logs them). Each names its key; sections add
    /// theirs here.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        crate::config::delivery::warnings(self, &mut out);
        out
    }

    pub fn interest_weights(&self) -> crate::domain::interest::InterestWeights {
        crate::domain::interest::InterestWeights {
            half_life_ms: self.interest.half_life.ms(),
            ..Default::default()
        }
    }

    pub fn customer_defaults(&self) -> CustomerDefaults {
        use crate::domain::customer::Locale;
        let locale = if self.customers.default_locale == "en" {
            Locale::En
        } else {
            Locale::Ja
        };
        CustomerDefaults {
            time_zone: self.customers.default_time_zone.clone(),
            locale,
        }
    }

    pub fn trigger_config(&self) -> TriggerConfig {
        let t = &self.triggers;
        TriggerConfig {
            min_restock_qty: t.min_restock_qty,
            low_stock_qty: t.low_stock_qty,
            sellout_horizon_ms: t.sellout_horizon.ms(),
            velocity_half_life_ms: t.velocity_half_life.ms(),
            min_drop_pct: t.min_drop_pct,
            min_drop_abs: t.min_drop_abs,
            stable_for_ms: t.stable_for.ms(),
            new_arrival_min_stock: t.new_arrival_min_stock,
            new_arrival_grace_ms: t.new_arrival_grace.ms(),
            price_history_len: t.price_history_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_matches_defaults() {
        let text = include_str!("../../../deploy/stockbelld.toml");
        let cfg = Config::parse(text).expect("example config parses");
        cfg.validate().expect("example config is valid");
        assert_eq!(cfg.trigger_config(), TriggerConfig::default());
        let (ours, default) = (&cfg.storage, StorageConfig::default());
        assert_eq!(ours.max_wal_bytes, default.max_wal_bytes);
        assert_eq!(ours.max_memtable_bytes, default.max_memtable_bytes);
        assert_eq!(
            cfg.related.related().ok(),
            Some(crate::domain::order::related::RelatedConfig::default())
        );
    }

    #[test]
    fn store_bounds_name_the_key_and_the_range() {
        let cfg = Config::parse("[storage]\nmax_wal_bytes = 1000\n").expect("parses");
        let err = cfg.validate().expect_err("refused").to_string();
        assert!(
            err.starts_with("storage.max_wal_bytes: must be at least"),
            "{err}"
        );
        let cfg = Config::parse("[storage]\nmax_memtable_bytes = 1000\n").expect("parses");
        let err = cfg.validate().expect_err("refused").to_string();
        assert!(
            err.starts_with("storage.max_memtable_bytes: must be from"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[triggers]\nlow_stok_qty = 3\n").expect_err("unknown key");
        assert!(err.contains("low_stok_qty"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(Dur::parse("3d").map(Dur::ms), Ok(3 * 86_400_000));
        assert_eq!(Dur::parse("250ms").map(Dur::ms), Ok(250));
        assert!(Dur::parse("3 days").is_err());
        assert!(Dur::parse("d").is_err());
    }

    #[test]
    fn public_address_needs_tokens() {
        let cfg = Config::parse("[server]\nlisten = \"0.0.0.0:50051\"\n").expect("parses");
        let err = cfg.validate().expect_err("refused").to_string();
        assert!(
            err.starts_with("server.listen") && err.contains("auth.ingest_tokens"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (
                "[triggers]\nmin_drop_pct = 120.0\n",
                "triggers.min_drop_pct",
            ),
            (
                "[triggers]\nmin_restock_qty = 0\n",
                "triggers.min_restock_qty",
            ),
            ("[server]\nlisten = \"nowhere\"\n", "server.listen"),
            ("[log]\nformat = \"xml\"\n", "log.format"),
        ] {
            let err = Config::parse(text)
                .expect("parses")
                .validate()
                .expect_err(text)
                .to_string();
            assert!(err.starts_with(key), "{err}");
        }
    }
}
