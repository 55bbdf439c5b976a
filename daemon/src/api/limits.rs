//! The sane range of every number in the Ingest API, and how a refused value is echoed.
//! A number outside its range rejects its event (naming the field), like any other
//! invalid value; a sequence outside its range refuses the batch. The same ranges are
//! documented in `ingest.proto`, `common.proto` and the README's API table: change all
//! of them together.

use crate::domain::Millis;

/// The longest id the shop sends (SKU, customer, order, order line, producer), in bytes.
pub const MAX_ID: usize = 256;
/// Units in one stock count, adjust, sale or purchase line: ±1,000,000,000. Far above
/// any shop's stock of one SKU, far below where stock or velocity arithmetic saturates.
pub const MAX_UNITS: i64 = 1_000_000_000;
/// Prices and amounts, in minor units: at most 10^13 (¥10 trillion, $100 billion).
pub const MAX_MINOR: i64 = 10_000_000_000_000;
/// The earliest explicit event time: 2000-01-01T00:00:00Z. Earlier is a unit mistake
/// (seconds for milliseconds) or a zeroed clock.
pub const MIN_EVENT_TIME_MS: Millis = 946_684_800_000;
/// How far past the daemon's clock an event may be: 1 day covers clock skew and a time
/// zone sent as UTC (up to 14 h). An event has happened; a time far ahead would drag
/// the product's velocity clock into the future.
pub const MAX_AHEAD_MS: Millis = DAY_MS;
/// The latest window bound: 9999-12-31T23:59:59.999Z, the "no end" date of many ERPs.
pub const MAX_WINDOW_MS: Millis = 253_402_300_799_999;
/// The longest dwell of one view: 24 h (a page left open overnight still counts once).
pub const MAX_DWELL_MS: u32 = 86_400_000;
/// How long after its event a notify-me may last: 2 years (730 days).
pub const MAX_NOTIFY_ME_MS: Millis = 730 * DAY_MS;
/// Lines in one order, and line ids one order event names: 1 to 100. A cart, not a
/// warehouse transfer; it bounds the work one event can ask of the actors.
pub const MAX_ORDER_LINES: usize = 100;
/// A coupon code and a carrier's name, in bytes.
pub const MAX_COUPON: usize = 64;
pub const MAX_CARRIER: usize = 64;
/// A tracking number, in bytes (the longest carriers' are ~40 characters).
pub const MAX_TRACKING_NUMBER: usize = 128;
/// A tracking URL, in bytes: the length every browser and mail client takes.
pub const MAX_URL: usize = 2048;
/// A delay's or a cancellation's reason, in characters (shown to the customer: a
/// paragraph, not a document).
pub const MAX_REASON_CHARS: usize = 1000;
/// How far after its event a promised ship window may end: 2 years (730 days), the
/// longest pre-order a shop takes.
pub const MAX_PROMISE_AHEAD_MS: Millis = 730 * DAY_MS;
/// The largest batch sequence, 2^63 − 1: it fits a signed 64-bit integer (Java's long,
/// SQL BIGINT, a nanosecond timestamp until 2262), and refusing the upper half of u64
/// means a stray u64::MAX (−1 sent as unsigned) cannot leave a producer no next batch.
pub const MAX_SEQUENCE: u64 = i64::MAX as u64;

const DAY_MS: Millis = 86_400_000;

/// Most characters of a value that an error message repeats.
pub const ECHO_CHARS: usize = 64;

/// `s` quoted for an error message: whole when it is short, else its first
/// [`ECHO_CHARS`] characters (cut on a character boundary), "…" and its length in bytes,
/// so a 1 MiB value never comes back in a reason or a status message.
pub fn echo(s: &str) -> String {
    match s.char_indices().nth(ECHO_CHARS) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
    }
}

/// Like [`echo`], unquoted: for a field of an answer that repeats a refused value.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(ECHO_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &s[..cut], s.len()),
    }
}

/// Whether an explicit event time (not 0) is plausible at `now`.
pub fn event_time_ok(at: Millis, now: Millis) -> bool {
    (MIN_EVENT_TIME_MS..=now.saturating_add(MAX_AHEAD_MS)).contains(&at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_echoed_whole() {
        assert_eq!(echo("JPY"), "\"JPY\"");
        assert_eq!(echo(""), "\"\"");
        let exactly = "é".repeat(ECHO_CHARS);
        assert_eq!(echo(&exactly), format!("{exactly:?}"));
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary_with_their_length() {
        let long = "ｘ".repeat(ECHO_CHARS + 1); // 3 bytes a char
        let e = echo(&long);
        assert_eq!(
            e,
            format!("{:?}… ({} bytes)", "ｘ".repeat(ECHO_CHARS), long.len())
        );
        let huge = "a".repeat(1 << 20);
        let e = echo(&huge);
        assert!(e.len() < 100 && e.ends_with("… (1048576 bytes)"), "{e}");
        let c = clip(&huge);
        assert_eq!(c, format!("{}… (1048576 bytes)", "a".repeat(ECHO_CHARS)));
        assert_eq!(clip("shop-erp"), "shop-erp");
    }

    #[test]
    fn event_times_from_2000_to_a_day_ahead() {
        let now = 1_750_000_000_000;
        assert!(event_time_ok(MIN_EVENT_TIME_MS, now));
        assert!(!event_time_ok(MIN_EVENT_TIME_MS - 1, now));
        assert!(event_time_ok(now + DAY_MS, now));
        assert!(!event_time_ok(now + DAY_MS + 1, now));
        assert!(!event_time_ok(i64::MAX, now));
        assert!(!event_time_ok(-1, now));
        assert!(event_time_ok(i64::MAX, i64::MAX), "no overflow");
    }
}
