//! Scenarios view: the table, the details of the selection and the edit panels.

use stockbell_console::conn::{ConnState, Feed};
use stockbell_console::state::scenarios::{Edit, ThresholdEdit};
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::App;
use stockbell_proto::v1 as pb;

use crate::support::*;

fn app() -> App {
    let mut app = with_overview(connected());
    app.view = ViewId::Scenarios;
    app
}

fn estimate() -> pb::ReachEstimate {
    pb::ReachEstimate {
        scenario: "back_in_stock".into(),
        threshold: 60.0,
        customers: 1_200,
        current_threshold: 40.0,
        customers_at_current: 3_400,
        customers_with_interest: 9_000,
        curve: (0..=10)
            .map(|i| pb::ReachPoint {
                threshold: f64::from(i * 10),
                customers: 9_000 / (1 + u64::from(i as u32)),
            })
            .collect(),
        sampled: false,
        edges_read: 0,
    }
}

fn editing(app: &mut App) {
    app.scenarios.edit = Some(Edit::Threshold(ThresholdEdit {
        scenario: "back_in_stock".into(),
        input: "60".into(),
        current: Some(40.0),
        estimate: Remote::Ready(estimate()),
        ticket: 3,
    }));
}

#[test]
fn narrow() {
    let s = draw(&app(), 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scenarios 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs     ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            "┌ scenarios (2) ───────────────────────────────────────────┐",
            "│  scenario      on  prio thr  trig  aud   sent  fail supp │",
            "│> back_in_stock on  10   40   12    3.4k  2.9k  3    500  │",
            "│  price_drop    off 5    55.5 4     800   498   0    300  │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ back_in_stock ───────────────────────────────────────────┐",
            "│enabled · priority 10 · threshold 40 · cooldown 3d00h ·   │",
            "│digest off                                                │",
            "│channels email, line                                      │",
            "│suppressed: consent 300 · cap 150 · dedupe 50             │",
            "│orders 87 · revenue 261,000 JPY · conversion 3.0% of 2.9k │",
            "│messages · bought the notified SKU 70 · something else 17 │",
            "│holdout 5% · sent 2.8k customers, 4.0% ordered · held out │",
            "│145 customers, 2.8% ordered · lift +45% (95% CI -46% to   │",
            "│+287%)                                                    │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "↑↓ select  e on/off  p priority  Tab/1-7 views  q quit      ",
        ],
    );
}

#[test]
fn wide() {
    let mut app = app();
    app.scenarios.selected = 1;
    let s = draw(&app, 120, 30);
    assert_row(&s, "│  scenario      on  prio thr  trig  aud   queued sent  fail supp  ord   revenue    conv  lift   channels              │");
    assert_row(&s, "│  back_in_stock on  10   40   12    3.4k  2.9k   2.9k  3    500   87    261k JPY   3.0%  +45%   email,line            │");
    assert_row(&s, "│> price_drop    off 5    55.5 4     800   500    498   0    300   0     0          0%    -      email                 │");
    assert_row(&s, "┌ price_drop ──────────────────────────────────────────────────────────────────────────────────────────────────────────┐");
    assert_row(&s, "│disabled · priority 5 · threshold 55.5 · cooldown 7d00h · digest on                                                   │");
    assert_row(&s, "│channels email                                                                                                        │");
    assert_row(&s, "│caps at most 2 price_drop messages per 7d                                                                             │");
    assert_row(&s, "│changed by an operator: enabled                                                                                       │");
    assert_row(
        &s,
        "↑↓ select  e on/off  p priority  t threshold  c channels  R reload  Tab/1-7 views  q quit",
    );
}

