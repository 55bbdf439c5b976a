use proptest::prelude::*;

use super::*;
use crate::domain::segments::OrderPoint;

const DAY: i64 = 86_400_000;

fn row(id: &str, orders: &[(i64, i64)]) -> Row {
    Row {
        customer_id: id.to_owned(),
        orders: orders
            .iter()
            .map(|&(at_ms, amount_minor)| OrderPoint {
                at_ms,
                amount_minor,
                coupon: false,
            })
            .collect(),
        ..Row::default()
    }
}

/// The rule computed the slow way: count the strictly worse buyers.
fn reference(values: &[i64], v: i64) -> u8 {
    let worse = values.iter().filter(|&&x| x < v).count();
    (1 + 5 * worse / values.len()).min(5) as u8
}

#[test]
fn quintiles_of_five_distinct_values_are_one_to_five() {
    let rows: Vec<Row> = (1..=5)
        .map(|i| row(&format!("c{i}"), &[(i * DAY, i * 100)]))
        .collect();
    let c = Cutoffs::of(&rows);
    let m: Vec<u8> = rows.iter().map(|r| c.rfm(r).2).collect();
    assert_eq!(m, vec![1, 2, 3, 4, 5]);
    let r: Vec<u8> = rows.iter().map(|r| c.rfm(r).0).collect();
    assert_eq!(r, vec![1, 2, 3, 4, 5]);
    // Everyone has one order: all tie at the bottom.
    assert!(rows.iter().all(|r| c.rfm(r).1 == 1));
}

#[test]
fn ties_share_a_score_and_small_populations_work() {
    // Spends 10, 10, 20, 30 (n = 4): 10 → 1 + ⌊0/4⌋ = 1; 20 → 1 + ⌊10/4⌋ = 3;
    // 30 → 1 + ⌊15/4⌋ = 4.
    let rows = vec![
        row("a", &[(DAY, 10)]),
        row("b", &[(DAY, 10)]),
        row("c", &[(DAY, 20)]),
        row("d", &[(DAY, 30)]),
        row("none", &[]),
    ];
    let c = Cutoffs::of(&rows);
    assert_eq!(c.buyers(), 4);
    let m: Vec<u8> = rows.iter().map(|r| c.rfm(r).2).collect();
    assert_eq!(m, vec![1, 1, 3, 4, 0]);
    // One buyer alone scores 1 everywhere.
    let one = vec![row("x", &[(DAY, 5)])];
    assert_eq!(Cutoffs::of(&one).rfm(&one[0]), (1, 1, 1));
    // A row better than the whole population is capped at 5.
    let big = row("y", &[(DAY * 9, 1_000)]);
    assert_eq!(c.rfm(&big).2, 5);
    assert_eq!(quintile(4, 4), 5);
    assert_eq!(quintile(0, 0), 0);
}

#[test]
fn groups_cover_the_grid_and_every_group() {
    use std::collections::HashSet;
    let mut seen = HashSet::new();
    for r in 1..=5 {
        for fm in 1..=5 {
            seen.insert(group_of(r, fm).expect("every cell has a group"));
        }
    }
    assert_eq!(seen.len(), RfmGroup::ALL.len());
    assert_eq!(group_of(5, 5), Some(RfmGroup::Champions));
    assert_eq!(group_of(5, 1), Some(RfmGroup::NewCustomers));
    assert_eq!(group_of(4, 4), Some(RfmGroup::Loyal));
    assert_eq!(group_of(3, 3), Some(RfmGroup::NeedAttention));
    assert_eq!(group_of(3, 1), Some(RfmGroup::AboutToSleep));
    assert_eq!(group_of(1, 5), Some(RfmGroup::CannotLose));
    assert_eq!(group_of(2, 4), Some(RfmGroup::AtRisk));
    assert_eq!(group_of(1, 1), Some(RfmGroup::Lost));
    assert_eq!(group_of(1, 3), Some(RfmGroup::Hibernating));
    assert_eq!(group_of(0, 3), None);
    assert_eq!(group_of(3, 6), None);
    assert_eq!(fm_of(1, 2), 2);
    assert_eq!(fm_of(5, 4), 5);
    assert_eq!(fm_of(1, 1), 1);
}

