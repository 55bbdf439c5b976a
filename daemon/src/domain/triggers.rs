//! The trigger rules of DESIGN §4 as small predicates; `product.rs` decides when to call
//! them and what to arm or disarm.

use super::velocity::cover_days;
use super::TriggerConfig;

/// Back in stock: armed since the product sold out, and stock now reaches the minimum.
pub fn back_in_stock(armed: bool, new_stock: i64, cfg: &TriggerConfig) -> bool {
    armed && new_stock >= cfg.min_restock_qty.max(1)
}

/// Why a product counts as "only a few left".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LowReason {
    /// At or below the absolute threshold.
    Threshold,
    /// Predicted to sell out within the horizon (days of cover).
    SelloutWithin(f64),
}

/// Low stock: some stock left, and either at most `low_stock_qty` units or less than
/// `sellout_horizon` of cover at the current velocity. Sold out is not "a few left".
pub fn low_stock(stock: i64, velocity_per_day: f64, cfg: &TriggerConfig) -> Option<LowReason> {
    if stock <= 0 {
        return None;
    }
    if stock <= cfg.low_stock_qty {
        return Some(LowReason::Threshold);
    }
    let horizon_days = cfg.sellout_horizon_ms as f64 / super::MS_PER_DAY;
    match cover_days(stock, velocity_per_day) {
        Some(days) if days < horizon_days => Some(LowReason::SelloutWithin(days)),
        _ => None,
    }
}

/// Price drop: `new` is at least `min_drop_pct` percent, or at least `min_drop_abs` minor
/// units (when that is set), below `reference`.
pub fn price_drop(reference: i64, new: i64, cfg: &TriggerConfig) -> bool {
    if new >= reference || reference <= 0 {
        return false;
    }
    let drop = reference - new;
    let pct = drop as f64 * 100.0 / reference as f64;
    let by_pct = cfg.min_drop_pct > 0.0 && pct + 1e-9 >= cfg.min_drop_pct;
    let by_abs = cfg.min_drop_abs > 0 && drop >= cfg.min_drop_abs;
    by_pct || by_abs
}

/// New arrival: visible, within the grace period since it became visible, and stocked
/// enough that the announcement will not sell out at once.
pub fn new_arrival(visible: bool, since_visible_ms: i64, stock: i64, cfg: &TriggerConfig) -> bool {
    visible && since_visible_ms <= cfg.new_arrival_grace_ms && stock >= cfg.new_arrival_min_stock
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> TriggerConfig {
        TriggerConfig::default()
    }

    #[test]
    fn five_left_selling_one_a_day_is_not_low_with_three_day_horizon() {
        let c = TriggerConfig {
            low_stock_qty: 2,
            ..cfg()
        };
        assert_eq!(low_stock(5, 1.0, &c), None);
    }

    #[test]
    fn five_left_selling_ten_a_day_is_low() {
        let c = TriggerConfig {
            low_stock_qty: 2,
            ..cfg()
        };
        assert_eq!(low_stock(5, 10.0, &c), Some(LowReason::SelloutWithin(0.5)));
    }

    #[test]
    fn threshold_and_sold_out() {
        assert_eq!(low_stock(3, 0.0, &cfg()), Some(LowReason::Threshold));
        assert_eq!(low_stock(0, 50.0, &cfg()), None);
        assert_eq!(low_stock(-2, 50.0, &cfg()), None);
    }

    #[test]
    fn restock_below_minimum_is_not_back_in_stock() {
        let c = TriggerConfig {
            min_restock_qty: 3,
            ..cfg()
        };
        assert!(!back_in_stock(true, 2, &c));
        assert!(back_in_stock(true, 3, &c));
        assert!(!back_in_stock(false, 30, &c));
    }

    #[test]
    fn price_drop_by_percent_or_absolute() {
        assert!(price_drop(1000, 900, &cfg()));
        assert!(!price_drop(1000, 901, &cfg()));
        assert!(!price_drop(1000, 1100, &cfg()));
        let abs = TriggerConfig {
            min_drop_pct: 0.0,
            min_drop_abs: 50,
            ..cfg()
        };
        assert!(price_drop(1000, 950, &abs));
        assert!(!price_drop(1000, 951, &abs));
    }

    #[test]
    fn new_arrival_needs_visibility_stock_and_grace() {
        let c = TriggerConfig {
            new_arrival_min_stock: 5,
            ..cfg()
        };
        assert!(new_arrival(true, 0, 5, &c));
        assert!(!new_arrival(true, 0, 4, &c));
        assert!(!new_arrival(false, 0, 50, &c));
        assert!(!new_arrival(true, c.new_arrival_grace_ms + 1, 50, &c));
    }

    proptest! {
        #[test]
        fn low_stock_matches_its_definition(stock in -10i64..1000, v in 0.0f64..100.0) {
            let c = cfg();
            let horizon = c.sellout_horizon_ms as f64 / crate::domain::MS_PER_DAY;
            let expect = stock > 0
                && (stock <= c.low_stock_qty || (v > 1e-9 && (stock as f64 / v) < horizon));
            prop_assert_eq!(low_stock(stock, v, &c).is_some(), expect);
        }

        #[test]
        fn a_higher_price_is_never_a_drop(reference in 1i64..1_000_000, up in 0i64..1000) {
            prop_assert!(!price_drop(reference, reference + up, &cfg()));
        }
    }
}
