//! Customer aggregates end to end (issue 11, item 1), against a real `stockbelld`.
//!
//! val (subscribed to the newsletter) orders, with event times in the past:
//!
//! | order | how                          | day | lines                 | then                       |
//! |-------|------------------------------|-----|-----------------------|----------------------------|
//! | o1    | order_placed, coupon WELCOME | 0   | A 2 × 500, B 1 × 300  | line B cancelled: 1,000    |
//! | o1    | purchase (same id), day 0+1h | —   | A 2: 1,000            | not counted again          |
//! | o2    | purchase                     | 10  | C 3: 900              | 900                        |
//! | o3    | order_placed                 | 30  | A 1 × 500, D 2 × 250  | refund 200 of line A: 800  |
//! | o4    | order_placed                 | 40  | E 1 × 700             | wholly cancelled: none     |
//!
//! GetCustomer.value: 3 orders, spend 2,700, first day 0, last day 30, mean order 900,
//! gaps 10 and 20 days (mean 15, median — the lower middle — 10), 1 coupon order,
//! subscribed, no click; bought C 3 (order 2), A 2 (order 1), D 2 (order 3). The segment
//! board (GetSegmentMetrics of every customer) holds the same row. After kill -9 and a
//! restart (the board is rebuilt from the records) every value is identical.

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    event::Kind, CustomerUpsert, CustomerValue, Event, GetSegmentMetricsRequest, OrderCancelled,
    OrderLine, OrderPlaced, OrderRefunded, Purchase, PurchaseItem, SegmentMetrics,
};
use stockbell_tests::{
    catalog, customer_upsert, customer_view, now_ms, publish_ok, stock_set, upsert, AdminClient,
    Daemon, DaemonOptions, EventExt, Sequencer,
};

const DAY: i64 = 86_400_000;
const ID: &str = "val";

fn event(kind: Kind) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(kind),
    }
}

fn placed(order_id: &str, coupon: &str, lines: &[(&str, &str, i64, i64)]) -> Event {
    event(Kind::OrderPlaced(OrderPlaced {
        order_id: order_id.into(),
        customer_id: ID.into(),
        currency: "JPY".into(),
        coupon_code: coupon.into(),
        lines: lines
            .iter()
            .map(|&(line_id, sku, quantity, unit_price_minor)| OrderLine {
                line_id: line_id.into(),
                sku: sku.into(),
                quantity,
                unit_price_minor,
                ..Default::default()
            })
            .collect(),
    }))
}

fn purchase(order_id: &str, sku: &str, quantity: i64, amount_minor: i64) -> Event {
    event(Kind::Purchase(Purchase {
        customer_id: ID.into(),
        order_id: order_id.into(),
        items: vec![PurchaseItem {
            sku: sku.into(),
            quantity,
            amount_minor,
        }],
        currency: "JPY".into(),
    }))
}

fn cancelled(order_id: &str, lines: &[&str]) -> Event {
    event(Kind::OrderCancelled(OrderCancelled {
        order_id: order_id.into(),
        customer_id: ID.into(),
        lines: lines.iter().map(|l| (*l).into()).collect(),
        reason: "sold out".into(),
    }))
}

fn refunded(order_id: &str, lines: &[&str], amount_minor: i64) -> Event {
    event(Kind::OrderRefunded(OrderRefunded {
        order_id: order_id.into(),
        customer_id: ID.into(),
        lines: lines.iter().map(|l| (*l).into()).collect(),
        amount_minor,
    }))
}

async fn value(admin: &AdminClient) -> Result<CustomerValue> {
    customer_view(admin, ID)
        .await?
        .value
        .context("GetCustomer has no value")
}

async fn metrics(admin: &AdminClient) -> Result<SegmentMetrics> {
    let mut admin = admin.clone();
    Ok(admin
        .get_segment_metrics(GetSegmentMetricsRequest {
            segment: String::new(),
        })
        .await?
        .into_inner())
}

