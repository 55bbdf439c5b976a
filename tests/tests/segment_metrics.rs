//! Segment metrics end to end against a real `stockbelld`: the README's fixture (three
//! buyers and one customer without orders) sent as orders over gRPC Ingest, then
//! GetSegmentMetrics for every customer equals the hand-computed values, and a refund
//! moves spend and LTV as computed. On an empty daemon the RFM grid, the monthly and
//! cohort tables answer empty (all-zero) tables, the snapshot taken at start shows in
//! the history, and bad requests are refused with the field named.

use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{
    event::Kind, Event, GetCohortTableRequest, GetMonthlyTableRequest, GetRfmGridRequest,
    GetSegmentHistoryRequest, GetSegmentMetricsRequest, OrderRefunded, SegmentMetrics,
};
use stockbell_tests::{
    catalog, expect_code, now_ms, order_placed, poll_until, publish_ok, shopper, stock_set, upsert,
    AdminClient, Daemon, DaemonOptions, EventExt, Sequencer,
};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);
const DAY: i64 = 86_400_000;

async fn metrics(admin: &AdminClient) -> Result<SegmentMetrics> {
    Ok(admin
        .clone()
        .get_segment_metrics(GetSegmentMetricsRequest {
            segment: String::new(),
        })
        .await?
        .into_inner())
}

