//! The holdout split: which customers a scenario's `holdout_pct` keeps from being sent.
//!
//! A customer's bucket for a scenario is the first 8 bytes (big-endian) of
//! SHA-256("stockbell.holdout.v1" · 0x00 · scenario name · 0x00 · customer id), modulo
//! 10,000; the customer is held out when the bucket is below `holdout_pct` × 100. It
//! depends on nothing else (no key, no seed, no build), so it stays the same across
//! restarts and versions, and each scenario splits the customers independently.

use sha2::{Digest, Sha256};

use crate::domain::customer::Scenario;

/// Basis points in 100 %.
const BUCKETS: u64 = 10_000;
/// The largest holdout a scenario may have, in percent.
pub const MAX_HOLDOUT_PCT: f64 = 50.0;

/// A scenario's holdout share, in percent (0–50).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Holdout {
    pub scenario: Scenario,
    pub pct: f64,
}

/// The customer's bucket (0–9,999) for `scenario`.
pub fn bucket(customer_id: &str, scenario: Scenario) -> u64 {
    let mut h = Sha256::new();
    h.update(b"stockbell.holdout.v1\0");
    h.update(scenario.as_str().as_bytes());
    h.update([0u8]);
    h.update(customer_id.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

/// Whether a `pct` % holdout keeps `scenario` from the customer.
pub fn held_out(customer_id: &str, scenario: Scenario, pct: f64) -> bool {
    if pct <= 0.0 {
        return false;
    }
    // Basis points, rounded: 5 % = 500 buckets of 10,000.
    let cut = (pct.min(MAX_HOLDOUT_PCT) * 100.0).round() as u64;
    bucket(customer_id, scenario) < cut
}

/// Checks a configured share; the message says the range.
pub fn check_pct(pct: f64) -> Result<f64, String> {
    if pct.is_finite() && (0.0..=MAX_HOLDOUT_PCT).contains(&pct) {
        Ok(pct)
    } else {
        Err(format!(
            "holdout_pct {pct} must be between 0 and {MAX_HOLDOUT_PCT} (percent of the \
             scenario's customers kept from it for comparison, e.g. 5; 0 = none)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_fixed_by_customer_and_scenario_only() {
        // Pinned: a change here would move customers between the arms of running tests.
        let b = bucket("c1", Scenario::BackInStock);
        assert_eq!(b, bucket("c1", Scenario::BackInStock));
        assert_eq!(b, PINNED_C1_BACK_IN_STOCK);
        assert!(!held_out("c1", Scenario::BackInStock, 0.0));
        assert!(held_out("c1", Scenario::BackInStock, 50.0) == (b < 5_000));
    }

    /// SHA-256("stockbell.holdout.v1\0back_in_stock\0c1"), first 8 bytes mod 10,000 (computed
    /// independently with Python's hashlib).
    const PINNED_C1_BACK_IN_STOCK: u64 = 2775;

    #[test]
    fn the_share_held_out_is_close_to_the_configured_one() {
        for (scenario, pct) in [(Scenario::BackInStock, 5.0), (Scenario::PriceDrop, 12.5)] {
            let n = 100_000;
            let held = (0..n)
                .filter(|i| held_out(&format!("customer-{i}"), scenario, pct))
                .count();
            let share = held as f64 * 100.0 / n as f64;
            assert!(
                (share - pct).abs() < 0.3,
                "{scenario:?}: {share} % for {pct} %"
            );
        }
    }

    #[test]
    fn scenarios_split_independently() {
        let n = 20_000;
        let both = (0..n)
            .filter(|i| {
                let id = format!("customer-{i}");
                held_out(&id, Scenario::BackInStock, 10.0)
                    && held_out(&id, Scenario::PriceDrop, 10.0)
            })
            .count();
        // Independent: about 1 % in both.
        let share = both as f64 * 100.0 / n as f64;
        assert!((share - 1.0).abs() < 0.3, "{share} %");
    }

    #[test]
    fn shares_outside_0_to_50_are_refused() {
        assert!(check_pct(5.0).is_ok());
        assert!(check_pct(0.0).is_ok());
        for bad in [-1.0, 50.5, f64::NAN] {
            assert!(check_pct(bad).is_err(), "{bad}");
        }
    }
}
