//! The scenario edit panels: the enable/disable question, the channels and priority
//! boxes, and the threshold box with the reach at the new and the current threshold and
//! the reach curve, all shown before the operator confirms.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Wrap};
use ratatui::Frame;
use stockbell_proto::v1 as pb;

use super::common::{kv, ERROR, LABEL, TITLE, WARN};
use crate::app::App;
use crate::fmt;
use crate::state::scenarios::{parse_threshold, Edit, ThresholdEdit};
use crate::state::Remote;

const NEW: Style = Style::new().fg(Color::Yellow);
const CURRENT: Style = Style::new().fg(Color::Cyan);

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(edit) = &app.scenarios.edit else {
        return;
    };
    let panel = |title: String| Block::bordered().title(title).border_style(WARN);
    match edit {
        Edit::Toggle {
            scenario,
            enable,
            order_update,
        } => {
            let (q, what) = match (*enable, *order_update) {
                (true, false) => (
                    format!("Enable {scenario}?"),
                    "Its triggers will notify customers again.",
                ),
                (false, false) => (
                    format!("Disable {scenario}?"),
                    "Its triggers will notify no one until it is enabled again.",
                ),
                (true, true) => (
                    format!("Enable {scenario}?"),
                    "Customers will get this news about their orders again.",
                ),
                (false, true) => (
                    format!("Disable {scenario}?"),
                    "Customers will not hear this about their orders, and queued ones are cancelled, until it is enabled again.",
                ),
            };
            let lines = vec![
                Line::styled(q, TITLE),
                Line::raw(what),
                Line::from(vec![
                    Span::styled("y/Enter", WARN),
                    Span::raw(" yes   "),
                    Span::styled("n/Esc", WARN),
                    Span::raw(" no"),
                ]),
            ];
            let p = Paragraph::new(lines).wrap(Wrap { trim: false });
            frame.render_widget(p.block(panel(" confirm ".into())), area);
        }
        Edit::Priority {
            scenario,
            input,
            current,
        } => {
            let lines = vec![
                Line::from(vec![
                    Span::styled("new priority: ", TITLE),
                    Span::styled(format!("{input}_"), NEW),
                    Span::styled("   current: ", LABEL),
                    Span::raw(current.map_or("?".into(), |c| c.to_string())),
                ]),
                Line::styled(
                    "Higher wins when caps leave room for only some scenarios.",
                    LABEL,
                ),
            ];
            let p = Paragraph::new(lines).wrap(Wrap { trim: false });
            frame.render_widget(p.block(panel(format!(" priority: {scenario} "))), area);
        }
        Edit::Channels {
            scenario,
            input,
            current,
        } => {
            let lines = vec![
                Line::from(vec![
                    Span::styled("channels: ", TITLE),
                    Span::styled(format!("{input}_"), NEW),
                    Span::styled("   current: ", LABEL),
                    Span::raw(current.join(",")),
                ]),
                Line::styled(
                    "email, line, webhook, in preference order: the first one the customer can be reached on is used.",
                    LABEL,
                ),
            ];
            let p = Paragraph::new(lines).wrap(Wrap { trim: false });
            frame.render_widget(p.block(panel(format!(" channels: {scenario} "))), area);
        }
        Edit::Threshold(t) => threshold(
            t,
            frame,
            area,
            panel(format!(" threshold: {} ", t.scenario)),
        ),
    }
}

