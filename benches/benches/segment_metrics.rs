//! Segment metrics over 1,000,000 synthetic customer rows on a `SegmentBoard` (issue 11):
//! a plain scan summing spend (the baseline), the full metrics of every customer, RFM
//! cutoffs plus scoring every customer, counting one RFM group's members with the
//! board's cached cutoffs, and the 12-month monthly table. BENCHMARKS.md section 7.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use stockbelld::domain::segments::metrics::Metrics;
use stockbelld::domain::segments::rfm::{fm_of, group_of, Cutoffs};
use stockbelld::domain::segments::tables::Monthly;
use stockbelld::domain::segments::{OrderPoint, RfmGroup, Row};
use stockbelld::segment_board::SegmentBoard;

const ROWS: usize = 1_000_000;
const DAY: i64 = 86_400_000;
/// 2026-12-01, the benchmark's "now".
const NOW: i64 = 1_796_083_200_000;

/// xorshift64*: deterministic rows without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A quarter without orders; the rest 1 to 8 orders over the last three years, 500 to
/// 20,000 yen each.
fn board() -> SegmentBoard {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let rows = (0..ROWS)
        .map(|i| {
            let n = if rng.below(4) == 0 {
                0
            } else {
                1 + rng.below(8)
            };
            let mut at = NOW - (rng.below(3 * 365) as i64) * DAY;
            let mut orders: Vec<OrderPoint> = (0..n)
                .map(|_| {
                    let o = OrderPoint {
                        at_ms: at,
                        amount_minor: 500 + rng.below(19_500) as i64,
                        coupon: rng.below(5) == 0,
                    };
                    at -= (1 + rng.below(120) as i64) * DAY;
                    o
                })
                .collect();
            orders.reverse();
            Row {
                customer_id: format!("c{i:07}"),
                orders,
                ..Row::default()
            }
        })
        .collect();
    let board = SegmentBoard::new();
    board.put_all(rows);
    board
}

fn segment_metrics(c: &mut Criterion) {
    let board = board();
    let mut g = c.benchmark_group("segment_metrics_1m");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("baseline_scan_sum_spend", |b| {
        b.iter(|| board.scan(|rows| black_box(rows.map(|r| r.spend_minor()).sum::<i64>())))
    });
    g.bench_function("metrics_all", |b| {
        b.iter(|| board.scan(|rows| black_box(Metrics::of(rows))))
    });
    g.bench_function("rfm_cutoffs_and_score_all", |b| {
        b.iter(|| {
            let cut = board.scan(|rows| Cutoffs::of(rows));
            let mut groups = [0u64; 11];
            board.scan(|rows| {
                for row in rows {
                    let (r, f, m) = cut.rfm(row);
                    if let Some(g) = group_of(r, fm_of(f, m)) {
                        groups[g as usize] += 1;
                    }
                }
            });
            black_box(groups)
        })
    });
    // The board's cached cutoffs (recomputed at most every rfm_refresh).
    let cut = board.cutoffs(NOW);
    g.bench_function("rfm_group_count_champions", |b| {
        b.iter(|| {
            board.scan(|rows| {
                black_box(
                    rows.filter(|row| {
                        let (r, f, m) = cut.rfm(row);
                        group_of(r, fm_of(f, m)) == Some(RfmGroup::Champions)
                    })
                    .count(),
                )
            })
        })
    });
    g.bench_function("monthly_table_12", |b| {
        b.iter(|| {
            let mut t = Monthly::new(NOW, 12, 180 * DAY);
            board.scan(|rows| rows.for_each(|row| t.add(row)));
            black_box(t.finish())
        })
    });
    g.finish();
}

criterion_group!(benches, segment_metrics);
criterion_main!(benches);
