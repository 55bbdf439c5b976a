//! The `order` template variable: an order message's lines, each with its promised ship
//! window as an honest range of local dates ("between 12 and 19 December", "12月12日〜
//! 19日") or "not known yet", never one date the shop did not promise; plus the delay
//! reason, the parcel, and the cancel, review and coupon the message offers. Shaped so a
//! template needs no date logic.

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::customer::{Locale, Scenario};
use crate::domain::message::{OrderContext, OrderLineContext, ShipmentContext};
use crate::domain::order::{Promise, ShipWindow};
use crate::domain::Millis;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A promise as templates show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromiseVars {
    /// "window", "unknown" (the shop said it does not know yet) or "none" (no promise).
    pub kind: &'static str,
    /// The window is one local day.
    pub single: bool,
    /// The window's ends as local dates, the shared month / year written once:
    /// en "12" and "19 December", ja "12月12日" and "19日". Empty unless a window.
    pub from: String,
    pub to: String,
    /// The whole promise in words: en "between 12 and 19 December", "on 12 December",
    /// "not known yet"; ja "12月12日〜19日", "12月12日", "未定". Empty for "none".
    pub text: String,
}

/// One order line as templates show it.
#[derive(Debug, Clone, Serialize)]
pub struct LineVars<'a> {
    pub sku: &'a str,
    pub title: &'a str,
    pub quantity: i64,
    pub url: &'a str,
    pub image_url: &'a str,
    pub waited: bool,
    pub promise: PromiseVars,
}

/// The `order` variable.
#[derive(Debug, Clone, Serialize)]
pub struct OrderVars<'a> {
    pub id: &'a str,
    pub lines: Vec<LineVars<'a>>,
    /// Some line waited as a backorder ("finally on its way") ...
    pub waited: bool,
    /// ... or every one did (then it is said once for all).
    pub all_waited: bool,
    /// This scenario shows each line's promise (confirmation, update, delay).
    pub show_promise: bool,
    /// The promise every line shares, or `None` when they differ.
    pub promise: Option<PromiseVars>,
    pub reason: &'a str,
    pub carrier: &'a str,
    pub tracking_number: &'a str,
    pub tracking_url: &'a str,
    pub cancel_url: &'a str,
    pub review_url: &'a str,
    pub coupon_code: &'a str,
}

fn local_date(ms: Millis, tz: Tz) -> Option<NaiveDate> {
    DateTime::from_timestamp_millis(ms).map(|u| u.with_timezone(&tz).date_naive())
}

fn month_en(d: NaiveDate) -> &'static str {
    MONTHS.get(d.month0() as usize).copied().unwrap_or("")
}

/// A window's two ends as local dates in `locale`, writing the shared month and year once
/// (`None` if a time is outside the calendar).
fn window(w: ShipWindow, tz: Tz, locale: Locale) -> Option<PromiseVars> {
    let (a, b) = (local_date(w.earliest_ms, tz)?, local_date(w.latest_ms, tz)?);
    let single = a == b;
    let (same_year, same_month) = (a.year() == b.year(), a.month() == b.month());
    let (from, to) = match locale {
        Locale::En => {
            let full = |d: NaiveDate| format!("{} {} {}", d.day(), month_en(d), d.year());
            let day_month = |d: NaiveDate| format!("{} {}", d.day(), month_en(d));
            match (same_year, same_month) {
                (true, true) => (a.day().to_string(), day_month(b)),
                (true, false) => (day_month(a), day_month(b)),
                (false, _) => (full(a), full(b)),
            }
        }
        Locale::Ja => {
            let full = |d: NaiveDate| format!("{}年{}月{}日", d.year(), d.month(), d.day());
            let month_day = |d: NaiveDate| format!("{}月{}日", d.month(), d.day());
            match (same_year, same_month) {
                (true, true) => (month_day(a), format!("{}日", b.day())),
                (true, false) => (month_day(a), month_day(b)),
                (false, _) => (full(a), full(b)),
            }
        }
    };
    let text = match (locale, single) {
        (Locale::En, true) => format!("on {to}"),
        (Locale::En, false) => format!("between {from} and {to}"),
        (Locale::Ja, true) => from.clone(),
        (Locale::Ja, false) => format!("{from}〜{to}"),
    };
    Some(PromiseVars {
        kind: "window",
        single,
        from: if single { String::new() } else { from },
        to: if single && locale == Locale::Ja {
            text.clone()
        } else {
            to
        },
        text,
    })
}

/// A promise as templates show it; a window outside the calendar reads as unknown.
pub fn promise(p: Promise, tz: Tz, locale: Locale) -> PromiseVars {
    let unknown = || PromiseVars {
        kind: "unknown",
        single: false,
        from: String::new(),
        to: String::new(),
        text: match locale {
            Locale::En => "not known yet".into(),
            Locale::Ja => "未定".into(),
        },
    };
    match p {
        Promise::Window(w) => window(w, tz, locale).unwrap_or_else(unknown),
        Promise::Unknown => unknown(),
        Promise::None => PromiseVars {
            kind: "none",
            single: false,
            from: String::new(),
            to: String::new(),
            text: String::new(),
        },
    }
}

fn line<'a>(l: &'a OrderLineContext, tz: Tz, locale: Locale) -> LineVars<'a> {
    LineVars {
        sku: &l.sku,
        title: &l.title,
        quantity: l.quantity,
        url: &l.url,
        image_url: &l.image_url,
        waited: l.waited,
        promise: promise(l.promise, tz, locale),
    }
}

