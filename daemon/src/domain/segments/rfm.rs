//! RFM scores and purchase prediction over a population of rows.
//!
//! **Quintile rule.** Over the *buyers* (rows with ≥ 1 counted order) each of recency
//! (the last order's time; more recent = better), frequency (counted orders) and
//! monetary (spend) scores
//!
//! ```text
//! score = min(5, 1 + ⌊5 · w / n⌋)
//! ```
//!
//! where `n` is the number of buyers and `w` the number of buyers strictly worse on that
//! value. Ties share a score, any population size works (one buyer scores 1), and the
//! best buyer scores 5 only when at least 4/5 of the buyers are strictly worse. A value
//! better than every buyer's (a row not in the population yet) scores as if it were. A row
//! without orders scores 0 and has no group. `FM = ⌈(F + M) / 2⌉`.
//!
//! **Groups** (recency R down, FM across; every cell is exactly one group):
//!
//! ```text
//!        FM=1            FM=2                FM=3                FM=4          FM=5
//! R=5    new_customers   promising           potential_loyalist  champions     champions
//! R=4    promising       potential_loyalist  potential_loyalist  loyal         champions
//! R=3    about_to_sleep  about_to_sleep      need_attention      loyal         loyal
//! R=2    hibernating     hibernating         at_risk             at_risk       cannot_lose
//! R=1    lost            lost                hibernating         at_risk       cannot_lose
//! ```
//!
//! **Prediction.** The interval `I` is the customer's median gap between orders
//! (`Row::median_interval_ms`); below 2 orders it is the population's median (lower
//! middle) of the buyers' median intervals. Expected next order = last order + `I`.
//! Churn risk = `1 − 2^−(t / (1.5·I))²`, `t` = now − last order (never below 0): 0 right
//! after an order, ½ at `1.5·I`. Without orders, or with no interval to go by (no
//! customer has 2 orders), there is no expected order and the risk is 0; with `I = 0`
//! the risk is 1 as soon as `t > 0`.

use super::{RfmGroup, Row, ScoreSource, Scores};
use crate::domain::Millis;

/// The score of a value with `worse` of `n` buyers strictly worse (the module's rule).
pub fn quintile(worse: usize, n: usize) -> u8 {
    if n == 0 {
        return 0;
    }
    let q = 1 + (5 * worse as u128 / n as u128);
    q.min(5) as u8
}

/// `⌈(F + M) / 2⌉`.
pub fn fm_of(frequency: u8, monetary: u8) -> u8 {
    (frequency + monetary).div_ceil(2)
}

/// The named group of a (recency, FM) cell, both 1..5 (see the module's table);
/// `None` outside 1..5.
pub fn group_of(recency: u8, fm: u8) -> Option<RfmGroup> {
    use RfmGroup::*;
    const GRID: [[RfmGroup; 5]; 5] = [
        // R=1
        [Lost, Lost, Hibernating, AtRisk, CannotLose],
        // R=2
        [Hibernating, Hibernating, AtRisk, AtRisk, CannotLose],
        // R=3
        [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
        // R=4
        [
            Promising,
            PotentialLoyalist,
            PotentialLoyalist,
            Loyal,
            Champions,
        ],
        // R=5
        [
            NewCustomers,
            Promising,
            PotentialLoyalist,
            Champions,
            Champions,
        ],
    ];
    if !(1..=5).contains(&recency) || !(1..=5).contains(&fm) {
        return None;
    }
    Some(GRID[usize::from(recency - 1)][usize::from(fm - 1)])
}

/// Score thresholds of one value over the buyers: a value scores
/// `1 + #{k : value > thresholds[k]}`. With `n` buyers sorted ascending, a score of at
/// least `k + 2` needs `w ≥ t = ⌈(k + 1) · n / 5⌉` buyers strictly below, i.e. a value
/// above the `t`-th smallest (`sorted[t − 1]`): the quintile rule in four comparisons.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds<T>(Vec<T>);

impl<T: Ord + Copy> Thresholds<T> {
    /// From the buyers' values, sorted ascending.
    fn of_sorted(sorted: &[T]) -> Thresholds<T> {
        let n = sorted.len();
        Thresholds(
            (1..5)
                .filter_map(|k| sorted.get((k * n).div_ceil(5).checked_sub(1)?).copied())
                .collect(),
        )
    }

    /// The score of `v` (1..5).
    pub fn score(&self, v: T) -> u8 {
        1 + self.0.iter().filter(|&&t| v > t).count() as u8
    }
}

/// What scoring a row needs from the population: each value's score thresholds over
/// the buyers and their median interval. Built once from all rows (one sort per value),
/// then each score is four comparisons.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cutoffs {
    buyers: usize,
    last_order: Thresholds<Millis>,
    orders: Thresholds<u32>,
    spend: Thresholds<i64>,
    /// The median (lower middle) of the buyers' median intervals; `None` when no buyer
    /// has one.
    pub median_interval_ms: Option<i64>,
}

