//! The customer's side of cross-sell offers. When an offer comes due (after the order,
//! after delivery), the customer's actor reads the related table (written only by
//! `fanout::related`), the products as stored and what the customer bought, and picks
//! with `domain::order::cross_sell`. The picked products become offers that go through
//! every marketing rule (`domain::decide`: arbitration window, consent, unsubscribe,
//! dedupe, caps, quiet hours with the re-check at release), like a trigger's offers;
//! nothing left to show is counted as `nothing_to_offer`.

use std::collections::{HashMap, HashSet};

use super::customer::CustomerShared;
use crate::domain::customer::{Candidate, Scenario, SuppressReason};
use crate::domain::decide::Offer;
use crate::domain::message::{ItemContext, OrderContext};
use crate::domain::order::cross_sell::{candidates, order_key, pick, PickInput};
use crate::domain::order::related::{order_skus, CategoryBestSellers, CoPurchase};
use crate::domain::order::state::{LineStatus, OrderState};
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerState;
use crate::domain::rules::delivery::DeliveryRules;
use crate::domain::Millis;
use crate::store::interest::InterestByCustomer;
use crate::store::records::Products;
use crate::store::related::{CategorySellers, RelatedRecords};
use crate::store::{Seek, Store, StoreError};

/// What the pick reads from the store.
#[derive(Debug, Default)]
struct Gathered {
    records: HashMap<String, CoPurchase>,
    categories: HashMap<String, CategoryBestSellers>,
    categories_of: HashMap<String, Vec<String>>,
    products: HashMap<String, ProductState>,
    bought: HashSet<String>,
}

/// A line the customer kept (not cancelled or refunded).
fn kept(status: LineStatus) -> bool {
    !matches!(status, LineStatus::Cancelled | LineStatus::Refunded)
}

/// The offers of one due cross-sell, or why there are none.
pub async fn offers(
    shared: &CustomerShared,
    c: &CustomerState,
    order: &OrderState,
    lines: &[String],
    scenario: Scenario,
    rules: &DeliveryRules,
    now: Millis,
) -> Result<Vec<Offer>, SuppressReason> {
    let (store, related, triggers) = (&shared.store, &shared.related, &*shared.triggers);
    let max_items = rules
        .orders
        .cross_sell(scenario)
        .map_or(1, |cs| cs.max_items);
    let skus = order_skus(
        lines
            .iter()
            .filter_map(|id| order.line(id))
            .map(|l| l.placed.sku.as_str()),
        related,
    );
    let mut bought: HashSet<String> = c
        .orders
        .iter()
        .flat_map(|o| &o.lines)
        .filter(|l| kept(l.status))
        .map(|l| l.placed.sku.clone())
        .collect();
    let (id, read_skus) = (c.id.clone(), skus.clone());
    // One blocking read: the records, then the candidate products they name.
    let gathered = store
        .read(move |s| {
            let mut g = gather(s, &id, &read_skus)?;
            g.bought.extend(bought.drain());
            let wanted = candidates(&input(&read_skus, &g));
            let found = s.multi_get::<Products>(wanted.iter().map(String::as_str))?;
            let products: Vec<_> = wanted
                .into_iter()
                .zip(found)
                .filter_map(|(k, v)| Some((k, v?)))
                .collect();
            g.products.extend(products);
            Ok(g)
        })
        .await;
    let g = match gathered {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, customer_id = %c.id, order_id = %order.order_id, "Cannot read the related products; the cross-sell offer is dropped.");
            return Err(SuppressReason::NothingToOffer);
        }
    };
    let picked = pick(
        &input(&skus, &g),
        scenario,
        max_items,
        now,
        related,
        triggers,
    );
    if picked.is_empty() {
        return Err(SuppressReason::NothingToOffer);
    }
    let n = picked.len();
    Ok(picked
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let p = g.products.get(&s.sku)?;
            Some(Offer {
                candidate: Candidate {
                    trigger_id: order_key(&order.order_id),
                    scenario,
                    sku: s.sku.clone(),
                    at_ms: now,
                    // The pick's order: best first within the offer.
                    score: (n - i) as f64,
                },
                item: ItemContext::offered(s.sku, p),
            })
        })
        .collect())
}

