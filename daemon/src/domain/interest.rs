//! The interest model: per (customer, sku) edges built from signals, per (customer,
//! category) affinity, and the decayed score that decides who hears about a trigger.
//! Edges change only through `InterestOp`s folded in order, so the store can apply them
//! as blind merges (no read on ingest).

use serde::{Deserialize, Serialize};

use super::{Millis, MS_PER_DAY};

/// Default lifetime of a notify-me subscription.
pub const NOTIFY_ME_DEFAULT_MS: i64 = 90 * 86_400_000;

/// One change to an edge. `seen_price` is the product's price when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InterestOp {
    Favourite {
        at_ms: Millis,
        seen_price: i64,
    },
    Unfavourite {
        at_ms: Millis,
    },
    View {
        at_ms: Millis,
        dwell_ms: u32,
        seen_price: i64,
    },
    CartAdd {
        at_ms: Millis,
        seen_price: i64,
    },
    CartRemove {
        at_ms: Millis,
    },
    NotifyMe {
        at_ms: Millis,
        until_ms: Millis,
        seen_price: i64,
    },
    Purchase {
        at_ms: Millis,
    },
}

impl InterestOp {
    pub fn at_ms(&self) -> Millis {
        match *self {
            InterestOp::Favourite { at_ms, .. }
            | InterestOp::Unfavourite { at_ms }
            | InterestOp::View { at_ms, .. }
            | InterestOp::CartAdd { at_ms, .. }
            | InterestOp::CartRemove { at_ms }
            | InterestOp::NotifyMe { at_ms, .. }
            | InterestOp::Purchase { at_ms } => at_ms,
        }
    }

    /// How much this op adds to the customer's affinity for the product's categories.
    pub fn affinity_weight(&self) -> f64 {
        match self {
            InterestOp::View { dwell_ms, .. } => {
                0.2 + (f64::from(*dwell_ms) / 60_000.0).min(1.0) * 0.3
            }
            InterestOp::Favourite { .. }
            | InterestOp::CartAdd { .. }
            | InterestOp::NotifyMe { .. } => 1.0,
            InterestOp::Purchase { .. } => 2.0,
            InterestOp::Unfavourite { .. } | InterestOp::CartRemove { .. } => 0.0,
        }
    }
}

/// What one customer has shown about one product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterestEdge {
    pub favourite: bool,
    pub in_cart: bool,
    pub notify_me_until_ms: Option<Millis>,
    pub views: u32,
    pub dwell_ms: u64,
    /// The price at the customer's latest interaction.
    pub seen_price: Option<i64>,
    pub first_ms: Millis,
    /// Latest signal that shows interest (not removals, not purchases).
    pub last_ms: Millis,
    pub purchased_ms: Option<Millis>,
}

impl InterestEdge {
    pub fn apply(&mut self, op: &InterestOp) {
        let at = op.at_ms();
        if self.first_ms == 0 || at < self.first_ms {
            self.first_ms = at;
        }
        let signal = |e: &mut InterestEdge, price: Option<i64>| {
            e.last_ms = e.last_ms.max(at);
            if price.is_some() {
                e.seen_price = price;
            }
        };
        match *op {
            InterestOp::Favourite { seen_price, .. } => {
                self.favourite = true;
                signal(self, Some(seen_price));
            }
            InterestOp::Unfavourite { .. } => self.favourite = false,
            InterestOp::View {
                dwell_ms,
                seen_price,
                ..
            } => {
                self.views = self.views.saturating_add(1);
                self.dwell_ms = self.dwell_ms.saturating_add(u64::from(dwell_ms));
                signal(self, Some(seen_price));
            }
            InterestOp::CartAdd { seen_price, .. } => {
                self.in_cart = true;
                signal(self, Some(seen_price));
            }
            InterestOp::CartRemove { .. } => self.in_cart = false,
            InterestOp::NotifyMe {
                until_ms,
                seen_price,
                ..
            } => {
                self.notify_me_until_ms = Some(until_ms);
                signal(self, Some(seen_price));
            }
            InterestOp::Purchase { .. } => {
                self.purchased_ms = Some(self.purchased_ms.map_or(at, |p| p.max(at)));
                self.in_cart = false;
                self.notify_me_until_ms = None;
            }
        }
    }

    /// Bought since the last sign of interest: out of stock-trigger audiences.
    pub fn purchased(&self) -> bool {
        self.purchased_ms.is_some_and(|p| p >= self.last_ms)
    }

    pub fn notify_me_active(&self, now: Millis) -> bool {
        self.notify_me_until_ms.is_some_and(|u| u > now)
    }
}

/// Signal weights and decay of the interest score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterestWeights {
    pub notify_me: f64,
    pub cart: f64,
    pub favourite: f64,
    /// Per `ln(1 + views)`.
    pub views: f64,
    /// Per minute of dwell, up to 5 minutes.
    pub dwell_per_min: f64,
    pub half_life_ms: i64,
}

impl Default for InterestWeights {
    fn default() -> Self {
        InterestWeights {
            notify_me: 1.0,
            cart: 0.6,
            favourite: 0.5,
            views: 0.15,
            dwell_per_min: 0.05,
            half_life_ms: 30 * 86_400_000,
        }
    }
}

