//! Co-purchase counts, lift and the fallback, with values computed by hand.

use std::collections::HashMap;

use super::*;

const T0: Millis = 1_700_000_000_000;
const H: Millis = 10 * 86_400_000;

fn cfg() -> RelatedConfig {
    RelatedConfig {
        half_life_ms: H,
        min_support: 2.0,
        top_k: 3,
        max_pairs: 4,
        max_order_skus: 20,
        max_category_skus: 3,
    }
}

/// The records as the lead's store would hold them, one per SKU.
#[derive(Default)]
struct Table {
    total: OrderTotal,
    records: HashMap<String, CoPurchase>,
}

impl Table {
    fn order(&mut self, skus: &[&str], at: Millis) {
        let skus = order_skus(skus.iter().copied(), &cfg());
        let mut loaded: Vec<CoPurchase> = skus
            .iter()
            .map(|s| {
                self.records
                    .get(s)
                    .cloned()
                    .unwrap_or_else(|| CoPurchase::new(s, at))
            })
            .collect();
        record_order(&mut self.total, &mut loaded, at, &cfg());
        for r in loaded {
            self.records.insert(r.sku.clone(), r);
        }
    }

    fn times(&mut self, skus: &[&str], n: usize, at: Millis) {
        for _ in 0..n {
            self.order(skus, at);
        }
    }

    fn record(&self, sku: &str) -> &CoPurchase {
        self.records.get(sku).expect("the sku was ordered")
    }

