use super::*;
use chrono::{Offset, Utc};
use chrono_tz::{America::New_York, Asia::Tokyo};
use proptest::prelude::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .timestamp_millis()
}

fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .unwrap()
        .timestamp_millis()
}

fn q(start: &str, end: &str) -> QuietHours {
    QuietHours::from_hhmm(start, end).unwrap()
}

#[test]
fn tokyo_wrapping_window_ends_next_morning() {
    let night = q("21:00", "08:00");
    let next_8 = at(Tokyo, 2024, 5, 2, 8, 0);
    assert_eq!(
        quiet_until(at(Tokyo, 2024, 5, 1, 22, 0), Tokyo, &night),
        Some(next_8)
    );
    assert_eq!(
        quiet_until(at(Tokyo, 2024, 5, 1, 21, 0), Tokyo, &night),
        Some(next_8)
    );
    // After midnight the end is the same local day.
    assert_eq!(
        quiet_until(at(Tokyo, 2024, 5, 2, 0, 0), Tokyo, &night),
        Some(next_8)
    );
    assert_eq!(quiet_until(next_8 - 1, Tokyo, &night), Some(next_8));
    assert_eq!(quiet_until(next_8, Tokyo, &night), None);
    assert_eq!(
        quiet_until(at(Tokyo, 2024, 5, 1, 20, 59), Tokyo, &night),
        None
    );
    // 22:00 JST is 13:00 UTC: the zone, not UTC, decides.
    assert_eq!(at(Tokyo, 2024, 5, 1, 22, 0), utc(2024, 5, 1, 13, 0));
    assert_eq!(next_8, utc(2024, 5, 1, 23, 0));
}

#[test]
fn non_wrapping_window_and_empty_window() {
    let lunch = q("12:00", "13:30");
    assert_eq!(
        quiet_until(at(Tokyo, 2024, 1, 1, 12, 15), Tokyo, &lunch),
        Some(at(Tokyo, 2024, 1, 1, 13, 30))
    );
    assert_eq!(
        quiet_until(at(Tokyo, 2024, 1, 1, 11, 59), Tokyo, &lunch),
        None
    );
    assert_eq!(
        quiet_until(at(Tokyo, 2024, 1, 1, 13, 30), Tokyo, &lunch),
        None
    );
    let none = q("09:00", "09:00");
    for h in 0..24 {
        assert_eq!(quiet_until(at(Tokyo, 2024, 1, 1, h, 0), Tokyo, &none), None);
    }
    assert_eq!(release_time(42, Tokyo, &none), 42);
}

#[test]
fn new_york_end_skipped_by_spring_forward_ends_after_the_gap() {
    // 2024-03-10: 02:00 EST jumps to 03:00 EDT, so 02:30 never happens.
    let w = q("01:00", "02:30");
    let now = utc(2024, 3, 10, 6, 45); // 01:45 EST
    assert_eq!(quiet_until(now, New_York, &w), Some(utc(2024, 3, 10, 7, 0))); // 03:00 EDT
}

#[test]
fn new_york_wrapping_window_across_spring_forward() {
    let night = q("21:00", "08:00");
    let now = utc(2024, 3, 10, 3, 0); // 22:00 EST on the 9th
    assert_eq!(
        quiet_until(now, New_York, &night),
        Some(utc(2024, 3, 10, 12, 0))
    ); // 08:00 EDT
}

#[test]
fn new_york_end_repeated_by_fall_back_uses_next_occurrence() {
    // 2024-11-03: 02:00 EDT falls back to 01:00 EST; 01:00-01:59 happens twice.
    let w = q("00:00", "01:30");
    // 01:10 EDT: the first 01:30 (EDT) ends it.
    assert_eq!(
        quiet_until(utc(2024, 11, 3, 5, 10), New_York, &w),
        Some(utc(2024, 11, 3, 5, 30))
    );
    // 01:45 EDT is outside; 01:10 EST is quiet again until 01:30 EST.
    assert_eq!(quiet_until(utc(2024, 11, 3, 5, 45), New_York, &w), None);
    assert_eq!(
        quiet_until(utc(2024, 11, 3, 6, 10), New_York, &w),
        Some(utc(2024, 11, 3, 6, 30))
    );
}

/// Found by the property test below in CI: Troll falls back two hours (03:00 +02 to
/// 01:00 +00). A 01:32-03:00 window entered at 01:52 +02 ends at the transition, when the
/// clock reads 01:00 again, not at 03:00 +00 two hours later (01:00-01:32 is not quiet).
#[test]
fn troll_fall_back_before_the_window_start_ends_the_window_at_the_transition() {
    let troll: Tz = "Antarctica/Troll".parse().unwrap();
    let w = QuietHours {
        start_min: 92,
        end_min: 180,
    };
    let now = utc(2005, 10, 29, 23, 52);
    assert!(w.contains(now, troll));
    let transition = utc(2005, 10, 30, 1, 0);
    assert_eq!(quiet_until(now, troll, &w), Some(transition));
    assert!(!w.contains(transition, troll));
    assert!(w.contains(transition - 1, troll));
}

