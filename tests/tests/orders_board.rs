//! The backorder board and the orders flagged past their promise, against a real daemon:
//! lines wait on two SKUs → the board shows both with the right counts → a restock
//! allocates the oldest line of one → its counts change → the board survives a restart →
//! shipping and cancelling its lines empties its book → it leaves the board. A line whose
//! promised window passes appears flagged in ListOrders (and on the board) by itself, and
//! leaves the list when the shop sends a new window.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    event::Kind, BackorderMark, BackorderRow, Event, ListBackordersRequest, ListOrdersRequest,
    Order, OrderCancelled, OrderDelayed, OrderLine, OrderPlaced, ProductUpsert, ShipWindow,
};
use stockbell_tests::{
    catalog, order_placed, order_shipped, poll_until, publish_ok, shopper, stock_set, upsert,
    AdminClient, Daemon, DaemonOptions, Sequencer,
};

const WAIT: Duration = Duration::from_secs(30);

fn event(kind: Kind) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(kind),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn backorderable(sku: &str) -> Event {
    upsert(ProductUpsert {
        imported: true,
        backorderable: true,
        ..catalog(sku, 3_000)
    })
}

fn cancelled(order_id: &str, customer_id: &str) -> Event {
    event(Kind::OrderCancelled(OrderCancelled {
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        lines: Vec::new(),
        reason: "changed my mind".into(),
    }))
}

/// A backorder of one unit of `sku` promised to ship by `latest_ms`.
fn promised(order_id: &str, customer_id: &str, sku: &str, latest_ms: i64) -> Event {
    event(Kind::OrderPlaced(OrderPlaced {
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        currency: "JPY".into(),
        coupon_code: String::new(),
        lines: vec![OrderLine {
            line_id: "1".into(),
            sku: sku.into(),
            quantity: 1,
            unit_price_minor: 3_000,
            backorder: BackorderMark::Backorder as i32,
            promise: Some(ShipWindow {
                earliest_ms: latest_ms - 1_000,
                latest_ms,
            }),
        }],
    }))
}

async fn board(admin: &AdminClient) -> Result<Vec<BackorderRow>> {
    let req = ListBackordersRequest {
        limit: 100,
        after_sku: String::new(),
    };
    Ok(admin.clone().list_backorders(req).await?.into_inner().rows)
}

fn row<'a>(rows: &'a [BackorderRow], sku: &str) -> Option<&'a BackorderRow> {
    rows.iter().find(|r| r.sku == sku)
}

/// (waiting lines, waiting units, allocated lines, allocated units, owed units).
fn counts(r: &BackorderRow) -> (u32, i64, u32, i64, i64) {
    (
        r.waiting_lines,
        r.waiting_units,
        r.allocated_lines,
        r.allocated_units,
        r.owed_units,
    )
}

