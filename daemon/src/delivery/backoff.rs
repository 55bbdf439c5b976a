//! Retry timing for transient delivery failures: exponential backoff with full jitter.
//! Pure: the random number is a parameter ([`next_attempt`]'s `draw`), so the caller
//! passes a fresh one from the OS-seeded generator ([`draw`]) and tests pass chosen ones.

use crate::domain::Millis;

/// A fresh uniformly random number for [`next_attempt`], from a generator seeded by the
/// OS: entries that failed together, and daemons restarted alike, retry at different times.
pub fn draw() -> u64 {
    rand::random()
}

/// When to try again after `attempts` failed attempts (1 after the first failure).
///
/// The ceiling is `base_ms · 2^attempts` (twice the base after the first failure),
/// capped at `max_ms`; the delay is `draw` mapped uniformly onto `[base_ms, ceiling]`
/// ("full jitter" above a floor, so a retry never comes back at once, and even the
/// first retries of entries that failed together are spread over a whole base).
/// Non-positive or inverted bounds are clamped, never panic.
pub fn next_attempt(attempts: u32, now_ms: Millis, base_ms: i64, max_ms: i64, draw: u64) -> Millis {
    let base = base_ms.max(1);
    let max = max_ms.max(base);
    let exp = attempts.clamp(1, 62);
    let ceiling = base.saturating_mul(1_i64 << exp).min(max);
    // `ceiling >= base >= 1`, so the span is at least 1 and the casts are lossless.
    let span = (ceiling - base) as u64 + 1;
    // The high half of draw · span: uniform over 0..span (bias below span / 2^64).
    let offset = ((u128::from(draw) * u128::from(span)) >> 64) as u64;
    now_ms.saturating_add(base + offset as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const BASE: i64 = 1_000;
    const MAX: i64 = 3_600_000;

    /// Evenly spread draws, reproducible (SplitMix64 over `i`).
    fn draws(n: u64) -> impl Iterator<Item = u64> {
        (0..n).map(|i| {
            let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    }

    fn ceiling(attempts: u32) -> i64 {
        BASE.saturating_mul(1 << attempts.clamp(1, 62)).min(MAX)
    }

    proptest! {
        #[test]
        fn within_bounds(attempts in 0u32..200, now in 0i64..4_000_000_000_000, draw: u64) {
            let at = next_attempt(attempts, now, BASE, MAX, draw);
            prop_assert!(at >= now + BASE, "{at} < {}", now + BASE);
            prop_assert!(at <= now + ceiling(attempts), "{at} > {}", now + ceiling(attempts));
        }

        #[test]
        fn never_panics(attempts: u32, now: i64, base: i64, max: i64, draw: u64) {
            let at = next_attempt(attempts, now, base, max, draw);
            prop_assert!(at >= now);
        }
    }

    #[test]
    fn the_draw_spans_the_whole_range() {
        assert_eq!(next_attempt(3, 10, BASE, MAX, 0), 10 + BASE);
        assert_eq!(next_attempt(3, 10, BASE, MAX, u64::MAX), 10 + 8 * BASE);
        assert_eq!(next_attempt(40, 10, BASE, MAX, u64::MAX), 10 + MAX);
    }

    #[test]
    fn first_retries_spread_over_one_base() {
        // Regression: every first retry used to fall exactly `base` after the attempt.
        let at: Vec<i64> = draws(1_000)
            .map(|d| next_attempt(1, 0, BASE, MAX, d))
            .collect();
        let distinct: BTreeSet<i64> = at.iter().copied().collect();
        assert!(distinct.len() > 600, "{} distinct", distinct.len());
        let (lo, hi) = (at.iter().min(), at.iter().max());
        assert!(lo < Some(&(BASE + BASE / 10)), "{lo:?}");
        assert!(hi > Some(&(2 * BASE - BASE / 10)), "{hi:?}");
    }

    #[test]
    fn mean_delay_grows_until_the_cap() {
        let mean = |attempts: u32| -> i64 {
            let n = 2_000;
            let total: i64 = draws(n)
                .map(|d| next_attempt(attempts, 0, BASE, MAX, d))
                .sum();
            total / n as i64
        };
        let means: Vec<i64> = (1..=12).map(mean).collect(); // 2^12 s passes the cap
        for w in means.windows(2) {
            assert!(w[1] > w[0], "mean delay did not grow: {means:?}");
        }
        // Far past the cap the mean sits near the middle of [base, max].
        let capped = mean(40);
        assert!(capped > MAX / 3 && capped < MAX * 2 / 3, "{capped}");
    }

    #[test]
    fn fresh_draws_differ() {
        // Regression: the jitter was a function of (seq, attempts), the same every run.
        let at: BTreeSet<i64> = (0..8)
            .map(|_| next_attempt(1, 0, BASE, MAX, draw()))
            .collect();
        assert!(at.len() > 1, "8 draws, one retry time: {at:?}");
    }
}
