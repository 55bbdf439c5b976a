//! Quiet hours in the customer's own time zone: is "now" inside the window, and when
//! (as a UTC instant) does it end. Also parses the config values quiet hours need: an
//! IANA zone name and an `HH:MM` wall-clock time.

use chrono::{
    DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::Millis;

const MIN_PER_DAY: u16 = 24 * 60;
/// Longest DST/zone gap we step over; Pacific/Apia skipped a whole day in 2011.
const MAX_GAP_MIN: u32 = 2 * 24 * 60;

/// A daily window `[start, end)` of local minutes after midnight. `start > end` wraps
/// midnight (21:00–08:00); `start == end` means no quiet hours at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QuietHours {
    pub start_min: u16,
    pub end_min: u16,
}

impl QuietHours {
    /// From two `HH:MM` strings, e.g. `("21:00", "08:00")`.
    pub fn from_hhmm(start: &str, end: &str) -> Result<Self, String> {
        Ok(QuietHours {
            start_min: parse_hhmm(start)?,
            end_min: parse_hhmm(end)?,
        })
    }

    /// Whether a local minute-of-day lies in the window. Values of 1440 and above are
    /// taken modulo a day, so a hand-built struct cannot make the window misbehave.
    pub fn contains_minute(&self, minute_of_day: u16) -> bool {
        let (s, e) = (self.start_min % MIN_PER_DAY, self.end_min % MIN_PER_DAY);
        let m = minute_of_day % MIN_PER_DAY;
        match s.cmp(&e) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => s <= m && m < e,
            std::cmp::Ordering::Greater => m >= s || m < e,
        }
    }

    /// Whether the instant `at_ms` is inside the window in zone `tz`.
    pub fn contains(&self, at_ms: Millis, tz: Tz) -> bool {
        local(at_ms, tz).is_some_and(|l| self.contains_minute(minute_of_day(&l)))
    }
}

fn local(at_ms: Millis, tz: Tz) -> Option<DateTime<Tz>> {
    DateTime::from_timestamp_millis(at_ms).map(|u| u.with_timezone(&tz))
}

fn minute_of_day(l: &DateTime<Tz>) -> u16 {
    // hour < 24 and minute < 60, so this always fits.
    (l.hour() * 60 + l.minute()) as u16
}

/// The instants at which the local wall clock reads `naive`: `(earliest, latest)`, equal
/// unless the time is repeated by a fall-back. A time inside a spring-forward gap does not
/// exist; then both are the first whole local minute after the gap (the transition itself
/// for every zone whose transitions fall on a minute, which is all of them since 1970).
pub(crate) fn instants_at(tz: Tz, naive: NaiveDateTime) -> Option<(Millis, Millis)> {
    let mut probe = naive;
    for _ in 0..=MAX_GAP_MIN {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return Some((t.timestamp_millis(), t.timestamp_millis())),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.timestamp_millis(), b.timestamp_millis());
                return Some((a.min(b), a.max(b)));
            }
            LocalResult::None => probe = probe.checked_add_signed(chrono::TimeDelta::minutes(1))?,
        }
    }
    None
}

/// The local calendar date of `at_ms` in `tz`.
pub(crate) fn local_date(at_ms: Millis, tz: Tz) -> Option<NaiveDate> {
    local(at_ms, tz).map(|l| l.date_naive())
}

