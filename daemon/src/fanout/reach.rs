//! Reach estimates for operators: how many customers a scenario would reach at an
//! interest threshold. Each customer counts once, with their best score: over the
//! product's edges (one product) or over all their interests (the whole catalogue);
//! for new arrivals, category affinities stand in for product interest.

use std::collections::HashMap;

use crate::domain::customer::Scenario;
use crate::domain::interest::{score, InterestWeights};
use crate::domain::product::ProductState;
use crate::domain::Millis;
use crate::store::interest::{CategoryInterest, Interest, InterestByCustomer};
use crate::store::{Seek, Store, StoreError};

/// Best score per customer, highest first.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Reach {
    pub best: Vec<f64>,
    pub rows_read: u64,
    /// Set when the scan stopped at its row limit: the factor counts are scaled by.
    pub scale: Option<f64>,
}

impl Reach {
    fn from_scores(mut best: Vec<f64>, rows_read: u64, scale: Option<f64>) -> Reach {
        best.sort_by(|a, b| b.total_cmp(a));
        Reach {
            best,
            rows_read,
            scale,
        }
    }

    /// Customers at or above `threshold` (scaled up when sampled).
    pub fn at(&self, threshold: f64) -> u64 {
        let n = self.best.partition_point(|s| *s >= threshold) as f64;
        (n * self.scale.unwrap_or(1.0)).round() as u64
    }

    /// Customers with any live interest (score above zero).
    pub fn with_interest(&self) -> u64 {
        let n = self.best.partition_point(|s| *s > 0.0) as f64;
        (n * self.scale.unwrap_or(1.0)).round() as u64
    }
}

/// The audience of one product at every threshold (exact).
pub fn product(
    store: &Store,
    p: &ProductState,
    scenario: Scenario,
    now: Millis,
    w: &InterestWeights,
) -> Result<Reach, StoreError> {
    product_in(store, p, scenario, now, w, &|_| true)
}

/// [`product`] counting only the customers `admits` lets in (the scenario's segment
/// audience).
pub fn product_in(
    store: &Store,
    p: &ProductState,
    scenario: Scenario,
    now: Millis,
    w: &InterestWeights,
    admits: &dyn Fn(&str) -> bool,
) -> Result<Reach, StoreError> {
    let mut rows = 0u64;
    if scenario == Scenario::NewArrival {
        let mut best: HashMap<String, f64> = HashMap::new();
        for cat in &p.catalogue.category_ids {
            for row in store.iter_prefix::<CategoryInterest>(cat, Seek::First)? {
                let ((_, customer), affinity) = row?;
                rows += 1;
                if !admits(&customer) {
                    continue;
                }
                let a = affinity.value_at(now, w.half_life_ms);
                let e = best.entry(customer).or_insert(0.0);
                *e = e.max(a);
            }
        }
        return Ok(Reach::from_scores(best.into_values().collect(), rows, None));
    }
    let mut best = Vec::new();
    for row in store.iter_prefix::<Interest>(&p.sku, Seek::First)? {
        let ((_, customer), e) = row?;
        rows += 1;
        if !e.purchased() && admits(&customer) {
            best.push(score(&e, now, w));
        }
    }
    Ok(Reach::from_scores(best, rows, None))
}

/// Distinct customers over the whole catalogue, reading at most `max_rows` index rows;
/// past that the counts are scaled by RocksDB's key estimate.
pub fn catalogue(
    store: &Store,
    scenario: Scenario,
    now: Millis,
    w: &InterestWeights,
    max_rows: u64,
) -> Result<Reach, StoreError> {
    catalogue_in(store, scenario, now, w, max_rows, &|_| true)
}

/// [`catalogue`] counting only the customers `admits` lets in (the scenario's segment
/// audience).
pub fn catalogue_in(
    store: &Store,
    scenario: Scenario,
    now: Millis,
    w: &InterestWeights,
    max_rows: u64,
    admits: &dyn Fn(&str) -> bool,
) -> Result<Reach, StoreError> {
    let mut rows = 0u64;
    let new_arrival = scenario == Scenario::NewArrival;
    let best: Vec<f64> = if new_arrival {
        // Category-major keys: a customer appears under each of their categories.
        let mut best: HashMap<String, f64> = HashMap::new();
        for row in store.iter::<CategoryInterest>(Seek::First)? {
            if rows >= max_rows {
                break;
            }
            let ((_, customer), affinity) = row?;
            rows += 1;
            if !admits(&customer) {
                continue;
            }
            let a = affinity.value_at(now, w.half_life_ms);
            let e = best.entry(customer).or_insert(0.0);
            *e = e.max(a);
        }
        best.into_values().collect()
    } else {
        // Customer-major keys: one customer's interests are adjacent.
        let mut best = Vec::new();
        let mut current = String::new();
        let mut top: Option<f64> = None;
        for row in store.iter::<InterestByCustomer>(Seek::First)? {
            if rows >= max_rows {
                break;
            }
            let ((customer, _), e) = row?;
            rows += 1;
            if customer != current {
                let t = top.take();
                if admits(&current) {
                    best.extend(t);
                }
                current = customer;
            }
            if !e.purchased() {
                let s = score(&e, now, w);
                top = Some(top.map_or(s, |t| t.max(s)));
            }
        }
        if admits(&current) {
            best.extend(top);
        }
        best
    };
    let scale = if rows >= max_rows {
        let total = if new_arrival {
            store.estimate_keys::<CategoryInterest>()?
        } else {
            store.estimate_keys::<InterestByCustomer>()?
        };
        let total = total.max(rows);
        Some(total as f64 / rows.max(1) as f64)
    } else {
        None
    };
    Ok(Reach::from_scores(best, rows, scale))
}

/// Thresholds to show the reach curve at: a fixed ladder plus the two being compared.
pub fn ladder(extra: &[f64]) -> Vec<f64> {
    let mut t: Vec<f64> = [
        0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .filter(|x| x.is_finite())
    .collect();
    t.sort_by(f64::total_cmp);
    t.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_at_thresholds_and_scales_when_sampled() {
        let r = Reach::from_scores(vec![0.2, 1.5, 0.0, 0.4, 0.4], 5, None);
        assert_eq!(r.at(0.0), 5);
        assert_eq!(r.with_interest(), 4);
        assert_eq!(r.at(0.4), 3);
        assert_eq!(r.at(0.41), 1);
        assert_eq!(r.at(2.0), 0);
        let sampled = Reach {
            scale: Some(10.0),
            ..r
        };
        assert_eq!(sampled.at(0.4), 30);
    }

    #[test]
    fn the_ladder_is_sorted_and_holds_the_compared_thresholds() {
        let l = ladder(&[0.45, 0.4, f64::NAN]);
        assert!(l.windows(2).all(|w| w[0] < w[1]), "{l:?}");
        assert!(l.contains(&0.45));
        assert_eq!(l.iter().filter(|x| (**x - 0.4).abs() < 1e-9).count(), 1);
    }
}
