//! The order scenarios' `[scenarios.<name>]` sections: the six order updates
//! (transactional: `enabled`, `channels`, `quiet`, plus the cadence of backorder updates
//! and the follow-up's delay and review link) and the two cross-sell offers (marketing:
//! the stock scenarios' `enabled`, `priority`, `channels`, `cooldown`, `max_age`, plus
//! `after`, `max_items` and, after delivery, `coupon_code`). A key a scenario does not
//! have is refused with the keys it does have.

use serde::Deserialize;

use super::Dur;
use crate::domain::customer::{Channel, Scenario};
use crate::domain::rules::arbitration::ScenarioRules;
use crate::domain::rules::order_messages::{
    check_review_url, CrossSellRules, OrderMessageRules, QuietMode,
};
use crate::settings::{invalid, ConfigError};

/// Related products an offer may show at most.
pub const MAX_CROSS_SELL_ITEMS: usize = 20;
/// Longest coupon code, in characters.
const MAX_COUPON_CHARS: usize = 64;

/// One order scenario's section as written; every key optional (left out = default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderScenarioConfig {
    pub enabled: Option<bool>,
    /// Preference order: "email", "line", "webhook".
    pub channels: Option<Vec<String>>,
    /// Order updates: "send" (at once, even in quiet hours) or "wait" (for the morning).
    pub quiet: Option<String>,
    /// backorder_update: the least time between two notices about a waiting order.
    pub update_every: Option<Dur>,
    /// delivered_followup, cross_sell_*: how long after delivery / the order.
    pub after: Option<Dur>,
    /// delivered_followup: the review page, with `{order_id}` / `{customer_id}`.
    pub review_url: Option<String>,
    /// cross_sell_*: related products shown at most.
    pub max_items: Option<usize>,
    /// cross_sell_delivery: a coupon for the next purchase.
    pub coupon_code: Option<String>,
    /// cross_sell_*: as for the stock scenarios.
    pub priority: Option<u32>,
    pub cooldown: Option<Dur>,
    pub max_age: Option<Dur>,
    /// cross_sell_*: percent of customers (0–50) kept from the offer to measure its lift.
    pub holdout_pct: Option<f64>,
    /// Segment audience (marketing only): only members of these segments, when set.
    pub include_segments: Option<Vec<String>>,
    /// Segment audience: never members of these segments.
    pub exclude_segments: Option<Vec<String>>,
}

