//! Related products from co-purchases: per SKU, how often it was bought together with
//! each other SKU (pairs within one order), scored by lift with a minimum support; the
//! best K kept, and the SKU's category best sellers when support is thin. Every
//! suggestion says why (`Why::explain`).
//!
//! Layout (one record per key, updated incrementally per order):
//! - `CoPurchase`, per SKU: its decayed order count, up to `max_pairs` partners with the
//!   decayed count of orders holding both and the partner's own order count (a snapshot),
//!   and the top K by lift (recomputed on every order of this SKU).
//! - `OrderTotal`, one record: the decayed count of all orders (lift's `N`).
//! - `CategoryBestSellers`, per category: the decayed order counts of its best sellers.
//!
//! Decay: every count is stored as of its record's `as_of_ms` and read at `t` as
//! `count · 2^(−(t − as_of)/half_life)`; a record is brought forward to the order's time
//! before an order adds 1 (an order older than the record adds `2^(−age/half_life)`, as
//! if it had decayed since). Counts of one record share one time, so ratios between them
//! do not change with time: lift (`N·n(a,b) / (n(a)·n(b))`) moves only with new orders,
//! support (`n(a,b)`) fades, and a pair whose support fades below the minimum stops
//! being suggested without any write.
//!
//! A partner's order count is the one seen when the two were last bought together (both
//! records are updated by that order); when the partner later sells on its own the
//! snapshot falls behind and overstates lift until they are bought together again, or
//! until `rescore` is given fresh counts. Kept partners are the most co-bought: a new
//! one enters when it outweighs the weakest kept one, which decay makes room for.

use serde::{Deserialize, Serialize};

use crate::domain::Millis;

/// The `[related]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelatedConfig {
    pub half_life_ms: i64,
    /// Fewest (decayed) orders holding both SKUs for a pair to be suggested.
    pub min_support: f64,
    /// Suggestions kept per SKU.
    pub top_k: usize,
    /// Partners whose counts are kept per SKU (at least `top_k`).
    pub max_pairs: usize,
    /// Distinct SKUs of one order that count (the first ones by line order): a huge
    /// order says little about any pair and would cost n² updates.
    pub max_order_skus: usize,
    /// Best sellers kept per category.
    pub max_category_skus: usize,
}

impl Default for RelatedConfig {
    fn default() -> Self {
        RelatedConfig {
            half_life_ms: 90 * 86_400_000,
            min_support: 3.0,
            top_k: 6,
            max_pairs: 50,
            max_order_skus: 20,
            max_category_skus: 50,
        }
    }
}

/// `2^(−(to − from)/half_life)`: what a count as of `from` is worth as of `to` (above 1
/// when `to` is earlier: the same count in an earlier time base).
fn decay(from: Millis, to: Millis, half_life_ms: i64) -> f64 {
    let dt = to.saturating_sub(from) as f64;
    0.5f64.powf(dt / half_life_ms.max(1) as f64)
}

/// Brings a record's counts forward to `at` and returns the weight of an event at `at`
/// (1, or less for an event older than the record).
fn advance(as_of_ms: &mut Millis, at: Millis, cfg: &RelatedConfig, counts: &mut [&mut f64]) -> f64 {
    if at <= *as_of_ms {
        return decay(at, *as_of_ms, cfg.half_life_ms);
    }
    let f = decay(*as_of_ms, at, cfg.half_life_ms);
    for c in counts {
        **c *= f;
    }
    *as_of_ms = at;
    1.0
}

/// The distinct SKUs of an order that count, in line order.
pub fn order_skus<'a>(skus: impl IntoIterator<Item = &'a str>, cfg: &RelatedConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sku in skus {
        if out.len() >= cfg.max_order_skus {
            break;
        }
        if !out.iter().any(|s| s == sku) {
            out.push(sku.to_owned());
        }
    }
    out
}

/// An order as the related table counts it: written to the placed-order log with the
/// order's index, followed by the related table's one writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedOrder {
    pub order_id: String,
    pub at_ms: Millis,
    /// The order's SKUs in line order (repeats kept; `order_skus` dedupes).
    pub skus: Vec<String>,
}

/// The decayed count of all orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderTotal {
    pub as_of_ms: Millis,
    pub orders: f64,
}

