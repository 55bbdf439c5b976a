//! A segment's metrics (README, "Metrics", has the same definitions and fixture):
//! - size: members;
//! - buyers: members with ≥ 1 counted order; repeaters: with ≥ 2;
//! - repeat rate = repeaters ÷ buyers;
//! - average order value per customer = mean over buyers of each one's spend ÷ orders;
//!   per order = total spend ÷ orders;
//! - average purchase count = orders ÷ buyers;
//! - LTV = total spend ÷ buyers;
//! - average repurchase interval = mean over repeaters of each one's mean gap between
//!   consecutive orders;
//! - lifetime = mean over repeaters of last order − first order.

use super::Row;

/// Sums over a segment's rows; [`Metrics::add`] one row at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub size: u64,
    pub buyers: u64,
    pub repeaters: u64,
    pub orders: u64,
    pub spend_minor: i64,
    /// Σ over buyers of spend ÷ orders.
    sum_customer_aov: f64,
    /// Σ over repeaters of their mean interval, and of their lifetime.
    sum_interval_ms: i128,
    sum_lifetime_ms: i128,
}

impl Metrics {
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Metrics {
        let mut m = Metrics::default();
        for r in rows {
            m.add(r);
        }
        m
    }

    pub fn add(&mut self, row: &Row) {
        self.size += 1;
        let n = row.order_count();
        if n == 0 {
            return;
        }
        let spend = row.spend_minor();
        self.buyers += 1;
        self.orders += u64::from(n);
        self.spend_minor += spend;
        self.sum_customer_aov += spend as f64 / f64::from(n);
        if n >= 2 {
            self.repeaters += 1;
            self.sum_interval_ms += i128::from(row.mean_interval_ms().unwrap_or(0));
            if let (Some(first), Some(last)) = (row.first_order_ms(), row.last_order_ms()) {
                self.sum_lifetime_ms += i128::from(last - first);
            }
        }
    }

    fn per_buyer(&self, x: f64) -> f64 {
        if self.buyers == 0 {
            0.0
        } else {
            x / self.buyers as f64
        }
    }

    pub fn repeat_rate(&self) -> f64 {
        self.per_buyer(self.repeaters as f64)
    }

    pub fn aov_per_customer_minor(&self) -> f64 {
        self.per_buyer(self.sum_customer_aov)
    }

    pub fn aov_per_order_minor(&self) -> f64 {
        if self.orders == 0 {
            0.0
        } else {
            self.spend_minor as f64 / self.orders as f64
        }
    }

    pub fn avg_orders(&self) -> f64 {
        self.per_buyer(self.orders as f64)
    }

    pub fn ltv_minor(&self) -> f64 {
        self.per_buyer(self.spend_minor as f64)
    }

    pub fn avg_repurchase_interval_ms(&self) -> i64 {
        self.per_repeater(self.sum_interval_ms)
    }

    pub fn avg_lifetime_ms(&self) -> i64 {
        self.per_repeater(self.sum_lifetime_ms)
    }

    fn per_repeater(&self, x: i128) -> i64 {
        if self.repeaters == 0 {
            0
        } else {
            i64::try_from(x / i128::from(self.repeaters)).unwrap_or(i64::MAX)
        }
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
