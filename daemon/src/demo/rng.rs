//! The demo's random source: SplitMix64, seeded, with independent streams per entity so
//! that every product and customer is derived from `(seed, index)` alone.

/// SplitMix64: small, fast, deterministic; plenty for a simulation.
#[derive(Debug, Clone)]
pub struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed ^ 0x5eed_5eed_5eed_5eed))
    }

    /// An independent stream for one entity (`stream` tells products from customers).
    pub fn derive(seed: u64, stream: u64, index: u64) -> Rng {
        Rng(mix(seed
            ^ mix(
                stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix(index)
            )))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [lo, hi] (hi < lo gives lo).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Log-uniform in [lo, hi]: as many values between 1 and 10 as between 10 and 100.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.f64())
    }

    /// Pareto with shape `alpha` and minimum 1, capped: a long tail with a few hits.
    pub fn pareto(&mut self, alpha: f64, cap: f64) -> f64 {
        (1.0 - self.f64()).powf(-1.0 / alpha).min(cap)
    }

    /// One element of a slice that is never empty (the demo's static tables).
    pub fn pick<'a>(&mut self, xs: &'a [&'a str]) -> &'a str {
        xs.get(self.below(xs.len())).copied().unwrap_or_default()
    }
}

/// Rng streams, so products, arrivals and customers never share random numbers.
pub const STREAM_PRODUCT: u64 = 1;
pub const STREAM_ARRIVAL: u64 = 2;
pub const STREAM_CUSTOMER: u64 = 3;
