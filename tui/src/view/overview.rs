//! Overview: event, trigger and send rates as sparklines over the last ~2 minutes, and
//! the numbers an operator checks first — outbox depth and failures, delivery channels
//! (up, or down since when and why), delivery latency, suppressions by reason, actors,
//! store size, totals.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Wrap};
use ratatui::Frame;
use stockbell_proto::v1 as pb;

use super::common::{block, channel, joined, kv, ERROR, LABEL, TITLE, WARN};
use super::WIDE;
use crate::app::App;
use crate::conn::{ConnState, Feed};
use crate::fmt;
use crate::state::overview::Series;

const SERIES: [(Series, &str, ratatui::style::Color); 3] = [
    (Series::Events, "events/s", ratatui::style::Color::Cyan),
    (
        Series::Triggers,
        "triggers/s",
        ratatui::style::Color::Yellow,
    ),
    (Series::Sent, "sent/s", ratatui::style::Color::Green),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    if area.width >= WIDE {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(area);
        rates(app, frame, left, true);
        let facts = facts(app);
        let facts_h = wrapped_height(&facts, right.width.saturating_sub(2)) + 2;
        let [top, bottom] =
            Layout::vertical([Constraint::Length(facts_h), Constraint::Min(0)]).areas(right);
        frame.render_widget(
            Paragraph::new(facts)
                .wrap(Wrap { trim: false })
                .block(block(" daemon ")),
            top,
        );
        let supp = app.overview.suppression_totals();
        let lines: Vec<Line> = if supp.is_empty() {
            vec![Line::styled("none", LABEL)]
        } else {
            supp.iter()
                .map(|(r, n)| Line::from(format!("{:>8} {r}", fmt::count(*n))))
                .collect()
        };
        frame.render_widget(
            Paragraph::new(lines).block(block(" suppressed, all scenarios ")),
            bottom,
        );
    } else {
        let mut facts = facts(app);
        facts.insert(facts.len().min(2), suppressed_line(app));
        // Rates keep at least a label and a bar row each; the numbers get the rest.
        let room = area.height.saturating_sub(6);
        let facts_h = wrapped_height(&facts, area.width).min(room);
        let [top, bottom] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(facts_h)]).areas(area);
        rates(app, frame, top, false);
        frame.render_widget(Paragraph::new(facts).wrap(Wrap { trim: false }), bottom);
    }
}

