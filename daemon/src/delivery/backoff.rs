//! Retry timing for transient delivery failures: exponential backoff with full jitter,
//! deterministic for a given seed so a replayed schedule is reproducible in tests.

use crate::domain::Millis;

/// The seed the dispatcher should use for an entry's next attempt: distinct per entry
/// and per attempt, so entries that failed together do not retry together.
pub fn jitter_seed(seq: u64, attempts: u32) -> u64 {
    seq ^ u64::from(attempts)
}

/// When to try again after `attempts` failed attempts (1 after the first failure).
///
/// The ceiling doubles per attempt from `base_ms` up to `max_ms`; the delay is drawn
/// uniformly from `[base_ms, ceiling]` ("full jitter" above a floor, so a retry never
/// comes back immediately). Non-positive or inverted bounds are clamped, never panic.
pub fn next_attempt(
    attempts: u32,
    now_ms: Millis,
    base_ms: i64,
    max_ms: i64,
    jitter_seed: u64,
) -> Millis {
    let base = base_ms.max(1);
    let max = max_ms.max(base);
    let exp = attempts.saturating_sub(1).min(62);
    let ceiling = base.saturating_mul(1_i64 << exp).min(max);
    // `ceiling >= base >= 1`, so the span is at least 1 and the cast is lossless.
    let span = (ceiling - base) as u64 + 1;
    let delay = base + (splitmix64(jitter_seed) % span) as i64;
    now_ms.saturating_add(delay)
}

/// A tiny, well-mixed hash of the seed (SplitMix64 finaliser); not cryptographic.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE: i64 = 1_000;
    const MAX: i64 = 3_600_000;

    proptest! {
        #[test]
        fn within_bounds(attempts in 0u32..200, now in 0i64..4_000_000_000_000, seed: u64) {
            let at = next_attempt(attempts, now, BASE, MAX, seed);
            let exp = attempts.saturating_sub(1).min(62);
            let ceiling = BASE.saturating_mul(1 << exp).min(MAX);
            prop_assert!(at >= now + BASE, "{at} < {}", now + BASE);
            prop_assert!(at <= now + ceiling, "{at} > {}", now + ceiling);
        }

        #[test]
        fn deterministic(attempts: u32, now in 0i64..4_000_000_000_000, seed: u64) {
            prop_assert_eq!(
                next_attempt(attempts, now, BASE, MAX, seed),
                next_attempt(attempts, now, BASE, MAX, seed)
            );
        }

        #[test]
        fn never_panics(attempts: u32, now: i64, base: i64, max: i64, seed: u64) {
            let at = next_attempt(attempts, now, base, max, seed);
            prop_assert!(at >= now);
        }
    }

    #[test]
    fn mean_delay_grows_until_the_cap() {
        let mean = |attempts: u32| -> i64 {
            let n = 2_000u64;
            let total: i64 = (0..n)
                .map(|seq| next_attempt(attempts, 0, BASE, MAX, jitter_seed(seq, attempts)))
                .sum();
            total / n as i64
        };
        let means: Vec<i64> = (1..=13).map(mean).collect();
        for w in means.windows(2) {
            assert!(w[1] > w[0], "mean delay did not grow: {means:?}");
        }
        // Far past the cap the mean sits near the middle of [base, max].
        let capped = mean(40);
        assert!(capped > MAX / 3 && capped < MAX * 2 / 3, "{capped}");
    }

    #[test]
    fn first_retry_waits_exactly_base() {
        assert_eq!(next_attempt(1, 10, BASE, MAX, 7), 10 + BASE);
        assert_eq!(next_attempt(0, 10, BASE, MAX, 7), 10 + BASE);
    }

    #[test]
    fn seeds_spread_retries() {
        let distinct: std::collections::BTreeSet<i64> = (0..100u64)
            .map(|seq| next_attempt(8, 0, BASE, MAX, jitter_seed(seq, 8)))
            .collect();
        assert!(
            distinct.len() > 90,
            "only {} distinct retry times",
            distinct.len()
        );
    }
}
