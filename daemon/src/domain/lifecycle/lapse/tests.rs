use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::*;

const DAY: Millis = 86_400_000;
const T0: Millis = 1_780_000_000_000;

fn rules(factor: f64, floor_days: i64) -> WinBackRules {
    WinBackRules {
        factor,
        min_interval_ms: floor_days * DAY,
        max_items: 4,
    }
}

fn with_orders(days: &[i64]) -> Lapse {
    let mut l = Lapse::default();
    for d in days {
        l.record_order(T0 + d * DAY);
    }
    l
}

fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> Millis {
    tz.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("a real local time")
        .timestamp_millis()
}

fn birthday(md: &str) -> Lapse {
    Lapse {
        birthday: Some(MonthDay::parse(md).expect("month-day")),
        ..Lapse::default()
    }
}

const NINE: BirthdayRules = BirthdayRules {
    send_at_min: 9 * 60,
    coupon_code: None,
};

#[test]
fn the_median_interval_is_the_customers_own() {
    assert_eq!(with_orders(&[]).median_interval_ms(), None);
    assert_eq!(with_orders(&[0]).median_interval_ms(), None);
    // Intervals 10, 30, 20: median 20 whatever the order they came in.
    assert_eq!(
        with_orders(&[60, 0, 10, 40]).median_interval_ms(),
        Some(20 * DAY)
    );
    // An even count: the mean of the middle two (10 and 31).
    assert_eq!(
        with_orders(&[0, 10, 41, 42, 142]).median_interval_ms(),
        Some(20 * DAY + DAY / 2)
    );
    // Only the newest ORDERS_KEPT count: the early yearly habit is forgotten.
    let mut days: Vec<i64> = vec![0, 365, 730];
    days.extend((0..ORDERS_KEPT as i64).map(|i| 1000 + 7 * i));
    let l = with_orders(&days);
    assert_eq!(l.order_times.len(), ORDERS_KEPT);
    assert_eq!(l.median_interval_ms(), Some(7 * DAY));
}

#[test]
fn the_lapse_starts_after_factor_times_the_median_with_a_floor() {
    let l = with_orders(&[0, 30, 60]);
    assert_eq!(l.win_back_due_ms(&rules(1.5, 14)), Some(T0 + 105 * DAY));
    // A customer who buys every 2 days lapses at the floor, not after 3 days.
    let quick = with_orders(&[0, 2, 4]);
    assert_eq!(quick.win_back_due_ms(&rules(1.5, 14)), Some(T0 + 18 * DAY));
    assert!(!quick.win_back_due_now(T0 + 18 * DAY - 1, &rules(1.5, 14)));
    assert!(quick.win_back_due_now(T0 + 18 * DAY, &rules(1.5, 14)));
    // One order: no interval of their own, no win-back.
    assert_eq!(with_orders(&[0]).win_back_due_ms(&rules(1.5, 14)), None);
}

#[test]
fn one_win_back_per_lapse_and_a_new_order_starts_a_new_one() {
    let r = rules(1.5, 1);
    let mut l = with_orders(&[0, 10]);
    assert!(l.win_back_due_now(T0 + 25 * DAY, &r));
    l.mark_win_back();
    assert!(!l.win_back_due_now(T0 + 25 * DAY, &r));
    assert!(!l.win_back_due_now(T0 + 400 * DAY, &r), "never twice");
    assert_eq!(l.win_back_due_ms(&r), None);
    // An order reported late (before the last one) does not end the lapse.
    l.record_order(T0 + 5 * DAY);
    assert_eq!(l.win_back_due_ms(&r), None);
    // A new order does: the next lapse has its own win-back.
    l.record_order(T0 + 30 * DAY);
    let due = l.win_back_due_ms(&r).expect("a new lapse");
    assert!(due > T0 + 30 * DAY);
    assert!(l.win_back_due_now(due, &r));
}

#[test]
fn month_days_parse_both_forms_and_name_the_fix() {
    assert_eq!(
        MonthDay::parse("12-24"),
        Ok(MonthDay { month: 12, day: 24 })
    );
    assert_eq!(
        MonthDay::parse("--02-29"),
        Ok(MonthDay { month: 2, day: 29 })
    );
    for bad in ["", "1224", "12/24", "2-4", "13-01", "04-31", "1990-12-24"] {
        let err = MonthDay::parse(bad).expect_err(bad);
        assert!(err.contains("MM-DD"), "{bad}: {err}");
    }
    assert_eq!(MonthDay { month: 3, day: 7 }.as_string(), "03-07");
}

