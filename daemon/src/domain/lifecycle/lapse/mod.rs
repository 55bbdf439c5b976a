//! Lapses: win-back after a customer's own repurchase interval passes, and the birthday.
//!
//! The customer's actor is the one owner: an order placed is `record_order`, an upsert's
//! birthday is `set_birthday`, and the customer's lapse timer asks `win_back_due_now` /
//! `birthday_due_now` and marks what went out. Invariants: one win-back per lapse (an
//! episode is named by the last order's time: only a later order starts a new one) and
//! one birthday message per local year. Pure: time, zone and rules are parameters.

use chrono::{Datelike, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::rules::quiet::{instants_at, local_date};
use crate::domain::Millis;

pub mod pick;

/// Order times kept per customer: the newest `ORDERS_KEPT` give the median of the last
/// `ORDERS_KEPT - 1` repurchase intervals, enough to follow a customer whose habits
/// change and small enough to keep the record small.
pub const ORDERS_KEPT: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lapse {
    /// The customer's latest order times, oldest first, at most [`ORDERS_KEPT`].
    pub order_times: Vec<Millis>,
    /// The lapse a win-back went out for, named by its last order's time.
    pub win_back_sent_for_ms: Option<Millis>,
    pub birthday: Option<MonthDay>,
    /// The last local year a birthday message went out.
    pub birthday_sent_year: Option<i32>,
}

/// A birthday without a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthDay {
    pub month: u8,
    pub day: u8,
}

impl MonthDay {
    /// `"MM-DD"` or ISO 8601's `"--MM-DD"` (e.g. `"12-24"`, `"--02-29"`).
    pub fn parse(s: &str) -> Result<MonthDay, String> {
        let t = s.trim();
        let t = t.strip_prefix("--").unwrap_or(t);
        let bad = || {
            format!("{s:?} is not a month-day; send \"MM-DD\" (e.g. \"12-24\" or \"--12-24\"), or leave it empty for none")
        };
        let (m, d) = t.split_once('-').ok_or_else(bad)?;
        if m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let (month, day): (u8, u8) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
        // 2000 is a leap year: February 29 is a birthday.
        if NaiveDate::from_ymd_opt(2000, u32::from(month), u32::from(day)).is_none() {
            return Err(format!(
                "{s:?}: month {month} has no day {day}; send a real date as \"MM-DD\" (e.g. \"12-24\")"
            ));
        }
        Ok(MonthDay { month, day })
    }

    /// `"MM-DD"`.
    pub fn as_string(self) -> String {
        format!("{:02}-{:02}", self.month, self.day)
    }

    /// The day it falls on in `year`: February 29 is February 28 outside leap years.
    pub fn in_year(self, year: i32) -> Option<NaiveDate> {
        let (m, d) = (u32::from(self.month), u32::from(self.day));
        NaiveDate::from_ymd_opt(year, m, d).or_else(|| {
            (m == 2 && d == 29)
                .then(|| NaiveDate::from_ymd_opt(year, 2, 28))
                .flatten()
        })
    }
}

/// Win-back: when a lapse starts and how much an offer shows.
#[derive(Debug, Clone, PartialEq)]
pub struct WinBackRules {
    /// A lapse starts `factor` × the customer's median repurchase interval after the
    /// last order …
    pub factor: f64,
    /// … and never sooner than this after it (the floor).
    pub min_interval_ms: Millis,
    /// Products an offer shows at most.
    pub max_items: usize,
}

/// The birthday message: the local time it goes and its coupon.
#[derive(Debug, Clone, PartialEq)]
pub struct BirthdayRules {
    /// Local minutes after midnight.
    pub send_at_min: u16,
    pub coupon_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LapseRules {
    pub win_back: WinBackRules,
    pub birthday: BirthdayRules,
}

impl Default for LapseRules {
    /// The defaults `[win_back]` and `[birthday]` document.
    fn default() -> Self {
        LapseRules {
            win_back: WinBackRules {
                factor: 1.5,
                min_interval_ms: 14 * 86_400_000,
                max_items: 4,
            },
            birthday: BirthdayRules {
                send_at_min: 9 * 60,
                coupon_code: None,
            },
        }
    }
}

impl Lapse {
    /// An order placed at `at`: kept among the newest [`ORDERS_KEPT`] (an order reported
    /// late takes its place in time).
    pub fn record_order(&mut self, at: Millis) {
        let i = self.order_times.partition_point(|t| *t <= at);
        self.order_times.insert(i, at);
        let over = self.order_times.len().saturating_sub(ORDERS_KEPT);
        self.order_times.drain(..over);
    }

