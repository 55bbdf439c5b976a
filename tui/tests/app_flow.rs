//! The console's flows without a daemon: keys go through `input::map_key` and `App`, the
//! RPCs it asks for are checked, and replies are fed back by hand.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use stockbell_console::conn::{ConnEvent, ConnState, Feed};
use stockbell_console::input::{map_key, Mode};
use stockbell_console::rpc::{CustomerKey, Reply, Request, RpcError};
use stockbell_console::state::delivery::StatusFilter;
use stockbell_console::state::scenarios::Edit;
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::App;
use stockbell_proto::v1 as pb;
use tonic::Code;

const NOW: i64 = 1_768_046_400_000;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Sends one key through the mapping and the app; returns the requests it made.
fn press(app: &mut App, code: KeyCode) -> Vec<Request> {
    match map_key(app.mode(), key(code)) {
        Some(a) => app.handle(a),
        None => Vec::new(),
    }
}

/// Types each character of `text` as a key press.
fn typed(app: &mut App, text: &str) -> Vec<Request> {
    text.chars()
        .flat_map(|c| press(app, KeyCode::Char(c)))
        .collect()
}

fn settings(name: &str, enabled: bool, threshold: f64) -> pb::ScenarioSettings {
    pb::ScenarioSettings {
        scenario: name.into(),
        enabled,
        priority: 5,
        threshold,
        channels: vec!["email".into()],
        ..Default::default()
    }
}

fn app() -> App {
    let mut app = App::new("127.0.0.1:50051", NOW);
    app.on_conn(ConnEvent::State(ConnState::Connected {
        since_ms: NOW,
        feed: Feed::Stream,
    }));
    app.on_reply(Reply::Scenarios(Ok(vec![
        settings("back_in_stock", true, 40.0),
        settings("price_drop", false, 55.0),
    ])));
    app
}

fn reach_ticket(reqs: &[Request], threshold: f64) -> u64 {
    match reqs {
        [Request::EstimateReach { ticket, req }] => {
            assert_eq!(req.scenario, "back_in_stock");
            assert_eq!(req.threshold, threshold);
            *ticket
        }
        other => panic!("expected one EstimateReach at {threshold}, got {other:?}"),
    }
}

fn estimate(threshold: f64, customers: u64) -> pb::ReachEstimate {
    pb::ReachEstimate {
        scenario: "back_in_stock".into(),
        threshold,
        customers,
        current_threshold: 40.0,
        customers_at_current: 3_400,
        ..Default::default()
    }
}

#[test]
fn threshold_is_estimated_while_typing_and_saved_on_enter() {
    let mut app = app();
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.view, ViewId::Scenarios);
    // `t` opens the box and shows the reach at the current threshold at once.
    let first = reach_ticket(&press(&mut app, KeyCode::Char('t')), 40.0);
    assert_eq!(app.mode(), Mode::Text);
    let six = reach_ticket(&typed(&mut app, "6"), 6.0);
    let sixty = reach_ticket(&typed(&mut app, "0"), 60.0);
    assert!(first < six && six < sixty);
    // Enter before the estimate for 60 is back does not save.
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app
        .scenarios
        .note
        .as_ref()
        .is_some_and(|n| n.text.contains("waiting")));
    // A late reply for "6" is ignored; the one for "60" is shown.
    app.on_reply(Reply::Reach {
        ticket: six,
        result: Ok(estimate(6.0, 8_000)),
    });
    let Some(Edit::Threshold(t)) = &app.scenarios.edit else {
        panic!("still editing");
    };
    assert!(t.estimate.is_loading());
    app.on_reply(Reply::Reach {
        ticket: sixty,
        result: Ok(estimate(60.0, 1_200)),
    });
    let Some(Edit::Threshold(t)) = &app.scenarios.edit else {
        panic!("still editing");
    };
    assert_eq!(t.estimate.ready().map(|e| e.customers), Some(1_200));
    // Now Enter saves exactly what was shown.
    let reqs = press(&mut app, KeyCode::Enter);
    let [Request::UpdateScenario(u)] = reqs.as_slice() else {
        panic!("expected UpdateScenario, got {reqs:?}");
    };
    assert_eq!(
        (u.scenario.as_str(), u.threshold),
        ("back_in_stock", Some(60.0))
    );
    assert_eq!((u.enabled, u.priority, u.reset), (None, None, false));
    assert!(app.scenarios.edit.is_none());
    assert_eq!(app.mode(), Mode::Normal);
    app.on_reply(Reply::ScenarioUpdated(Ok(settings(
        "back_in_stock",
        true,
        60.0,
    ))));
    assert_eq!(app.scenarios.settings()[0].threshold, 60.0);
    assert!(app
        .scenarios
        .note
        .as_ref()
        .is_some_and(|n| n.text.contains("saved")));
}

