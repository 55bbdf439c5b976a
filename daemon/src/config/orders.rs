//! The `[orders]` and `[shop_webhook]` config sections: how long a cancel link stays
//! valid, and where the shop hears of cancellation requests and allocations, with checks
//! that name the offending key.

use std::time::Duration;

use serde::Deserialize;

use crate::delivery::shop_webhook::{ShopSender, ShopWebhookConfig};
use crate::settings::{invalid, ConfigError, Dur};

const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrdersConfig {
    /// How long the signed cancel link in an order update stays valid.
    pub cancel_link_valid_for: Dur,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            cancel_link_valid_for: Dur(60 * DAY),
        }
    }
}

/// Checks both sections. Building the shop webhook's sender checks its URL, secret and
/// TLS setup; nothing connects yet.
pub fn validate(orders: &OrdersConfig, shop: &ShopWebhookConfig) -> Result<(), ConfigError> {
    let valid_for = orders.cancel_link_valid_for.0;
    if !(DAY..=730 * DAY).contains(&valid_for) {
        return Err(invalid(
            "orders.cancel_link_valid_for",
            "must be from \"1d\" to \"730d\" (the default is \"60d\")",
        ));
    }
    ShopSender::new(shop).map_err(|e| invalid(e.key, e.message))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_and_the_example_config() {
        let cfg = Config::parse(include_str!("../../../deploy/stockbelld.toml")).expect("parses");
        assert_eq!(cfg.orders, super::OrdersConfig::default());
        assert!(cfg.shop_webhook.url.is_empty(), "off unless a url is set");
        cfg.validate().expect("valid");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (
                "[orders]\ncancel_link_valid_for = \"1h\"\n",
                "orders.cancel_link_valid_for",
            ),
            (
                "[shop_webhook]\nurl = \"ftp://x/\"\nsecret = \"0123456789abcdef\"\n",
                "shop_webhook.url",
            ),
            (
                "[shop_webhook]\nurl = \"https://shop.example/hook\"\n",
                "shop_webhook.secret",
            ),
        ] {
            let e = Config::parse(text)
                .expect("parses")
                .validate()
                .expect_err(text)
                .to_string();
            assert!(e.starts_with(key), "{text}: {e}");
        }
        assert!(Config::parse("[shop_webhook]\nurls = \"x\"\n").is_err());
    }
}