impl OrderTotal {
    pub fn at(&self, t: Millis, cfg: &RelatedConfig) -> f64 {
        self.orders * decay(self.as_of_ms, t, cfg.half_life_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairCount {
    pub sku: String,
    /// Orders holding both, as of the record's `as_of_ms`.
    pub together: f64,
    /// The partner's own order count, as last seen (same time base).
    pub partner_orders: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Related {
    pub sku: String,
    pub lift: f64,
    /// Orders holding both, as of the record's `as_of_ms`.
    pub together: f64,
}

/// One SKU's co-purchase record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoPurchase {
    pub sku: String,
    pub as_of_ms: Millis,
    pub orders: f64,
    pub pairs: Vec<PairCount>,
    /// The best `top_k` partners with enough support, by lift.
    pub top: Vec<Related>,
}

impl CoPurchase {
    pub fn new(sku: &str, at_ms: Millis) -> Self {
        CoPurchase {
            sku: sku.to_owned(),
            as_of_ms: at_ms,
            orders: 0.0,
            pairs: Vec::new(),
            top: Vec::new(),
        }
    }

    /// Its order count as of `t`.
    pub fn orders_at(&self, t: Millis, cfg: &RelatedConfig) -> f64 {
        self.orders * decay(self.as_of_ms, t, cfg.half_life_ms)
    }

    fn advance(&mut self, at: Millis, cfg: &RelatedConfig) -> f64 {
        let mut counts: Vec<&mut f64> = vec![&mut self.orders];
        for p in &mut self.pairs {
            counts.push(&mut p.together);
            counts.push(&mut p.partner_orders);
        }
        for r in &mut self.top {
            counts.push(&mut r.together);
        }
        advance(&mut self.as_of_ms, at, cfg, &mut counts)
    }

    /// Recomputes the top K by lift, with partners' order counts from `fresh` (as of
    /// `as_of_ms`) where it knows them, the stored snapshot elsewhere.
    pub fn rescore(
        &mut self,
        total: &OrderTotal,
        fresh: impl Fn(&str) -> Option<f64>,
        cfg: &RelatedConfig,
    ) {
        let n = total.at(self.as_of_ms, cfg);
        for p in &mut self.pairs {
            if let Some(count) = fresh(&p.sku) {
                p.partner_orders = count;
            }
        }
        let orders = self.orders;
        let mut top: Vec<Related> = self
            .pairs
            .iter()
            .filter(|p| p.together >= cfg.min_support && p.partner_orders > 0.0 && orders > 0.0)
            .map(|p| Related {
                sku: p.sku.clone(),
                lift: p.together * n / (orders * p.partner_orders),
                together: p.together,
            })
            .collect();
        top.sort_by(|a, b| {
            b.lift
                .total_cmp(&a.lift)
                .then(b.together.total_cmp(&a.together))
                .then_with(|| a.sku.cmp(&b.sku))
        });
        top.truncate(cfg.top_k);
        self.top = top;
    }

    /// Keeps the `max_pairs` most co-bought partners.
    fn prune(&mut self, cfg: &RelatedConfig) {
        let keep = cfg.max_pairs.max(cfg.top_k);
        if self.pairs.len() > keep {
            self.pairs.sort_by(|a, b| {
                b.together
                    .total_cmp(&a.together)
                    .then_with(|| a.sku.cmp(&b.sku))
            });
            self.pairs.truncate(keep);
        }
    }
}

/// Counts one order: `records` holds a record for each SKU of `skus` (from `order_skus`;
/// `CoPurchase::new` for a SKU never seen), and all of them are updated and rescored.
pub fn record_order(
    total: &mut OrderTotal,
    records: &mut [CoPurchase],
    at_ms: Millis,
    cfg: &RelatedConfig,
) {
    let w = advance(&mut total.as_of_ms, at_ms, cfg, &mut [&mut total.orders]);
    total.orders += w;
    for r in records.iter_mut() {
        let w = r.advance(at_ms, cfg);
        r.orders += w;
    }
    // Every record of the order is now as of `at_ms` or later: each reads its partners'
    // counts in its own time base.
    let counts: Vec<SkuCount> = records
        .iter()
        .map(|r| SkuCount {
            sku: r.sku.clone(),
            orders: r.orders,
            as_of_ms: r.as_of_ms,
        })
        .collect();
    for r in records.iter_mut() {
        let weight = decay(at_ms, r.as_of_ms, cfg.half_life_ms);
        for other in counts.iter().filter(|c| c.sku != r.sku) {
            match r.pairs.iter_mut().find(|p| p.sku == other.sku) {
                Some(p) => p.together += weight,
                None => r.pairs.push(PairCount {
                    sku: other.sku.clone(),
                    together: weight,
                    partner_orders: 0.0,
                }),
            }
        }
        r.prune(cfg);
        let at = r.as_of_ms;
        let fresh = |sku: &str| {
            counts
                .iter()
                .find(|c| c.sku == sku)
                .map(|c| c.orders * decay(c.as_of_ms, at, cfg.half_life_ms))
        };
        r.rescore(total, fresh, cfg);
    }
}

/// A SKU's order count and the time it is as of.
struct SkuCount {
    sku: String,
    orders: f64,
    as_of_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkuOrders {
    pub sku: String,
    pub orders: f64,
}

/// A category's best sellers by decayed order count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryBestSellers {
    pub category: String,
    pub as_of_ms: Millis,
    /// Best first.
    pub skus: Vec<SkuOrders>,
}

impl CategoryBestSellers {
    pub fn new(category: &str, at_ms: Millis) -> Self {
        CategoryBestSellers {
            category: category.to_owned(),
            as_of_ms: at_ms,
            skus: Vec::new(),
        }
    }

    /// Counts an order holding `sku` (of this category).
    pub fn record(&mut self, sku: &str, at_ms: Millis, cfg: &RelatedConfig) {
        let mut counts: Vec<&mut f64> = self.skus.iter_mut().map(|s| &mut s.orders).collect();
        let w = advance(&mut self.as_of_ms, at_ms, cfg, &mut counts);
        match self.skus.iter_mut().find(|s| s.sku == sku) {
            Some(s) => s.orders += w,
            None => self.skus.push(SkuOrders {
                sku: sku.to_owned(),
                orders: w,
            }),
        }
        self.skus.sort_by(|a, b| {
            b.orders
                .total_cmp(&a.orders)
                .then_with(|| a.sku.cmp(&b.sku))
        });
        self.skus.truncate(cfg.max_category_skus.max(1));
    }
}

/// Why a product is suggested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Why {
    /// Bought together `times` (decayed) times, `lift` times more often than chance.
    CoBought { times: f64, lift: f64 },
    /// Co-purchase support was thin: one of the category's best sellers.
    CategoryBestSeller { category: String, orders: f64 },
}

impl Why {
    pub fn explain(&self) -> String {
        match self {
            Why::CoBought { times, lift } => {
                format!("co-bought {times:.1} times, lift {lift:.2}")
            }
            Why::CategoryBestSeller { category, orders } => {
                format!("best seller in category {category:?} ({orders:.1} orders)")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub sku: String,
    pub why: Why,
}

/// Up to `top_k` products to suggest with `sku` at `at_ms`: its co-purchase top K whose
/// support still holds, then its categories' best sellers (best first across them).
/// `skip` leaves out what must not be suggested (in the order, bought before, not on
/// sale); the caller re-checks the rest at send time.
pub fn suggest(
    sku: &str,
    record: Option<&CoPurchase>,
    categories: &[&CategoryBestSellers],
    skip: impl Fn(&str) -> bool,
    at_ms: Millis,
    cfg: &RelatedConfig,
) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    let taken = |out: &[Suggestion], s: &str| s == sku || skip(s) || out.iter().any(|o| o.sku == s);
    if let Some(r) = record {
        let f = decay(r.as_of_ms, at_ms, cfg.half_life_ms);
        for rel in &r.top {
            let times = rel.together * f;
            if out.len() < cfg.top_k && times >= cfg.min_support && !taken(&out, &rel.sku) {
                out.push(Suggestion {
                    sku: rel.sku.clone(),
                    why: Why::CoBought {
                        times,
                        lift: rel.lift,
                    },
                });
            }
        }
    }
    let mut best: Vec<Ranked> = categories
        .iter()
        .flat_map(|c| {
            let f = decay(c.as_of_ms, at_ms, cfg.half_life_ms);
            c.skus.iter().map(move |s| Ranked {
                category: &c.category,
                sku: &s.sku,
                orders: s.orders * f,
            })
        })
        .collect();
    best.sort_by(|a, b| b.orders.total_cmp(&a.orders).then_with(|| a.sku.cmp(b.sku)));
    for b in best {
        if out.len() >= cfg.top_k {
            break;
        }
        if !taken(&out, b.sku) {
            out.push(Suggestion {
                sku: b.sku.to_owned(),
                why: Why::CategoryBestSeller {
                    category: b.category.to_owned(),
                    orders: b.orders,
                },
            });
        }
    }
    out
}

/// A category best seller as of the time asked.
struct Ranked<'a> {
    category: &'a str,
    sku: &'a str,
    orders: f64,
}

#[cfg(test)]
#[path = "related_tests.rs"]
mod tests;
