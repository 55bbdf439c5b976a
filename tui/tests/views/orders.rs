//! Orders view: the backorder board, the orders past their promise and the cancellation
//! requests, then one order.

use stockbell_console::state::orders::Panel;
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::App;
use stockbell_proto::v1 as pb;

use crate::support::*;

pub fn board_rows() -> Vec<pb::BackorderRow> {
    vec![
        pb::BackorderRow {
            sku: "KETTLE-1".into(),
            title: "Kettle".into(),
            waiting_lines: 2,
            waiting_units: 5,
            allocated_lines: 1,
            allocated_units: 2,
            owed_units: 7,
            oldest_wait_ms: NOW - 12 * MIN,
            past_promise_lines: 1,
            stock: 2,
            ..Default::default()
        },
        pb::BackorderRow {
            sku: "LAMP-2".into(),
            title: "Lamp".into(),
            allocated_lines: 1,
            allocated_units: 1,
            owed_units: 1,
            ..Default::default()
        },
    ]
}

pub fn late_order() -> pb::Order {
    pb::Order {
        order_id: "O-7".into(),
        customer_id: "C-1".into(),
        placed_ms: NOW - 12 * MIN,
        currency: "JPY".into(),
        confirmation: "sent".into(),
        last_notice_ms: NOW - MIN,
        lines: vec![pb::OrderLineView {
            line_id: "1".into(),
            sku: "KETTLE-1".into(),
            quantity: 2,
            unit_price_minor: 4800,
            status: "waiting".into(),
            promise: Some(pb::ShipWindow {
                earliest_ms: NOW - 10 * MIN,
                latest_ms: NOW - 2 * MIN,
            }),
            waiting_since_ms: NOW - 12 * MIN,
            past_promise: true,
            ..Default::default()
        }],
        messages: vec![outbox_entry(9, "delivered", "")],
        ..Default::default()
    }
}

/// Newest first, as the console asks: one the shop has not acted on, one it cancelled,
/// and one whose order the customer no longer keeps.
pub fn cancellation_requests() -> Vec<pb::CancellationRequest> {
    vec![
        pb::CancellationRequest {
            request_id: 12,
            order_id: "O-7".into(),
            customer_id: "C-1".into(),
            line_ids: vec!["1".into(), "2".into()],
            requested_at_ms: NOW - 3 * MIN,
            cancelled: false,
            line_statuses: vec!["waiting".into(), "shipped".into()],
        },
        pb::CancellationRequest {
            request_id: 11,
            order_id: "O-5".into(),
            customer_id: "C-2".into(),
            line_ids: vec!["1".into()],
            requested_at_ms: NOW - 40 * MIN,
            cancelled: true,
            line_statuses: vec!["cancelled".into()],
        },
        pb::CancellationRequest {
            request_id: 3,
            order_id: "O-1".into(),
            customer_id: "C-3".into(),
            line_ids: vec!["4".into()],
            requested_at_ms: NOW - 3 * 24 * 60 * MIN,
            cancelled: false,
            line_statuses: Vec::new(),
        },
    ]
}

fn app() -> App {
    let mut app = connected();
    app.view = ViewId::Orders;
    app.orders.board = Remote::Ready(board_rows());
    app.orders.flagged = Remote::Ready(vec![late_order()]);
    app.orders.requests = Remote::Ready(cancellation_requests());
    app
}

#[test]
fn narrow_lists() {
    let s = draw(&app(), 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs          ",
            "● connected · 127.0.0.1:50051                               ",
            "order: press / and type an order id                         ",
            "┌ ▶ backorder board (2 SKUs) ──────────────────────────────┐",
            "│  sku             waiting allocated  owed     oldest  late│",
            "│> KETTLE-1           2/5u      1/2u     7     12m00s     1│",
            "│  LAMP-2             0/0u      1/1u     1          -     0│",
            "└──────────────────────────────────────────────────────────┘",
            "┌ past their promise (1 order) ────────────────────────────┐",
            "│  order            customer   late lines                  │",
            "│  O-7              C-1        KETTLE-1 ×2 waiting due 2m00│",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ cancellation requests (3 requests) ──────────────────────┐",
            "│  req    order            customer   asked      lines now │",
            "│  #12    O-7              C-1        3m00s ago  1 waiting,│",
            "│  #11    O-5              C-2        40m00s ago 1 cancelle│",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "s next list  ↑↓ select  Enter open  Tab/1-7 views  q quit   ",
        ],
    );
}

#[test]
fn wide_lists_show_titles_and_the_selected_flagged_order() {
    let mut app = app();
    app.orders.panel = Panel::Flagged;
    let s = draw(&app, 120, 30);
    assert_row(
        &s,
        "│  KETTLE-1           2/5u      1/2u     7     12m00s     1  Kettle                                                    │",
    );
    assert_row(
        &s,
        "│> O-7              C-1        KETTLE-1 ×2 waiting due 2m00s ago                                                       │",
    );
}

#[test]
fn cancellation_requests_newest_first_with_what_became_of_their_lines() {
    let mut app = app();
    app.orders.panel = Panel::Requests;
    app.orders.requests_selected = 1;
    let s = draw(&app, 80, 30);
    let top = s
        .iter()
        .position(|r| r.starts_with("┌ ▶ cancellation requests (3 requests) ─"))
        .unwrap_or_else(|| panic!("no selected requests panel in\n{}", s.join("\n")));
    assert_screen(
        &s[top + 1..top + 6],
        &[
            "│  req    order            customer   asked      lines now                     │",
            "│  #12    O-7              C-1        3m00s ago  1 waiting, 2 shipped          │",
            "│> #11    O-5              C-2        40m00s ago 1 cancelled                   │",
            "│  #3     O-1              C-3        3d00h ago  4 (order no longer kept)      │",
            "│                                                                              │",
        ],
    );
    // The board and the flagged list lose their selection marks.
    assert_row(
        &s,
        "│  KETTLE-1           2/5u      1/2u     7     12m00s     1  Kettle            │",
    );
}

#[test]
fn no_cancellation_request_yet() {
    let mut app = app();
    app.orders.requests = Remote::Ready(Vec::new());
    let s = draw(&app, 80, 30);
    assert_row(
        &s,
        "┌ cancellation requests (0 requests) ──────────────────────────────────────────┐",
    );
    assert_row(
        &s,
        "│no customer has asked to cancel an order                                      │",
    );
}

#[test]
fn one_order_with_its_lines_and_messages() {
    let mut app = app();
    app.orders.open = Some("O-7".into());
    app.orders.order = Remote::Ready(late_order());
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs          ",
            "● connected · 127.0.0.1:50051                               ",
            "order: press / and type an order id                         ",
            "┌ order O-7 ───────────────────────────────────────────────┐",
            "│O-7 · customer C-1 · placed 01-10 11:48:00                │",
            "│confirmation sent · last notice 1m00s ago                 │",
            "│                                                          │",
            "│lines (1)                                                 │",
            "│1 KETTLE-1 ×2 4,800 JPY waiting  PAST PROMISE             │",
            "│   promise 01-10 11:50:00 – 01-10 11:58:00 · waiting since│",
            "│12m00s ago                                                │",
            "│                                                          │",
            "│messages (1)                                              │",
            "│#9 delivered email back_in_stock 9m00s ago                │",
            "│   Blue mug is back in stock                              │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "↑↓ scroll  Esc back  / order id  Tab/1-7 views  q quit      ",
        ],
    );
}
