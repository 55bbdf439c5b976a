//! Back-in-stock batch release: at most `per_unit` customers per available unit go out at
//! once, best interest first; the rest wait in a durable record (`meta`, key
//! `release:` · trigger id) and are released every `batch_interval` while the product is
//! still in stock, until the audience is exhausted.

use serde::{Deserialize, Serialize};

use crate::domain::decide::Offer;
use crate::domain::product::ProductState;
use crate::domain::Millis;
use crate::store::codec;

const V1: u8 = 1;
pub const PREFIX: &[u8] = b"release:";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub sku: String,
    /// Still waiting, in release order.
    pub offers: Vec<(String, Offer)>,
    pub due_ms: Millis,
    pub per_unit: u32,
    pub interval_ms: i64,
}

pub fn key(trigger_id: u64) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(&trigger_id.to_be_bytes());
    k
}

pub fn encode(r: &Release) -> Vec<u8> {
    codec::encode(V1, r)
}

pub fn decode(b: &[u8]) -> Result<Release, crate::store::StoreError> {
    codec::decode("meta", V1, b)
}

/// How many customers the current stock allows now.
pub fn batch_size(per_unit: u32, stock: i64) -> usize {
    usize::try_from(stock.max(0))
        .unwrap_or(0)
        .saturating_mul(per_unit as usize)
}

/// Offers addressed to customers, in release order.
pub type Offers = Vec<(String, Offer)>;

/// Splits off the next batch of `n`; returns (now, rest).
pub fn take(mut offers: Offers, n: usize) -> (Offers, Offers) {
    let rest = offers.split_off(n.min(offers.len()));
    (offers, rest)
}

/// Whether a waiting batch may still go out: the product is buyable with at least the
/// restock minimum.
pub fn still_in_stock(p: &ProductState, now: Millis, min_restock_qty: i64) -> bool {
    p.visible(now) && p.on_sale(now) && p.stock >= min_restock_qty
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_follow_stock_and_keep_order() {
        assert_eq!(batch_size(2, 3), 6);
        assert_eq!(batch_size(2, -1), 0);
        let offers: Vec<(String, Offer)> = Vec::new();
        let (now, rest) = take(offers, 5);
        assert!(now.is_empty() && rest.is_empty());
    }
}