fn input<'a>(skus: &'a [String], g: &'a Gathered) -> PickInput<'a> {
    PickInput {
        order_skus: skus,
        records: &g.records,
        categories: &g.categories,
        categories_of: &g.categories_of,
        products: &g.products,
        bought: &g.bought,
    }
}

/// The order SKUs' records, products and categories' best sellers, and every SKU the
/// customer's purchase signals name.
fn gather(s: &Store, customer_id: &str, skus: &[String]) -> Result<Gathered, StoreError> {
    let mut g = Gathered::default();
    let keys = || skus.iter().map(String::as_str);
    for (sku, r) in skus.iter().zip(s.multi_get::<RelatedRecords>(keys())?) {
        if let Some(r) = r {
            g.records.insert(sku.clone(), r);
        }
    }
    for (sku, p) in skus.iter().zip(s.multi_get::<Products>(keys())?) {
        if let Some(p) = p {
            g.categories_of
                .insert(sku.clone(), p.catalogue.category_ids.clone());
            g.products.insert(sku.clone(), p);
        }
    }
    g.categories = best_sellers(s, &g.categories_of)?;
    purchased(s, customer_id, &mut g.bought)?;
    Ok(g)
}

/// The best sellers of every category the products of `categories_of` are in, by
/// category (shared with win-back).
pub(super) fn best_sellers(
    s: &Store,
    categories_of: &HashMap<String, Vec<String>>,
) -> Result<HashMap<String, CategoryBestSellers>, StoreError> {
    let mut cats: Vec<&str> = categories_of
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    cats.sort_unstable();
    cats.dedup();
    let found = s.multi_get::<CategorySellers>(cats.iter().copied())?;
    Ok(cats
        .into_iter()
        .zip(found)
        .filter_map(|(cat, b)| Some((cat.to_owned(), b?)))
        .collect())
}

/// Adds every SKU the customer's purchase signals name to `bought` (shared with
/// win-back).
pub(super) fn purchased(
    s: &Store,
    customer_id: &str,
    bought: &mut HashSet<String>,
) -> Result<(), StoreError> {
    for row in s.iter_prefix::<InterestByCustomer>(customer_id, Seek::First)? {
        let ((_, sku), edge) = row?;
        if edge.purchased_ms.is_some() {
            bought.insert(sku);
        }
    }
    Ok(())
}

/// Whether `s` is one of the cross-sell offers.
pub fn is_cross_sell(s: Scenario) -> bool {
    matches!(s, Scenario::CrossSellOrder | Scenario::CrossSellDelivery)
}

/// The order part of a cross-sell message: the order it follows (named by its
/// candidates' `trigger_id`, see `order_key`), its kept lines, and the coupon.
pub fn order_of(c: &CustomerState, trigger_id: u64) -> Option<&OrderState> {
    c.orders
        .iter()
        .find(|o| order_key(&o.order_id) == trigger_id)
}

/// The lines a cross-sell message shows of its order: those the customer kept.
pub fn kept_lines(order: &OrderState) -> Vec<String> {
    order
        .lines
        .iter()
        .filter(|l| kept(l.status))
        .map(|l| l.id().to_owned())
        .collect()
}

/// Sets the scenario's coupon on a cross-sell message's order part.
pub fn with_coupon(mut o: OrderContext, scenario: Scenario, rules: &DeliveryRules) -> OrderContext {
    o.coupon_code = rules
        .orders
        .cross_sell(scenario)
        .and_then(|cs| cs.coupon_code.clone())
        .unwrap_or_default();
    o
}