#[test]
fn prediction_uses_the_median_interval_then_the_population_median() {
    // a: orders at 0, 10d, 30d → gaps 10d, 20d → median (lower middle) 10d.
    let a = row("a", &[(0, 100), (10 * DAY, 100), (30 * DAY, 100)]);
    // b: gap 4d; c: gap 6d; d: one order.
    let b = row("b", &[(0, 50), (4 * DAY, 50)]);
    let c = row("c", &[(0, 50), (6 * DAY, 50)]);
    let d = row("d", &[(100 * DAY, 70)]);
    let e = row("e", &[]);
    let rows = vec![a.clone(), b, c, d.clone(), e.clone()];
    let cut = Cutoffs::of(&rows);
    // Medians 10d, 4d, 6d → sorted 4, 6, 10 → 6d.
    assert_eq!(cut.median_interval_ms, Some(6 * DAY));

    // a: expected 30d + 10d; t = 15d, 1.5·I = 15d → 1 − 2^−1 = 0.5.
    let s = cut.scores(&a, 45 * DAY);
    assert_eq!(s.expected_next_ms, Some(40 * DAY));
    assert!((s.churn_risk - 0.5).abs() < 1e-12);
    // d: I = 6d; expected 106d; t = 18d, 1.5·I = 9d → 1 − 2^−4 = 0.9375.
    let s = cut.scores(&d, 118 * DAY);
    assert_eq!(s.expected_next_ms, Some(106 * DAY));
    assert!((s.churn_risk - 0.9375).abs() < 1e-12);
    // Right after the order: no risk.
    assert_eq!(cut.scores(&d, 100 * DAY).churn_risk, 0.0);
    // No orders: nothing.
    assert_eq!(cut.scores(&e, 118 * DAY), Scores::default());
    // Nobody has two orders: no interval to go by.
    let lone = Cutoffs::of(std::slice::from_ref(&d));
    let s = lone.scores(&d, 118 * DAY);
    assert_eq!((s.expected_next_ms, s.churn_risk), (None, 0.0));
    assert_eq!(s.group, Some(RfmGroup::Lost));
    assert_eq!(churn_risk(5, 0), 1.0);
    assert_eq!(churn_risk(-5, 10), 0.0);
}

#[test]
fn scores_name_the_group_of_the_cell() {
    // Five buyers with 1..5 orders of 100, last orders 1d..5d: buyer i scores
    // R = F = M = i, so FM = i and the groups run down the diagonal.
    let rows: Vec<Row> = (1..=5)
        .map(|i| {
            let orders: Vec<(i64, i64)> = (0..i).map(|k| (k * DAY / 10 + i * DAY, 100)).collect();
            row(&format!("c{i}"), &orders)
        })
        .collect();
    let cut = Cutoffs::of(&rows);
    let groups: Vec<Option<RfmGroup>> =
        rows.iter().map(|r| cut.scores(r, 10 * DAY).group).collect();
    assert_eq!(
        groups,
        vec![
            Some(RfmGroup::Lost),
            Some(RfmGroup::Hibernating),
            Some(RfmGroup::NeedAttention),
            Some(RfmGroup::Loyal),
            Some(RfmGroup::Champions),
        ]
    );
}

proptest! {
    #[test]
    fn cutoffs_match_the_reference_rule(
        data in proptest::collection::vec((0i64..20, 1usize..4, 0i64..50), 1..60)
    ) {
        let rows: Vec<Row> = data
            .iter()
            .enumerate()
            .map(|(i, &(last, n, amount))| {
                let orders: Vec<(i64, i64)> =
                    (0..n).map(|k| (last - (n - 1 - k) as i64, amount)).collect();
                row(&format!("c{i}"), &orders)
            })
            .collect();
        let cut = Cutoffs::of(&rows);
        let lasts: Vec<i64> = rows.iter().filter_map(|r| r.last_order_ms()).collect();
        let counts: Vec<i64> = rows.iter().map(|r| i64::from(r.order_count())).collect();
        let spends: Vec<i64> = rows.iter().map(|r| r.spend_minor()).collect();
        for r in &rows {
            let (rr, f, m) = cut.rfm(r);
            prop_assert_eq!(rr, reference(&lasts, r.last_order_ms().unwrap_or(0)));
            prop_assert_eq!(f, reference(&counts, i64::from(r.order_count())));
            prop_assert_eq!(m, reference(&spends, r.spend_minor()));
        }
    }
}