fn threshold(t: &ThresholdEdit, frame: &mut Frame, area: Rect, panel: Block<'static>) {
    let inner = panel.inner(area);
    frame.render_widget(panel, area);
    let mut lines = vec![Line::from(vec![
        Span::styled("new threshold: ", TITLE),
        Span::styled(format!("{}_", t.input), NEW),
        Span::styled("   current: ", LABEL),
        Span::styled(t.current.map_or("?".into(), fmt::score), CURRENT),
    ])];
    let typed = parse_threshold(&t.input);
    match &t.estimate {
        Remote::Idle if t.input.is_empty() => {
            lines.push(Line::styled("type a threshold from 0 to 100", LABEL))
        }
        Remote::Idle => lines.push(Line::styled("a threshold is a number from 0 to 100", ERROR)),
        Remote::Loading => lines.push(Line::styled("estimating reach…", LABEL)),
        Remote::Failed(e) => lines.push(Line::styled(e.to_string(), ERROR)),
        Remote::Ready(e) => lines.extend(reach_lines(e, typed)),
    }
    let chart_h = inner.height.saturating_sub(lines.len() as u16);
    let [text, chart] =
        Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text);
    if let Remote::Ready(e) = &t.estimate {
        if chart_h >= 4 && !e.curve.is_empty() {
            curve(e, typed, frame, chart);
        } else if chart_h >= 1 {
            frame.render_widget(
                Paragraph::new(curve_text(e)).wrap(Wrap { trim: true }),
                chart,
            );
        }
    }
}

/// Reach at the new threshold against the current one.
fn reach_lines(e: &pb::ReachEstimate, typed: Option<f64>) -> Vec<Line<'static>> {
    let mut first = Vec::new();
    if typed.is_some() {
        first.extend(kv(
            &format!("reach at {}:", fmt::score(e.threshold)),
            fmt::group(e.customers),
        ));
        first.push(Span::styled("   ", LABEL));
    }
    first.extend(kv(
        &format!("at current {}:", fmt::score(e.current_threshold)),
        fmt::group(e.customers_at_current),
    ));
    if typed.is_some() && e.customers_at_current > 0 {
        let change = (e.customers as f64 / e.customers_at_current as f64 - 1.0) * 100.0;
        let style = if change < 0.0 { WARN } else { Style::new() };
        first.push(Span::styled(format!(" ({change:+.0}%)"), style));
    }
    let mut second = kv("with any interest:", fmt::group(e.customers_with_interest));
    if e.sampled {
        second.push(Span::styled(
            format!(
                "   (sampled: {} edges read, scaled up)",
                fmt::group(e.edges_read)
            ),
            LABEL,
        ));
    }
    vec![Line::from(first), Line::from(second)]
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The reach curve as bars with the reach and the threshold under each bar; the new
/// threshold is yellow and the current one cyan.
fn curve(e: &pb::ReachEstimate, typed: Option<f64>, frame: &mut Frame, area: Rect) {
    let n = e.curve.len() as u16;
    let slot = (area.width / n.max(1)).max(2);
    let bar_width = slot.saturating_sub(1).clamp(1, 6);
    let style = |p: &pb::ReachPoint| {
        if typed.is_some_and(|t| near(t, p.threshold)) {
            NEW
        } else if near(p.threshold, e.current_threshold) {
            CURRENT
        } else {
            LABEL
        }
    };
    let bars: Vec<Bar> = e
        .curve
        .iter()
        .map(|p| {
            Bar::default()
                .value(p.customers)
                .text_value(String::new())
                .style(style(p))
        })
        .collect();
    let [bars_area, values, labels] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(u16::from(bar_width >= 4)),
        Constraint::Length(1),
    ])
    .areas(area);
    let chart = BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_width)
        .bar_gap(1);
    frame.render_widget(chart, bars_area);
    let w = usize::from(bar_width);
    let row = |text: &dyn Fn(&pb::ReachPoint) -> String| {
        let spans: Vec<Span> = e
            .curve
            .iter()
            .map(|p| Span::styled(format!("{:^w$} ", fmt::truncate(&text(p), w)), style(p)))
            .collect();
        Line::from(spans)
    };
    frame.render_widget(row(&|p| fmt::count(p.customers)), values);
    frame.render_widget(row(&|p| fmt::score(p.threshold)), labels);
}

/// The curve in one line, when there is no room for bars.
fn curve_text(e: &pb::ReachEstimate) -> Line<'static> {
    let mut spans = vec![Span::styled("curve ", LABEL)];
    for p in &e.curve {
        spans.push(Span::raw(format!(
            "{}→{} ",
            fmt::score(p.threshold),
            fmt::count(p.customers)
        )));
    }
    Line::from(spans)
}