#[test]
fn february_29_is_february_28_in_other_years() {
    let md = MonthDay { month: 2, day: 29 };
    assert_eq!(md.in_year(2028), NaiveDate::from_ymd_opt(2028, 2, 29));
    assert_eq!(md.in_year(2027), NaiveDate::from_ymd_opt(2027, 2, 28));
    let tz = Tz::UTC;
    let l = birthday("02-29");
    assert_eq!(
        l.birthday_due_ms(at(tz, 2027, 1, 10, 0, 0), tz, &NINE),
        Some(at(tz, 2027, 2, 28, 9, 0))
    );
    assert_eq!(
        l.birthday_due_now(at(tz, 2027, 2, 28, 9, 30), tz, &NINE),
        Some(2027)
    );
    assert_eq!(
        l.birthday_due_ms(at(tz, 2028, 1, 10, 0, 0), tz, &NINE),
        Some(at(tz, 2028, 2, 29, 9, 0))
    );
}

#[test]
fn the_birthday_is_the_day_in_the_customers_zone() {
    let tokyo: Tz = "Asia/Tokyo".parse().expect("zone");
    let honolulu: Tz = "Pacific/Honolulu".parse().expect("zone");
    let l = birthday("12-24");
    // 2026-12-24 02:00 UTC: 11:00 on the 24th in Tokyo, 16:00 on the 23rd in Honolulu.
    let now = at(Tz::UTC, 2026, 12, 24, 2, 0);
    assert_eq!(l.birthday_due_now(now, tokyo, &NINE), Some(2026));
    assert_eq!(l.birthday_due_now(now, honolulu, &NINE), None);
    assert_eq!(
        l.birthday_due_ms(now, honolulu, &NINE),
        Some(at(honolulu, 2026, 12, 24, 9, 0))
    );
    // On the day but before the send time: at the send time.
    let early = at(tokyo, 2026, 12, 24, 7, 0);
    assert_eq!(l.birthday_due_now(early, tokyo, &NINE), None);
    assert_eq!(
        l.birthday_due_ms(early, tokyo, &NINE),
        Some(at(tokyo, 2026, 12, 24, 9, 0))
    );
    // The day passed: next year.
    assert_eq!(
        l.birthday_due_ms(at(tokyo, 2026, 12, 25, 0, 0), tokyo, &NINE),
        Some(at(tokyo, 2027, 12, 24, 9, 0))
    );
}

#[test]
fn one_birthday_message_per_year() {
    let tz = Tz::UTC;
    let mut l = birthday("06-01");
    let on_the_day = at(tz, 2027, 6, 1, 10, 0);
    assert_eq!(l.birthday_due_now(on_the_day, tz, &NINE), Some(2027));
    l.mark_birthday(2027);
    assert_eq!(l.birthday_due_now(on_the_day, tz, &NINE), None);
    assert_eq!(l.birthday_due_now(on_the_day + 3_600_000, tz, &NINE), None);
    assert_eq!(
        l.birthday_due_ms(on_the_day, tz, &NINE),
        Some(at(tz, 2028, 6, 1, 9, 0))
    );
    assert_eq!(
        l.birthday_due_now(at(tz, 2028, 6, 1, 9, 0), tz, &NINE),
        Some(2028)
    );
}

#[test]
fn the_timer_fires_at_the_earlier_of_the_two_never_before_now() {
    let tz = Tz::UTC;
    let r = LapseRules::default();
    let mut l = with_orders(&[0, 30]);
    l.birthday = Some(MonthDay { month: 12, day: 31 });
    let now = T0 + 31 * DAY;
    let win_back = l.win_back_due_ms(&r.win_back).expect("due");
    let bday = l.birthday_due_ms(now, tz, &r.birthday).expect("due");
    assert_eq!(l.next_due_ms(now, tz, &r), Some(win_back.min(bday)));
    // A lapse that started long ago fires now, not in the past.
    assert_eq!(l.next_due_ms(T0 + 400 * DAY, tz, &r), Some(T0 + 400 * DAY));
    assert_eq!(Lapse::default().next_due_ms(now, tz, &r), None);
}
