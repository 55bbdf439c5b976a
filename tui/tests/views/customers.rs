//! Customers view.

use stockbell_console::rpc::CustomerKey;
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::App;

use crate::support::*;

fn app() -> App {
    let mut app = connected();
    app.view = ViewId::Customers;
    app.customers.input = "alice@example.com".into();
    app.customers.key = Some(CustomerKey::Email("alice@example.com".into()));
    app.customers.customer = Remote::Ready(customer());
    app
}

#[test]
fn narrow() {
    let s = draw(&app(), 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Customers 5 Deli 6 Orders 7 Segs     ",
            "● connected · 127.0.0.1:50051                               ",
            "customer: alice@example.com                                 ",
            "┌ customer alice@example.com ──────────────────────────────┐",
            "│C-1 · alice@example.com · LINE U42 · ja Asia/Tokyo        │",
            "│consent email ✓  line ✗  webhook ✗                        │",
            "│tags vip                                                  │",
            "│created 12-11 12:00:00 · updated 10m00s ago · in memory   │",
            "│                                                          │",
            "│interests (2)                                             │",
            "│MUG-BLUE · score 82.5 · favourite · in cart · 3 views, 40s│",
            "│dwell · saw 1,200                                         │",
            "│MUG-RED  · score 0 · bought 2d00h ago                     │",
            "│held (1)                                                  │",
            "│quiet_hours low_stock email MUG-BLUE due in 8h00m         │",
            "│                                                          │",
            "│cap ledger (1)                                            │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "/ look up  ↑↓ scroll  R reload  Tab/1-7 views  q quit       ",
        ],
    );
}

#[test]
fn narrow_scrolled() {
    let mut app = app();
    app.customers.scroll = 8;
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Prod 4 Customers 5 Deli 6 Orders 7 Segs     ",
            "● connected · 127.0.0.1:50051                               ",
            "customer: alice@example.com                                 ",
            "┌ customer alice@example.com ──────────────────────────────┐",
            "│MUG-RED  · score 0 · bought 2d00h ago                     │",
            "│held (1)                                                  │",
            "│quiet_hours low_stock email MUG-BLUE due in 8h00m         │",
            "│                                                          │",
            "│cap ledger (1)                                            │",
            "│ 3h00m ago price_drop email MUG-XL                        │",
            "│                                                          │",
            "│recent messages (1)                                       │",
            "│#12 failed    email back_in_stock 12m00s ago              │",
            "│   Blue mug is back in stock                              │",
            "│   550 5.1.1 mailbox unavailable                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "/ look up  ↑↓ scroll  R reload  Tab/1-7 views  q quit       ",
        ],
    );
}

#[test]
fn wide() {
    let s = draw(&app(), 120, 30);
    assert_row(&s, "┌ customer alice@example.com ────────────────────────────────────┐┌ messages ──────────────────────────────────────────┐");
    assert_row(&s, "│C-1 · alice@example.com · LINE U42 · ja Asia/Tokyo              ││held (1)                                            │");
    assert_row(&s, "│consent email ✓  line ✗  webhook ✗                              ││quiet_hours low_stock email MUG-BLUE due in 8h00m   │");
    assert_row(&s, "│tags vip                                                        ││                                                    │");
    assert_row(&s, "│MUG-BLUE · score 82.5 · favourite · in cart · 3 views, 40s dwell││recent messages (1)                                 │");
    assert_row(&s, "│· saw 1,200                                                     ││#12 failed    email back_in_stock 12m00s ago        │");
    assert_row(&s, "│MUG-RED  · score 0 · bought 2d00h ago                           ││   Blue mug is back in stock                        │");
    assert_row(&s, "│                                                                ││   550 5.1.1 mailbox unavailable                    │");
}

/// Engagement on the customer's page: per channel, the last order, the latest click and
/// what the scanner rule held or dropped.
#[test]
fn engagement_is_shown_per_channel() {
    use stockbell_proto::v1 as pb;
    let mut app = app();
    let now = app.now_ms;
    if let Remote::Ready(c) = &mut app.customers.customer {
        c.interests.clear();
        c.held.clear();
        c.engagement = Some(pb::CustomerEngagement {
            channels: vec![pb::ChannelEngagement {
                channel: "email".into(),
                last_click_ms: now - 600_000,
                last_marketing_ms: now - 3_600_000,
                marketing_since_engaged: 0,
            }],
            last_order_ms: 0,
            clicks: vec![pb::EngagementClick {
                at_ms: now - 600_000,
                entry_seq: 17,
                link: 1,
                scenario: "low_stock".into(),
                channel: "email".into(),
                skus: vec!["MUG-BLUE".into()],
            }],
            provisional_clicks: 1,
            scanner_clicks: 2,
        });
    }
    // Wide enough that no line of the engagement wraps.
    let s = draw(&app, 160, 30);
    let text = s.join("\n");
    for want in [
        "engagement (1 clicks)",
        "last order never",
        "email    · click 10m00s ago · marketing 1h00m ago · since engaged 0",
        "10m00s ago · #17 link 1 · low_stock email · MUG-BLUE",
        "1 held in the scanner window, 2 dropped as a link scanner's",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
}
