//! The frame around every view: tabs, the connection/health line, the message line and
//! the key help (always visible, trimmed to the width).

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::common::{ERROR, GOOD, KEY, LABEL, SELECTED, TITLE, WARN};
use crate::app::App;
use crate::conn::{ConnState, Feed};
use crate::fmt;
use crate::input::Mode;
use crate::state::scenarios::Edit;
use crate::state::ViewId;

/// The tab bar: spaced out with the name when it fits, then tighter, then (narrow
/// terminals) the current view's title whole and the others' shortened.
pub fn tabs(current: ViewId, width: u16) -> Line<'static> {
    let width = usize::from(width);
    let n = ViewId::ALL.len();
    let titles: usize = ViewId::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {}", i + 1, v.title()).chars().count())
        .sum();
    let roomy_len = titles + 2 * n;
    let brand = width >= roomy_len + 10;
    let roomy = width >= roomy_len;
    let short = !roomy && width < titles + n - 1;
    let mut spans = Vec::new();
    if brand {
        spans.push(Span::styled("stockbell ", TITLE));
    }
    for (i, v) in ViewId::ALL.iter().enumerate() {
        let title: String = if short && *v != current {
            v.short_title().to_owned()
        } else {
            v.title().to_owned()
        };
        let text = if roomy {
            format!(" {} {title} ", i + 1)
        } else {
            format!("{} {title}", i + 1)
        };
        if !roomy && i > 0 {
            spans.push(Span::raw(" "));
        }
        let style = if *v == current {
            SELECTED
        } else {
            Style::new()
        };
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

/// Connected or not, and the daemon's version, uptime and health.
pub fn health(app: &App, width: u16) -> Line<'static> {
    let sep = || Span::styled(" · ", LABEL);
    let mut spans = Vec::new();
    match &app.conn {
        ConnState::Connecting { attempt } => {
            spans.push(Span::styled("◌ connecting", WARN));
            if *attempt > 1 {
                spans.push(Span::styled(format!(" (attempt {attempt})"), WARN));
            }
        }
        ConnState::Disconnected {
            error,
            retry_at_ms,
            attempt,
            ..
        } => {
            let wait = fmt::millis(retry_at_ms.saturating_sub(app.now_ms));
            spans.push(Span::styled("○ disconnected", ERROR));
            spans.push(sep());
            spans.push(Span::raw(format!("retry in {wait} (#{attempt})")));
            spans.push(sep());
            spans.push(Span::styled(error.clone(), ERROR));
            return Line::from(spans);
        }
        ConnState::Connected { feed, .. } => {
            spans.push(Span::styled("● connected", GOOD));
            if let Feed::Polling { .. } = feed {
                spans.push(Span::styled(" (polling)", WARN));
            }
        }
    }
    if let Some(ov) = app.latest() {
        spans.push(sep());
        let style = if ov.health == "ok" { GOOD } else { ERROR };
        spans.push(Span::styled("health ", LABEL));
        spans.push(Span::styled(ov.health.clone(), style));
        spans.push(sep());
        spans.push(Span::raw(format!("stockbelld {}", ov.version)));
        spans.push(sep());
        spans.push(Span::styled("up ", LABEL));
        spans.push(Span::raw(fmt::millis(ov.at_ms - ov.started_ms)));
    }
    // The address only when it fits whole.
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if used + 3 + app.addr.chars().count() <= usize::from(width) {
        spans.push(sep());
        spans.push(Span::styled(app.addr.clone(), LABEL));
    }
    Line::from(spans)
}

pub fn note(app: &App) -> Paragraph<'static> {
    match app.note() {
        Some(n) => Paragraph::new(Line::styled(
            n.text.clone(),
            if n.error { ERROR } else { GOOD },
        )),
        None => Paragraph::new(""),
    }
}

/// The keys that work now, as many as fit; quitting and switching views are always shown.
pub fn help(app: &App, width: u16) -> Line<'static> {
    let mode = app.mode();
    let local: &[(&str, &str)] = match (app.view, mode) {
        (_, Mode::Confirm) => &[("y/Enter", "yes"), ("n/Esc", "no")],
        (ViewId::Scenarios, Mode::Text) => match app.scenarios.edit {
            Some(Edit::Priority { .. }) => {
                &[("0-9", "priority"), ("Enter", "save"), ("Esc", "cancel")]
            }
            Some(Edit::Channels { .. }) => &[
                ("email,line", "in order"),
                ("Enter", "save"),
                ("Esc", "cancel"),
            ],
            _ => &[("0-100", "threshold"), ("Enter", "save"), ("Esc", "cancel")],
        },
        (ViewId::Products, Mode::Text) => &[("Enter", "search"), ("Esc", "stop typing")],
        (ViewId::Customers, Mode::Text) => &[("Enter", "look up"), ("Esc", "stop typing")],
        (ViewId::Orders, Mode::Text) => &[("Enter", "open order"), ("Esc", "stop typing")],
        (ViewId::Overview, _) => &[],
        (ViewId::Scenarios, _) => &[
            ("↑↓", "select"),
            ("e", "on/off"),
            ("p", "priority"),
            ("t", "threshold"),
            ("c", "channels"),
            ("R", "reload"),
        ],
        (ViewId::Products, _) => &[
            ("/", "search"),
            ("↑↓", "select"),
            ("Enter", "open"),
            ("R", "reload"),
        ],
        (ViewId::Customers, _) => &[("/", "look up"), ("↑↓", "scroll"), ("R", "reload")],
        (ViewId::Delivery, _) => &[
            ("s", "state"),
            ("↑↓", "select"),
            ("r", "retry"),
            ("R", "reload"),
        ],
        (ViewId::Orders, _) if app.orders.open.is_some() => &[
            ("↑↓", "scroll"),
            ("Esc", "back"),
            ("/", "order id"),
            ("R", "reload"),
        ],
        (ViewId::Segments, _) => &[("↑↓", "select"), ("x", "export CSV"), ("R", "reload")],
        (ViewId::Orders, _) => &[
            ("s", "next list"),
            ("↑↓", "select"),
            ("Enter", "open"),
            ("/", "order id"),
            ("R", "reload"),
        ],
    };
    let global: &[(&str, &str)] = match mode {
        Mode::Normal => &[("Tab/1-7", "views"), ("q", "quit")],
        Mode::Text => &[("Ctrl-C", "quit")],
        Mode::Confirm => &[],
    };
    let len = |pairs: &[(&str, &str)]| -> usize {
        pairs
            .iter()
            .map(|(k, l)| k.chars().count() + l.chars().count() + 3)
            .sum()
    };
    let mut budget = usize::from(width).saturating_sub(len(global));
    let mut shown: Vec<(&str, &str)> = Vec::new();
    for pair in local {
        let need = len(std::slice::from_ref(pair));
        if need > budget {
            break;
        }
        budget -= need;
        shown.push(*pair);
    }
    shown.extend_from_slice(global);
    let mut spans = Vec::new();
    for (k, l) in shown {
        spans.push(Span::styled(k.to_string(), KEY));
        spans.push(Span::raw(format!(" {l}  ")));
    }
    Line::from(spans)
}
