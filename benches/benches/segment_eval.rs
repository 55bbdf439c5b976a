//! Cost of answering a segment over 1,000,000 customers (BENCHMARKS.md, "Segment
//! evaluation"): count the members of
//! `orders >= 2 and spend >= 10000 and bought category "c1" within 90d` by one scan of
//! the in-memory segment board, and the same count plus the segment's full metrics.

use std::collections::HashMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stockbelld::domain::segments::metrics::Metrics;
use stockbelld::domain::segments::parse::parse;
use stockbelld::domain::segments::predicate::{EvalCtx, DAY_MS};
use stockbelld::domain::segments::{Bought, NoScores, OrderPoint, Row};
use stockbelld::segment_board::SegmentBoard;

const CUSTOMERS: usize = 1_000_000;
const NOW: i64 = 1_800_000_000_000;
const PREDICATE: &str = "orders >= 2 and spend >= 10000 and bought category \"c1\" within 90d";

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 0–6 orders over the last year, 1–3 SKUs of 200 (categories c0..c9), tags, consent.
fn row(i: usize, rng: &mut Rng) -> Row {
    let n = rng.below(7) as usize;
    let mut at = NOW - 365 * DAY_MS;
    let mut orders = Vec::with_capacity(n);
    let mut bought: Vec<Bought> = Vec::new();
    for k in 0..n {
        at += rng.below(60) as i64 * DAY_MS + 1;
        orders.push(OrderPoint {
            at_ms: at.min(NOW),
            amount_minor: 1000 + rng.below(9000) as i64,
            coupon: rng.below(4) == 0,
        });
        let sku = format!("sku-{}", rng.below(200));
        match bought.iter_mut().find(|b| b.sku == sku) {
            Some(b) => {
                b.units += 1;
                b.order_indexes.push(k as u32 + 1);
                b.last_ms = at;
            }
            None => bought.push(Bought {
                sku,
                units: 1,
                order_indexes: vec![k as u32 + 1],
                first_ms: at,
                last_ms: at,
            }),
        }
    }
    Row {
        customer_id: format!("c{i:07}"),
        email: Some(format!("c{i:07}@example.jp")),
        orders,
        earlier: None,
        subscribed: rng.below(2) == 0,
        tags: if rng.below(10) == 0 {
            vec!["vip".into()]
        } else {
            Vec::new()
        },
        consent: [true, rng.below(3) == 0, false],
        locale: "ja".into(),
        time_zone: "Asia/Tokyo".into(),
        last_click_ms: None,
        bought,
    }
}

fn board() -> SegmentBoard {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let board = SegmentBoard::new();
    let rows: Vec<Row> = (0..CUSTOMERS).map(|i| row(i, &mut rng)).collect();
    board.put_all(rows);
    board
}

fn categories() -> HashMap<String, Vec<String>> {
    (0..200)
        .map(|s| (format!("sku-{s}"), vec![format!("c{}", s % 10)]))
        .collect()
}

fn segment_eval(c: &mut Criterion) {
    let board = board();
    let cats = categories();
    let pred = parse(PREDICATE).expect("predicate");
    let ctx = EvalCtx {
        now_ms: NOW,
        categories: &cats,
        scores: &NoScores,
    };
    let members = board.scan(|rows| rows.filter(|r| pred.matches(r, &ctx)).count());
    eprintln!("segment_eval: {members} members of {CUSTOMERS} customers");
    let mut g = c.benchmark_group("segment_eval");
    g.sample_size(10);
    g.throughput(Throughput::Elements(CUSTOMERS as u64));
    // The floor: the same scan doing the least work per row.
    g.bench_function("baseline_scan_1m", |b| {
        b.iter(|| board.scan(|rows| rows.map(|r| r.orders.len()).sum::<usize>()))
    });
    g.bench_function("count_1m", |b| {
        b.iter(|| board.scan(|rows| rows.filter(|r| pred.matches(r, &ctx)).count()))
    });
    g.bench_function("count_and_metrics_1m", |b| {
        b.iter(|| board.scan(|rows| Metrics::of(rows.filter(|r| pred.matches(r, &ctx)))))
    });
    g.finish();
}

criterion_group!(benches, segment_eval);
criterion_main!(benches);
