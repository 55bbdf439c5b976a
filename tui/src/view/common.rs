//! Pieces the views share: bordered blocks, label styles, text inputs and what to show
//! for data that is loading or failed.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use stockbell_proto::v1 as pb;

use crate::fmt;
use crate::state::Remote;

pub const LABEL: Style = Style::new().fg(Color::DarkGray);
pub const TITLE: Style = Style::new().add_modifier(Modifier::BOLD);
pub const ERROR: Style = Style::new().fg(Color::Red);
pub const GOOD: Style = Style::new().fg(Color::Green);
pub const WARN: Style = Style::new().fg(Color::Yellow);
pub const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
pub const KEY: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);

/// A bordered block with a title.
pub fn block(title: impl Into<Line<'static>>) -> Block<'static> {
    Block::bordered().title(title.into())
}

/// `label value`, the label dimmed.
pub fn kv(label: &str, value: impl Into<String>) -> Vec<Span<'static>> {
    vec![
        Span::styled(format!("{label} "), LABEL),
        Span::raw(value.into()),
    ]
}

/// Joins span groups with ` · `.
pub fn joined(parts: Vec<Vec<Span<'static>>>) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", LABEL));
        }
        spans.extend(part);
    }
    Line::from(spans)
}

/// A one-line text box: `label: text_` (with a cursor and highlighted while typing).
pub fn input(label: &str, text: &str, typing: bool, hint: &str) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("{label}: "), TITLE)];
    if typing {
        spans.push(Span::styled(format!("{text}_"), WARN));
    } else if text.is_empty() {
        spans.push(Span::styled(hint.to_string(), LABEL));
    } else {
        spans.push(Span::raw(text.to_string()));
    }
    Line::from(spans)
}

/// What to draw instead of data that is not there: `None` when it is ready.
pub fn pending<T>(r: &Remote<T>, idle: &str) -> Option<Paragraph<'static>> {
    let line = match r {
        Remote::Ready(_) => return None,
        Remote::Idle => Line::styled(idle.to_string(), LABEL),
        Remote::Loading => Line::styled("loading…", LABEL),
        Remote::Failed(e) => Line::styled(e.to_string(), ERROR),
    };
    Some(Paragraph::new(line).wrap(Wrap { trim: true }))
}

/// `✓` / `✗`.
pub fn mark(on: bool) -> Span<'static> {
    if on {
        Span::styled("✓", GOOD)
    } else {
        Span::styled("✗", ERROR)
    }
}

/// A delivery channel's state: `email up`, or `email down since 11-30 13:04:05 (2m10s)`
/// with, when `detail`, the next probe and the last error.
pub fn channel(c: &pb::ChannelHealth, now_ms: i64, detail: bool) -> Vec<Vec<Span<'static>>> {
    if !c.down {
        return vec![vec![Span::styled(format!("{} up", c.channel), GOOD)]];
    }
    let mut parts = vec![vec![
        Span::styled(
            format!("{} down since {}", c.channel, fmt::time(c.down_since_ms)),
            ERROR,
        ),
        Span::styled(
            format!(" ({})", fmt::millis(now_ms - c.down_since_ms)),
            LABEL,
        ),
    ]];
    if detail {
        parts.push(kv("next probe", fmt::ago(c.next_probe_ms, now_ms)));
        parts.push(vec![Span::styled(c.last_error.clone(), ERROR)]);
    }
    parts
}

/// One outbox entry as a message list shows it: seq, status (coloured), channel,
/// scenario and age, then its subject and last error when it has them.
pub fn message(m: &pb::OutboxEntry, now: i64) -> Vec<Line<'static>> {
    let style = match m.status.as_str() {
        "delivered" => GOOD,
        "failed" => ERROR,
        "pending" => WARN,
        _ => LABEL,
    };
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("#{} ", m.seq)),
        Span::styled(format!("{:<9} ", m.status), style),
        Span::raw(format!("{} {} ", m.channel, m.scenario)),
        Span::styled(fmt::ago(m.created_ms, now), LABEL),
    ])];
    if !m.subject.is_empty() {
        lines.push(Line::styled(format!("   {}", m.subject), LABEL));
    }
    if !m.last_error.is_empty() {
        lines.push(Line::styled(format!("   {}", m.last_error), ERROR));
    }
    lines
}