#[test]
fn threshold_edit_narrow() {
    let mut app = app();
    editing(&mut app);
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scenarios 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs     ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            "┌ scenarios (2) ───────────────────────────────────────────┐",
            "│  scenario      on  prio thr  trig  aud   sent  fail supp │",
            "│> back_in_stock on  10   40   12    3.4k  2.9k  3    500  │",
            "│  price_drop    off 5    55.5 4     800   498   0    300  │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ threshold: back_in_stock ────────────────────────────────┐",
            "│new threshold: 60_   current: 40                          │",
            "│reach at 60: 1,200   at current 40: 3,400 (-65%)          │",
            "│with any interest: 9,000                                  │",
            "│████                                                      │",
            "│████                                                      │",
            "│████ ████ ▂▂▂▂                                            │",
            "│████ ████ ████ ████ ▆▆▆▆ ▅▅▅▅ ▄▄▄▄ ▄▄▄▄ ▃▃▃▃ ▃▃▃▃ ▂▂▂▂    │",
            "│9.0k 4.5k 3.0k 2.2k 1.8k 1.5k 1.3k 1.1k 1.0k 900  818     │",
            "│ 0    10   20   30   40   50   60   70   80   90  100     │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "0-100 threshold  Enter save  Esc cancel  Ctrl-C quit        ",
        ],
    );
}

#[test]
fn threshold_edit_wide() {
    let mut app = app();
    editing(&mut app);
    let s = draw(&app, 120, 30);
    assert_row(&s, "┌ threshold: back_in_stock ────────────────────────────────────────────────────────────────────────────────────────────┐");
    assert_row(&s, "│new threshold: 60_   current: 40                                                                                      │");
    assert_row(&s, "│reach at 60: 1,200   at current 40: 3,400 (-65%)                                                                      │");
    assert_row(&s, "│██████ ██████ ██████ ██████ ██████ ██████ ██████ ██████ ██████ ██████ ██████                                          │");
    assert_row(&s, "│ 9.0k   4.5k   3.0k   2.2k   1.8k   1.5k   1.3k   1.1k   1.0k   900    818                                            │");
    assert_row(&s, "│  0      10     20     30     40     50     60     70     80     90    100                                            │");
    assert_row(&s, "0-100 threshold  Enter save  Esc cancel  Ctrl-C quit");
}

#[test]
fn confirm_disable() {
    let mut app = app();
    app.scenarios.edit = Some(Edit::Toggle {
        scenario: "back_in_stock".into(),
        enable: false,
        order_update: false,
    });
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scenarios 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs     ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            "┌ scenarios (2) ───────────────────────────────────────────┐",
            "│  scenario      on  prio thr  trig  aud   sent  fail supp │",
            "│> back_in_stock on  10   40   12    3.4k  2.9k  3    500  │",
            "│  price_drop    off 5    55.5 4     800   498   0    300  │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ confirm ─────────────────────────────────────────────────┐",
            "│Disable back_in_stock?                                    │",
            "│Its triggers will notify no one until it is enabled again.│",
            "│y/Enter yes   n/Esc no                                    │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "y/Enter yes  n/Esc no                                       ",
        ],
    );
}

#[test]
fn polling_daemon_without_settings() {
    let mut app = App::new("127.0.0.1:50051", NOW);
    app.conn = ConnState::Connected {
        since_ms: NOW,
        feed: Feed::Polling {
            why: "WatchOverview is not implemented by this daemon yet; polling scenario counters"
                .into(),
        },
    };
    app.view = ViewId::Scenarios;
    app.overview.set_polled(stats(), NOW);
    app.scenarios.settings = Remote::Ready(vec![]);
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scenarios 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs     ",
            "● connected (polling) · 127.0.0.1:50051                     ",
            "┌ scenarios (2) ───────────────────────────────────────────┐",
            "│  scenario      on  prio thr  trig  aud   sent  fail supp │",
            "│> back_in_stock on  -    -    12    3.4k  2.9k  3    500  │",
            "│  price_drop    off -    -    4     800   498   0    300  │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ back_in_stock ───────────────────────────────────────────┐",
            "│settings not known (ListScenarios did not list this       │",
            "│scenario)                                                 │",
            "│suppressed: consent 300 · cap 150 · dedupe 50             │",
            "│orders 87 · revenue 261,000 JPY · conversion 3.0% of 2.9k │",
            "│messages · bought the notified SKU 70 · something else 17 │",
            "│holdout 5% · sent 2.8k customers, 4.0% ordered · held out │",
            "│145 customers, 2.8% ordered · lift +45% (95% CI -46% to   │",
            "│+287%)                                                    │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "↑↓ select  e on/off  p priority  Tab/1-7 views  q quit      ",
        ],
    );
}

