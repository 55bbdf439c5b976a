//! Who hears about a trigger: a prefix scan of the product's interest edges (or, for a
//! new arrival, of its categories' affinities), scored now and filtered by the
//! scenario's threshold, purchases and — for a price drop — the price each customer saw.

use std::collections::HashMap;

use crate::delivery::ItemContext;
use crate::domain::customer::{Candidate, Scenario, SuppressReason};
use crate::domain::decide::Offer;
use crate::domain::interest::{score, InterestWeights};
use crate::domain::product::ProductState;
use crate::domain::{triggers, FiredTrigger, Millis, TriggerConfig};
use crate::rules_config::DeliveryRules;
use crate::store::interest::{decode_affinity, decode_edge, pair_prefix, pair_second};
use crate::store::{Cf, Store, StoreError};

/// Rows read per scan page.
const PAGE: usize = 4096;

/// The offers of one trigger and the customers left out before the per-customer rules.
#[derive(Debug, Default)]
pub struct Audience {
    /// Best interest first, then the oldest interest (first signal) first.
    pub offers: Vec<(String, Offer)>,
    pub left_out: Vec<(SuppressReason, u64)>,
}

fn item(p: &ProductState, scenario: Scenario, old_price: Option<i64>) -> ItemContext {
    ItemContext {
        sku: p.sku.clone(),
        title: p.catalogue.title.clone(),
        url: p.catalogue.url.clone(),
        image_url: p.catalogue.image_url.clone(),
        currency: p.catalogue.currency.clone(),
        price_minor: p.price_minor,
        old_price_minor: old_price,
        stock_left: matches!(scenario, Scenario::LowStock).then_some(p.stock),
    }
}

/// Visits every (key suffix, value) under `prefix` in pages.
fn scan_prefix(
    store: &Store,
    cf: Cf,
    prefix: &[u8],
    mut visit: impl FnMut(&str, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut from = prefix.to_vec();
    loop {
        let rows = store.scan_raw(cf, &from, true, PAGE, |k| k.starts_with(prefix))?;
        for (k, v) in &rows {
            if let Some(second) = pair_second(k) {
                visit(second, v)?;
            }
        }
        match rows.last() {
            Some((k, _)) if rows.len() == PAGE => {
                from = k.to_vec();
                from.push(0);
            }
            _ => return Ok(()),
        }
    }
}

/// The settings an audience depends on.
pub struct Policy<'a> {
    pub rules: &'a DeliveryRules,
    pub weights: &'a InterestWeights,
    pub triggers: &'a TriggerConfig,
}

/// Computes the audience of trigger `id` for product `p` at `now`.
pub fn audience(
    store: &Store,
    id: u64,
    t: &FiredTrigger,
    p: &ProductState,
    policy: &Policy<'_>,
    now: Millis,
) -> Result<Audience, StoreError> {
    let (rules, w, trig) = (policy.rules, policy.weights, policy.triggers);
    let scenario = Scenario::from(t.kind);
    let threshold = rules.threshold(scenario);
    let mut out = Audience::default();
    let mut below = 0u64;
    let mut purchased = 0u64;
    let mut ranked: Vec<(String, Offer, Millis)> = Vec::new();
    let offer = |customer: &str, s: f64, old: Option<i64>, since: Millis| {
        let candidate = Candidate {
            trigger_id: id,
            scenario,
            sku: p.sku.clone(),
            at_ms: t.at_ms,
            score: s,
        };
        (
            customer.to_owned(),
            Offer {
                candidate,
                item: item(p, scenario, old),
            },
            since,
        )
    };
    if scenario == Scenario::NewArrival {
        let mut best: HashMap<String, f64> = HashMap::new();
        for cat in &p.catalogue.category_ids {
            scan_prefix(
                store,
                Cf::CategoryInterest,
                &pair_prefix(cat),
                |customer, v| {
                    let a = decode_affinity(v)?.value_at(now, w.half_life_ms);
                    let e = best.entry(customer.to_owned()).or_insert(0.0);
                    *e = e.max(a);
                    Ok(())
                },
            )?;
        }
        for (customer, a) in best {
            if a >= threshold {
                ranked.push(offer(&customer, a, None, 0));
            } else {
                below += 1;
            }
        }
    } else {
        scan_prefix(store, Cf::Interest, &pair_prefix(&p.sku), |customer, v| {
            let e = decode_edge(v)?;
            if e.purchased() {
                purchased += 1;
                return Ok(());
            }
            let s = score(&e, now, w);
            if s < threshold {
                below += 1;
                return Ok(());
            }
            if scenario == Scenario::PriceDrop {
                // Only customers who saw a price this drop really undercuts.
                let seen = e.seen_price.unwrap_or(t.old_price_minor);
                if !triggers::price_drop(seen, p.price_minor, trig) {
                    below += 1;
                    return Ok(());
                }
                ranked.push(offer(customer, s, Some(seen), e.first_ms));
            } else {
                ranked.push(offer(customer, s, None, e.first_ms));
            }
            Ok(())
        })?;
    }
    out.left_out = vec![
        (SuppressReason::BelowThreshold, below),
        (SuppressReason::Purchased, purchased),
    ];
    // Best interest first, then the oldest interest: the order batches are released in.
    ranked.sort_by(|a, b| {
        b.1.candidate
            .score
            .total_cmp(&a.1.candidate.score)
            .then(a.2.cmp(&b.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    out.offers = ranked.into_iter().map(|(c, o, _)| (c, o)).collect();
    Ok(out)
}
