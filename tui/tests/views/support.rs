//! Fixed fake state for the view tests (no daemon) and a renderer that returns the
//! screen as text lines.

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use stockbell_console::conn::{ConnState, Feed};
use stockbell_console::state::Remote;
use stockbell_console::{view, App};
use stockbell_proto::v1 as pb;

/// "Now" in every test: 2026-01-10 12:00:00 UTC.
pub const NOW: i64 = 1_768_046_400_000;
pub const MIN: i64 = 60_000;

/// Draws the app on a `width`×`height` test terminal; returns each row as text.
pub fn draw(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    term.draw(|f| view::render(app, f)).expect("draws");
    let buf = term.backend().buffer();
    (0..height)
        .map(|y| {
            let mut line = String::new();
            let mut x = 0;
            while x < width {
                let sym = buf[(x, y)].symbol();
                line.push_str(sym);
                // A wide glyph covers the next cell, which holds a blank.
                x += u16::try_from(unicode_width(sym)).unwrap_or(1).max(1);
            }
            line
        })
        .collect()
}

fn unicode_width(s: &str) -> usize {
    // The glyphs the views use are all one column wide except CJK text in fixtures.
    s.chars()
        .map(|c| {
            if ('\u{3000}'..='\u{9fff}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

/// Asserts the whole screen, printing both versions on a mismatch.
pub fn assert_screen(actual: &[String], expected: &[&str]) {
    let exp: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    if actual != exp.as_slice() {
        panic!(
            "screen differs\n--- expected\n{}\n--- actual\n{}\n",
            exp.join("\n"),
            actual.join("\n")
        );
    }
}

/// Asserts that some row of the screen is exactly `line` (trailing spaces ignored).
pub fn assert_row(actual: &[String], line: &str) {
    if !actual.iter().any(|r| r.trim_end() == line.trim_end()) {
        panic!("no row {line:?} in\n{}", actual.join("\n"));
    }
}

pub fn connected() -> App {
    let mut app = App::new("127.0.0.1:50051", NOW);
    app.conn = ConnState::Connected {
        since_ms: NOW - 5 * MIN,
        feed: Feed::Stream,
    };
    app
}

pub fn disconnected() -> App {
    let mut app = App::new("127.0.0.1:50051", NOW);
    app.conn = ConnState::Disconnected {
        error: "transport error: Connection refused (os error 111)".into(),
        backoff: Duration::from_secs(2),
        retry_at_ms: NOW + 1_500,
        attempt: 4,
    };
    app
}

fn supp(pairs: &[(&str, u64)]) -> Vec<pb::SuppressionCount> {
    pairs
        .iter()
        .map(|(r, n)| pb::SuppressionCount {
            reason: (*r).into(),
            count: *n,
        })
        .collect()
}

pub fn stats() -> Vec<pb::ScenarioStats> {
    vec![
        pb::ScenarioStats {
            scenario: "back_in_stock".into(),
            triggered: 12,
            audience: 3_400,
            queued: 2_900,
            suppressed: supp(&[("consent", 300), ("cap", 150), ("dedupe", 50)]),
            sent: 2_850,
            failed: 3,
            enabled: true,
            messages: 2_900,
            attributed_orders: 87,
            revenue: vec![pb::Revenue {
                currency: "JPY".into(),
                amount_minor: 261_000,
            }],
            conversion_rate: 0.03,
            notified_sku_orders: 70,
            other_sku_orders: 17,
            holdout: Some(pb::HoldoutStats {
                holdout_pct: 5.0,
                sent_customers: 2_755,
                sent_converted: 110,
                sent_conversion: 110.0 / 2_755.0,
                held_customers: 145,
                held_converted: 4,
                held_conversion: 4.0 / 145.0,
                has_lift: true,
                lift: 0.447,
                lift_low: -0.459,
                lift_high: 2.87,
            }),
            ..Default::default()
        },
        pb::ScenarioStats {
            scenario: "price_drop".into(),
            triggered: 4,
            audience: 800,
            queued: 500,
            suppressed: supp(&[("cap", 250), ("priority", 50)]),
            sent: 498,
            failed: 0,
            enabled: false,
            ..Default::default()
        },
    ]
}

pub fn settings() -> Vec<pb::ScenarioSettings> {
    vec![
        pb::ScenarioSettings {
            scenario: "back_in_stock".into(),
            enabled: true,
            priority: 10,
            threshold: 40.0,
            channels: vec!["email".into(), "line".into()],
            cooldown_ms: 3 * 86_400_000,
            digest: false,
            caps: vec![],
            overridden: vec![],
            class: "marketing".into(),
            quiet: "wait".into(),
            timing: String::new(),
            has_threshold: true,
            ..Default::default()
        },
        pb::ScenarioSettings {
            scenario: "price_drop".into(),
            enabled: false,
            priority: 5,
            threshold: 55.5,
            channels: vec!["email".into()],
            cooldown_ms: 7 * 86_400_000,
            digest: true,
            caps: vec![pb::CapSetting {
                max: 2,
                window_ms: 7 * 86_400_000,
                local_days: 0,
                describe: "at most 2 price_drop messages per 7d".into(),
            }],
            overridden: vec!["enabled".into()],
            class: "marketing".into(),
            quiet: "wait".into(),
            timing: String::new(),
            has_threshold: true,
            ..Default::default()
        },
    ]
}

/// An order update and an offer, as a daemon with orders lists them after the stock ones.
pub fn order_settings() -> Vec<pb::ScenarioSettings> {
    vec![
        pb::ScenarioSettings {
            scenario: "shipped".into(),
            enabled: true,
            channels: vec!["line".into(), "email".into()],
            overridden: vec!["channels".into()],
            class: "transactional".into(),
            quiet: "send".into(),
            timing: "when the shop reports the shipment".into(),
            ..Default::default()
        },
        pb::ScenarioSettings {
            scenario: "cross_sell_order".into(),
            enabled: true,
            priority: 15,
            channels: vec!["email".into(), "line".into()],
            cooldown_ms: 7 * 86_400_000,
            class: "marketing".into(),
            quiet: "wait".into(),
            timing: "1h after the order, up to 4 products".into(),
            ..Default::default()
        },
    ]
}

pub fn order_stats() -> Vec<pb::ScenarioStats> {
    vec![
        pb::ScenarioStats {
            scenario: "shipped".into(),
            queued: 40,
            sent: 39,
            enabled: true,
            ..Default::default()
        },
        pb::ScenarioStats {
            scenario: "cross_sell_order".into(),
            queued: 12,
            sent: 12,
            suppressed: supp(&[("consent", 8), ("cap", 3)]),
            enabled: true,
            ..Default::default()
        },
    ]
}

/// An overview after two minutes of steady traffic with a burst at the end.
pub fn with_overview(mut app: App) -> App {
    for i in 0..120 {
        let burst = if i >= 110 { 4.0 } else { 1.0 };
        let at = NOW - (119 - i) * 1000;
        app.overview.push(pb::Overview {
            at_ms: at,
            version: "0.1.0".into(),
            started_ms: NOW - 2 * 3_600_000 - 3 * MIN,
            health: "ok".into(),
            rates: Some(pb::Rates {
                events: 250.0 * burst,
                rejected: 0.0,
                triggers: 0.5 * burst,
                queued: 20.0,
                sent: 18.5 * burst,
                failed: 0.0,
            }),
            totals: Some(pb::Totals {
                batches: 900,
                events: 1_234_567,
                rejected: 12,
                duplicates: 3,
                triggers: 16,
                queued: 3_400,
                sent: 3_348,
                failed: 3,
            }),
            scenarios: stats(),
            outbox: Some(pb::OutboxDepth {
                pending: 49,
                delivered: 3_348,
                failed: 3,
                cancelled: 1,
                due: 7,
            }),
            delivery_latency: Some(pb::Latency {
                samples: 1_000,
                p50_ms: 420,
                p90_ms: 1_800,
                p99_ms: 12_500,
                max_ms: 61_000,
            }),
            actors: Some(pb::Actors {
                active_products: 140,
                active_customers: 2_300,
                passivated: 51,
            }),
            store_bytes: 3 * 1024 * 1024 * 1024 / 2,
            triggers_waiting: 2,
            channels: vec![],
            paused_scenarios: vec![],
        });
    }
    app.scenarios.settings = Remote::Ready(settings());
    app
}

/// The overview and settings of a daemon with orders: the stock scenarios, then an order
/// update (shipped) and an offer (cross_sell_order).
pub fn with_orders(mut app: App) -> App {
    if let Some(ov) = app.overview.latest.as_mut() {
        ov.scenarios.extend(order_stats());
    }
    let mut all = settings();
    all.extend(order_settings());
    app.scenarios.settings = Remote::Ready(all);
    app
}

/// The latest overview says email has been down for 2m10s (connection refused, three
/// probes failed, the next one in 4 s) and LINE is up.
pub fn with_email_down(mut app: App) -> App {
    if let Some(ov) = app.overview.latest.as_mut() {
        ov.channels = vec![
            pb::ChannelHealth {
                channel: "email".into(),
                down: true,
                down_since_ms: ov.at_ms - 130_000,
                last_error: "SMTP: Connection refused (os error 111)".into(),
                next_probe_ms: ov.at_ms + 4_000,
                failed_probes: 3,
            },
            pb::ChannelHealth {
                channel: "line".into(),
                ..Default::default()
            },
        ];
    }
    app
}

pub fn search_results() -> pb::SearchProductsResponse {
    let p = |sku: &str, title: &str, stock: i64, price: i64| pb::ProductSummary {
        sku: sku.into(),
        title: title.into(),
        stock,
        price_minor: price,
        currency: "JPY".into(),
        velocity_per_day: 1.5,
    };
    pb::SearchProductsResponse {
        products: vec![
            p("MUG-BLUE", "Blue mug", 3, 1_200),
            p("MUG-RED", "Red mug", 0, 1_200),
            p("MUG-XL", "Extra large travel mug with a lid", 25, 2_800),
        ],
        truncated: false,
    }
}

pub fn product() -> pb::Product {
    pb::Product {
        sku: "MUG-BLUE".into(),
        title: "Blue mug".into(),
        category_ids: vec!["kitchen".into(), "mugs".into()],
        price_minor: 1_200,
        currency: "JPY".into(),
        stock: 3,
        velocity_per_day: 1.5,
        predicted_sellout_ms: NOW + 2 * 86_400_000,
        price_history: [1_500, 1_400, 1_200]
            .iter()
            .enumerate()
            .map(|(i, p)| pb::PricePoint {
                at_ms: NOW - (3 - i as i64) * 86_400_000,
                price_minor: *p,
            })
            .collect(),
        reference_price_minor: 1_500,
        arming: Some(pb::Arming {
            back_in_stock: false,
            low_stock: false,
            price_drop_pending_minor: 1_000,
            price_drop_due_ms: NOW + 40 * MIN,
            new_arrival: false,
        }),
        visible: true,
        on_sale: true,
        active: true,
        interested_customers: 1_250,
        interested_above_threshold: 310,
        ..Default::default()
    }
}

pub fn triggers() -> Vec<pb::Trigger> {
    vec![
        pb::Trigger {
            id: 41,
            kind: pb::TriggerKind::LowStock as i32,
            sku: "MUG-BLUE".into(),
            at_ms: NOW - 5 * MIN,
            reason: "3 left, 2.0 days of cover".into(),
            ..Default::default()
        },
        pb::Trigger {
            id: 17,
            kind: pb::TriggerKind::BackInStock as i32,
            sku: "MUG-BLUE".into(),
            at_ms: NOW - 3 * 86_400_000,
            reason: "restocked from 0 to 20".into(),
            ..Default::default()
        },
    ]
}

pub fn outbox_entry(seq: u64, status: &str, error: &str) -> pb::OutboxEntry {
    pb::OutboxEntry {
        seq,
        customer_id: format!("C-{}", seq % 7),
        channel: "email".into(),
        address: format!("c{}@example.com", seq % 7),
        scenario: "back_in_stock".into(),
        status: status.into(),
        attempts: if status == "failed" { 5 } else { 1 },
        next_attempt_ms: NOW + MIN,
        created_ms: NOW - seq as i64 * MIN,
        delivered_ms: 0,
        last_error: error.into(),
        subject: "Blue mug is back in stock".into(),
        skus: vec!["MUG-BLUE".into()],
    }
}

pub fn customer() -> pb::Customer {
    pb::Customer {
        customer_id: "C-1".into(),
        email: "alice@example.com".into(),
        line_user_id: "U42".into(),
        locale: "ja".into(),
        time_zone: "Asia/Tokyo".into(),
        consent_email: true,
        consent_line: false,
        consent_webhook: false,
        tags: vec!["vip".into()],
        suppressed: vec![],
        interests: vec![
            pb::Interest {
                sku: "MUG-BLUE".into(),
                score: 82.5,
                favourite: true,
                in_cart: true,
                views: 3,
                dwell_ms: 40_000,
                seen_price_minor: 1_200,
                ..Default::default()
            },
            pb::Interest {
                sku: "MUG-RED".into(),
                score: 0.0,
                purchased_ms: NOW - 2 * 86_400_000,
                ..Default::default()
            },
        ],
        ledger: vec![pb::SentMessage {
            at_ms: NOW - 3 * 3_600_000,
            scenario: "price_drop".into(),
            channel: "email".into(),
            skus: vec!["MUG-XL".into()],
        }],
        created_ms: NOW - 30 * 86_400_000,
        updated_ms: NOW - 10 * MIN,
        active: true,
        held: vec![pb::HeldMessage {
            state: "quiet_hours".into(),
            scenario: "low_stock".into(),
            channel: "email".into(),
            skus: vec!["MUG-BLUE".into()],
            due_ms: NOW + 8 * 3_600_000,
        }],
        recent_messages: vec![outbox_entry(12, "failed", "550 5.1.1 mailbox unavailable")],
        engagement: None,
        journey: None,
        hygiene: None,
        lapse: None,
        value: None,
    }
}