/// Rows `lines` take when word-wrapped to `width` (greedy, like the paragraph does).
fn wrapped_height(lines: &[Line<'_>], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let mut rows = 0usize;
    for line in lines {
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        let mut used = 0usize;
        rows += 1;
        for word in text.split(' ') {
            let w = word.chars().count();
            let need = if used == 0 { w } else { used + 1 + w };
            if need > width && used > 0 {
                rows += 1 + (w.saturating_sub(1)) / width;
                used = w % width;
            } else {
                used = need;
            }
        }
    }
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// Why there are no rates to draw, if there are none.
fn no_rates(app: &App) -> Option<String> {
    if app.overview.latest.is_some() {
        return None;
    }
    Some(match &app.conn {
        ConnState::Connected {
            feed: Feed::Polling { why },
            ..
        } => why.clone(),
        ConnState::Connected { .. } => "waiting for the first overview…".into(),
        _ => "waiting for the daemon…".into(),
    })
}

fn rates(app: &App, frame: &mut Frame, area: Rect, bordered: bool) {
    if let Some(why) = no_rates(app) {
        let p = Paragraph::new(Line::styled(why, WARN)).wrap(Wrap { trim: true });
        let p = if bordered {
            p.block(block(" rates "))
        } else {
            p
        };
        frame.render_widget(p, area);
        return;
    }
    let rows = Layout::vertical([Constraint::Ratio(1, 3); 3]).split(area);
    let rates = app.latest().and_then(|o| o.rates).unwrap_or_default();
    for ((series, name, color), row) in SERIES.iter().zip(rows.iter()) {
        let now = match series {
            Series::Events => rates.events,
            Series::Triggers => rates.triggers,
            Series::Sent => rates.sent,
        };
        let title = Line::from(vec![
            Span::styled(format!(" {name} "), TITLE),
            Span::raw(fmt::rate(now)),
            Span::styled(
                format!("  peak {} ", fmt::rate(app.overview.peak(*series))),
                LABEL,
            ),
        ]);
        let (spark_area, block) = if bordered {
            let b = Block::bordered().title(title);
            (b.inner(*row), Some(b))
        } else {
            let [label, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(*row);
            frame.render_widget(title, label);
            (rest, None)
        };
        if let Some(b) = block {
            frame.render_widget(b, *row);
        }
        let data = app.overview.series(*series, usize::from(spark_area.width));
        frame.render_widget(Sparkline::default().data(data).style(*color), spark_area);
    }
}

/// Outbox, latency, actors, store and totals, one line each.
fn facts(app: &App) -> Vec<Line<'static>> {
    let Some(ov) = app.latest() else {
        return vec![Line::styled("no overview yet", LABEL)];
    };
    let depth = ov.outbox.unwrap_or_default();
    let lat = ov.delivery_latency.unwrap_or_default();
    let actors = ov.actors.unwrap_or_default();
    let totals = ov.totals.unwrap_or_default();
    let rates = ov.rates.unwrap_or_default();
    let mut failed = kv("failed", fmt::count(depth.failed));
    if depth.failed > 0 {
        failed[1].style = ERROR;
    }
    let mut lines = vec![
        fact(
            "outbox",
            vec![
                kv(
                    "pending",
                    format!(
                        "{} (due {})",
                        fmt::count(depth.pending),
                        fmt::count(depth.due)
                    ),
                ),
                failed,
                kv("delivered", fmt::count(depth.delivered)),
                kv("cancelled", fmt::count(depth.cancelled)),
            ],
        ),
        latency(&lat),
        fact(
            "actors",
            vec![
                kv("products", fmt::count(actors.active_products)),
                kv("customers", fmt::count(actors.active_customers)),
                kv("passivated", fmt::count(actors.passivated)),
            ],
        ),
        fact(
            "store",
            vec![
                vec![Span::raw(fmt::bytes(ov.store_bytes))],
                kv("fan-out waiting", fmt::count(ov.triggers_waiting)),
                kv("failing now", format!("{}/s", fmt::rate(rates.failed))),
                kv("rejected", format!("{}/s", fmt::rate(rates.rejected))),
            ],
        ),
        fact(
            "totals",
            vec![
                kv("events", fmt::count(totals.events)),
                kv("triggers", fmt::count(totals.triggers)),
                kv("queued", fmt::count(totals.queued)),
                kv("sent", fmt::count(totals.sent)),
                kv("failed", fmt::count(totals.failed)),
            ],
        ),
    ];
    if !ov.channels.is_empty() {
        let parts = ov
            .channels
            .iter()
            .flat_map(|c| channel(c, ov.at_ms, true))
            .collect();
        lines.insert(1, fact("channels", parts));
    }
    if !app.conn.is_connected() {
        lines.push(Line::styled(
            format!("last update {}", fmt::ago(ov.at_ms, app.now_ms)),
            WARN,
        ));
    }
    lines
}

/// `name     a · b · c`: a dimmed-free heading column, then the parts.
fn fact(name: &str, parts: Vec<Vec<Span<'static>>>) -> Line<'static> {
    let mut line = joined(parts);
    line.spans
        .insert(0, Span::styled(format!("{name:<8} "), TITLE));
    line
}

fn latency(l: &pb::Latency) -> Line<'static> {
    if l.samples == 0 {
        return fact(
            "latency",
            vec![vec![Span::styled("no deliveries yet", LABEL)]],
        );
    }
    let ms = |v: u64| fmt::millis(i64::try_from(v).unwrap_or(i64::MAX));
    fact(
        "latency",
        vec![
            kv("p50", ms(l.p50_ms)),
            kv("p90", ms(l.p90_ms)),
            kv("p99", ms(l.p99_ms)),
            {
                let mut max = kv("max", ms(l.max_ms));
                max.push(Span::styled(
                    format!(" ({} sent)", fmt::count(l.samples)),
                    LABEL,
                ));
                max
            },
        ],
    )
}

/// Suppressions as one line, for the narrow layout.
fn suppressed_line(app: &App) -> Line<'static> {
    let supp = app.overview.suppression_totals();
    let mut parts = Vec::new();
    if supp.is_empty() {
        parts.push(vec![Span::styled("none", LABEL)]);
    }
    for (r, n) in supp {
        parts.push(kv(r, fmt::count(n)));
    }
    fact("supp.", parts)
}
