//! Sales velocity: an exponentially decayed count of units sold, read as units per day.
//!
//! With decay rate λ = ln 2 / half-life, a steady rate of r units/day makes the decayed
//! sum converge to r / λ, so `λ · sum` estimates the current rate without a spike on the
//! first sale.

use serde::{Deserialize, Serialize};

use super::{Millis, MS_PER_DAY};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Velocity {
    /// Decayed sum of units, as of `at_ms`.
    pub sum: f64,
    pub at_ms: Millis,
}

impl Velocity {
    fn lambda_per_day(half_life_ms: i64) -> f64 {
        let days = (half_life_ms.max(1) as f64) / MS_PER_DAY;
        std::f64::consts::LN_2 / days
    }

    /// The decayed sum at `t` (never decays backwards for an out-of-order event).
    fn sum_at(&self, t: Millis, half_life_ms: i64) -> f64 {
        let dt_days = ((t - self.at_ms).max(0) as f64) / MS_PER_DAY;
        self.sum * (-Self::lambda_per_day(half_life_ms) * dt_days).exp()
    }

    /// Records `units` sold at `t`.
    pub fn record(&mut self, units: i64, t: Millis, half_life_ms: i64) {
        let at = t.max(self.at_ms);
        self.sum = self.sum_at(at, half_life_ms) + units.max(0) as f64;
        self.at_ms = at;
    }

    /// Units per day as of `t`.
    pub fn per_day(&self, t: Millis, half_life_ms: i64) -> f64 {
        self.sum_at(t, half_life_ms) * Self::lambda_per_day(half_life_ms)
    }
}

/// Days until `stock` runs out at `per_day`; `None` without sales or without stock.
pub fn cover_days(stock: i64, per_day: f64) -> Option<f64> {
    (stock > 0 && per_day > 1e-9).then(|| stock as f64 / per_day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn steady_rate_converges_to_that_rate() {
        let mut v = Velocity::default();
        for hour in 0..(60 * 24) {
            // 10 units a day, spread over the day.
            if hour % 12 == 0 {
                v.record(5, hour * 3_600_000, 7 * DAY);
            }
        }
        let rate = v.per_day(60 * DAY, 7 * DAY);
        assert!((rate - 10.0).abs() < 0.6, "rate {rate}");
    }

    #[test]
    fn decays_by_half_over_a_half_life() {
        let mut v = Velocity::default();
        v.record(10, 0, 2 * DAY);
        let a = v.per_day(0, 2 * DAY);
        let b = v.per_day(2 * DAY, 2 * DAY);
        assert!((b / a - 0.5).abs() < 1e-9);
    }

    #[test]
    fn no_cover_without_sales_or_stock() {
        assert_eq!(cover_days(5, 0.0), None);
        assert_eq!(cover_days(0, 3.0), None);
        assert_eq!(cover_days(6, 3.0), Some(2.0));
    }

    proptest! {
        #[test]
        fn out_of_order_events_never_make_velocity_negative(
            sales in proptest::collection::vec((0i64..100, 0i64..30 * DAY), 1..50)
        ) {
            let mut v = Velocity::default();
            for (units, t) in sales {
                v.record(units, t, 7 * DAY);
                prop_assert!(v.sum >= 0.0 && v.sum.is_finite());
            }
        }
    }
}
