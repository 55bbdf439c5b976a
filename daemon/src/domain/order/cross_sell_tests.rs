//! The cross-sell pick: related first by lift, the category best sellers when support is
//! thin, and never a product that is sold out (after backorders), hidden, off sale, in
//! the order or already bought; at most K. A property test checks the same over random
//! tables against those rules.

use proptest::prelude::*;

use super::*;
use crate::domain::order::backorder::NewLine;
use crate::domain::order::related::{order_skus, record_order, OrderTotal};
use crate::domain::order::BackorderMark;
use crate::domain::product::{apply, Effects};
use crate::domain::{Catalogue, ProductEvent, Window};

const T0: Millis = 1_700_000_000_000;
const DAY: Millis = 86_400_000;

fn cfg() -> RelatedConfig {
    RelatedConfig {
        half_life_ms: 90 * DAY,
        min_support: 2.0,
        top_k: 6,
        max_pairs: 20,
        max_order_skus: 20,
        max_category_skus: 10,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    InStock,
    SoldOut,
    Hidden,
    OffSale,
}

fn product(sku: &str, shape: Shape, category: &str) -> ProductState {
    let tcfg = TriggerConfig::default();
    let past = Window {
        start_ms: Some(T0 - 10 * DAY),
        end_ms: Some(T0 - DAY),
    };
    let catalogue = Catalogue {
        title: format!("{sku} title"),
        category_ids: vec![category.to_owned()],
        currency: "JPY".into(),
        display_window: if shape == Shape::Hidden {
            past
        } else {
            Window::default()
        },
        sale_window: if shape == Shape::OffSale {
            past
        } else {
            Window::default()
        },
        ..Default::default()
    };
    let stock = if shape == Shape::SoldOut { 0 } else { 5 };
    let mut st = None;
    let mut fx = Effects::default();
    let events = [
        ProductEvent::Upsert {
            catalogue,
            price_minor: 1000,
            imported: true,
        },
        ProductEvent::StockSet { quantity: stock },
    ];
    for e in &events {
        assert!(apply(&mut st, sku, e, T0 - 20 * DAY, &tcfg, &mut fx).is_ok());
    }
    st.expect("the upsert creates the product")
}

/// A related table, category sellers and products, built from orders.
#[derive(Default)]
struct World {
    total: OrderTotal,
    records: HashMap<String, CoPurchase>,
    categories: HashMap<String, CategoryBestSellers>,
    categories_of: HashMap<String, Vec<String>>,
    products: HashMap<String, ProductState>,
}

impl World {
    fn add(&mut self, sku: &str, shape: Shape, category: &str) {
        self.products
            .insert(sku.into(), product(sku, shape, category));
        self.categories_of.insert(sku.into(), vec![category.into()]);
    }

    fn order(&mut self, skus: &[&str], at: Millis) {
        let skus = order_skus(skus.iter().copied(), &cfg());
        let mut recs: Vec<CoPurchase> = skus
            .iter()
            .map(|s| {
                self.records
                    .get(s)
                    .cloned()
                    .unwrap_or_else(|| CoPurchase::new(s, at))
            })
            .collect();
        record_order(&mut self.total, &mut recs, at, &cfg());
        for r in recs {
            self.records.insert(r.sku.clone(), r);
        }
        for s in &skus {
            for c in self.categories_of.get(s).cloned().unwrap_or_default() {
                self.categories
                    .entry(c.clone())
                    .or_insert_with(|| CategoryBestSellers::new(&c, at))
                    .record(s, at, &cfg());
            }
        }
    }

    fn pick(&self, order: &[&str], bought: &[&str], k: usize) -> Vec<Suggestion> {
        let order: Vec<String> = order.iter().map(|s| (*s).to_owned()).collect();
        let bought: HashSet<String> = bought.iter().map(|s| (*s).to_owned()).collect();
        let input = PickInput {
            order_skus: &order,
            records: &self.records,
            categories: &self.categories,
            categories_of: &self.categories_of,
            products: &self.products,
            bought: &bought,
        };
        let all = candidates(&input);
        let got = pick(
            &input,
            Scenario::CrossSellOrder,
            k,
            T0,
            &cfg(),
            &TriggerConfig::default(),
        );
        for s in &got {
            assert!(all.contains(&s.sku), "{} picked but not a candidate", s.sku);
        }
        got
    }
}

fn skus(s: &[Suggestion]) -> Vec<&str> {
    s.iter().map(|s| s.sku.as_str()).collect()
}

/// X is bought with Y (in stock), Z (sold out), W (already bought by the customer), H
/// (hidden): three orders each; B is the best seller of X's category.
fn world() -> World {
    let mut w = World::default();
    w.add("X", Shape::InStock, "kitchen");
    w.add("Y", Shape::InStock, "kitchen");
    w.add("Z", Shape::SoldOut, "kitchen");
    w.add("W", Shape::InStock, "kitchen");
    w.add("H", Shape::Hidden, "kitchen");
    w.add("B", Shape::InStock, "kitchen");
    for i in 0..3 {
        let at = T0 - DAY + i;
        w.order(&["X", "Y", "Z", "W", "H"], at);
    }
    for i in 0..6 {
        w.order(&["B"], T0 - DAY + 10 + i);
    }
    w
}

#[test]
fn related_in_stock_first_never_sold_out_hidden_or_bought() {
    let w = world();
    let got = w.pick(&["X"], &["W"], 4);
    assert_eq!(skus(&got)[0], "Y", "{got:?}");
    assert!(matches!(got[0].why, Why::CoBought { .. }));
    for bad in ["Z", "W", "H", "X"] {
        assert!(!skus(&got).contains(&bad), "{bad} in {got:?}");
    }
    // Support is thin beyond Y: the category's best seller fills in.
    assert!(skus(&got).contains(&"B"), "{got:?}");
    let b = got.iter().find(|s| s.sku == "B").expect("B");
    assert!(matches!(b.why, Why::CategoryBestSeller { .. }));
    assert!(b.why.explain().contains("best seller"));
}

#[test]
fn at_most_k_and_nothing_when_nothing_is_left() {
    let w = world();
    assert_eq!(w.pick(&["X"], &["W"], 1).len(), 1);
    // Everything buyable is in the order or bought.
    let none = w.pick(&["X", "Y"], &["B", "W"], 4);
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn a_unit_owed_to_backorders_is_not_stock() {
    let mut w = world();
    // Y is backorderable and sold out; a line waits for 5 units; 5 arrive and are all
    // allocated to it: stock 5, nothing free to sell.
    let tcfg = TriggerConfig::default();
    let mut st = Some(product("Y", Shape::SoldOut, "kitchen"));
    if let Some(p) = st.as_mut() {
        p.catalogue.backorderable = true;
    }
    let line = NewLine {
        order_id: "o-9".into(),
        line_id: "1".into(),
        customer_id: "c-9".into(),
        quantity: 5,
        placed_ms: T0 - 2 * DAY,
    };
    let events = [
        ProductEvent::OrderLine {
            line,
            mark: BackorderMark::Backorder,
        },
        ProductEvent::StockSet { quantity: 5 },
    ];
    let mut fx = Effects::default();
    for e in &events {
        assert!(apply(&mut st, "Y", e, T0 - DAY, &tcfg, &mut fx).is_ok());
    }
    let p = st.expect("Y");
    assert_eq!((p.stock, p.available()), (5, 0));
    w.products.insert("Y".into(), p);
    let got = w.pick(&["X"], &["W"], 4);
    assert!(!skus(&got).contains(&"Y"), "{got:?}");
}

#[test]
fn order_keys_differ_and_are_stable() {
    assert_eq!(order_key("A-1001"), order_key("A-1001"));
    assert_ne!(order_key("A-1001"), order_key("A-1002"));
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        3 => Just(Shape::InStock),
        1 => Just(Shape::SoldOut),
        1 => Just(Shape::Hidden),
        1 => Just(Shape::OffSale),
    ]
}

proptest! {
    #[test]
    fn never_unbuyable_in_order_or_bought_and_at_most_k(
        shapes in proptest::collection::vec(shape(), 8),
        orders in proptest::collection::vec(proptest::collection::vec(0usize..8, 1..5), 1..30),
        order in proptest::collection::vec(0usize..8, 1..3),
        bought in proptest::collection::vec(0usize..8, 0..3),
        k in 1usize..6,
    ) {
        let name = |i: usize| format!("P{i}");
        let mut w = World::default();
        for (i, s) in shapes.iter().enumerate() {
            w.add(&name(i), *s, if i.is_multiple_of(2) { "even" } else { "odd" });
        }
        for (n, o) in orders.iter().enumerate() {
            let skus: Vec<String> = o.iter().map(|i| name(*i)).collect();
            let refs: Vec<&str> = skus.iter().map(String::as_str).collect();
            w.order(&refs, T0 - DAY + n as i64);
        }
        let order: Vec<String> = order.iter().map(|i| name(*i)).collect();
        let bought: Vec<String> = bought.iter().map(|i| name(*i)).collect();
        let o: Vec<&str> = order.iter().map(String::as_str).collect();
        let b: Vec<&str> = bought.iter().map(String::as_str).collect();
        let got = w.pick(&o, &b, k);
        prop_assert!(got.len() <= k);
        let mut seen = HashSet::new();
        for s in &got {
            let i: usize = s.sku[1..].parse().expect("a P<n> sku");
            prop_assert_eq!(shapes[i], Shape::InStock, "{} is not buyable", s.sku);
            prop_assert!(!order.contains(&s.sku), "{} is in the order", s.sku);
            prop_assert!(!bought.contains(&s.sku), "{} was bought", s.sku);
            prop_assert!(seen.insert(s.sku.clone()), "{} twice", s.sku);
        }
        // Co-bought suggestions come first, by lift.
        let lifts: Vec<f64> = got.iter().filter_map(|s| match s.why {
            Why::CoBought { lift, .. } => Some(lift),
            Why::CategoryBestSeller { .. } => None,
        }).collect();
        prop_assert!(lifts.windows(2).all(|w| w[0] >= w[1]));
        let first_fallback = got.iter().position(|s| matches!(s.why, Why::CategoryBestSeller { .. }));
        if let Some(f) = first_fallback {
            let fallback_last = got[f..]
                .iter()
                .all(|s| matches!(s.why, Why::CategoryBestSeller { .. }));
            prop_assert!(fallback_last, "a co-bought product after a best seller");
        }
        // Something buyable, not in the order nor bought, and sold at least once in
        // the order's categories is always offered (the fallback is never empty then).
        let cats: HashSet<&str> = order.iter().map(|s| {
            let i: usize = s[1..].parse().expect("sku");
            if i.is_multiple_of(2) { "even" } else { "odd" }
        }).collect();
        let offerable = (0..8).map(name).any(|s| {
            let i: usize = s[1..].parse().expect("sku");
            shapes[i] == Shape::InStock
                && !order.contains(&s)
                && !bought.contains(&s)
                && cats.contains(if i.is_multiple_of(2) { "even" } else { "odd" })
                && orders.iter().any(|o| o.contains(&i))
        });
        if offerable {
            prop_assert!(!got.is_empty());
        }
    }
}