    fn top(&self, sku: &str) -> Vec<(String, f64)> {
        let r = self.record(sku);
        r.top.iter().map(|t| (t.sku.clone(), t.lift)).collect()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn assert_top(got: Vec<(String, f64)>, want: &[(&str, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((sku, lift), (wsku, wlift)) in got.iter().zip(want) {
        assert_eq!(sku, wsku, "{got:?}");
        assert!(close(*lift, *wlift), "{sku}: lift {lift}, expected {wlift}");
    }
}

/// Ten orders at one instant (no decay): D×2, C×2, {B,C}×2, A×1, {A,B}×3.
fn ten_orders() -> Table {
    let mut t = Table::default();
    t.times(&["D"], 2, T0);
    t.times(&["C"], 2, T0);
    t.times(&["B", "C"], 2, T0);
    t.times(&["A"], 1, T0);
    t.times(&["A", "B"], 3, T0);
    t
}

#[test]
fn lift_is_orders_together_times_all_orders_over_each_ones_orders() {
    let t = ten_orders();
    assert!(close(t.total.orders, 10.0));
    // n(A)=4, n(B)=5, n(A,B)=3, N=10: lift = 3·10 / (4·5) = 1.5.
    assert!(close(t.record("A").orders, 4.0));
    assert_top(t.top("A"), &[("B", 1.5)]);
    // n(B,C)=2, n(C)=4: lift = 2·10 / (5·4) = 1.0.
    assert_top(t.top("B"), &[("A", 1.5), ("C", 1.0)]);
    assert!(t.top("D").is_empty(), "never bought with anything");
}

#[test]
fn a_partners_count_is_refreshed_when_bought_together_or_rescored() {
    let mut t = ten_orders();
    // C last moved at the second {B,C} order: N=6, n(C)=4, n(B)=2 → 2·6/(4·2) = 1.5.
    assert_top(t.top("C"), &[("B", 1.5)]);
    let total = t.total;
    let b = t.record("B").orders;
    let c = t.records.get_mut("C").expect("C was ordered");
    c.rescore(&total, |sku| (sku == "B").then_some(b), &cfg());
    // With B's and N's counts of now: 2·10 / (4·5) = 1.0.
    assert_top(t.top("C"), &[("B", 1.0)]);
}

#[test]
fn counts_decay_by_half_every_half_life_and_old_orders_count_for_less() {
    let mut t = Table::default();
    t.order(&["A", "B"], T0);
    t.order(&["A"], T0 + H);
    t.order(&["C"], T0 + H);
    t.order(&["A", "B"], T0 + 2 * H);
    // As of T0+2H the orders weigh 1/4, 1/2, 1/2 and 1: N = 2.25, n(A) = 1.75,
    // n(B) = n(A,B) = 1.25. lift = 1.25·2.25 / (1.75·1.25) = 9/7.
    assert!(close(t.total.orders, 2.25));
    let a = t.record("A");
    assert!(close(a.orders, 1.75));
    assert!(close(a.pairs[0].together, 1.25));
    let cfg_low = RelatedConfig {
        min_support: 1.0,
        ..cfg()
    };
    let mut a = a.clone();
    a.rescore(&t.total, |_| None, &cfg_low);
    assert_top(
        a.top.iter().map(|r| (r.sku.clone(), r.lift)).collect(),
        &[("B", 9.0 / 7.0)],
    );
    // An order reported late (placed at T0) weighs what it would have decayed to:
    // 1/4. N = 2.5, n(A) = 2, n(B) = n(A,B) = 1.5: lift = 1.5·2.5 / (2·1.5) = 1.25.
    t.order(&["A", "B"], T0);
    assert_eq!(t.record("A").as_of_ms, T0 + 2 * H, "time never goes back");
    assert!(close(t.total.orders, 2.5));
    let mut a = t.record("A").clone();
    a.rescore(&t.total, |_| None, &cfg_low);
    assert!(close(a.top[0].lift, 1.25), "{:?}", a.top);
}

#[test]
fn thin_support_falls_back_to_the_category_best_sellers() {
    let mut t = Table::default();
    t.times(&["A", "B"], 2, T0);
    let mut shirts = CategoryBestSellers::new("shirts", T0);
    for (sku, n) in [("E", 3), ("B", 2), ("A", 2)] {
        for _ in 0..n {
            shirts.record(sku, T0, &cfg());
        }
    }
    let a = Some(t.record("A"));
    let now = suggest("A", a, &[&shirts], |_| false, T0, &cfg());
    let why: Vec<(&str, String)> = now
        .iter()
        .map(|s| (s.sku.as_str(), s.why.explain()))
        .collect();
    // N=2, n(A)=n(B)=n(A,B)=2: lift 1; support 2 meets the minimum.
    assert_eq!(
        why,
        [
            ("B", "co-bought 2.0 times, lift 1.00".to_owned()),
            (
                "E",
                "best seller in category \"shirts\" (3.0 orders)".to_owned()
            ),
        ]
    );
    // A half-life later the pair's support is 1, below 2: only best sellers, halved.
    let later = suggest("A", a, &[&shirts], |_| false, T0 + H, &cfg());
    let why: Vec<(&str, String)> = later
        .iter()
        .map(|s| (s.sku.as_str(), s.why.explain()))
        .collect();
    assert_eq!(
        why,
        [
            (
                "E",
                "best seller in category \"shirts\" (1.5 orders)".to_owned()
            ),
            (
                "B",
                "best seller in category \"shirts\" (1.0 orders)".to_owned()
            ),
        ]
    );
}

#[test]
fn skipped_products_are_never_suggested() {
    let mut t = Table::default();
    t.times(&["A", "B"], 3, T0);
    t.times(&["A", "C"], 2, T0);
    let mut cat = CategoryBestSellers::new("c1", T0);
    cat.record("B", T0, &cfg());
    cat.record("F", T0, &cfg());
    let got = suggest("A", Some(t.record("A")), &[&cat], |s| s == "B", T0, &cfg());
    let skus: Vec<&str> = got.iter().map(|s| s.sku.as_str()).collect();
    assert_eq!(skus, ["C", "F"]);
}

#[test]
fn only_the_most_co_bought_partners_are_kept() {
    let mut t = Table::default();
    t.times(&["A", "B"], 3, T0);
    t.times(&["A", "C"], 2, T0);
    t.order(&["A", "F"], T0);
    t.order(&["A", "E"], T0);
    t.order(&["A", "D"], T0);
    let kept: Vec<&str> = t.record("A").pairs.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(kept, ["B", "C", "D", "E"], "max_pairs 4, ties by sku");
    assert_top(
        t.top("A"),
        // N=8, n(A)=8: lift(A,x) = n(A,x)·8 / (8·n(x)) = 1 for each partner here.
        &[("B", 1.0), ("C", 1.0)],
    );
}

#[test]
fn an_order_counts_each_sku_once_and_at_most_max_order_skus() {
    let skus = order_skus(["A", "B", "A", "C"], &cfg());
    assert_eq!(skus, ["A", "B", "C"]);
    let two = RelatedConfig {
        max_order_skus: 2,
        ..cfg()
    };
    assert_eq!(order_skus(["A", "A", "B", "C"], &two), ["A", "B"]);
}

#[test]
fn a_category_keeps_its_best_sellers_only() {
    let mut cat = CategoryBestSellers::new("c", T0);
    for (sku, n) in [("D", 2), ("B", 4), ("C", 3), ("A", 1)] {
        for _ in 0..n {
            cat.record(sku, T0, &cfg());
        }
    }
    let skus: Vec<&str> = cat.skus.iter().map(|s| s.sku.as_str()).collect();
    assert_eq!(skus, ["B", "C", "D"], "A never outweighed the weakest kept");
    cat.record("D", T0 + H, &cfg());
    // B 4→2, C 3→1.5, D 2→1, +1 = 2: D ties B and sorts after it.
    let got: Vec<(&str, f64)> = cat
        .skus
        .iter()
        .map(|s| (s.sku.as_str(), s.orders))
        .collect();
    let want = [("B", 2.0), ("D", 2.0), ("C", 1.5)];
    assert_eq!(got.len(), want.len());
    for ((sku, orders), (wsku, worders)) in got.iter().zip(want) {
        assert!(*sku == wsku && close(*orders, worders), "{got:?}");
    }
}

#[test]
fn records_survive_serialisation() {
    let t = ten_orders();
    let json = serde_json::to_string(t.record("B")).expect("serialises");
    let back: CoPurchase = serde_json::from_str(&json).expect("reads back");
    assert_eq!(&back, t.record("B"));
}