fn with_orders_selected(selected: usize) -> App {
    let mut app = with_orders(app());
    app.scenarios.selected = selected;
    app
}

/// An order update has no priority or threshold ("-"); its details say what it is, when
/// it goes and what it does in quiet hours.
#[test]
fn order_update_wide() {
    let s = draw(&with_orders_selected(2), 120, 30);
    assert_screen(
        &s[..14],
        &[
            "stockbell  1 Overview  2 Scenarios  3 Products  4 Customers  5 Delivery  6 Orders  7 Segments                           ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m · 127.0.0.1:50051                                                 ",
            "┌ scenarios (4) ───────────────────────────────────────────────────────────────────────────────────────────────────────┐",
            "│  scenario         on  prio thr  trig  aud   queued sent  fail supp  ord   revenue    conv  lift   channels           │",
            "│  back_in_stock    on  10   40   12    3.4k  2.9k   2.9k  3    500   87    261k JPY   3.0%  +45%   email,line         │",
            "│  price_drop       off 5    55.5 4     800   500    498   0    300   0     0          0%    -      email              │",
            "│> shipped          on  -    -    -     -     40     39    0    0     -     -          -     -      line,email         │",
            "│  cross_sell_order on  15   -    -     -     12     12    0    11    0     0          0%    -      email,line         │",
            "└──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘",
            "┌ shipped ─────────────────────────────────────────────────────────────────────────────────────────────────────────────┐",
            "│enabled · order update (transactional) · in quiet hours sent at once                                                  │",
            "│channels line, email                                                                                                  │",
            "│goes when the shop reports the shipment                                                                               │",
            "│changed by an operator: channels                                                                                      │",
        ],
    );
}

#[test]
fn offer_narrow() {
    let s = draw(&with_orders_selected(3), 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scenarios 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs     ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            "┌ scenarios (4) ───────────────────────────────────────────┐",
            "│  scenario         on  prio thr  trig  aud   sent  fail   │",
            "│  back_in_stock    on  10   40   12    3.4k  2.9k  3      │",
            "│  price_drop       off 5    55.5 4     800   498   0      │",
            "│  shipped          on  -    -    -     -     39    0      │",
            "│> cross_sell_order on  15   -    -     -     12    0      │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ cross_sell_order ────────────────────────────────────────┐",
            "│enabled · offer (marketing) · priority 15 · cooldown 7d00h│",
            "│channels email, line                                      │",
            "│goes 1h after the order, up to 4 products                 │",
            "│suppressed: consent 8 · cap 3                             │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "↑↓ select  e on/off  p priority  Tab/1-7 views  q quit      ",
        ],
    );
}

#[test]
fn channels_edit_narrow() {
    let mut app = with_orders_selected(2);
    app.scenarios.edit = Some(Edit::Channels {
        scenario: "shipped".into(),
        input: "email,web".into(),
        current: vec!["line".into(), "email".into()],
    });
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scenarios 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs     ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            "┌ scenarios (4) ───────────────────────────────────────────┐",
            "│  scenario         on  prio thr  trig  aud   sent  fail   │",
            "│  back_in_stock    on  10   40   12    3.4k  2.9k  3      │",
            "│  price_drop       off 5    55.5 4     800   498   0      │",
            "│> shipped          on  -    -    -     -     39    0      │",
            "│  cross_sell_order on  15   -    -     -     12    0      │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ channels: shipped ───────────────────────────────────────┐",
            "│channels: email,web_   current: line,email                │",
            "│email, line, webhook, in preference order: the first one  │",
            "│the customer can be reached on is used.                   │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "email,line in order  Enter save  Esc cancel  Ctrl-C quit    ",
        ],
    );
}