/// Also from the property test: Nuuk sprang forward 22:00 to 23:00 (-03 to -02) on
/// 2017-03-25. A 22:46-22:00 window never ended that evening (the clock skipped the only
/// free minutes), so it ends at 22:00 the next day.
#[test]
fn nuuk_spring_forward_over_the_free_minutes_ends_the_window_a_day_later() {
    let nuuk: Tz = "America/Nuuk".parse().unwrap();
    let w = QuietHours {
        start_min: 1366,
        end_min: 1320,
    };
    let now = utc(2017, 3, 25, 1, 53);
    assert!(w.contains(now, nuuk));
    let next_evening = at(nuuk, 2017, 3, 26, 22, 0);
    assert_eq!(next_evening, utc(2017, 3, 27, 0, 0));
    assert_eq!(quiet_until(now, nuuk, &w), Some(next_evening));
}

#[test]
fn parse_tz_accepts_iana_and_suggests_a_fix() {
    assert_eq!(parse_tz("Asia/Tokyo"), Ok(Tokyo));
    assert_eq!(parse_tz(" America/New_York "), Ok(New_York));
    let e = parse_tz("Tokyo").unwrap_err();
    assert_eq!(
        e,
        "unknown time zone \"Tokyo\": use an IANA name such as \"Asia/Tokyo\""
    );
    assert!(parse_tz("new york")
        .unwrap_err()
        .contains("\"America/New_York\""));
    assert!(parse_tz("Mars/Olympus").unwrap_err().contains("IANA"));
    assert!(parse_tz("").unwrap_err().contains("empty"));
}

#[test]
fn parse_hhmm_accepts_wall_clock_times_only() {
    assert_eq!(parse_hhmm("21:00"), Ok(1260));
    assert_eq!(parse_hhmm("08:00"), Ok(480));
    assert_eq!(parse_hhmm("8:05"), Ok(485));
    assert_eq!(parse_hhmm("00:00"), Ok(0));
    assert_eq!(parse_hhmm("23:59"), Ok(1439));
    for bad in [
        "24:00", "21:60", "2100", "", ":00", "21:0", "-1:00", "+8:00", "aa:bb", "123:00",
    ] {
        let e = parse_hhmm(bad).unwrap_err();
        assert!(e.contains("HH:MM"), "{bad}: {e}");
        assert!(e.contains(&format!("\"{bad}\"")), "{bad}: {e}");
    }
    assert!(parse_hhmm("25:00")
        .unwrap_err()
        .contains("hour must be 00-23"));
}

#[test]
fn contains_minute_wraps_and_normalises() {
    let night = QuietHours {
        start_min: 1260,
        end_min: 480,
    };
    assert!(night.contains_minute(1260) && night.contains_minute(0) && night.contains_minute(479));
    assert!(!night.contains_minute(480) && !night.contains_minute(1259));
    let odd = QuietHours {
        start_min: 1260 + 1440,
        end_min: 480,
    };
    assert_eq!(odd.contains_minute(100), night.contains_minute(100));
}

fn any_zone() -> impl Strategy<Value = Tz> {
    (0..chrono_tz::TZ_VARIANTS.len()).prop_map(|i| chrono_tz::TZ_VARIANTS[i])
}

fn offset_at(t: Millis, tz: Tz) -> i32 {
    let u = DateTime::from_timestamp_millis(t).unwrap();
    tz.offset_from_utc_datetime(&u.naive_utc())
        .fix()
        .local_minus_utc()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// (d) A deferred message is released at the first instant outside the window.
    #[test]
    fn release_time_never_lands_in_quiet_hours(
        tz in any_zone(),
        now in 0i64..4_102_444_800_000, // 1970..2100
        start in 0u16..1440,
        end in 0u16..1440,
    ) {
        let w = QuietHours { start_min: start, end_min: end };
        let r = release_time(now, tz, &w);
        prop_assert!(!w.contains(r, tz), "released at {r} inside {w:?} in {tz}");
        prop_assert!(r >= now);
        prop_assert_eq!(r > now, w.contains(now, tz));
        if r > now {
            prop_assert!(r - now <= 2 * 86_400_000, "deferred too long: {}", r - now);
            // Quiet all the way from now until the release.
            for k in 0..16 {
                let t = now + (r - now) * k / 16;
                prop_assert!(w.contains(t, tz), "not quiet at {t}, yet released only at {r}");
            }
            // It is the window's end, not some later instant: the moment before was quiet
            // (unless a zone transition sits right there).
            if offset_at(r - 1, tz) == offset_at(r, tz) {
                prop_assert!(w.contains(r - 1, tz));
            }
        }
    }
}
