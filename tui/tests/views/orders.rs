//! Orders view: the backorder board and the orders past their promise, then one order.

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

fn app() -> App {
    let mut app = connected();
    app.view = ViewId::Orders;
    app.orders.board = Remote::Ready(board_rows());
    app.orders.flagged = Remote::Ready(vec![late_order()]);
    app
}

#[test]
fn narrow_lists() {
    let s = draw(&app(), 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders                 ",
            "● connected · 127.0.0.1:50051                               ",
            "order: press / and type an order id                         ",
            "┌ ▶ backorder board (2 SKUs) ──────────────────────────────┐",
            "│  sku             waiting allocated  owed     oldest  late│",
            "│> KETTLE-1           2/5u      1/2u     7     12m00s     1│",
            "│  LAMP-2             0/0u      1/1u     1          -     0│",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ past their promise (1 order) ────────────────────────────┐",
            "│  order            customer   late lines                  │",
            "│  O-7              C-1        KETTLE-1 ×2 waiting due 2m00│",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "s next list  ↑↓ select  Enter open  Tab/1-6 views  q quit   ",
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
fn one_order_with_its_lines_and_messages() {
    let mut app = app();
    app.orders.open = Some("O-7".into());
    app.orders.order = Remote::Ready(late_order());
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders                 ",
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
            "↑↓ scroll  Esc back  / order id  Tab/1-6 views  q quit      ",
        ],
    );
}
