//! The README's fixture: four customers, worked by hand.
//!
//! | customer | orders (day: amount)              |
//! |----------|-----------------------------------|
//! | a        | day 0: 1,000; day 10: 3,000       |
//! | b        | day 0: 2,000; day 30: 2,000; day 40: 5,000 |
//! | c        | day 5: 4,000                      |
//! | d        | none                              |

use super::super::{OrderPoint, Row};
use super::Metrics;

const DAY: i64 = 86_400_000;

fn row(id: &str, orders: &[(i64, i64)]) -> Row {
    Row {
        customer_id: id.into(),
        orders: orders
            .iter()
            .map(|&(day, amount_minor)| OrderPoint {
                at_ms: day * DAY,
                amount_minor,
                coupon: false,
            })
            .collect(),
        ..Row::default()
    }
}

pub fn fixture() -> Vec<Row> {
    vec![
        row("a", &[(0, 1_000), (10, 3_000)]),
        row("b", &[(0, 2_000), (30, 2_000), (40, 5_000)]),
        row("c", &[(5, 4_000)]),
        row("d", &[]),
    ]
}

#[test]
fn every_metric_matches_the_hand_computed_values() {
    let m = Metrics::of(&fixture());
    assert_eq!(m.size, 4);
    assert_eq!(m.buyers, 3);
    assert_eq!(m.repeaters, 2);
    assert_eq!(m.orders, 6);
    assert_eq!(m.spend_minor, 17_000);
    // 2 repeaters of 3 buyers.
    assert!((m.repeat_rate() - 2.0 / 3.0).abs() < 1e-12);
    // (4,000/2 + 9,000/3 + 4,000/1) / 3 = (2,000 + 3,000 + 4,000) / 3 = 3,000.
    assert!((m.aov_per_customer_minor() - 3_000.0).abs() < 1e-9);
    // 17,000 / 6.
    assert!((m.aov_per_order_minor() - 17_000.0 / 6.0).abs() < 1e-9);
    // 6 orders / 3 buyers.
    assert!((m.avg_orders() - 2.0).abs() < 1e-12);
    // 17,000 / 3 buyers.
    assert!((m.ltv_minor() - 17_000.0 / 3.0).abs() < 1e-9);
    // a: 10 days; b: (30 + 10) / 2 = 20 days; mean 15 days.
    assert_eq!(m.avg_repurchase_interval_ms(), 15 * DAY);
    // a: 10 days; b: 40 days; mean 25 days.
    assert_eq!(m.avg_lifetime_ms(), 25 * DAY);
}

#[test]
fn an_empty_segment_is_all_zeros() {
    let m = Metrics::of(&[]);
    assert_eq!(m, Metrics::default());
    assert_eq!(m.repeat_rate(), 0.0);
    assert_eq!(m.ltv_minor(), 0.0);
    assert_eq!(m.avg_repurchase_interval_ms(), 0);
}

#[test]
fn row_intervals_mean_and_median() {
    let b = &fixture()[1];
    assert_eq!(b.mean_interval_ms(), Some(20 * DAY));
    // gaps 30 and 10: the lower middle of an even count is 10.
    assert_eq!(b.median_interval_ms(), Some(10 * DAY));
    assert_eq!(fixture()[2].mean_interval_ms(), None);
}