/// The `order` variable of a message of `scenario`. Dates are local to the order's time
/// zone (UTC if it names none the calendar knows).
pub fn vars<'a>(o: &'a OrderContext, scenario: Scenario, locale: Locale) -> OrderVars<'a> {
    let tz: Tz = o.time_zone.parse().unwrap_or(Tz::UTC);
    let lines: Vec<LineVars<'a>> = o.lines.iter().map(|l| line(l, tz, locale)).collect();
    let shared = lines.first().map(|l| l.promise.clone());
    let promise = shared.filter(|p| lines.iter().all(|l| l.promise == *p));
    let shipment = o.shipment.as_ref();
    OrderVars {
        id: &o.order_id,
        waited: lines.iter().any(|l| l.waited),
        all_waited: lines.iter().all(|l| l.waited),
        lines,
        show_promise: matches!(
            scenario,
            Scenario::BackorderConfirmation | Scenario::BackorderUpdate | Scenario::Delayed
        ),
        promise,
        reason: &o.delay_reason,
        carrier: shipment.map_or("", |s| &s.carrier),
        tracking_number: shipment.map_or("", |s| &s.tracking_number),
        tracking_url: shipment.map_or("", |s| &s.tracking_url),
        cancel_url: &o.cancel_url,
        review_url: &o.review_url,
        coupon_code: &o.coupon_code,
    }
}

/// An order with every optional part set, so a self-check renders every branch that
/// uses one.
pub fn sample() -> OrderContext {
    let line = |id: &str, promise| OrderLineContext {
        line_id: id.into(),
        sku: format!("SKU-{id}"),
        title: "Sample".into(),
        quantity: 1,
        url: "https://shop.example/p/1".into(),
        image_url: "https://shop.example/i/1.jpg".into(),
        promise,
        waited: true,
    };
    OrderContext {
        order_id: "sample".into(),
        time_zone: "Asia/Tokyo".into(),
        lines: vec![
            line(
                "1",
                Promise::Window(ShipWindow {
                    earliest_ms: 1_702_339_200_000,
                    latest_ms: 1_702_944_000_000,
                }),
            ),
            line("2", Promise::Unknown),
        ],
        delay_reason: "sample".into(),
        shipment: Some(ShipmentContext {
            carrier: "sample".into(),
            tracking_number: "1".into(),
            tracking_url: "https://track.example/1".into(),
        }),
        cancel_url: "https://shop.example/cancel/sample".into(),
        review_url: "https://shop.example/review/sample".into(),
        coupon_code: "SAMPLE".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32) -> Millis {
        tz.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("a plain local time")
            .timestamp_millis()
    }

    fn text(from: (i32, u32, u32), to: (i32, u32, u32), locale: Locale) -> String {
        let tz = chrono_tz::Asia::Tokyo;
        let w = ShipWindow {
            earliest_ms: at(tz, from.0, from.1, from.2, 10),
            latest_ms: at(tz, to.0, to.1, to.2, 18),
        };
        promise(Promise::Window(w), tz, locale).text
    }

    #[test]
    fn windows_read_as_ranges_with_the_shared_month_once() {
        let en = |a, b| text(a, b, Locale::En);
        let ja = |a, b| text(a, b, Locale::Ja);
        assert_eq!(
            en((2024, 12, 12), (2024, 12, 19)),
            "between 12 and 19 December"
        );
        assert_eq!(ja((2024, 12, 12), (2024, 12, 19)), "12月12日〜19日");
        assert_eq!(
            en((2024, 11, 28), (2024, 12, 4)),
            "between 28 November and 4 December"
        );
        assert_eq!(ja((2024, 11, 28), (2024, 12, 4)), "11月28日〜12月4日");
        assert_eq!(
            en((2024, 12, 28), (2025, 1, 4)),
            "between 28 December 2024 and 4 January 2025"
        );
        assert_eq!(
            ja((2024, 12, 28), (2025, 1, 4)),
            "2024年12月28日〜2025年1月4日"
        );
        // A one-day window is the one date the shop did promise.
        assert_eq!(en((2024, 12, 12), (2024, 12, 12)), "on 12 December");
        assert_eq!(ja((2024, 12, 12), (2024, 12, 12)), "12月12日");
    }

    #[test]
    fn dates_are_local_to_the_customer() {
        // 2024-12-11 20:00 UTC is already 12 December in Tokyo.
        let w = ShipWindow {
            earliest_ms: at(Tz::UTC, 2024, 12, 11, 20),
            latest_ms: at(Tz::UTC, 2024, 12, 18, 20),
        };
        let tokyo = promise(Promise::Window(w), chrono_tz::Asia::Tokyo, Locale::En);
        assert_eq!(tokyo.text, "between 12 and 19 December");
        let utc = promise(Promise::Window(w), Tz::UTC, Locale::En);
        assert_eq!(utc.text, "between 11 and 18 December");
    }

    #[test]
    fn unknown_and_no_promise() {
        let tz = Tz::UTC;
        let u = promise(Promise::Unknown, tz, Locale::En);
        assert_eq!((u.kind, u.text.as_str()), ("unknown", "not known yet"));
        assert_eq!(promise(Promise::Unknown, tz, Locale::Ja).text, "未定");
        let n = promise(Promise::None, tz, Locale::Ja);
        assert_eq!((n.kind, n.text.as_str()), ("none", ""));
        let absurd = ShipWindow {
            earliest_ms: i64::MAX,
            latest_ms: i64::MAX,
        };
        assert_eq!(
            promise(Promise::Window(absurd), tz, Locale::En).kind,
            "unknown"
        );
    }
}
