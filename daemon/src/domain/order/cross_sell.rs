//! Which products a cross-sell offer shows: up to K related to the order's SKUs (best
//! lift first, from `related::suggest`), then their categories' best sellers when
//! co-purchase support is thin — only products that can be bought now (visible, on
//! sale, a unit free after backorders: `worth::still_worth_sending`, the same rule the
//! offer is re-checked with when it goes out), that the order does not hold and that the
//! customer never bought. Pure: the records, products and time are parameters.

use std::collections::{HashMap, HashSet};

use super::related::{suggest, CategoryBestSellers, CoPurchase, RelatedConfig, Suggestion, Why};
use crate::domain::customer::Scenario;
use crate::domain::message::ItemContext;
use crate::domain::product::ProductState;
use crate::domain::worth::still_worth_sending;
use crate::domain::{Millis, TriggerConfig};

/// What the pick reads, as it is at the due time.
#[derive(Debug, Clone, Copy)]
pub struct PickInput<'a> {
    /// The SKUs of the order's lines the offer follows (in line order).
    pub order_skus: &'a [String],
    /// Their co-purchase records (absent: never counted yet).
    pub records: &'a HashMap<String, CoPurchase>,
    /// The best sellers of their categories.
    pub categories: &'a HashMap<String, CategoryBestSellers>,
    /// Each SKU's categories (of the order's SKUs).
    pub categories_of: &'a HashMap<String, Vec<String>>,
    /// The candidate products as they are now (absent: not in the catalogue).
    pub products: &'a HashMap<String, ProductState>,
    /// Every SKU the customer bought: their orders' lines and purchase signals.
    pub bought: &'a HashSet<String>,
}

/// The SKUs whose products the pick may need, to read them before it: the order SKUs'
/// related products and their categories' best sellers, but for what the order holds
/// and the customer bought.
pub fn candidates(input: &PickInput<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sku in input.order_skus {
        let related = input
            .records
            .get(sku)
            .into_iter()
            .flat_map(|r| &r.top)
            .map(|r| &r.sku);
        let sellers = input
            .categories_of
            .get(sku)
            .into_iter()
            .flatten()
            .filter_map(|c| input.categories.get(c))
            .flat_map(|c| &c.skus)
            .map(|s| &s.sku);
        for s in related.chain(sellers) {
            if !input.order_skus.contains(s) && !input.bought.contains(s) && !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    out
}

/// Up to `max_items` products to offer, best first: co-bought by lift (highest first),
/// then category best sellers by orders; each SKU once.
pub fn pick(
    input: &PickInput<'_>,
    scenario: Scenario,
    max_items: usize,
    at: Millis,
    cfg: &RelatedConfig,
    triggers: &TriggerConfig,
) -> Vec<Suggestion> {
    let buyable = |sku: &str| {
        let item = ItemContext {
            sku: sku.to_owned(),
            ..ItemContext::default()
        };
        still_worth_sending(scenario, &item, input.products.get(sku), at, triggers).is_ok()
    };
    suggestions(input, max_items, at, cfg, buyable)
}

/// Every order SKU's suggestions among products `ok` accepts, merged: co-bought first by
/// lift, then best sellers by orders, each SKU once, at most `max_items`.
fn suggestions(
    input: &PickInput<'_>,
    max_items: usize,
    at: Millis,
    cfg: &RelatedConfig,
    ok: impl Fn(&str) -> bool,
) -> Vec<Suggestion> {
    let excluded = |sku: &str| {
        input.order_skus.iter().any(|s| s == sku) || input.bought.contains(sku) || !ok(sku)
    };
    // Each order SKU may fill the whole offer alone.
    let per_sku = RelatedConfig {
        top_k: max_items.max(1),
        ..*cfg
    };
    let mut all: Vec<Suggestion> = Vec::new();
    for sku in input.order_skus {
        let cats: Vec<&CategoryBestSellers> = input
            .categories_of
            .get(sku)
            .into_iter()
            .flatten()
            .filter_map(|c| input.categories.get(c))
            .collect();
        let found = suggest(sku, input.records.get(sku), &cats, excluded, at, &per_sku);
        for s in found {
            match all.iter_mut().find(|a| a.sku == s.sku) {
                Some(a) if better(&s.why, &a.why) => a.why = s.why,
                Some(_) => {}
                None => all.push(s),
            }
        }
    }
    all.sort_by(|a, b| order(&a.why, &b.why).then_with(|| a.sku.cmp(&b.sku)));
    all.truncate(max_items);
    all
}

/// Co-bought before best seller; higher lift (then support), then more orders, first.
fn order(a: &Why, b: &Why) -> std::cmp::Ordering {
    match (a, b) {
        (
            Why::CoBought {
                lift: la,
                times: ta,
            },
            Why::CoBought {
                lift: lb,
                times: tb,
            },
        ) => lb.total_cmp(la).then(tb.total_cmp(ta)),
        (Why::CoBought { .. }, Why::CategoryBestSeller { .. }) => std::cmp::Ordering::Less,
        (Why::CategoryBestSeller { .. }, Why::CoBought { .. }) => std::cmp::Ordering::Greater,
        (
            Why::CategoryBestSeller { orders: oa, .. },
            Why::CategoryBestSeller { orders: ob, .. },
        ) => ob.total_cmp(oa),
    }
}

fn better(new: &Why, old: &Why) -> bool {
    order(new, old) == std::cmp::Ordering::Less
}

/// The number a cross-sell offer's candidates carry as their `trigger_id`: which order
/// they follow (FNV-1a of the order id), so the message can show the order again when it
/// is written after the arbitration window or quiet hours.
pub fn order_key(order_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in order_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
#[path = "cross_sell_tests.rs"]
mod tests;