/// If `now_ms` is inside the quiet window in `tz`, the UTC instant it ends: the first
/// instant after `now_ms` at which the local clock is outside the window. That is normally
/// the next time the clock reads `end_min`. DST: an end time skipped by spring-forward ends
/// at the first instant after the gap, unless the clock lands inside the window again (then
/// the next day's end); one repeated by fall-back ends at its first occurrence after
/// `now_ms`; and a transition that sets the clock back to before the window's start
/// (Antarctica/Troll falls back two hours, 03:00 to 01:00) ends it at the transition
/// itself. `None` when not quiet (or `now_ms` is outside chrono's range).
pub fn quiet_until(now_ms: Millis, tz: Tz, q: &QuietHours) -> Option<Millis> {
    let now = local(now_ms, tz)?;
    if !q.contains_minute(minute_of_day(&now)) {
        return None;
    }
    let end_min = u32::from(q.end_min % MIN_PER_DAY);
    let end = NaiveTime::from_hms_opt(end_min / 60, end_min % 60, 0)?;
    let today = now.date_naive();
    // Each time the clock reads `end` is a candidate, in order. One can still be quiet:
    // America/Nuuk sprang forward 22:00 to 23:00 on 2017-03-25, so a 22:46-22:00 window
    // never ended that day. The window lasts under a day, but a skipped calendar day can
    // push its end to d+2, and a skipped end to the day after.
    let mut from = now_ms;
    for k in 0..4u64 {
        let day = today.checked_add_days(Days::new(k))?;
        let Some((early, late)) = instants_at(tz, day.and_time(end)) else {
            continue;
        };
        for t in [early, late] {
            if t <= from {
                continue;
            }
            if let Some(out) = first_transition_out(from, t, tz, q) {
                return Some(out);
            }
            if !q.contains(t, tz) {
                return Some(t);
            }
            from = t;
        }
    }
    None
}

/// The first zone transition in `(from, to)` after which the local clock is outside `q`.
/// Walks the span an hour at a time (zones change offset at most a few times a year, never
/// twice within an hour) and bisects each hour whose offset differs to the millisecond.
fn first_transition_out(from: Millis, to: Millis, tz: Tz, q: &QuietHours) -> Option<Millis> {
    const HOUR_MS: Millis = 3_600_000;
    let offset = |t: Millis| local(t, tz).map(|l| l.offset().fix().local_minus_utc());
    let mut lo = from;
    let mut lo_offset = offset(lo)?;
    while lo < to {
        let hi = lo.saturating_add(HOUR_MS).min(to);
        if offset(hi)? == lo_offset {
            lo = hi;
            continue;
        }
        // offset(lo) == lo_offset != offset(hi): bisect to the first differing instant.
        let (mut a, mut b) = (lo, hi);
        while b - a > 1 {
            let mid = a + (b - a) / 2;
            if offset(mid)? == lo_offset {
                a = mid;
            } else {
                b = mid;
            }
        }
        if b < to && !q.contains(b, tz) {
            return Some(b);
        }
        lo = b;
        lo_offset = offset(b)?;
    }
    None
}

/// When a message wanted at `now_ms` may go out: the end of quiet hours, or `now_ms`.
pub fn release_time(now_ms: Millis, tz: Tz, q: &QuietHours) -> Millis {
    quiet_until(now_ms, tz, q).unwrap_or(now_ms)
}

/// Parses an IANA zone name (`Asia/Tokyo`). The error names the fix, suggesting the full
/// name when the input is just a city (`Tokyo`, `new york`).
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err("time zone is empty: use an IANA name such as \"Asia/Tokyo\"".to_string());
    }
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(tz);
    }
    let wanted = trimmed.replace(' ', "_");
    let suggestion = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .find(|full| {
            full.eq_ignore_ascii_case(&wanted)
                || full
                    .rsplit('/')
                    .next()
                    .is_some_and(|city| city.eq_ignore_ascii_case(&wanted))
        })
        .unwrap_or("Asia/Tokyo");
    Err(format!(
        "unknown time zone \"{name}\": use an IANA name such as \"{suggestion}\""
    ))
}

/// Parses a wall-clock `HH:MM` (24-hour, `H:MM` accepted) into minutes after midnight.
pub fn parse_hhmm(s: &str) -> Result<u16, String> {
    let bad = |why: &str| format!("time \"{s}\": {why}; use HH:MM such as \"21:00\"");
    let (h, m) = s.trim().split_once(':').ok_or_else(|| bad("missing ':'"))?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return Err(bad("hour and minute must be numbers"));
    }
    let h: u16 = h.parse().map_err(|_| bad("hour is not a number"))?;
    let m: u16 = m.parse().map_err(|_| bad("minute is not a number"))?;
    if h > 23 {
        return Err(bad("hour must be 00-23"));
    }
    if m > 59 {
        return Err(bad("minute must be 00-59"));
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
#[path = "quiet_tests.rs"]
mod tests;