#[test]
fn confirm_disable_an_order_update() {
    let mut app = with_orders_selected(2);
    app.scenarios.edit = Some(Edit::Toggle {
        scenario: "shipped".into(),
        enable: false,
        order_update: true,
    });
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scenarios 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs     ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            "┌ scenarios (4) ───────────────────────────────────────────┐",
            "│  scenario         on  prio thr  trig  aud   sent  fail   │",
            "│  back_in_stock    on  10   40   12    3.4k  2.9k  3      │",
            "│  price_drop       off 5    55.5 4     800   498   0      │",
            "│> shipped          on  -    -    -     -     39    0      │",
            "│  cross_sell_order on  15   -    -     -     12    0      │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ confirm ─────────────────────────────────────────────────┐",
            "│Disable shipped?                                          │",
            "│Customers will not hear this about their orders, and      │",
            "│queued ones are cancelled, until it is enabled again.     │",
            "│y/Enter yes   n/Esc no                                    │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "y/Enter yes  n/Esc no                                       ",
        ],
    );
}

/// List hygiene: a scenario paused for its complaint / hard-bounce rate shows "on!" in
/// the table, and its details give the day's rates and why it paused.
#[test]
fn a_paused_scenario_says_why() {
    let mut app = App::new("127.0.0.1:50051", NOW);
    app.conn = ConnState::Connected {
        since_ms: NOW,
        feed: Feed::Polling {
            why: "polling".into(),
        },
    };
    app.view = ViewId::Scenarios;
    let mut s = stats();
    s[0].day_delivered = 980;
    s[0].day_hard_bounces = 20;
    s[0].day_complaints = 2;
    s[0].hard_bounce_rate = 0.02;
    s[0].complaint_rate = 2.0 / 980.0;
    s[0].paused = true;
    s[0].paused_reason = "shop.example: complaint rate 0.204 %".into();
    app.overview.set_polled(s, NOW);
    app.scenarios.settings = Remote::Ready(vec![]);
    let screen = draw(&app, 100, 20).join("\n");
    assert!(screen.contains("back_in_stock on! "), "{screen}");
    assert!(
        screen.contains("hard bounces 20 (2.00 %)") && screen.contains("complaints 2 (0.204 %)"),
        "{screen}"
    );
    assert!(
        screen.contains("PAUSED: shop.example: complaint rate 0.204 %"),
        "{screen}"
    );
}

/// A holdout whose lift is `lift` with the 95 % interval `low..high`.
fn holdout(lift: f64, low: f64, high: f64) -> pb::HoldoutStats {
    pb::HoldoutStats {
        holdout_pct: 10.0,
        sent_customers: 900,
        sent_converted: 90,
        sent_conversion: 0.1,
        held_customers: 100,
        held_converted: 6,
        held_conversion: 0.06,
        has_lift: true,
        lift,
        lift_low: low,
        lift_high: high,
    }
}

/// The lift column marks a lift whose 95 % interval excludes 0 with `*`, on either
/// side of it: price_drop (+60 %, +10 % to +120 %) and cross_sell_order (-30 %, -55 %
/// to -5 %) have the mark; back_in_stock (+45 %, -46 % to +287 %) has none.
#[test]
fn the_lift_is_marked_only_where_its_interval_excludes_zero() {
    let mut app = with_orders_selected(1);
    let ov = app.overview.latest.as_mut().expect("an overview");
    for s in &mut ov.scenarios {
        match s.scenario.as_str() {
            "price_drop" => s.holdout = Some(holdout(0.6, 0.1, 1.2)),
            "cross_sell_order" => s.holdout = Some(holdout(-0.3, -0.55, -0.05)),
            _ => {}
        }
    }
    let s = draw(&app, 120, 30);
    assert_row(&s, "│  back_in_stock    on  10   40   12    3.4k  2.9k   2.9k  3    500   87    261k JPY   3.0%  +45%   email,line         │");
    assert_row(&s, "│> price_drop       off 5    55.5 4     800   500    498   0    300   0     0          0%    +60%*  email              │");
    assert_row(&s, "│  shipped          on  -    -    -     -     40     39    0    0     -     -          -     -      line,email         │");
    assert_row(&s, "│  cross_sell_order on  15   -    -     -     12     12    0    11    0     0          0%    -30%*  email,line         │");
    // The details give the interval the mark stands for.
    assert_row(&s, "│holdout 10% · sent 900 customers, 10% ordered · held out 100 customers, 6.0% ordered · lift +60% (95% CI +10% to      │");
}