#[test]
fn threshold_edit_cancels_and_rejects_out_of_range() {
    let mut app = app();
    app.handle(stockbell_console::input::Action::Show(ViewId::Scenarios));
    press(&mut app, KeyCode::Char('t'));
    // 150 is not a threshold: no estimate, and Enter keeps the box open.
    let reqs = typed(&mut app, "150");
    assert_eq!(reqs.len(), 2, "estimates for 1 and 15 only: {reqs:?}");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.scenarios.edit.is_some());
    assert!(app.scenarios.note.as_ref().is_some_and(|n| n.error));
    // Backspace makes it valid again and asks for a new estimate; an empty box asks for
    // the current threshold's reach.
    reach_ticket(&press(&mut app, KeyCode::Backspace), 15.0);
    reach_ticket(&press(&mut app, KeyCode::Backspace), 1.0);
    reach_ticket(&press(&mut app, KeyCode::Backspace), 40.0);
    // Esc cancels: nothing is saved.
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(app.scenarios.edit.is_none());
    // An estimate arriving after the cancel changes nothing.
    app.on_reply(Reply::Reach {
        ticket: 99,
        result: Ok(estimate(15.0, 5_000)),
    });
    assert!(app.scenarios.edit.is_none());
}

#[test]
fn threshold_without_estimate_support_can_still_be_saved() {
    let mut app = app();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('t'));
    let ticket = reach_ticket(&typed(&mut app, "5"), 5.0);
    app.on_reply(Reply::Reach {
        ticket,
        result: Err(RpcError::new("EstimateReach", Code::Unimplemented, "")),
    });
    let reqs = press(&mut app, KeyCode::Enter);
    assert!(matches!(reqs.as_slice(), [Request::UpdateScenario(u)] if u.threshold == Some(5.0)));
}

/// An order update: `p` and `t` explain why they do not apply and ask nothing; `c` edits
/// its channels (prefilled with the current ones), refusing a name that is no channel.
#[test]
fn an_order_update_takes_channels_not_priority_or_threshold() {
    let mut app = app();
    let shipped = pb::ScenarioSettings {
        scenario: "shipped".into(),
        enabled: true,
        channels: vec!["email".into(), "line".into()],
        class: "transactional".into(),
        quiet: "send".into(),
        ..Default::default()
    };
    app.on_reply(Reply::Scenarios(Ok(vec![
        settings("back_in_stock", true, 40.0),
        shipped.clone(),
    ])));
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Down);
    for k in ['p', 't'] {
        assert!(press(&mut app, KeyCode::Char(k)).is_empty(), "{k}");
        assert_eq!(app.mode(), Mode::Normal, "{k}");
        let note = app.scenarios.note.clone().expect("a note");
        assert!(
            note.error && note.text.contains("shipped"),
            "{k}: {}",
            note.text
        );
    }
    assert!(press(&mut app, KeyCode::Char('c')).is_empty());
    assert_eq!(app.mode(), Mode::Text);
    let Some(Edit::Channels { input, .. }) = &app.scenarios.edit else {
        panic!("editing channels");
    };
    assert_eq!(input, "email,line");
    for _ in 0.."email,line".len() {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "line,fax");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app
        .scenarios
        .note
        .as_ref()
        .is_some_and(|n| n.error && n.text.contains("fax")));
    assert!(
        app.scenarios.edit.is_some(),
        "still editing after a bad name"
    );
    for _ in 0.."fax".len() {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "webhook");
    let reqs = press(&mut app, KeyCode::Enter);
    let [Request::UpdateScenario(u)] = reqs.as_slice() else {
        panic!("expected UpdateScenario, got {reqs:?}");
    };
    assert_eq!(u.scenario, "shipped");
    assert_eq!(
        u.channels.as_ref().map(|c| c.channels.clone()),
        Some(vec!["line".to_string(), "webhook".to_string()])
    );
    assert_eq!((u.enabled, u.priority, u.threshold), (None, None, None));
    app.on_reply(Reply::ScenarioUpdated(Ok(pb::ScenarioSettings {
        channels: vec!["line".into(), "webhook".into()],
        ..shipped
    })));
    let note = app.scenarios.note.clone().expect("a note");
    assert_eq!(
        note.text,
        "shipped: saved (enabled, channels line, webhook)"
    );
}

