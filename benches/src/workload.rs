//! Deterministic workload generation: the catalogue phase (a ProductUpsert and an initial
//! StockSet per product) and the mix phase (Sale / StockAdjust / StockSet / PriceSet on
//! uniformly chosen products), both cut into `EventBatch`es with consecutive sequences.
//!
//! Everything is derived from the seed, so the same arguments give identical batches; the
//! mix phase uses its own RNG stream, so it is the same with or without the catalogue phase.
//! Catalogue products are marked `imported` (no new-arrival triggers) unless
//! `Spec::new_arrivals` is set.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stockbell_proto::v1::{
    event::Kind, AdjustReason, Event, EventBatch, PriceSet, ProductUpsert, Sale, StockAdjust,
    StockSet,
};

use crate::mix::{Mix, MixKind};

/// Number of distinct category ids products are spread over.
const CATEGORIES: usize = 50;
/// Share of products that may go below zero stock.
const BACKORDERABLE_SHARE: f64 = 0.1;
/// Share of StockAdjust events that are restocks (the rest are small corrections).
const RESTOCK_SHARE: f64 = 0.7;
/// Salt for the mix-phase RNG so it is independent of the catalogue RNG.
const MIX_SALT: u64 = 0x9E37_79B9_7F4A_7C15;

const ADJECTIVES: &[&str] = &[
    "Classic", "Organic", "Compact", "Deluxe", "Handmade", "Vintage", "Premium", "Light",
];
const NOUNS: &[&str] = &[
    "Tea Set", "Tote Bag", "Notebook", "Mug", "Towel", "Lamp", "Sneakers", "Umbrella",
];

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub producer_id: String,
    pub products: usize,
    pub batch: usize,
    pub events: usize,
    pub seed: u64,
    pub mix: Mix,
    pub catalogue: bool,
    /// Catalogue products are new (may fire new-arrival triggers) rather than imported.
    pub new_arrivals: bool,
}

/// The pre-generated batches of one run.
pub struct Workload {
    /// Catalogue batches (empty without the catalogue phase), sequences 1..
    pub catalogue: Vec<EventBatch>,
    pub catalogue_events: usize,
    /// Mix batches, sequences continuing after the catalogue ones.
    pub mix: Vec<EventBatch>,
    pub mix_events: usize,
}

/// The sku of product number `i` (0-based): "sku-000001" for the first.
pub fn sku(i: usize) -> String {
    format!("sku-{:06}", i + 1)
}

/// Cuts events into batches of at most `batch` events, numbering them from `next_seq`.
struct Batcher<'a> {
    producer_id: &'a str,
    batch: usize,
    next_seq: u64,
    current: Vec<Event>,
    out: Vec<EventBatch>,
}

impl<'a> Batcher<'a> {
    fn new(producer_id: &'a str, batch: usize, next_seq: u64, total_events: usize) -> Self {
        Batcher {
            producer_id,
            batch,
            next_seq,
            current: Vec::with_capacity(batch),
            out: Vec::with_capacity(total_events.div_ceil(batch)),
        }
    }