impl OrderScenarioConfig {
    /// The keys set in the section.
    fn keys(&self) -> Vec<&'static str> {
        [
            ("enabled", self.enabled.is_some()),
            ("channels", self.channels.is_some()),
            ("quiet", self.quiet.is_some()),
            ("update_every", self.update_every.is_some()),
            ("after", self.after.is_some()),
            ("review_url", self.review_url.is_some()),
            ("max_items", self.max_items.is_some()),
            ("coupon_code", self.coupon_code.is_some()),
            ("priority", self.priority.is_some()),
            ("cooldown", self.cooldown.is_some()),
            ("max_age", self.max_age.is_some()),
            ("holdout_pct", self.holdout_pct.is_some()),
            ("include_segments", self.include_segments.is_some()),
            ("exclude_segments", self.exclude_segments.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// The keys each order scenario takes.
fn allowed(s: Scenario) -> &'static [&'static str] {
    const UPDATE: &[&str] = &["enabled", "channels", "quiet"];
    match s {
        Scenario::BackorderUpdate => &["enabled", "channels", "quiet", "update_every"],
        Scenario::DeliveredFollowup => &["enabled", "channels", "quiet", "after", "review_url"],
        Scenario::CrossSellOrder => &[
            "enabled",
            "priority",
            "channels",
            "cooldown",
            "max_age",
            "after",
            "max_items",
            "holdout_pct",
            "include_segments",
            "exclude_segments",
        ],
        Scenario::CrossSellDelivery => &[
            "enabled",
            "priority",
            "channels",
            "cooldown",
            "max_age",
            "after",
            "max_items",
            "coupon_code",
            "holdout_pct",
            "include_segments",
            "exclude_segments",
        ],
        _ => UPDATE,
    }
}

/// The eight sections, as `[scenarios]` holds them.
#[derive(Debug, Clone, Copy)]
pub struct OrderSections<'a> {
    pub backorder_confirmation: &'a OrderScenarioConfig,
    pub backorder_update: &'a OrderScenarioConfig,
    pub arrived: &'a OrderScenarioConfig,
    pub delayed: &'a OrderScenarioConfig,
    pub shipped: &'a OrderScenarioConfig,
    pub delivered_followup: &'a OrderScenarioConfig,
    pub cross_sell_order: &'a OrderScenarioConfig,
    pub cross_sell_delivery: &'a OrderScenarioConfig,
}

impl<'a> OrderSections<'a> {
    pub(crate) fn each(&self) -> [(Scenario, &'static str, &'a OrderScenarioConfig); 8] {
        [
            (
                Scenario::BackorderConfirmation,
                "scenarios.backorder_confirmation",
                self.backorder_confirmation,
            ),
            (
                Scenario::BackorderUpdate,
                "scenarios.backorder_update",
                self.backorder_update,
            ),
            (Scenario::Arrived, "scenarios.arrived", self.arrived),
            (Scenario::Delayed, "scenarios.delayed", self.delayed),
            (Scenario::Shipped, "scenarios.shipped", self.shipped),
            (
                Scenario::DeliveredFollowup,
                "scenarios.delivered_followup",
                self.delivered_followup,
            ),
            (
                Scenario::CrossSellOrder,
                "scenarios.cross_sell_order",
                self.cross_sell_order,
            ),
            (
                Scenario::CrossSellDelivery,
                "scenarios.cross_sell_delivery",
                self.cross_sell_delivery,
            ),
        ]
    }
}

/// Channel names into channels; the error says which name is wrong.
pub fn channels(key: &'static str, names: &[String]) -> Result<Vec<Channel>, ConfigError> {
    let mut out = Vec::new();
    for c in names {
        let ch = Channel::ALL
            .into_iter()
            .find(|x| x.as_str() == c)
            .ok_or_else(|| {
                invalid(
                    key,
                    format!(
                        "channels: {c:?} is not a channel; use \"email\", \"line\" or \"webhook\""
                    ),
                )
            })?;
        out.push(ch);
    }
    if out.is_empty() {
        return Err(invalid(
            key,
            "channels is empty; list at least one of \"email\", \"line\", \"webhook\"",
        ));
    }
    Ok(out)
}

pub(crate) fn coupon(key: &'static str, code: &str) -> Result<String, ConfigError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(invalid(
            key,
            "coupon_code is empty; leave the key out for no coupon",
        ));
    }
    if code.chars().count() > MAX_COUPON_CHARS || code.chars().any(char::is_control) {
        return Err(invalid(
            key,
            format!("coupon_code must be at most {MAX_COUPON_CHARS} printable characters"),
        ));
    }
    Ok(code.to_owned())
}

fn cross_sell(
    key: &'static str,
    cfg: &OrderScenarioConfig,
    default: &CrossSellRules,
) -> Result<CrossSellRules, ConfigError> {
    let max_items = cfg.max_items.unwrap_or(default.max_items);
    if !(1..=MAX_CROSS_SELL_ITEMS).contains(&max_items) {
        return Err(invalid(
            key,
            format!("max_items must be between 1 and {MAX_CROSS_SELL_ITEMS} (e.g. 4)"),
        ));
    }
    Ok(CrossSellRules {
        after_ms: cfg.after.map_or(default.after_ms, Dur::ms),
        max_items,
        coupon_code: match &cfg.coupon_code {
            Some(c) => Some(coupon(key, c)?),
            None => default.coupon_code.clone(),
        },
    })
}

