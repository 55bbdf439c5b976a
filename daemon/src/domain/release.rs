//! Back-in-stock batch release: at most `per_unit` customers per available unit go out at
//! once, best interest first; the rest wait in a durable [`Release`] and are released
//! every `batch_interval` while the product still holds (`worth::still_worth_sending`),
//! until the audience is exhausted. Pure: stock and time are parameters.

use serde::{Deserialize, Serialize};

use super::decide::Offer;
use super::Millis;

/// An offer addressed to one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Addressed {
    pub customer_id: String,
    pub offer: Offer,
}

/// The part of a back-in-stock audience still waiting for its batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub sku: String,
    /// Still waiting, in release order.
    pub waiting: Vec<Addressed>,
    pub due_ms: Millis,
    pub per_unit: u32,
    pub interval_ms: i64,
}

impl Release {
    /// Whether `customer_id` is still waiting in this release.
    pub fn is_waiting(&self, customer_id: &str) -> bool {
        self.waiting.iter().any(|a| a.customer_id == customer_id)
    }
}

/// How many customers the current stock allows now.
pub fn batch_size(per_unit: u32, stock: i64) -> usize {
    usize::try_from(stock.max(0))
        .unwrap_or(0)
        .saturating_mul(per_unit as usize)
}

/// Splits off the next batch of `n`; returns (now, rest), both in release order.
pub fn take(mut offers: Vec<Addressed>, n: usize) -> (Vec<Addressed>, Vec<Addressed>) {
    let rest = offers.split_off(n.min(offers.len()));
    (offers, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{Candidate, Scenario};
    use crate::domain::message::ItemContext;

    fn addressed(customer: &str) -> Addressed {
        Addressed {
            customer_id: customer.into(),
            offer: Offer {
                candidate: Candidate {
                    trigger_id: 1,
                    scenario: Scenario::BackInStock,
                    sku: "tee".into(),
                    at_ms: 0,
                    score: 1.0,
                },
                item: ItemContext::default(),
            },
        }
    }

    #[test]
    fn batches_follow_stock() {
        assert_eq!(batch_size(2, 3), 6);
        assert_eq!(batch_size(2, 0), 0);
        assert_eq!(batch_size(2, -1), 0);
        assert_eq!(batch_size(0, 5), 0);
    }

    #[test]
    fn a_batch_is_the_head_of_the_release_order() {
        let all: Vec<Addressed> = ["a", "b", "c", "d", "e"].map(addressed).to_vec();
        let (now, rest) = take(all.clone(), 2);
        let ids = |v: &[Addressed]| v.iter().map(|a| a.customer_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&now), ["a", "b"]);
        assert_eq!(ids(&rest), ["c", "d", "e"]);
        let (now, rest) = take(all, 9);
        assert_eq!(ids(&now), ["a", "b", "c", "d", "e"]);
        assert!(rest.is_empty());
        let release = Release {
            sku: "tee".into(),
            waiting: now,
            due_ms: 0,
            per_unit: 1,
            interval_ms: 1000,
        };
        assert!(release.is_waiting("c") && !release.is_waiting("z"));
    }
}
