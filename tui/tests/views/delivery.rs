//! Delivery view.

use stockbell_console::state::delivery::StatusFilter;
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::App;

use crate::support::*;

fn app() -> App {
    let mut app = connected();
    app.view = ViewId::Delivery;
    app.delivery.filter = StatusFilter::Failed;
    app.delivery.entries = Remote::Ready(vec![
        outbox_entry(12, "failed", "550 5.1.1 mailbox unavailable"),
        outbox_entry(9, "failed", "LINE 400: invalid user id"),
        outbox_entry(3, "failed", "webhook 410 Gone"),
    ]);
    app.delivery.selected = 1;
    app.delivery.loaded_at_ms = NOW - 2_000;
    app
}

#[test]
fn narrow() {
    let s = draw(&app(), 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Cust 5 Delivery 6 Orders 7 Segs      ",
            "● connected · 127.0.0.1:50051                               ",
            "state failed (s: next) · 3 entries · updated 2.0s ago       ",
            "┌ outbox ──────────────────────────────────────────────────┐",
            "│  seq    status    chan    customer   att last error      │",
            "│  12     failed    email   C-5        5   550 5.1.1 mailbo│",
            "│> 9      failed    email   C-2        5   LINE 400: invali│",
            "│  3      failed    email   C-3        5   webhook 410 Gone│",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ #9 C-2 ──────────────────────────────────────────────────┐",
            "│failed · email to c2@example.com · back_in_stock ·        │",
            "│attempts 5 · created 9m00s ago                            │",
            "│last error LINE 400: invalid user id                      │",
            "│subject Blue mug is back in stock                         │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "s state  ↑↓ select  r retry  Tab/1-7 views  q quit          ",
        ],
    );
}

#[test]
fn wide() {
    let s = draw(&app(), 120, 30);
    assert_row(&s, "state failed (s: next) · 3 entries · updated 2.0s ago");
    assert_row(&s, "│  seq    status    chan    customer   att scenario      created     last error                                        │");
    assert_row(&s, "│  12     failed    email   C-5        5   back_in_stock 12m00s ago  550 5.1.1 mailbox unavailable                     │");
    assert_row(&s, "│> 9      failed    email   C-2        5   back_in_stock 9m00s ago   LINE 400: invalid user id                         │");
    assert_row(&s, "│  3      failed    email   C-3        5   back_in_stock 3m00s ago   webhook 410 Gone                                  │");
    assert_row(&s, "│failed · email to c2@example.com · back_in_stock · attempts 5 · created 9m00s ago                                     │");
    assert_row(&s, "│last error LINE 400: invalid user id                                                                                  │");
    assert_row(&s, "│subject Blue mug is back in stock                                                                                     │");
    assert_row(&s, "│skus MUG-BLUE                                                                                                         │");
    assert_row(
        &s,
        "s state  ↑↓ select  r retry  R reload  Tab/1-7 views  q quit",
    );
}

/// A channel that is down is named above the list, with since when.
#[test]
fn a_channel_down() {
    let app = with_email_down(with_overview(app()));
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Cust 5 Delivery 6 Orders 7 Segs      ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            "state failed (s: next) · 3 entries · updated 2.0s ago       ",
            "email down since 01-10 11:57:50 (2m10s)                     ",
            "┌ outbox ──────────────────────────────────────────────────┐",
            "│  seq    status    chan    customer   att last error      │",
            "│  12     failed    email   C-5        5   550 5.1.1 mailbo│",
            "│> 9      failed    email   C-2        5   LINE 400: invali│",
            "│  3      failed    email   C-3        5   webhook 410 Gone│",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ #9 C-2 ──────────────────────────────────────────────────┐",
            "│failed · email to c2@example.com · back_in_stock ·        │",
            "│attempts 5 · created 9m00s ago                            │",
            "│last error LINE 400: invalid user id                      │",
            "│subject Blue mug is back in stock                         │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "s state  ↑↓ select  r retry  Tab/1-7 views  q quit          ",
        ],
    );
    let s = draw(&app, 120, 30);
    assert_row(&s, "state failed (s: next) · 3 entries · updated 2.0s ago");
    assert_row(&s, "email down since 01-10 11:57:50 (2m10s)");
}