/// Validates the eight sections: the scenarios' rules (switch, channels, and for the
/// offers priority, cooldown, max_age) and the order scenarios' own settings.
pub fn build(
    sections: OrderSections<'_>,
) -> Result<(Vec<ScenarioRules>, OrderMessageRules), ConfigError> {
    let mut rules = Vec::new();
    let mut orders = OrderMessageRules::defaults();
    let defaults = OrderMessageRules::defaults();
    for (sc, key, cfg) in sections.each() {
        let ok = allowed(sc);
        if let Some(bad) = cfg.keys().into_iter().find(|k| !ok.contains(k)) {
            return Err(invalid(
                key,
                format!(
                    "{bad} is not a setting of {}; it takes {}",
                    sc.as_str(),
                    ok.join(", ")
                ),
            ));
        }
        let names = cfg
            .channels
            .clone()
            .unwrap_or_else(|| vec!["email".into(), "line".into()]);
        let marketing = sc.is_marketing();
        let max_age = cfg
            .max_age
            .unwrap_or(Dur(std::time::Duration::from_secs(86_400)));
        if max_age.0 < std::time::Duration::from_secs(60) {
            return Err(invalid(
                key,
                "max_age must be at least \"1m\" (e.g. \"24h\"): a queued offer older than it is dropped",
            ));
        }
        rules.push(ScenarioRules {
            scenario: sc,
            enabled: cfg.enabled.unwrap_or(true),
            priority: cfg.priority.unwrap_or(if marketing { 15 } else { 0 }),
            channels: channels(key, &names)?,
            cooldown_ms: match (marketing, cfg.cooldown) {
                (false, _) => 0,
                (true, c) => c.map_or(7 * 86_400_000, Dur::ms),
            },
            // An offer's products go out together, in one message.
            digest: marketing,
            digest_max_items: match sc {
                Scenario::CrossSellOrder => {
                    cfg.max_items.unwrap_or(defaults.cross_sell_order.max_items)
                }
                Scenario::CrossSellDelivery => cfg
                    .max_items
                    .unwrap_or(defaults.cross_sell_delivery.max_items),
                _ => 1,
            },
            // Order updates never expire (DeliveryRules::max_age_ms answers None).
            max_age_ms: if marketing { max_age.ms() } else { i64::MAX },
        });
        if let Some(q) = &cfg.quiet {
            let mode = QuietMode::parse(q).ok_or_else(|| {
                invalid(
                    key,
                    format!("quiet = {q:?}: use \"send\" (at once, even in quiet hours) or \"wait\" (until quiet hours end)"),
                )
            })?;
            orders.quiet.insert(sc, mode);
        }
        match sc {
            Scenario::BackorderUpdate => {
                if let Some(every) = cfg.update_every {
                    if every.0 < std::time::Duration::from_secs(1) {
                        return Err(invalid(
                            key,
                            "update_every must be at least \"1s\" (e.g. \"10d\"): the least time between two notices about a waiting order",
                        ));
                    }
                    orders.update_every_ms = every.ms();
                }
            }
            Scenario::DeliveredFollowup => {
                if let Some(after) = cfg.after {
                    orders.followup_after_ms = after.ms();
                }
                if let Some(url) = &cfg.review_url {
                    check_review_url(url).map_err(|e| invalid(key, e))?;
                    orders.review_url = Some(url.clone());
                }
            }
            Scenario::CrossSellOrder => {
                orders.cross_sell_order = cross_sell(key, cfg, &defaults.cross_sell_order)?
            }
            Scenario::CrossSellDelivery => {
                orders.cross_sell_delivery = cross_sell(key, cfg, &defaults.cross_sell_delivery)?
            }
            _ => {}
        }
    }
    Ok((rules, orders))
}

#[cfg(test)]
#[path = "order_scenarios_tests.rs"]
mod tests;
