//! Segments view: the list with live metrics, the selected segment's history sparklines,
//! monthly and cohort tables and RFM heat map.

use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::{view, App};
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
        segment(
            "rfm:at_risk",
            "builtin",
            metrics("rfm:at_risk", 77, 0.5, 12_000.0),
        ),
    ]);
    s.selected = 1;
    s.loaded_at_ms = NOW - 3_000;
    s.detail.segment = "vip".into();
    s.detail.history = Remote::Ready(
        (0..10)
            .map(|d| pb::SegmentSnapshot {
                day: format!("2026-01-{:02}", d + 1),
                metrics: Some(metrics(
                    "vip",
                    400 + d * 2,
                    0.85 + d as f64 / 200.0,
                    50_000.0 + d as f64 * 500.0,
                )),
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
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders 7 Segments      ",
            "● connected · 127.0.0.1:50051                               ",
            "┌ segments updated 3.0s ago ───────────────────────────────┐",
            "│  segment                       size    repeat  LTV       │",
            "│  all customers                 12k     31.2%   8,765     │",
            "│> vip                           420     90.0%   54,321    │",
            "│  rfm:at_risk                   77      50.0%   12,000    │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ size 418 ────────┐┌ LTV 54,500 ──────┐┌ repeat 89.5% ────┐",
            "│      ▁▃▅█        ││      ▁▃▅█        ││      ▁▃▅█        │",
            "│  ▁▃▅▇████        ││  ▁▃▅▇████        ││  ▁▃▅▇████        │",
            "│▅▇████████        ││▄▆████████        ││▅▇████████        │",
            "└ 2026-01-01 … 2026┘└──────────────────┘└──────────────────┘",
            "┌ RFM vip ─────────────────────────────────────────────────┐",
            "│R\\FM     1     2     3     4     5                        │",
            "│5       20    40    60    80   100                        │",
            "│4       16    32    48    64    80                        │",
            "│3       12    24    36    48    60                        │",
            "│2        8    16    24    32    40                        │",
            "│1        4     8    12    16    20                        │",
            "│scored 900                                                │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "↑↓ select  x export CSV  R reload  Tab/1-7 views  q quit    ",
        ],
    );
}

#[test]
fn wide() {
    let s = draw(&app(), 130, 32);
    assert_row(&s, "stockbell  1 Overview  2 Scenarios  3 Products  4 Customers  5 Delivery  6 Orders  7 Segments");
    assert_row(&s, "│  segment                                     size    repeat  LTV        buyers  AOV/cust   AOV/order  orders/b interval source │");
    assert_row(&s, "│> vip                                         420     90.0%   54,321     210     3,200      2,950      1.75     12.5d    config │");
    assert_row(&s, "│  rfm:at_risk                                 77      50.0%   12,000     38      3,200      2,950      1.75     12.5d    builtin│");
    assert_row(&s, "└ 2026-01-01 … 2026-01-10 ────────────────┘└──────────────────────────────────────────┘└─────────────────────────────────────────┘");
    assert_row(&s, "│month   new    repeat dormant orders revenue   ││cohort  cust  +0   +1   +2   +3   +4       ││R\\FM     1     2     3     4     5│");
    assert_row(&s, "│2026-01 12     90     18      130    654,321   ││2026-01 8     100% -    -    -    -        ││5       20    40    60    80   100│");
    assert_row(&s, "│2025-12 30     120    15      260    1,234,567 ││2025-12 40    100% 25%  -    -    -        ││4       16    32    48    64    80│");
}

#[test]
fn loading_and_unimplemented_detail_says_so() {
    let mut app = connected();
    app.view = ViewId::Segments;
    app.segments.detail.history = Remote::Loading;
    app.segments.detail.rfm = Remote::Failed(stockbell_console::rpc::RpcError::new(
        "GetRfmGrid",
        tonic::Code::Unimplemented,
        "",
    ));
    let s = draw(&app, 60, 24);
    assert_row(
        &s,
        "│> all customers                 …       …       …         │",
    );
    assert_row(
        &s,
        "│loading…                                                  │",
    );
    assert_row(
        &s,
        "│GetRfmGrid is not available in this daemon yet            │",
    );
}

#[test]
fn the_rfm_heat_map_colours_cells_by_customers() {
    let mut term = Terminal::new(TestBackend::new(130, 32)).expect("terminal");
    term.draw(|f| view::render(&app(), f)).expect("draws");
    let buf = term.backend().buffer();
    // Find the row of recency 5 and the cells of fm 1 (20 customers) and fm 5 (100).
    let y = (0..32)
        .find(|&y| {
            let row: String = (0..130).map(|x| buf[(x, y)].symbol().to_string()).collect();
            row.contains("│5       20")
        })
        .expect("the recency-5 row");
    let row: String = (0..130).map(|x| buf[(x, y)].symbol().to_string()).collect();
    let at = |needle: &str| {
        // The heat map is the rightmost panel.
        let byte = row.rfind(needle).expect("cell");
        u16::try_from(row[..byte].chars().count()).expect("column")
    };
    let few = at("   20");
    let many = at("  100");
    // 20 of 100 is the lowest level, the fullest cell the highest.
    assert_eq!(buf[(few + 4, y)].bg, Color::Indexed(22));
    assert_eq!(buf[(many + 4, y)].bg, Color::Indexed(46));
}