impl Cutoffs {
    /// Cutoffs over `rows` (rows without orders are skipped).
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Cutoffs {
        let (mut last_order, mut orders, mut spend) = (Vec::new(), Vec::new(), Vec::new());
        let mut intervals = Vec::new();
        for row in rows {
            let Some(last) = row.last_order_ms() else {
                continue;
            };
            last_order.push(last);
            orders.push(row.order_count());
            spend.push(row.spend_minor());
            if let Some(i) = row.median_interval_ms() {
                intervals.push(i);
            }
        }
        last_order.sort_unstable();
        orders.sort_unstable();
        spend.sort_unstable();
        let median_interval_ms = (!intervals.is_empty()).then(|| {
            let mid = (intervals.len() - 1) / 2;
            *intervals.select_nth_unstable(mid).1
        });
        Cutoffs {
            buyers: last_order.len(),
            last_order: Thresholds::of_sorted(&last_order),
            orders: Thresholds::of_sorted(&orders),
            spend: Thresholds::of_sorted(&spend),
            median_interval_ms,
        }
    }

    /// Buyers in the population.
    pub fn buyers(&self) -> usize {
        self.buyers
    }

    /// R, F, M of a row (0, 0, 0 without orders).
    pub fn rfm(&self, row: &Row) -> (u8, u8, u8) {
        match row.last_order_ms() {
            None => (0, 0, 0),
            Some(last) => (
                self.last_order.score(last),
                self.orders.score(row.order_count()),
                self.spend.score(row.spend_minor()),
            ),
        }
    }

    /// The interval predictions go by: the row's median interval, else the
    /// population's.
    pub fn interval_of(&self, row: &Row) -> Option<i64> {
        row.median_interval_ms().or(self.median_interval_ms)
    }
}

/// Expected next order and churn risk of a row with interval `interval`.
pub fn predict(row: &Row, interval: Option<i64>, now_ms: Millis) -> (Option<Millis>, f64) {
    let (Some(last), Some(i)) = (row.last_order_ms(), interval) else {
        return (None, 0.0);
    };
    (Some(last.saturating_add(i)), churn_risk(now_ms - last, i))
}

/// `1 − 2^−(t / (1.5·I))²` with `t` clamped at 0; `I = 0` gives 1 for any `t > 0`.
pub fn churn_risk(t_ms: i64, interval_ms: i64) -> f64 {
    let t = t_ms.max(0) as f64;
    if t == 0.0 {
        return 0.0;
    }
    if interval_ms <= 0 {
        return 1.0;
    }
    let x = t / (1.5 * interval_ms as f64);
    1.0 - (-(x * x)).exp2()
}

impl ScoreSource for Cutoffs {
    fn scores(&self, row: &Row, now_ms: Millis) -> Scores {
        let (recency, frequency, monetary) = self.rfm(row);
        let group = group_of(recency, fm_of(frequency, monetary));
        let (expected_next_ms, churn_risk) = predict(row, self.interval_of(row), now_ms);
        Scores {
            recency,
            frequency,
            monetary,
            group,
            expected_next_ms,
            churn_risk,
        }
    }
}

#[cfg(test)]
#[path = "rfm_tests.rs"]
mod tests;
