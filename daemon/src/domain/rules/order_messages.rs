//! The order scenarios' own settings, validated from `[scenarios.<name>]`: how each order
//! update treats quiet hours, the backorder-update cadence, when the follow-up and the
//! cross-sell offers go, and the links and coupon they carry. Plain data; the customer's
//! actor decides with it when a message is due.

use std::collections::BTreeMap;

use crate::domain::customer::Scenario;
use crate::domain::Millis;

/// What an order update does inside the customer's quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietMode {
    /// Goes at once (arrived, shipped, delayed: news the customer is waiting for).
    Send,
    /// Waits for the end of quiet hours (routine updates; every marketing message).
    Wait,
}

impl QuietMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QuietMode::Send => "send",
            QuietMode::Wait => "wait",
        }
    }

    pub fn parse(s: &str) -> Option<QuietMode> {
        [QuietMode::Send, QuietMode::Wait]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// One cross-sell offer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossSellRules {
    /// After the order (cross_sell_order) or after delivery (cross_sell_delivery).
    pub after_ms: Millis,
    /// Related products shown at most.
    pub max_items: usize,
    /// A coupon for the next purchase; `None` = no coupon.
    pub coupon_code: Option<String>,
}

/// The placeholders a `review_url` may contain; each is replaced by the value,
/// percent-encoded.
pub const REVIEW_URL_PLACEHOLDERS: [&str; 2] = ["{order_id}", "{customer_id}"];

/// Settings of the order scenarios beyond switch and channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderMessageRules {
    /// Quiet-hours mode of each order update (transactional scenarios only).
    pub quiet: BTreeMap<Scenario, QuietMode>,
    /// A backorder update goes this long after the last notice (confirmation, update or
    /// delay), never sooner.
    pub update_every_ms: Millis,
    /// The follow-up goes this long after delivery.
    pub followup_after_ms: Millis,
    /// The follow-up's review link, with [`REVIEW_URL_PLACEHOLDERS`]; `None` = none.
    pub review_url: Option<String>,
    pub cross_sell_order: CrossSellRules,
    pub cross_sell_delivery: CrossSellRules,
}

impl OrderMessageRules {
    /// The defaults `[scenarios.*]` documents.
    pub fn defaults() -> OrderMessageRules {
        const HOUR: Millis = 3_600_000;
        const DAY: Millis = 24 * HOUR;
        OrderMessageRules {
            quiet: BTreeMap::from([
                (Scenario::BackorderConfirmation, QuietMode::Wait),
                (Scenario::BackorderUpdate, QuietMode::Wait),
                (Scenario::Arrived, QuietMode::Send),
                (Scenario::Delayed, QuietMode::Send),
                (Scenario::Shipped, QuietMode::Send),
                (Scenario::DeliveredFollowup, QuietMode::Wait),
            ]),
            update_every_ms: 10 * DAY,
            followup_after_ms: 3 * DAY,
            review_url: None,
            cross_sell_order: CrossSellRules {
                after_ms: HOUR,
                max_items: 4,
                coupon_code: None,
            },
            cross_sell_delivery: CrossSellRules {
                after_ms: 7 * DAY,
                max_items: 4,
                coupon_code: None,
            },
        }
    }

    /// What a message of `s` does in quiet hours: marketing always waits; an order
    /// update as configured (waits when it has no setting).
    pub fn quiet_mode(&self, s: Scenario) -> QuietMode {
        if s.is_marketing() {
            return QuietMode::Wait;
        }
        self.quiet.get(&s).copied().unwrap_or(QuietMode::Wait)
    }

    /// The cross-sell settings of `s` (`None` unless it is a cross-sell scenario).
    pub fn cross_sell(&self, s: Scenario) -> Option<&CrossSellRules> {
        match s {
            Scenario::CrossSellOrder => Some(&self.cross_sell_order),
            Scenario::CrossSellDelivery => Some(&self.cross_sell_delivery),
            _ => None,
        }
    }

    /// The follow-up's review link for one order (`None` without a `review_url`).
    pub fn review_link(&self, order_id: &str, customer_id: &str) -> Option<String> {
        self.review_url.as_ref().map(|t| {
            t.replace("{order_id}", &percent_encode(order_id))
                .replace("{customer_id}", &percent_encode(customer_id))
        })
    }
}

/// A value made safe for any part of a URL: everything but RFC 3986's unreserved
/// characters is percent-encoded (as UTF-8 bytes).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a `review_url` template cannot work, if it cannot: it must be an http(s) URL and
/// every `{…}` must be a known placeholder.
pub fn check_review_url(template: &str) -> Result<(), String> {
    if !(template.starts_with("https://") || template.starts_with("http://")) {
        return Err(format!(
            "review_url {template:?} must start with https:// (e.g. \"https://shop.example/review?order={{order_id}}\")"
        ));
    }
    if template
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("review_url contains spaces or control characters; percent-encode them".into());
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let known = REVIEW_URL_PLACEHOLDERS
            .iter()
            .find(|p| after.starts_with(*p));
        match known {
            Some(p) => rest = &after[p.len()..],
            None => {
                return Err(format!(
                    "review_url: {:?} is not a placeholder; use {}",
                    after
                        .chars()
                        .take_while(|c| *c != '}')
                        .chain(['}'])
                        .collect::<String>(),
                    REVIEW_URL_PLACEHOLDERS.join(" or ")
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgent_updates_go_at_once_routine_ones_and_marketing_wait() {
        let r = OrderMessageRules::defaults();
        let send: Vec<Scenario> = Scenario::ALL
            .into_iter()
            .filter(|s| r.quiet_mode(*s) == QuietMode::Send)
            .collect();
        assert_eq!(
            send,
            [Scenario::Arrived, Scenario::Delayed, Scenario::Shipped]
        );
        // A marketing scenario waits even if a setting says otherwise.
        let mut odd = r.clone();
        odd.quiet.insert(Scenario::CrossSellOrder, QuietMode::Send);
        assert_eq!(odd.quiet_mode(Scenario::CrossSellOrder), QuietMode::Wait);
        assert_eq!(QuietMode::parse("send"), Some(QuietMode::Send));
        assert_eq!(QuietMode::parse("later"), None);
    }

    #[test]
    fn review_links_encode_their_values_and_bad_templates_are_named() {
        let mut r = OrderMessageRules::defaults();
        assert_eq!(r.review_link("A-1", "c1"), None);
        r.review_url = Some("https://shop.example/review?o={order_id}&c={customer_id}".into());
        assert_eq!(
            r.review_link("A 1/ü", "c&1").as_deref(),
            Some("https://shop.example/review?o=A%201%2F%C3%BC&c=c%261")
        );
        assert!(check_review_url("https://s.example/r/{order_id}").is_ok());
        let err = check_review_url("https://s.example/r/{sku}").expect_err("unknown");
        assert!(err.contains("{sku}") && err.contains("{order_id}"), "{err}");
        let err = check_review_url("shop.example/r").expect_err("no scheme");
        assert!(err.contains("https://"), "{err}");
        assert!(check_review_url("https://s.example/a b").is_err());
    }
}
