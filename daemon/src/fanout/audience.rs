//! Who hears about a trigger: a prefix scan of the product's interest edges (or, for a
//! new arrival, of its categories' affinities), scored now and filtered by the
//! scenario's threshold, purchases, — for a price drop — the price each customer saw,
//! and — for low stock — whether a back-in-stock batch of the product is still coming.

use std::collections::{HashMap, HashSet};

use crate::domain::customer::{Candidate, Scenario, SuppressReason};
use crate::domain::decide::Offer;
use crate::domain::interest::{score, InterestWeights};
use crate::domain::message::ItemContext;
use crate::domain::release::Addressed;
use crate::domain::rules::DeliveryRules;
use crate::domain::{triggers, Catalogue, FiredTrigger, Millis, TriggerConfig};
use crate::store::interest::{CategoryInterest, Interest};
use crate::store::meta::Releases;
use crate::store::records::Products;
use crate::store::{Seek, Store, StoreError};

/// The offers of one trigger and the customers left out before the per-customer rules.
#[derive(Debug, Default)]
pub struct Audience {
    /// Best interest first, then the oldest interest (first signal) first.
    pub offers: Vec<Addressed>,
    pub left_out: Vec<(SuppressReason, u64)>,
}

/// What the trigger's messages show about its product: the product as it was when the
/// trigger fired (price and stock after the change that fired it).
struct Shown {
    sku: String,
    catalogue: Catalogue,
    price_minor: i64,
    stock: i64,
}

impl Shown {
    /// The trigger's own snapshot; triggers logged before they carried one read the
    /// product's current state instead.
    fn of(store: &Store, t: &FiredTrigger) -> Result<Option<Shown>, StoreError> {
        let catalogue = match &t.catalogue {
            Some(c) => c.clone(),
            None => match store.get::<Products>(&t.sku)? {
                Some(p) => p.catalogue,
                None => return Ok(None),
            },
        };
        Ok(Some(Shown {
            sku: t.sku.clone(),
            catalogue,
            price_minor: t.new_price_minor,
            stock: t.new_stock,
        }))
    }

    fn item(&self, scenario: Scenario, old_price: Option<i64>) -> ItemContext {
        let c = &self.catalogue;
        ItemContext {
            sku: self.sku.clone(),
            title: c.title.clone(),
            url: c.url.clone(),
            image_url: c.image_url.clone(),
            currency: c.currency.clone(),
            price_minor: self.price_minor,
            old_price_minor: old_price,
            stock_left: matches!(scenario, Scenario::LowStock).then_some(self.stock),
        }
    }
}

/// The settings an audience depends on.
pub struct Policy<'a> {
    pub rules: &'a DeliveryRules,
    pub weights: &'a InterestWeights,
    pub triggers: &'a TriggerConfig,
}

/// Customers still waiting in a back-in-stock release of `sku`: they hear about the
/// restock in their batch, not "only a few left" before it.
pub fn waiting_for_restock(store: &Store, sku: &str) -> Result<HashSet<String>, StoreError> {
    let mut waiting = HashSet::new();
    for row in store.iter_prefix::<Releases>((), Seek::First)? {
        let (_, r) = row?;
        if r.sku == sku {
            waiting.extend(r.waiting.into_iter().map(|a| a.customer_id));
        }
    }
    Ok(waiting)
}

/// Computes the audience of trigger `id` at `now`, leaving out the customers in `waiting`
/// (those a back-in-stock batch of the product is still coming for; see
/// [`waiting_for_restock`]).
pub fn audience(
    store: &Store,
    id: u64,
    t: &FiredTrigger,
    policy: &Policy<'_>,
    now: Millis,
    waiting: &HashSet<String>,
) -> Result<Audience, StoreError> {
    let (rules, w, trig) = (policy.rules, policy.weights, policy.triggers);
    let scenario = Scenario::from(t.kind);
    let threshold = rules.threshold(scenario);
    let mut out = Audience::default();
    let Some(shown) = Shown::of(store, t)? else {
        return Ok(out);
    };
    let mut below = 0u64;
    let mut purchased = 0u64;
    let mut left_waiting = 0u64;
    let mut ranked: Vec<(Addressed, Millis)> = Vec::new();
    let offer = |customer: String, s: f64, old: Option<i64>, since: Millis| {
        let candidate = Candidate {
            trigger_id: id,
            scenario,
            sku: shown.sku.clone(),
            at_ms: t.at_ms,
            score: s,
        };
        let offer = Offer {
            candidate,
            item: shown.item(scenario, old),
        };
        (
            Addressed {
                customer_id: customer,
                offer,
            },
            since,
        )
    };
    if scenario == Scenario::NewArrival {
        let mut best: HashMap<String, f64> = HashMap::new();
        for cat in &shown.catalogue.category_ids {
            for row in store.iter_prefix::<CategoryInterest>(cat, Seek::First)? {
                let ((_, customer), affinity) = row?;
                let a = affinity.value_at(now, w.half_life_ms);
                let e = best.entry(customer).or_insert(0.0);
                *e = e.max(a);
            }
        }
        for (customer, a) in best {
            if a >= threshold {
                ranked.push(offer(customer, a, None, 0));
            } else {
                below += 1;
            }
        }
    } else {
        for row in store.iter_prefix::<Interest>(&shown.sku, Seek::First)? {
            let ((_, customer), e) = row?;
            if e.purchased() {
                purchased += 1;
                continue;
            }
            if waiting.contains(&customer) {
                left_waiting += 1;
                continue;
            }
            let s = score(&e, now, w);
            if s < threshold {
                below += 1;
                continue;
            }
            if scenario == Scenario::PriceDrop {
                // Only customers who saw a price this drop really undercuts.
                let seen = e.seen_price.unwrap_or(t.old_price_minor);
                if !triggers::price_drop(seen, shown.price_minor, trig) {
                    below += 1;
                    continue;
                }
                ranked.push(offer(customer, s, Some(seen), e.first_ms));
            } else {
                ranked.push(offer(customer, s, None, e.first_ms));
            }
        }
    }
    out.left_out = vec![
        (SuppressReason::BelowThreshold, below),
        (SuppressReason::Purchased, purchased),
        // A back-in-stock batch (higher priority) is still coming for them.
        (SuppressReason::Priority, left_waiting),
    ];
    // Best interest first, then the oldest interest: the order batches are released in.
    ranked.sort_by(|(a, a_since), (b, b_since)| {
        b.offer
            .candidate
            .score
            .total_cmp(&a.offer.candidate.score)
            .then(a_since.cmp(b_since))
            .then_with(|| a.customer_id.cmp(&b.customer_id))
    });
    out.offers = ranked.into_iter().map(|(a, _)| a).collect();
    Ok(out)
}
