//! The holdout lift: how much more often customers sent a scenario order than customers
//! held out of it, with a 95 % confidence interval.
//!
//! With `x_s` of `n_s` sent customers and `x_h` of `n_h` held-out customers converting,
//! `p_s = x_s / n_s`, `p_h = x_h / n_h`, the lift is the relative difference
//! `p_s / p_h − 1`. Its interval is the log (Katz) interval of the ratio:
//! `exp(ln(p_s / p_h) ± 1.96 · √(1/x_s − 1/n_s + 1/x_h − 1/n_h)) − 1`.
//! It needs at least one conversion on each side (otherwise there is no lift to show).

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.96;

/// Conversions on one side of the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arm {
    pub customers: u64,
    pub converted: u64,
}

impl Arm {
    pub fn rate(&self) -> f64 {
        if self.customers == 0 {
            0.0
        } else {
            self.converted as f64 / self.customers as f64
        }
    }
}

/// A lift and its 95 % interval, as fractions (0.2 = +20 %).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lift {
    pub lift: f64,
    pub low: f64,
    pub high: f64,
}

/// The lift of `sent` over `held`; `None` while either side has no conversion.
pub fn lift(sent: Arm, held: Arm) -> Option<Lift> {
    let (xs, ns) = (sent.converted as f64, sent.customers as f64);
    let (xh, nh) = (held.converted as f64, held.customers as f64);
    if xs <= 0.0 || xh <= 0.0 || ns < xs || nh < xh {
        return None;
    }
    let ratio = (xs / ns) / (xh / nh);
    let se = (1.0 / xs - 1.0 / ns + 1.0 / xh - 1.0 / nh).max(0.0).sqrt();
    let ln = ratio.ln();
    Some(Lift {
        lift: ratio - 1.0,
        low: (ln - Z95 * se).exp() - 1.0,
        high: (ln + Z95 * se).exp() - 1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    /// By hand: p_s = 0.12, p_h = 0.10, ratio 1.2; se = √(1/120 − 1/1000 + 1/100 −
    /// 1/1000) = 0.127802; exp(ln 1.2 ∓ 1.96 · 0.127802) = 0.934101, 1.541589.
    #[test]
    fn lift_and_interval_match_the_hand_computed_ones() {
        let l = lift(
            Arm {
                customers: 1000,
                converted: 120,
            },
            Arm {
                customers: 1000,
                converted: 100,
            },
        )
        .expect("both sides converted");
        assert!(close(l.lift, 0.2), "{l:?}");
        assert!(close(l.low, -0.065899), "{l:?}");
        assert!(close(l.high, 0.541588), "{l:?}");
    }

    /// A small holdout: 30 of 950 sent vs 1 of 50 held out. Ratio 1.578947, se =
    /// √(1/30 − 1/950 + 1 − 1/50) = 1.006122: a wide interval that crosses zero.
    #[test]
    fn a_small_holdout_gives_a_wide_interval() {
        let l = lift(
            Arm {
                customers: 950,
                converted: 30,
            },
            Arm {
                customers: 50,
                converted: 1,
            },
        )
        .expect("both sides converted");
        assert!(close(l.lift, 0.578947), "{l:?}");
        assert!(close(l.low, -0.780245), "{l:?}");
        assert!(close(l.high, 10.344769), "{l:?}");
        assert!(l.low < 0.0 && l.high > 0.0);
    }

    #[test]
    fn no_lift_without_a_conversion_on_each_side() {
        let some = Arm {
            customers: 10,
            converted: 2,
        };
        let none = Arm {
            customers: 10,
            converted: 0,
        };
        assert_eq!(lift(some, none), None);
        assert_eq!(lift(none, some), None);
        assert_eq!(
            lift(
                some,
                Arm {
                    customers: 0,
                    converted: 0
                }
            ),
            None
        );
        assert!(close(some.rate(), 0.2));
    }
}