    fn push(&mut self, kind: Kind) {
        self.current.push(Event {
            event_time_ms: 0,
            kind: Some(kind),
        });
        if self.current.len() == self.batch {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let events = std::mem::replace(&mut self.current, Vec::with_capacity(self.batch));
        self.out.push(EventBatch {
            producer_id: self.producer_id.to_string(),
            sequence: self.next_seq,
            events,
        });
        self.next_seq += 1;
    }

    fn finish(mut self) -> (Vec<EventBatch>, u64) {
        self.flush();
        (self.out, self.next_seq)
    }
}

fn product(rng: &mut StdRng, i: usize, imported: bool) -> ProductUpsert {
    let sku = sku(i);
    let n_cats = rng.random_range(1..=3);
    let mut category_ids: Vec<String> = Vec::with_capacity(n_cats);
    while category_ids.len() < n_cats {
        let id = format!("cat-{:02}", rng.random_range(1..=CATEGORIES));
        if !category_ids.contains(&id) {
            category_ids.push(id);
        }
    }
    let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let noun = NOUNS[rng.random_range(0..NOUNS.len())];
    ProductUpsert {
        title: format!("{adjective} {noun} {}", i + 1),
        url: format!("https://shop.example.jp/products/{sku}"),
        image_url: format!("https://img.example.jp/products/{sku}.jpg"),
        category_ids,
        price_minor: rng.random_range(500..=50_000),
        currency: "JPY".to_string(),
        backorderable: rng.random_bool(BACKORDERABLE_SHARE),
        sku,
        imported,
        // Windows unset (always visible / on sale); later fields keep their defaults.
        ..Default::default()
    }
}

/// Generates all batches of a run. Panics never; `spec.batch` must be >= 1.
pub fn generate(spec: &Spec) -> Workload {
    let batch = spec.batch.max(1);
    let mut cat_rng = StdRng::seed_from_u64(spec.seed);
    let products: Vec<ProductUpsert> = (0..spec.products)
        .map(|i| product(&mut cat_rng, i, !spec.new_arrivals))
        .collect();
    let base_prices: Vec<i64> = products.iter().map(|p| p.price_minor).collect();

    let mut next_seq = 1;
    let (catalogue, catalogue_events) = if spec.catalogue {
        let total = products.len() * 2;
        let mut b = Batcher::new(&spec.producer_id, batch, next_seq, total);
        for p in products {
            let sku = p.sku.clone();
            b.push(Kind::ProductUpsert(p));
            b.push(Kind::StockSet(StockSet {
                sku,
                quantity: cat_rng.random_range(20..=200),
            }));
        }
        let (out, seq) = b.finish();
        next_seq = seq;
        (out, total)
    } else {
        (Vec::new(), 0)
    };

    let mut rng = StdRng::seed_from_u64(spec.seed ^ MIX_SALT);
    let mut b = Batcher::new(&spec.producer_id, batch, next_seq, spec.events);
    let total_weight = spec.mix.total().max(1);
    let mut order_no: u64 = 0;
    if !base_prices.is_empty() {
        for _ in 0..spec.events {
            let p = rng.random_range(0..base_prices.len());
            let sku = sku(p);
            let kind = match spec.mix.pick(rng.random_range(0..total_weight)) {
                MixKind::Sale => {
                    order_no += 1;
                    Kind::Sale(Sale {
                        sku,
                        quantity: rng.random_range(1..=3),
                        order_id: format!("ord-{:010}", order_no),
                    })
                }
                MixKind::Adjust if rng.random_bool(RESTOCK_SHARE) => {
                    Kind::StockAdjust(StockAdjust {
                        sku,
                        delta: rng.random_range(1..=50),
                        reason: AdjustReason::Restock as i32,
                    })
                }
                MixKind::Adjust => {
                    let magnitude = rng.random_range(1..=3);
                    let delta = if rng.random_bool(0.5) {
                        magnitude
                    } else {
                        -magnitude
                    };
                    Kind::StockAdjust(StockAdjust {
                        sku,
                        delta,
                        reason: AdjustReason::Correction as i32,
                    })
                }
                MixKind::Set => Kind::StockSet(StockSet {
                    sku,
                    quantity: rng.random_range(0..=200),
                }),
                MixKind::Price => {
                    let pct: i64 = rng.random_range(-30..=30);
                    let price = (base_prices[p] * (100 + pct) / 100).max(1);
                    Kind::PriceSet(PriceSet {
                        sku,
                        price_minor: price,
                    })
                }
            };
            b.push(kind);
        }
    }
    let (mix, _) = b.finish();
    let mix_events = mix.iter().map(|b| b.events.len()).sum();
    Workload {
        catalogue,
        catalogue_events,
        mix,
        mix_events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(catalogue: bool) -> Spec {
        Spec {
            producer_id: "p".into(),
            products: 37,
            batch: 10,
            events: 95,
            seed: 7,
            mix: Mix::default(),
            catalogue,
            new_arrivals: false,
        }
    }

    #[test]
    fn deterministic_and_sequenced() {
        let a = generate(&spec(true));
        let b = generate(&spec(true));
        assert_eq!(a.catalogue, b.catalogue);
        assert_eq!(a.mix, b.mix);
        assert_eq!(a.catalogue_events, 74);
        assert_eq!(a.catalogue.len(), 8);
        assert_eq!(a.mix_events, 95);
        assert_eq!(a.mix.len(), 10);
        let seqs: Vec<u64> = a
            .catalogue
            .iter()
            .chain(&a.mix)
            .map(|b| b.sequence)
            .collect();
        assert_eq!(seqs, (1..=18).collect::<Vec<_>>());
        assert_eq!(a.mix.last().map(|b| b.events.len()), Some(5));
    }

    #[test]
    fn new_arrivals_only_clears_imported() {
        let imported = generate(&spec(true));
        let fresh = generate(&Spec {
            new_arrivals: true,
            ..spec(true)
        });
        assert_eq!(imported.mix, fresh.mix);
        for (x, y) in imported.catalogue.iter().zip(&fresh.catalogue) {
            for (a, b) in x.events.iter().zip(&y.events) {
                match (&a.kind, &b.kind) {
                    (Some(Kind::ProductUpsert(a)), Some(Kind::ProductUpsert(b))) => {
                        assert!(a.imported && !b.imported);
                        let b = ProductUpsert {
                            imported: true,
                            ..b.clone()
                        };
                        assert_eq!(a, &b);
                    }
                    _ => assert_eq!(a, b),
                }
            }
        }
    }

    #[test]
    fn mix_independent_of_catalogue_and_valid() {
        let with = generate(&spec(true));
        let without = generate(&spec(false));
        assert!(without.catalogue.is_empty());
        assert_eq!(without.mix[0].sequence, 1);
        for (x, y) in with.mix.iter().zip(&without.mix) {
            assert_eq!(x.events, y.events);
        }
        for e in with.mix.iter().flat_map(|b| &b.events) {
            match &e.kind {
                Some(Kind::PriceSet(p)) => assert!(p.price_minor > 0),
                Some(Kind::Sale(s)) => assert!((1..=3).contains(&s.quantity)),
                Some(Kind::StockSet(s)) => assert!((0..=200).contains(&s.quantity)),
                Some(Kind::StockAdjust(a)) => assert_ne!(a.delta, 0),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
}