#[test]
fn enable_disable_asks_first_and_priority_is_typed() {
    let mut app = app();
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.scenarios.selected, 1);
    // price_drop is disabled: space asks to enable it; `n` keeps it as it is.
    assert!(press(&mut app, KeyCode::Char(' ')).is_empty());
    assert_eq!(app.mode(), Mode::Confirm);
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert_eq!(app.mode(), Mode::Normal);
    press(&mut app, KeyCode::Char('e'));
    let reqs = press(&mut app, KeyCode::Char('y'));
    assert!(matches!(reqs.as_slice(),
        [Request::UpdateScenario(u)] if u.scenario == "price_drop" && u.enabled == Some(true)));
    // Priority: digits only, Enter saves.
    press(&mut app, KeyCode::Char('p'));
    typed(&mut app, "1x2");
    let reqs = press(&mut app, KeyCode::Enter);
    assert!(matches!(reqs.as_slice(),
        [Request::UpdateScenario(u)] if u.priority == Some(12) && u.enabled.is_none()));
    // A refused update is shown, and the settings stay as they were.
    app.on_reply(Reply::ScenarioUpdated(Err(RpcError::new(
        "UpdateScenario",
        Code::InvalidArgument,
        "INVALID_ARGUMENT: priority 12 is above the maximum 10",
    ))));
    assert!(app
        .scenarios
        .note
        .as_ref()
        .is_some_and(|n| n.error && n.text.contains("maximum")));
    assert_eq!(app.scenarios.settings()[1].priority, 5);
}

#[test]
fn delivery_states_cycle_and_retry_the_selection() {
    let mut app = app();
    let reqs = press(&mut app, KeyCode::Char('5'));
    assert_eq!(
        reqs,
        vec![Request::ListOutbox {
            status: StatusFilter::Pending
        }]
    );
    let mut seen = Vec::new();
    for _ in 0..5 {
        match press(&mut app, KeyCode::Char('s')).as_slice() {
            [Request::ListOutbox { status }] => seen.push(status.wire()),
            other => panic!("expected ListOutbox, got {other:?}"),
        }
    }
    assert_eq!(seen, ["failed", "delivered", "cancelled", "", "pending"]);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.delivery.filter, StatusFilter::Failed);
    // A late reply for another state is dropped.
    app.on_reply(Reply::Outbox {
        status: StatusFilter::Pending,
        result: Ok(vec![]),
    });
    assert!(app.delivery.entries.is_loading());
    let entry = |seq| pb::OutboxEntry {
        seq,
        status: "failed".into(),
        ..Default::default()
    };
    app.on_reply(Reply::Outbox {
        status: StatusFilter::Failed,
        result: Ok(vec![entry(9), entry(4)]),
    });
    press(&mut app, KeyCode::Down);
    assert_eq!(
        press(&mut app, KeyCode::Char('r')),
        vec![Request::RetryOutbox { seq: 4 }]
    );
    // The list refreshes after the retry, and only while the view is shown.
    let reqs = app.on_reply(Reply::Retried {
        seq: 4,
        result: Ok(pb::OutboxEntry {
            seq: 4,
            status: "pending".into(),
            ..Default::default()
        }),
    });
    assert_eq!(
        reqs,
        vec![Request::ListOutbox {
            status: StatusFilter::Failed
        }]
    );
}