async fn flagged(admin: &AdminClient) -> Result<Vec<Order>> {
    let req = ListOrdersRequest::default();
    Ok(admin.clone().list_orders(req).await?.into_inner().orders)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_follows_waiting_lines_through_allocation_shipping_and_restart() -> Result<()> {
    let mut daemon = Daemon::start(DaemonOptions::new()).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut setup = vec![
        backorderable("kettle"),
        stock_set("kettle", 0),
        backorderable("lamp"),
        stock_set("lamp", 0),
        backorderable("idle"),
        stock_set("idle", 5),
    ];
    for b in ["b0", "b1", "b2"] {
        setup.push(shopper(b));
    }
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    let before = now_ms();
    for (order, customer, sku, qty) in [
        ("o0", "b0", "kettle", 2),
        ("o1", "b1", "kettle", 3),
        ("o2", "b2", "lamp", 1),
    ] {
        let placed = order_placed(order, customer, &[("1", sku, qty)]);
        publish_ok(&mut ingest, seq.batch(vec![placed])).await?;
    }

    let rows = poll_until(WAIT, || async {
        let rows = board(&admin).await?;
        ensure!(rows.len() == 2, "kettle and lamp wait: {rows:?}");
        Ok(rows)
    })
    .await?;
    let kettle = row(&rows, "kettle").context("kettle on the board")?;
    ensure!(
        counts(kettle) == (2, 5, 0, 0, 5),
        "two lines wait: {kettle:?}"
    );
    ensure!(
        kettle.oldest_wait_ms >= before && kettle.oldest_wait_ms <= now_ms(),
        "oldest wait is o0's placement: {kettle:?}"
    );
    ensure!(kettle.title == "Product kettle" && kettle.past_promise_lines == 0);
    let lamp = row(&rows, "lamp").context("lamp on the board")?;
    ensure!(counts(lamp) == (1, 1, 0, 0, 1), "one line waits: {lamp:?}");
    ensure!(
        row(&rows, "idle").is_none(),
        "a product owing nothing is not listed"
    );
    // Paged: one row per page, in SKU order, the last page says so.
    let req = ListBackordersRequest {
        limit: 1,
        after_sku: String::new(),
    };
    let first = admin.clone().list_backorders(req).await?.into_inner();
    ensure!(first.rows.len() == 1 && first.rows[0].sku == "kettle");
    let req = ListBackordersRequest {
        limit: 1,
        after_sku: first.next_after_sku.clone(),
    };
    let second = admin.clone().list_backorders(req).await?.into_inner();
    ensure!(second.rows.len() == 1 && second.rows[0].sku == "lamp");
    ensure!(second.next_after_sku.is_empty(), "last page: {second:?}");

    // Two units arrive: o0 (oldest, 2 units) is covered, o1 (3) keeps waiting.
    publish_ok(&mut ingest, seq.batch(vec![stock_set("kettle", 2)])).await?;
    poll_until(WAIT, || async {
        let rows = board(&admin).await?;
        let kettle = row(&rows, "kettle").context("kettle still owes lines")?;
        ensure!(
            counts(kettle) == (1, 3, 1, 2, 5),
            "o0 allocated: {kettle:?}"
        );
        ensure!(kettle.available == 0, "every unit is owed: {kettle:?}");
        Ok(())
    })
    .await?;

    // The board is durable: a restart shows the same rows.
    daemon.terminate().await?;
    daemon.restart().await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let rows = board(&admin).await?;
    let kettle = row(&rows, "kettle").context("kettle after the restart")?;
    ensure!(
        counts(kettle) == (1, 3, 1, 2, 5),
        "after restart: {kettle:?}"
    );
    ensure!(
        row(&rows, "lamp").is_some(),
        "lamp after the restart: {rows:?}"
    );

    // o0 ships, o1 is cancelled: kettle owes nothing and leaves the board.
    let done = vec![order_shipped("o0", "b0"), cancelled("o1", "b1")];
    publish_ok(&mut ingest, seq.batch(done)).await?;
    poll_until(WAIT, || async {
        let rows = board(&admin).await?;
        ensure!(row(&rows, "kettle").is_none(), "kettle gone: {rows:?}");
        ensure!(row(&rows, "lamp").is_some(), "lamp still waits: {rows:?}");
        Ok(())
    })
    .await?;
    daemon.terminate().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_past_its_promise_is_flagged_until_the_shop_gives_a_new_window() -> Result<()> {
    let mut daemon = Daemon::start(DaemonOptions::new()).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let setup = vec![
        backorderable("lamp"),
        stock_set("lamp", 0),
        shopper("b0"),
        shopper("b1"),
    ];
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    let soon = now_ms() + 2_000;
    let far = now_ms() + 30 * 86_400_000;
    let orders = vec![
        promised("late", "b0", "lamp", soon),
        promised("fine", "b1", "lamp", far),
    ];
    publish_ok(&mut ingest, seq.batch(orders)).await?;

    // The promise passes with no word from the shop: the order is flagged by itself.
    let orders = poll_until(WAIT, || async {
        let orders = flagged(&admin).await?;
        ensure!(!orders.is_empty(), "no flagged order yet");
        Ok(orders)
    })
    .await?;
    let ids: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
    ensure!(ids == ["late"], "only the late order: {ids:?}");
    let line = &orders[0].lines[0];
    ensure!(
        line.past_promise && line.status == "waiting" && line.sku == "lamp",
        "the line as GetOrder shows it: {line:?}"
    );
    ensure!(line.promise.as_ref().is_some_and(|p| p.latest_ms == soon));
    let rows = board(&admin).await?;
    let lamp = row(&rows, "lamp").context("lamp on the board")?;
    ensure!(
        lamp.waiting_lines == 2 && lamp.past_promise_lines == 1,
        "one of two lines past its promise: {lamp:?}"
    );

    // An unknown filter is refused, naming the field.
    let req = ListOrdersRequest {
        filter: "everything".into(),
        ..Default::default()
    };
    let err = admin
        .clone()
        .list_orders(req)
        .await
        .err()
        .context("refused")?;
    ensure!(
        err.code() == tonic::Code::InvalidArgument && err.message().contains("filter"),
        "{err:?}"
    );

    // The shop sends a new window: the line is no longer the operator's to chase.
    let delayed = event(Kind::OrderDelayed(OrderDelayed {
        order_id: "late".into(),
        customer_id: "b0".into(),
        lines: Vec::new(),
        new_window: Some(ShipWindow {
            earliest_ms: far - 1_000,
            latest_ms: far,
        }),
        unknown_window: false,
        reason: "the supplier ships next month".into(),
    }));
    publish_ok(&mut ingest, seq.batch(vec![delayed])).await?;
    poll_until(WAIT, || async {
        let orders = flagged(&admin).await?;
        ensure!(orders.is_empty(), "still flagged: {orders:?}");
        let rows = board(&admin).await?;
        let lamp = row(&rows, "lamp").context("lamp on the board")?;
        ensure!(lamp.past_promise_lines == 0, "{lamp:?}");
        Ok(())
    })
    .await?;
    daemon.terminate().await?;
    Ok(())
}