/// The edge's score at `now`: an active notify-me counts in full (the customer asked);
/// the other signals decay with the age of the latest one. 0 for a purchased edge.
pub fn score(e: &InterestEdge, now: Millis, w: &InterestWeights) -> f64 {
    if e.purchased() {
        return 0.0;
    }
    let explicit = if e.notify_me_active(now) {
        w.notify_me
    } else {
        0.0
    };
    let implicit = (if e.in_cart { w.cart } else { 0.0 })
        + (if e.favourite { w.favourite } else { 0.0 })
        + w.views * f64::from(e.views).ln_1p()
        + w.dwell_per_min * (e.dwell_ms as f64 / 60_000.0).min(5.0);
    let age_days = ((now - e.last_ms).max(0) as f64) / MS_PER_DAY;
    let half_life_days = (w.half_life_ms.max(1) as f64) / MS_PER_DAY;
    explicit + implicit * (-std::f64::consts::LN_2 * age_days / half_life_days).exp()
}

/// A customer's decayed affinity for a category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Affinity {
    pub score: f64,
    pub at_ms: Millis,
}

impl Affinity {
    pub fn add(&mut self, weight: f64, at: Millis, half_life_ms: i64) {
        let at = at.max(self.at_ms);
        self.score = self.value_at(at, half_life_ms) + weight;
        self.at_ms = at;
    }

    pub fn value_at(&self, now: Millis, half_life_ms: i64) -> f64 {
        let age_days = ((now - self.at_ms).max(0) as f64) / MS_PER_DAY;
        let hl = (half_life_ms.max(1) as f64) / MS_PER_DAY;
        self.score * (-std::f64::consts::LN_2 * age_days / hl).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_700_000_000_000;

    fn edge(ops: &[InterestOp]) -> InterestEdge {
        let mut e = InterestEdge::default();
        for op in ops {
            e.apply(op);
        }
        e
    }

    #[test]
    fn notify_me_outranks_a_stale_favourite_and_expires() {
        let w = InterestWeights::default();
        let fav = edge(&[InterestOp::Favourite {
            at_ms: T0,
            seen_price: 100,
        }]);
        let nm = edge(&[InterestOp::NotifyMe {
            at_ms: T0,
            until_ms: T0 + 90 * DAY,
            seen_price: 100,
        }]);
        let later = T0 + 60 * DAY;
        assert!(score(&nm, later, &w) > score(&fav, later, &w));
        assert!(
            (score(&fav, T0 + 30 * DAY, &w) - 0.25).abs() < 1e-9,
            "favourite halves in a half-life"
        );
        assert_eq!(score(&nm, T0 + 91 * DAY, &w), 0.0);
    }

    #[test]
    fn purchase_removes_until_new_interest() {
        let w = InterestWeights::default();
        let mut e = edge(&[
            InterestOp::CartAdd {
                at_ms: T0,
                seen_price: 100,
            },
            InterestOp::Purchase { at_ms: T0 + 1 },
        ]);
        assert!(e.purchased());
        assert_eq!(score(&e, T0 + 2, &w), 0.0);
        e.apply(&InterestOp::NotifyMe {
            at_ms: T0 + 5,
            until_ms: T0 + DAY,
            seen_price: 90,
        });
        assert!(!e.purchased());
        assert!(score(&e, T0 + 6, &w) >= 1.0);
        assert_eq!(e.seen_price, Some(90));
    }

    #[test]
    fn affinity_decays_and_accumulates() {
        let mut a = Affinity::default();
        a.add(1.0, T0, 10 * DAY);
        a.add(1.0, T0 + 10 * DAY, 10 * DAY);
        assert!((a.value_at(T0 + 10 * DAY, 10 * DAY) - 1.5).abs() < 1e-9);
    }

    fn arb_op() -> impl Strategy<Value = InterestOp> {
        let t = T0..T0 + 100 * DAY;
        prop_oneof![
            (t.clone(), 1i64..1000).prop_map(|(at_ms, p)| InterestOp::Favourite {
                at_ms,
                seen_price: p
            }),
            t.clone()
                .prop_map(|at_ms| InterestOp::Unfavourite { at_ms }),
            (t.clone(), 0u32..600_000, 1i64..1000).prop_map(|(at_ms, d, p)| InterestOp::View {
                at_ms,
                dwell_ms: d,
                seen_price: p
            }),
            (t.clone(), 1i64..1000).prop_map(|(at_ms, p)| InterestOp::CartAdd {
                at_ms,
                seen_price: p
            }),
            t.clone().prop_map(|at_ms| InterestOp::CartRemove { at_ms }),
            (t.clone(), 1i64..1000).prop_map(|(at_ms, p)| InterestOp::NotifyMe {
                at_ms,
                until_ms: at_ms + NOTIFY_ME_DEFAULT_MS,
                seen_price: p
            }),
            t.prop_map(|at_ms| InterestOp::Purchase { at_ms }),
        ]
    }

    proptest! {
        #[test]
        fn score_is_finite_non_negative_and_zero_when_purchased(ops in proptest::collection::vec(arb_op(), 0..30), dt in 0i64..400 * DAY) {
            let e = edge(&ops);
            let s = score(&e, T0 + dt, &InterestWeights::default());
            prop_assert!(s.is_finite() && s >= 0.0);
            if e.purchased() { prop_assert_eq!(s, 0.0); }
        }

        #[test]
        fn folding_in_two_parts_equals_folding_at_once(ops in proptest::collection::vec(arb_op(), 0..30), split in 0usize..30) {
            // What the store's merge operator relies on: fold(a ++ b) == fold(b) onto fold(a).
            let split = split.min(ops.len());
            let mut two = edge(&ops[..split]);
            for op in &ops[split..] { two.apply(op); }
            prop_assert_eq!(two, edge(&ops));
        }
    }
}
