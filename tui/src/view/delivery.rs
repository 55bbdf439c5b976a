//! Delivery: outbox entries in the chosen state with their attempts and errors, the
//! channels that are down (since when), and the selected entry in full (subject,
//! address, skus, last error).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;
use stockbell_proto::v1 as pb;

use super::common::{
    block, channel, joined, kv, pending, ERROR, GOOD, LABEL, SELECTED, TITLE, WARN,
};
use super::WIDE;
use crate::app::App;
use crate::fmt;

fn status_style(status: &str) -> ratatui::style::Style {
    match status {
        "delivered" => GOOD,
        "failed" => ERROR,
        "pending" => WARN,
        _ => LABEL,
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let d = &app.delivery;
    let any_down = app
        .latest()
        .is_some_and(|ov| ov.channels.iter().any(|c| c.down));
    let [head, list, detail] = Layout::vertical([
        Constraint::Length(1 + u16::from(any_down)),
        Constraint::Min(4),
        Constraint::Length(6),
    ])
    .areas(area);
    let mut parts = vec![vec![
        Span::styled("state ", TITLE),
        Span::styled(d.filter.label(), status_style(d.filter.wire())),
        Span::styled(" (s: next)", LABEL),
    ]];
    if let Some(e) = d.entries.ready() {
        parts.push(vec![Span::raw(format!("{} entries", e.len()))]);
    }
    if d.loaded_at_ms > 0 {
        parts.push(kv("updated", fmt::ago(d.loaded_at_ms, app.now_ms)));
    }
    let down: Vec<Vec<Span<'static>>> = app
        .latest()
        .map(|ov| {
            ov.channels
                .iter()
                .filter(|c| c.down)
                .flat_map(|c| channel(c, ov.at_ms, false))
                .collect()
        })
        .unwrap_or_default();
    if down.is_empty() {
        frame.render_widget(joined(parts), head);
    } else {
        let text = vec![joined(parts), joined(down)];
        frame.render_widget(Paragraph::new(text), head);
    }

    let Some(entries) = d.entries.ready() else {
        let p = pending(&d.entries, "switch here to load the outbox").unwrap_or_default();
        frame.render_widget(p.block(block(" outbox ")), list);
        return;
    };
    table(app, entries, frame, list);
    entry(d.selected_entry(), app.now_ms, frame, detail);
}

fn table(app: &App, entries: &[pb::OutboxEntry], frame: &mut Frame, area: Rect) {
    let wide = area.width >= WIDE;
    let mut head = vec!["seq", "status", "chan", "customer", "att"];
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(3),
    ];
    if wide {
        head.extend(["scenario", "created"]);
        widths.extend([Constraint::Length(13), Constraint::Length(11)]);
    }
    head.push("last error");
    widths.push(Constraint::Min(10));
    let rows = entries.iter().map(|e| {
        let mut cells = vec![
            Cell::from(e.seq.to_string()),
            Cell::from(Span::styled(e.status.clone(), status_style(&e.status))),
            Cell::from(e.channel.clone()),
            Cell::from(e.customer_id.clone()),
            Cell::from(e.attempts.to_string()),
        ];
        if wide {
            cells.push(Cell::from(e.scenario.clone()));
            cells.push(Cell::from(fmt::ago(e.created_ms, app.now_ms)));
        }
        cells.push(Cell::from(Span::styled(e.last_error.clone(), ERROR)));
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(TITLE))
        .block(block(" outbox "))
        .row_highlight_style(SELECTED)
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(app.delivery.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn entry(e: Option<&pb::OutboxEntry>, now: i64, frame: &mut Frame, area: Rect) {
    let Some(e) = e else {
        let p = Paragraph::new(Line::styled("no entries in this state", LABEL));
        frame.render_widget(p.block(block(" entry ")), area);
        return;
    };
    let when = match e.status.as_str() {
        "delivered" => kv("delivered", fmt::ago(e.delivered_ms, now)),
        "pending" => kv("next attempt", fmt::ago(e.next_attempt_ms, now)),
        _ => kv("created", fmt::ago(e.created_ms, now)),
    };
    let mut lines = vec![joined(vec![
        vec![Span::styled(e.status.clone(), status_style(&e.status))],
        vec![Span::raw(format!("{} to {}", e.channel, e.address))],
        vec![Span::raw(e.scenario.clone())],
        kv("attempts", e.attempts.to_string()),
        when,
    ])];
    if !e.last_error.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("last error ", LABEL),
            Span::styled(e.last_error.clone(), ERROR),
        ]));
    }
    lines.push(Line::from(kv("subject", e.subject.clone())));
    lines.push(Line::from(kv("skus", e.skus.join(", "))));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(format!(" #{} {} ", e.seq, e.customer_id))),
        area,
    );
}