/// The hand-computed value (module doc); scores are not this test's business.
fn check(v: &CustomerValue, day0: i64, when: &str) -> Result<()> {
    let got = (
        v.orders,
        v.spend_minor,
        v.first_order_ms,
        v.last_order_ms,
        v.mean_order_minor,
        v.mean_interval_ms,
        v.median_interval_ms,
        v.coupon_orders,
        v.subscribed,
        v.last_click_ms,
    );
    let want = (
        3,
        2_700,
        day0,
        day0 + 30 * DAY,
        900.0,
        15 * DAY,
        10 * DAY,
        1,
        true,
        0,
    );
    ensure!(got == want, "{when}: value {got:?}, want {want:?}");
    let bought: Vec<(&str, i64, u32, u32, i64, i64)> = v
        .bought
        .iter()
        .map(|b| {
            let sku = b.sku.as_str();
            (
                sku,
                b.units,
                b.orders,
                b.first_order_index,
                b.first_ms,
                b.last_ms,
            )
        })
        .collect();
    let (d10, d30) = (day0 + 10 * DAY, day0 + 30 * DAY);
    let want = vec![
        ("C", 3, 1, 2, d10, d10),
        ("A", 2, 1, 1, day0, day0),
        ("D", 2, 1, 3, d30, d30),
    ];
    ensure!(bought == want, "{when}: bought {bought:?}, want {want:?}");
    Ok(())
}

fn check_metrics(m: &SegmentMetrics, when: &str) -> Result<()> {
    let got = (m.size, m.buyers, m.repeaters, m.orders, m.spend_minor);
    ensure!(got == (1, 1, 1, 3, 2_700), "{when}: board metrics {got:?}");
    ensure!(
        m.avg_repurchase_interval_ms == 15 * DAY && m.avg_lifetime_ms == 30 * DAY,
        "{when}: board intervals {m:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_follow_orders_and_survive_kill9() -> Result<()> {
    let mut daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("segment-aggregates");
    // Whole seconds, 60 days ago.
    let day0 = (now_ms() - 60 * DAY) / 1_000 * 1_000;
    let mut setup = Vec::new();
    for sku in ["A", "B", "C", "D", "E"] {
        setup.push(upsert(catalog(sku, 500)));
        setup.push(stock_set(sku, 100));
    }
    setup.push(
        customer_upsert(CustomerUpsert {
            customer_id: ID.into(),
            email: "val@example.jp".into(),
            locale: "ja".into(),
            time_zone: "Asia/Tokyo".into(),
            subscribed: true,
            ..Default::default()
        })
        .at(day0 - DAY),
    );
    publish_ok(&mut ingest, seq.batch(setup)).await?;

    let o1 = [("L1", "A", 2, 500), ("L2", "B", 1, 300)];
    let orders = vec![
        placed("o1", "WELCOME", &o1).at(day0),
        purchase("o1", "A", 2, 1_000).at(day0 + 3_600_000),
        cancelled("o1", &["L2"]).at(day0 + DAY),
        purchase("o2", "C", 3, 900).at(day0 + 10 * DAY),
    ];
    publish_ok(&mut ingest, seq.batch(orders)).await?;
    let o3 = [("L1", "A", 1, 500), ("L2", "D", 2, 250)];
    let orders = vec![
        placed("o3", "", &o3).at(day0 + 30 * DAY),
        refunded("o3", &["L1"], 200).at(day0 + 35 * DAY),
        placed("o4", "", &[("L1", "E", 1, 700)]).at(day0 + 40 * DAY),
    ];
    publish_ok(&mut ingest, seq.batch(orders)).await?;
    // A whole cancel (no lines named) in a batch of its own.
    publish_ok(
        &mut ingest,
        seq.batch(vec![cancelled("o4", &[]).at(day0 + 41 * DAY)]),
    )
    .await?;

    let admin = daemon.admin_client().await?;
    let before = value(&admin).await?;
    check(&before, day0, "before the kill")?;
    check_metrics(&metrics(&admin).await?, "before the kill")?;

    daemon.kill9().await?;
    daemon.restart().await?;
    let admin = daemon.admin_client().await?;
    let after = value(&admin).await?;
    check(&after, day0, "after kill -9 and restart")?;
    // The churn risk grows with the time since the last order: compared apart.
    ensure!(
        before.churn_risk <= after.churn_risk && after.churn_risk <= 1.0,
        "churn risk {} → {}",
        before.churn_risk,
        after.churn_risk
    );
    let (mut before, mut after) = (before, after);
    (before.churn_risk, after.churn_risk) = (0.0, 0.0);
    ensure!(
        after == before,
        "changed across the restart: {before:?} → {after:?}"
    );
    check_metrics(&metrics(&admin).await?, "after the restart (rebuilt board)")?;
    ensure!(
        daemon.log_tail().contains("Segment board rebuilt"),
        "no rebuild line in the log:\n{}",
        daemon.log_tail()
    );
    Ok(())
}
