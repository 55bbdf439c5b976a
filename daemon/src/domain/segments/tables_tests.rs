use chrono::{TimeZone, Utc};

use super::*;
use crate::domain::segments::{Earlier, OrderPoint};

const DAY: i64 = 86_400_000;

fn at(y: i32, m: u32, d: u32, h: u32) -> Millis {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("valid date")
        .timestamp_millis()
}

fn row(id: &str, orders: &[(Millis, i64)]) -> Row {
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

/// The fixture: now = 2026-03-15, dormant after 30 days.
fn fixture() -> (Millis, Vec<Row>) {
    let rows = vec![
        row(
            "a",
            &[
                (at(2025, 12, 10, 9), 100),
                (at(2026, 1, 5, 9), 200),
                (at(2026, 1, 20, 9), 50),
                (at(2026, 3, 1, 12), 300),
            ],
        ),
        row("b", &[(at(2026, 1, 15, 9), 80), (at(2026, 2, 10, 9), 20)]),
        row("c", &[(at(2026, 2, 1, 9), 500)]),
        row("d", &[]),
        row("e", &[(at(2025, 10, 1, 9), 40)]),
    ];
    (at(2026, 3, 15, 0), rows)
}

fn m(month: &str, new: u64, repeat: u64, dormant: u64, orders: u64, revenue: i64) -> MonthRow {
    MonthRow {
        month: month.to_owned(),
        new_customers: new,
        repeat_customers: repeat,
        dormant_customers: dormant,
        orders,
        revenue_minor: revenue,
    }
}

#[test]
fn month_helpers() {
    assert_eq!(month_label(month_index(at(2026, 3, 15, 0))), "2026-03");
    assert_eq!(month_label(month_index(-1)), "1969-12");
    assert_eq!(
        month_start_ms(month_index(at(2026, 3, 15, 0))),
        at(2026, 3, 1, 0)
    );
    assert_eq!(
        month_start_ms(month_index(at(2025, 12, 31, 23)) + 1),
        at(2026, 1, 1, 0)
    );
}

#[test]
fn monthly_table_of_the_fixture() {
    let (now, rows) = fixture();
    let mut t = Monthly::new(now, 3, 30 * DAY);
    rows.iter().for_each(|r| t.add(r));
    // Jan: new b; repeat a (first order in Dec); orders a×2 + b = 3 (200 + 50 + 80);
    //   dormant at Feb 1: e (last order Oct 1).
    // Feb: new c; repeat b; orders b + c (20 + 500); dormant at Mar 1: a (last Jan 20,
    //   40 days), e.
    // Mar (to Mar 15): repeat a; one order (300); dormant: b (Feb 10, 33 days),
    //   c (Feb 1, 42 days), e.
    assert_eq!(
        t.finish(),
        vec![
            m("2026-01", 1, 1, 1, 3, 330),
            m("2026-02", 1, 1, 2, 2, 520),
            m("2026-03", 0, 1, 3, 1, 300),
        ]
    );
}

#[test]
fn cohort_table_of_the_fixture() {
    let (now, rows) = fixture();
    let mut t = Cohorts::new(now, 4);
    rows.iter().for_each(|r| t.add(r));
    let c = |cohort: &str, customers, active: &[u64], revenue: &[i64]| CohortRow {
        cohort: cohort.to_owned(),
        customers,
        active: active.to_vec(),
        revenue_minor: revenue.to_vec(),
    };
    // Dec: a (Dec, Jan ×2, Mar); Jan: b (Jan, Feb); Feb: c; Mar: nobody (left out).
    assert_eq!(
        t.finish(),
        vec![
            c("2025-12", 1, &[1, 1, 0, 1], &[100, 250, 0, 300]),
            c("2026-01", 1, &[1, 1, 0], &[80, 20, 0]),
            c("2026-02", 1, &[1, 0], &[500, 0]),
        ]
    );
    // Three months: a's cohort (Dec) is out of the window.
    let mut t = Cohorts::new(now, 3);
    rows.iter().for_each(|r| t.add(r));
    assert_eq!(t.finish().len(), 2);
}

#[test]
fn folded_orders_count_in_the_first_month() {
    let mut r = row("f", &[(at(2026, 2, 3, 9), 10)]);
    r.earlier = Some(Earlier {
        orders: 3,
        spend_minor: 90,
        first_ms: at(2026, 1, 2, 9),
        ..Earlier::default()
    });
    let now = at(2026, 2, 20, 0);
    let mut t = Monthly::new(now, 2, 30 * DAY);
    t.add(&r);
    assert_eq!(
        t.finish(),
        vec![m("2026-01", 1, 0, 0, 3, 90), m("2026-02", 0, 1, 0, 1, 10)]
    );
    let mut c = Cohorts::new(now, 2);
    c.add(&r);
    let rows = c.finish();
    assert_eq!(rows[0].active, vec![1, 1]);
    assert_eq!(rows[0].revenue_minor, vec![90, 10]);
}

#[test]
fn empty_population_gives_zero_months_and_no_cohorts() {
    let now = at(2026, 3, 15, 0);
    let t = Monthly::new(now, 12, 30 * DAY).finish();
    assert_eq!(t.len(), 12);
    assert_eq!(t[0].month, "2025-04");
    assert!(t.iter().all(|r| r.orders == 0 && r.new_customers == 0));
    assert!(Cohorts::new(now, 12).finish().is_empty());
}