    pub fn last_order_ms(&self) -> Option<Millis> {
        self.order_times.last().copied()
    }

    /// The median of the intervals between consecutive kept orders (`None` below two
    /// orders); an even count takes the mean of the middle two.
    pub fn median_interval_ms(&self) -> Option<Millis> {
        let mut gaps: Vec<Millis> = self
            .order_times
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .collect();
        if gaps.is_empty() {
            return None;
        }
        gaps.sort_unstable();
        let n = gaps.len();
        Some(if n % 2 == 1 {
            gaps[n / 2]
        } else {
            ((i128::from(gaps[n / 2 - 1]) + i128::from(gaps[n / 2])) / 2) as Millis
        })
    }

    /// When the current lapse starts: the last order + max(`factor` × median interval,
    /// floor). `None` below two orders, or when this lapse already had its win-back.
    pub fn win_back_due_ms(&self, r: &WinBackRules) -> Option<Millis> {
        let last = self.last_order_ms()?;
        if self.win_back_sent_for_ms == Some(last) {
            return None;
        }
        let median = self.median_interval_ms()?;
        let scaled = (median as f64 * r.factor).min(i64::MAX as f64) as Millis;
        Some(last.saturating_add(scaled.max(r.min_interval_ms)))
    }

    /// Whether the win-back is due at `at` (then [`Lapse::mark_win_back`] once it is
    /// offered).
    pub fn win_back_due_now(&self, at: Millis, r: &WinBackRules) -> bool {
        self.win_back_due_ms(r).is_some_and(|due| due <= at)
    }

    /// This lapse had its win-back (or had nothing to offer): none again until an order.
    pub fn mark_win_back(&mut self) {
        self.win_back_sent_for_ms = self.last_order_ms();
    }

    /// The next birthday message time at or after the local day of `from`: the birthday
    /// (February 28 for a February 29 birthday outside leap years) at `send_at` local,
    /// in a year that had none yet. A birthday whose day has passed locally waits for
    /// next year; on the day, a send time already past is due at once (`<= from`).
    pub fn birthday_due_ms(&self, from: Millis, tz: Tz, r: &BirthdayRules) -> Option<Millis> {
        let bday = self.birthday?;
        let today = local_date(from, tz)?;
        let at = NaiveTime::from_hms_opt(
            u32::from(r.send_at_min / 60),
            u32::from(r.send_at_min % 60),
            0,
        )?;
        for year in today.year()..=today.year() + 1 {
            if self.birthday_sent_year.is_some_and(|y| y >= year) {
                continue;
            }
            let Some(day) = bday.in_year(year) else {
                continue;
            };
            if day < today {
                continue;
            }
            return instants_at(tz, day.and_time(at)).map(|(early, _)| early);
        }
        None
    }

    /// The local year whose birthday message is due at `at`: it is the birthday there,
    /// the send time has come, and that year had none yet.
    pub fn birthday_due_now(&self, at: Millis, tz: Tz, r: &BirthdayRules) -> Option<i32> {
        let today = local_date(at, tz)?;
        let due = self.birthday_due_ms(at, tz, r)?;
        let day = self.birthday?.in_year(today.year())?;
        (due <= at && day == today).then_some(today.year())
    }

    pub fn mark_birthday(&mut self, year: i32) {
        self.birthday_sent_year = Some(self.birthday_sent_year.map_or(year, |y| y.max(year)));
    }

    /// When the lapse timer should next fire: the earlier of the win-back and the
    /// birthday, never before `now`.
    pub fn next_due_ms(&self, now: Millis, tz: Tz, r: &LapseRules) -> Option<Millis> {
        let win_back = self.win_back_due_ms(&r.win_back);
        let birthday = self.birthday_due_ms(now, tz, &r.birthday);
        win_back
            .into_iter()
            .chain(birthday)
            .min()
            .map(|t| t.max(now))
    }
}

#[cfg(test)]
mod tests;
