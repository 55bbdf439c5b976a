//! The monthly table and the cohort table (calendar months in UTC).
//!
//! Orders folded out of a row (beyond `MAX_KEPT_ORDERS`, `Row::earlier`) count in the
//! month of the customer's first order: their exact times are not kept.
//!
//! Monthly table, per month `M` of the window (the last `months` months up to the
//! current one, every month listed, zeros included):
//! - new customers: first order in `M`;
//! - repeat customers: ordered in `M`, first order before `M`;
//! - dormant customers: at `M`'s end (the current month: now) at least one order, the
//!   last one more than `dormant_after` before that end;
//! - orders and revenue: counted orders placed in `M` and their amounts.
//!
//! Cohort table: customers by the month of their first order (the last `months` months
//! up to the current one; months without new customers are left out); `active[k]` counts
//! the cohort's customers with an order `k` months after the cohort's month
//! (`active[0]` = all of them) and `revenue[k]` their spend in that month, `k` up to the
//! current month.

use chrono::{Datelike, TimeZone, Utc};

use super::Row;
use crate::domain::Millis;

/// Months since year 0 (`year · 12 + month − 1`) of a UTC instant.
pub fn month_index(ms: Millis) -> i64 {
    let out_of_range = if ms < 0 {
        chrono::DateTime::<Utc>::MIN_UTC
    } else {
        chrono::DateTime::<Utc>::MAX_UTC
    };
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or(out_of_range);
    i64::from(t.year()) * 12 + i64::from(t.month0())
}

/// The first instant of a month (its `month_index`).
pub fn month_start_ms(index: i64) -> Millis {
    let year = i32::try_from(index.div_euclid(12)).unwrap_or(i32::MAX);
    let month = index.rem_euclid(12) as u32 + 1;
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map_or(Millis::MAX, |t| t.timestamp_millis())
}

/// `"YYYY-MM"` of a month index.
pub fn month_label(index: i64) -> String {
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

/// A row's orders as (time, amount, count), oldest first; the folded ones as one entry
/// at the first order's time.
fn events(row: &Row) -> impl Iterator<Item = (Millis, i64, u64)> + '_ {
    let folded = row
        .earlier
        .filter(|e| e.orders > 0)
        .map(|e| (e.first_ms, e.spend_minor, u64::from(e.orders)));
    folded
        .into_iter()
        .chain(row.orders.iter().map(|o| (o.at_ms, o.amount_minor, 1)))
}

/// One month of the monthly table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthRow {
    /// `"YYYY-MM"`.
    pub month: String,
    pub new_customers: u64,
    pub repeat_customers: u64,
    pub dormant_customers: u64,
    pub orders: u64,
    pub revenue_minor: i64,
}

/// The monthly table, one row at a time ([`Monthly::add`]).
#[derive(Debug, Clone)]
pub struct Monthly {
    now: Millis,
    dormant_after_ms: i64,
    /// The window's first instant.
    start: Millis,
    /// Exclusive ends of the window's months (the next month's start).
    ends: Vec<Millis>,
    rows: Vec<MonthRow>,
}

impl Monthly {
    /// The last `months` (≥ 1) months up to `now`'s month.
    pub fn new(now: Millis, months: u32, dormant_after_ms: i64) -> Monthly {
        let last = month_index(now);
        let first = last - i64::from(months.max(1)) + 1;
        Monthly {
            now,
            dormant_after_ms,
            start: month_start_ms(first),
            ends: (first..=last).map(|m| month_start_ms(m + 1)).collect(),
            rows: (first..=last)
                .map(|m| MonthRow {
                    month: month_label(m),
                    ..MonthRow::default()
                })
                .collect(),
        }
    }

    /// The window slot of an instant: `Err(false)` before the window, `Err(true)` after.
    fn slot_at(&self, at: Millis) -> Result<usize, bool> {
        if at < self.start {
            return Err(false);
        }
        // ends ascending; the first end after `at` is its month.
        let i = self.ends.partition_point(|&end| end <= at);
        if i < self.ends.len() {
            Ok(i)
        } else {
            Err(true)
        }
    }

    pub fn add(&mut self, row: &Row) {
        let Some(first_ms) = row.first_order_ms() else {
            return;
        };
        // Slot of the first order; -1 before the window.
        let first_slot = match self.slot_at(first_ms) {
            Ok(i) => {
                self.rows[i].new_customers += 1;
                i as i64
            }
            Err(false) => -1,
            Err(true) => return,
        };
        let mut seen = None;
        for (at, amount, count) in events(row) {
            if at > self.now {
                break;
            }
            let i = match self.slot_at(at) {
                Ok(i) => i,
                Err(false) => continue,
                Err(true) => break,
            };
            self.rows[i].orders += count;
            self.rows[i].revenue_minor += amount;
            if i as i64 > first_slot && seen != Some(i) {
                self.rows[i].repeat_customers += 1;
            }
            seen = Some(i);
        }
        // Dormant at each month's end: the last order up to then.
        let mut it = events(row).peekable();
        let mut last = None;
        for (i, &end) in self.ends.iter().enumerate() {
            while let Some(&(at, _, _)) = it.peek() {
                if at >= end || at > self.now {
                    break;
                }
                last = Some(at);
                it.next();
            }
            let end = end.min(self.now);
            if last.is_some_and(|l| end - l > self.dormant_after_ms) {
                self.rows[i].dormant_customers += 1;
            }
        }
    }

    /// The months, oldest first.
    pub fn finish(self) -> Vec<MonthRow> {
        self.rows
    }
}

/// One cohort of the cohort table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CohortRow {
    /// `"YYYY-MM"` of the first order.
    pub cohort: String,
    pub customers: u64,
    pub active: Vec<u64>,
    pub revenue_minor: Vec<i64>,
}

/// The cohort table, one row at a time ([`Cohorts::add`]).
#[derive(Debug, Clone)]
pub struct Cohorts {
    now: Millis,
    first: i64,
    current: i64,
    rows: Vec<CohortRow>,
}

impl Cohorts {
    /// Cohorts of the last `months` (≥ 1) months up to `now`'s month.
    pub fn new(now: Millis, months: u32) -> Cohorts {
        let current = month_index(now);
        let first = current - i64::from(months.max(1)) + 1;
        Cohorts {
            now,
            first,
            current,
            rows: (first..=current)
                .map(|m| {
                    let width = (current - m + 1) as usize;
                    CohortRow {
                        cohort: month_label(m),
                        customers: 0,
                        active: vec![0; width],
                        revenue_minor: vec![0; width],
                    }
                })
                .collect(),
        }
    }

    pub fn add(&mut self, row: &Row) {
        let Some(first_ms) = row.first_order_ms() else {
            return;
        };
        let cohort = month_index(first_ms);
        if cohort < self.first || cohort > self.current || first_ms > self.now {
            return;
        }
        let c = &mut self.rows[(cohort - self.first) as usize];
        c.customers += 1;
        let mut seen = None;
        for (at, amount, _) in events(row) {
            if at > self.now {
                break;
            }
            let k = (month_index(at) - cohort) as usize;
            let (Some(active), Some(revenue)) = (c.active.get_mut(k), c.revenue_minor.get_mut(k))
            else {
                continue;
            };
            *revenue += amount;
            if seen != Some(k) {
                *active += 1;
                seen = Some(k);
            }
        }
    }

    /// The cohorts with customers, oldest first.
    pub fn finish(self) -> Vec<CohortRow> {
        self.rows.into_iter().filter(|c| c.customers > 0).collect()
    }
}

#[cfg(test)]
#[path = "tables_tests.rs"]
mod tests;