#[test]
fn search_falls_back_to_an_exact_sku_and_q_is_text_while_typing() {
    let mut app = app();
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "q-1");
    assert!(!app.quit, "q is a character while typing");
    let reqs = press(&mut app, KeyCode::Enter);
    assert_eq!(
        reqs,
        vec![Request::SearchProducts {
            query: "q-1".into()
        }]
    );
    let reqs = app.on_reply(Reply::Products {
        query: "q-1".into(),
        result: Err(RpcError::new("SearchProducts", Code::Unimplemented, "")),
    });
    assert_eq!(
        reqs,
        vec![
            Request::GetProduct { sku: "q-1".into() },
            Request::ListTriggers { sku: "q-1".into() },
            Request::GetRelated { sku: "q-1".into() },
        ]
    );
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn customers_are_looked_up_by_id_or_email() {
    let mut app = app();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "alice@example.com");
    let reqs = press(&mut app, KeyCode::Enter);
    assert_eq!(
        reqs,
        vec![Request::GetCustomer {
            key: CustomerKey::Email("alice@example.com".into())
        }]
    );
    press(&mut app, KeyCode::Char('/'));
    for _ in 0.."alice@example.com".len() {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "C-1");
    let reqs = press(&mut app, KeyCode::Enter);
    assert_eq!(
        reqs,
        vec![Request::GetCustomer {
            key: CustomerKey::Id("C-1".into())
        }]
    );
    // The reply for the earlier lookup is stale and dropped.
    app.on_reply(Reply::Customer {
        key: CustomerKey::Email("alice@example.com".into()),
        result: Ok(Box::default()),
    });
    assert!(app.customers.customer.is_loading());
}

#[test]
fn reconnecting_reloads_settings_and_nothing_is_asked_while_away() {
    let mut app = app();
    press(&mut app, KeyCode::Char('5'));
    app.on_conn(ConnEvent::State(ConnState::Disconnected {
        error: "connection refused".into(),
        backoff: Duration::from_millis(500),
        retry_at_ms: NOW + 500,
        attempt: 2,
    }));
    assert!(app.tick(NOW + 60_000).is_empty());
    let reqs = app.on_conn(ConnEvent::State(ConnState::Connected {
        since_ms: NOW + 61_000,
        feed: Feed::Stream,
    }));
    assert_eq!(
        reqs,
        vec![
            Request::ListScenarios,
            Request::ListOutbox {
                status: StatusFilter::Pending
            }
        ]
    );
    assert!(
        matches!(app.scenarios.settings, Remote::Ready(_)),
        "kept while reloading"
    );
}

#[test]
fn tab_cycles_views_and_ctrl_c_quits_while_typing() {
    let mut app = app();
    let order: Vec<ViewId> = (0..7)
        .map(|_| {
            press(&mut app, KeyCode::Tab);
            app.view
        })
        .collect();
    assert_eq!(
        order,
        [
            ViewId::Scenarios,
            ViewId::Products,
            ViewId::Customers,
            ViewId::Delivery,
            ViewId::Orders,
            ViewId::Segments,
            ViewId::Overview
        ]
    );
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.view, ViewId::Segments);
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('/'));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    if let Some(a) = map_key(app.mode(), ctrl_c) {
        app.handle(a);
    }
    assert!(app.quit);
}

#[test]
fn the_segments_view_loads_its_list_and_detail_and_exports() {
    let mut app = app();
    let reqs = press(&mut app, KeyCode::Char('7'));
    assert_eq!(app.view, ViewId::Segments);
    let all = String::new();
    assert_eq!(
        reqs,
        [
            Request::ListSegments,
            Request::SegmentMetrics {
                segment: all.clone()
            },
            Request::SegmentHistory {
                segment: all.clone()
            },
            Request::MonthlyTable {
                segment: all.clone()
            },
            Request::CohortTable {
                segment: all.clone()
            },
            Request::RfmGrid {
                segment: all.clone()
            },
        ]
    );
    // A daemon without ListSegments still shows every customer.
    app.on_reply(Reply::Segments(Err(RpcError::new(
        "ListSegments",
        Code::Unimplemented,
        "",
    ))));
    app.on_reply(Reply::SegmentMetrics {
        segment: all.clone(),
        result: Ok(pb::SegmentMetrics {
            size: 3,
            ..Default::default()
        }),
    });
    assert_eq!(app.segments.rows().len(), 1);
    assert_eq!(
        app.segments.rows()[0].metrics.as_ref().map(|m| m.size),
        Some(3)
    );
    // The list refreshes itself while shown.
    let later = app.now_ms + stockbell_console::state::segments::SegmentsState::REFRESH_MS;
    assert!(app.tick(later).contains(&Request::ListSegments));
    let reqs = press(&mut app, KeyCode::Char('x'));
    let [Request::ExportSegment { segment, path }] = reqs.as_slice() else {
        panic!("expected an export: {reqs:?}");
    };
    assert_eq!(segment, "");
    assert!(
        path.starts_with("segment-all-") && path.ends_with(".csv"),
        "{path}"
    );
    let note = app.note().map(|n| n.text.clone()).unwrap_or_default();
    assert_eq!(note, format!("exporting to {path}…"));
}
