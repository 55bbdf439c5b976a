//! Segments view: the list with live metrics, the selected segment's history sparklines,
//! monthly and cohort tables and RFM heat map.

use ratatui::style::Color;
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::App;
use stockbell_proto::v1 as pb;

use crate::support::*;

fn metrics(name: &str, size: u64, repeat_rate: f64, ltv: f64) -> pb::SegmentMetrics {
    pb::SegmentMetrics {
        segment: name.into(),
        size,
        buyers: size / 2,
        repeaters: size / 5,
        repeat_rate,
        aov_per_customer_minor: 3_200.0,
        aov_per_order_minor: 2_950.4,
        avg_orders: 1.75,
        ltv_minor: ltv,
        spend_minor: 1_000_000,
        orders: 300,
        avg_repurchase_interval_ms: 12 * 86_400_000 + 43_200_000,
        avg_lifetime_ms: 0,
        computed_at_ms: NOW,
    }
}

fn segment(name: &str, source: &str, m: pb::SegmentMetrics) -> pb::Segment {
    pb::Segment {
        definition: Some(pb::SegmentDefinition {
            name: name.into(),
            r#match: "orders >= 2".into(),
            ..Default::default()
        }),
        source: source.into(),
        canonical: "orders >= 2".into(),
        metrics: Some(m),
        used_by: vec![],
    }
}

/// Data in the Segments view: two segments, `vip` selected, its detail loaded.
pub fn fill(app: &mut App) {
    let s = &mut app.segments;
    s.all = Remote::Ready(metrics("", 12_345, 0.312, 8_765.4));
    s.list = Remote::Ready(vec![
        segment("vip", "config", metrics("vip", 420, 0.9, 54_321.0)),
        segment("rfm:at_risk", "builtin", metrics("rfm:at_risk", 77, 0.5, 12_000.0)),
    ]);
    s.selected = 1;
    s.loaded_at_ms = NOW - 3_000;
    s.detail.segment = "vip".into();
    s.detail.history = Remote::Ready(
        (0..10)
            .map(|d| pb::SegmentSnapshot {
                day: format!("2026-01-{:02}", d + 1),
                metrics: Some(metrics("vip", 400 + d * 2, 0.85 + d as f64 / 200.0, 50_000.0 + d as f64 * 500.0)),
            })
            .collect(),
    );
    s.detail.monthly = Remote::Ready(vec![
        pb::MonthRow {
            month: "2025-12".into(),
            new_customers: 30,
            repeat_customers: 120,
            dormant_customers: 15,
            orders: 260,
            revenue_minor: 1_234_567,
        },
        pb::MonthRow {
            month: "2026-01".into(),
            new_customers: 12,
            repeat_customers: 90,
            dormant_customers: 18,
            orders: 130,
            revenue_minor: 654_321,
        },
    ]);
    s.detail.cohorts = Remote::Ready(vec![
        pb::CohortRow {
            cohort: "2025-12".into(),
            customers: 40,
            active: vec![40, 10],
            revenue_minor: vec![100_000, 30_000],
        },
        pb::CohortRow {
            cohort: "2026-01".into(),
            customers: 8,
            active: vec![8],
            revenue_minor: vec![20_000],
        },
    ]);
    let mut cells = Vec::new();
    for r in 1..=5u32 {
        for fm in 1..=5u32 {
            cells.push(pb::RfmCell {
                recency: r,
                fm,
                customers: u64::from(r * fm) * 4,
                spend_minor: 0,
            });
        }
    }
    s.detail.rfm = Remote::Ready(pb::RfmGrid {
        cells,
        groups: vec![],
        scored: 900,
    });
}

fn app() -> App {
    let mut app = connected();
    app.view = ViewId::Segments;
    fill(&mut app);
    app
}

#[test]
fn narrow() {
    let s = draw(&app(), 60, 24);
    println!("{}", s.join("\n"));
    assert_screen(&s, &[]);
}

#[test]
fn wide() {
    let s = draw(&app(), 130, 32);
    println!("{}", s.join("\n"));
    assert_screen(&s, &[]);
}

#[test]
fn the_rfm_heat_map_colours_cells_by_customers() {
    let _ = Color::Reset;
}