/// Now, UTC (the tests' chrono has no clock feature).
fn utc_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(now_ms()).expect("now is in range")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// An order of `amount` yen (1,000 yen a unit) at `at`.
fn order(id: &str, customer: &str, amount: i64, at: i64) -> Event {
    order_placed(id, customer, &[("l1", "mug", amount / 1000)]).at(at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_the_fixture_and_after_a_refund() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let t0 = now_ms() - 60 * DAY;
    // a: day 0: 1,000; day 10: 3,000. b: day 0: 2,000; day 30: 2,000; day 40: 5,000.
    // c: day 5: 4,000. d: no orders.
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            upsert(catalog("mug", 1_000)),
            stock_set("mug", 1_000),
            shopper("a"),
            shopper("b"),
            shopper("c"),
            shopper("d"),
            order("a1", "a", 1_000, t0),
            order("a2", "a", 3_000, t0 + 10 * DAY),
            order("b1", "b", 2_000, t0),
            order("b2", "b", 2_000, t0 + 30 * DAY),
            order("b3", "b", 5_000, t0 + 40 * DAY),
            order("c1", "c", 4_000, t0 + 5 * DAY),
        ]),
    )
    .await?;
    let m = poll_until(WAIT, || async {
        let m = metrics(&admin).await?;
        ensure!(m.orders == 6 && m.size == 4, "not all rows yet: {m:?}");
        Ok(m)
    })
    .await?;
    assert_eq!((m.size, m.buyers, m.repeaters), (4, 3, 2));
    assert_eq!((m.orders, m.spend_minor), (6, 17_000));
    assert!(close(m.repeat_rate, 2.0 / 3.0), "{m:?}");
    // (4,000/2 + 9,000/3 + 4,000/1) / 3.
    assert!(close(m.aov_per_customer_minor, 3_000.0), "{m:?}");
    assert!(close(m.aov_per_order_minor, 17_000.0 / 6.0), "{m:?}");
    assert!(close(m.avg_orders, 2.0), "{m:?}");
    assert!(close(m.ltv_minor, 17_000.0 / 3.0), "{m:?}");
    // a: 10 days; b: (30 + 10) / 2 = 20 days.
    assert_eq!(m.avg_repurchase_interval_ms, 15 * DAY);
    // a: 10 days; b: 40 days.
    assert_eq!(m.avg_lifetime_ms, 25 * DAY);

    // 2,000 of b's last order refunded: b spends 7,000, everyone 15,000.
    publish_ok(
        &mut ingest,
        seq.batch(vec![Event {
            event_time_ms: 0,
            kind: Some(Kind::OrderRefunded(OrderRefunded {
                order_id: "b3".into(),
                customer_id: "b".into(),
                lines: Vec::new(),
                amount_minor: 2_000,
            })),
        }]),
    )
    .await?;
    let m = poll_until(WAIT, || async {
        let m = metrics(&admin).await?;
        ensure!(m.spend_minor == 15_000, "refund not seen yet: {m:?}");
        Ok(m)
    })
    .await?;
    assert_eq!((m.orders, m.buyers), (6, 3));
    assert!(close(m.ltv_minor, 5_000.0), "{m:?}");
    // (2,000 + 7,000/3 + 4,000) / 3.
    assert!(
        close(
            m.aov_per_customer_minor,
            (2_000.0 + 7_000.0 / 3.0 + 4_000.0) / 3.0
        ),
        "{m:?}"
    );
    assert!(close(m.aov_per_order_minor, 2_500.0), "{m:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_daemon_answers_empty_tables() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let admin = daemon.admin_client().await?;

    let grid = admin
        .clone()
        .get_rfm_grid(GetRfmGridRequest {
            segment: String::new(),
        })
        .await?
        .into_inner();
    assert_eq!(grid.scored, 0);
    assert_eq!(grid.cells.len(), 25);
    assert!(grid
        .cells
        .iter()
        .all(|c| c.customers == 0 && c.spend_minor == 0));
    assert_eq!((grid.cells[0].recency, grid.cells[0].fm), (1, 1));
    assert_eq!((grid.cells[24].recency, grid.cells[24].fm), (5, 5));
    assert_eq!(grid.groups.len(), 11);
    assert!(grid.groups.iter().all(|g| g.customers == 0));
    assert_eq!(grid.groups[0].group, "champions");

    let monthly = admin
        .clone()
        .get_monthly_table(GetMonthlyTableRequest {
            segment: String::new(),
            months: 0,
        })
        .await?
        .into_inner();
    assert_eq!(monthly.months.len(), 12);
    assert!(monthly.months.iter().all(|m| m.orders == 0
        && m.new_customers == 0
        && m.repeat_customers == 0
        && m.dormant_customers == 0
        && m.revenue_minor == 0));
    let this_month = utc_now().format("%Y-%m").to_string();
    assert_eq!(monthly.months[11].month, this_month);

    let cohorts = admin
        .clone()
        .get_cohort_table(GetCohortTableRequest {
            segment: String::new(),
            months: 3,
        })
        .await?
        .into_inner();
    assert!(cohorts.cohorts.is_empty(), "{cohorts:?}");

    // The snapshot taken at start: today, nobody.
    let history = poll_until(WAIT, || async {
        let h = admin
            .clone()
            .get_segment_history(GetSegmentHistoryRequest {
                segment: String::new(),
                days: 0,
            })
            .await?
            .into_inner();
        ensure!(!h.points.is_empty(), "no snapshot yet");
        Ok(h)
    })
    .await?;
    assert_eq!(history.points.len(), 1);
    let today = utc_now().format("%Y-%m-%d").to_string();
    assert_eq!(history.points[0].day, today);
    assert_eq!(history.points[0].metrics.as_ref().map(|m| m.size), Some(0));

    // Bad requests change nothing and name the field.
    let e = expect_code(
        admin
            .clone()
            .get_monthly_table(GetMonthlyTableRequest {
                segment: String::new(),
                months: 121,
            })
            .await,
        &[Code::InvalidArgument],
    )?;
    assert!(e.message().contains("months"), "{}", e.message());
    let e = expect_code(
        admin
            .clone()
            .get_segment_history(GetSegmentHistoryRequest {
                segment: String::new(),
                days: 100_000,
            })
            .await,
        &[Code::InvalidArgument],
    )?;
    assert!(e.message().contains("history_days"), "{}", e.message());
    expect_code(
        admin
            .clone()
            .get_rfm_grid(GetRfmGridRequest {
                segment: "nobody-defined-this".into(),
            })
            .await,
        &[Code::NotFound],
    )?;
    Ok(())
}
