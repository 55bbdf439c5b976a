//! Small text formatters shared by the views: counts, rates, sizes, durations, prices and
//! times. Pure functions, so view output is deterministic in tests.

use chrono::DateTime;

/// `999`, `1.2k`, `12k`, `1.2M`, `3.4G`.
pub fn count(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")];
    for (div, unit) in UNITS {
        if n >= div {
            let v = n as f64 / div as f64;
            return if v < 10.0 {
                format!("{v:.1}{unit}")
            } else {
                format!("{:.0}{unit}", v.floor())
            };
        }
    }
    n.to_string()
}

/// A per-second rate: `0`, `0.4`, `12.3`, `1.2k`.
pub fn rate(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        "0".into()
    } else if r < 100.0 {
        let s = format!("{r:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    } else {
        count(r.round() as u64)
    }
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A duration in milliseconds, two units at most: `850ms`, `1.2s`, `3m05s`, `2h03m`, `4d06h`.
pub fn millis(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 10_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m{:02}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `at` relative to `now`: `5s ago`, `in 3m00s`, `now`; `-` when `at` is 0 (unset).
pub fn ago(at_ms: i64, now_ms: i64) -> String {
    if at_ms == 0 {
        return "-".into();
    }
    let d = now_ms - at_ms;
    if d.abs() < 1_000 {
        "now".into()
    } else if d > 0 {
        format!("{} ago", millis(d))
    } else {
        format!("in {}", millis(-d))
    }
}

/// A Unix time in UTC, `MM-DD HH:MM:SS`; `-` when 0.
pub fn time(at_ms: i64) -> String {
    if at_ms == 0 {
        return "-".into();
    }
    DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "?".into())
}

/// A price in minor units: `1,200 JPY`, `12.50 USD`.
pub fn price(minor: i64, currency: &str) -> String {
    let zero_decimal = matches!(currency, "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "");
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let amount = if zero_decimal {
        group(abs)
    } else {
        format!("{}.{:02}", group(abs / 100), abs % 100)
    };
    if currency.is_empty() {
        format!("{sign}{amount}")
    } else {
        format!("{sign}{amount} {currency}")
    }
}

/// Thousands separators: `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An interest threshold or score: `40`, `42.5`, `0.35` (two decimals below 10).
pub fn score(v: f64) -> String {
    let s = if v.abs() < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    };
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Cuts `s` to at most `width` characters, ending in `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234), "1.2k");
        assert_eq!(count(12_345), "12k");
        assert_eq!(count(3_400_000), "3.4M");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(3.0), "3");
        assert_eq!(rate(f64::NAN), "0");
        assert_eq!(rate(1500.0), "1.5k");
    }

    #[test]
    fn durations_sizes_prices() {
        assert_eq!(millis(850), "850ms");
        assert_eq!(millis(1_250), "1.2s");
        assert_eq!(millis(185_000), "3m05s");
        assert_eq!(millis(7_380_000), "2h03m");
        assert_eq!(millis(367_200_000), "4d06h");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(price(120_000, "JPY"), "120,000 JPY");
        assert_eq!(price(1250, "USD"), "12.50 USD");
        assert_eq!(ago(0, 5), "-");
        assert_eq!(ago(1_000, 61_000), "1m00s ago");
        assert_eq!(ago(70_000, 10_000), "in 1m00s");
        assert_eq!(time(86_400_000 + 3_723_000), "01-02 01:02:03");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(score(42.0), "42");
        assert_eq!(score(0.35), "0.35");
        assert_eq!(score(0.4), "0.4");
        assert_eq!(score(0.0), "0");
        assert_eq!(score(55.55), "55.5");
    }
}
