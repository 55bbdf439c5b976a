//! Scenarios: one row per scenario with its settings and live counts, and below it the
//! selected scenario's details — or the edit in progress.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::common::{block, joined, kv, pending, ERROR, GOOD, LABEL, SELECTED, TITLE};
use super::scenario_edit;
use crate::app::App;
use crate::fmt;
use crate::state::scenarios::ScenarioRow;
use crate::state::Remote;

/// Table columns, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    On,
    Prio,
    Threshold,
    Triggered,
    Audience,
    Queued,
    Sent,
    Failed,
    Suppressed,
    Orders,
    Revenue,
    Conversion,
    Lift,
    Channels,
}

impl Col {
    const ALL: [Col; 15] = [
        Col::Name,
        Col::On,
        Col::Prio,
        Col::Threshold,
        Col::Triggered,
        Col::Audience,
        Col::Queued,
        Col::Sent,
        Col::Failed,
        Col::Suppressed,
        Col::Orders,
        Col::Revenue,
        Col::Conversion,
        Col::Lift,
        Col::Channels,
    ];

    /// (header, width, rank): columns are kept in rank order while they fit.
    fn spec(self) -> (&'static str, u16, u8) {
        match self {
            Col::Name => ("scenario", 13, 0),
            Col::On => ("on", 3, 1),
            Col::Prio => ("prio", 4, 2),
            Col::Threshold => ("thr", 4, 3),
            Col::Triggered => ("trig", 5, 4),
            Col::Audience => ("aud", 5, 5),
            Col::Sent => ("sent", 5, 6),
            Col::Failed => ("fail", 4, 7),
            Col::Suppressed => ("supp", 5, 8),
            Col::Queued => ("queued", 6, 9),
            Col::Orders => ("ord", 5, 10),
            Col::Revenue => ("revenue", 10, 11),
            Col::Conversion => ("conv", 5, 12),
            Col::Lift => ("lift", 6, 13),
            Col::Channels => ("channels", 14, 14),
        }
    }

    fn cell(self, r: &ScenarioRow<'_>) -> Cell<'static> {
        let stat = |f: fn(&stockbell_proto::v1::ScenarioStats) -> u64| {
            r.stats.map_or("-".to_string(), |s| fmt::count(f(s)))
        };
        match self {
            Col::Name => Cell::from(r.name.to_string()),
            Col::On => match r.enabled() {
                // On, but paused for its complaint / hard-bounce rate (list hygiene;
                // the details say why).
                Some(true) if r.stats.is_some_and(|s| s.paused) => {
                    Cell::from(Span::styled("on!", ERROR))
                }
                Some(true) => Cell::from(Span::styled("on", GOOD)),
                Some(false) => Cell::from(Span::styled("off", ERROR)),
                None => Cell::from("?"),
            },
            Col::Prio => Cell::from(match r.settings {
                Some(s) if !r.order_update() => s.priority.to_string(),
                _ => "-".into(),
            }),
            Col::Threshold => Cell::from(match r.settings {
                Some(s) if r.has_threshold() => fmt::score(s.threshold),
                _ => "-".into(),
            }),
            // Triggers and audiences are the stock scenarios'; an order scenario has neither.
            Col::Triggered if !r.has_threshold() => Cell::from("-"),
            Col::Audience if !r.has_threshold() => Cell::from("-"),
            Col::Triggered => Cell::from(stat(|s| s.triggered)),
            Col::Audience => Cell::from(stat(|s| s.audience)),
            Col::Queued => Cell::from(stat(|s| s.queued)),
            Col::Sent => Cell::from(stat(|s| s.sent)),
            Col::Failed => match r.stats.map(|s| s.failed) {
                Some(n) if n > 0 => Cell::from(Span::styled(fmt::count(n), ERROR)),
                _ => Cell::from(stat(|s| s.failed)),
            },
            Col::Suppressed => {
                Cell::from(r.stats.map_or("-".into(), |_| fmt::count(r.suppressed())))
            }
            // Attribution is the marketing scenarios'; an order update has none.
            Col::Orders | Col::Revenue | Col::Conversion | Col::Lift if r.order_update() => {
                Cell::from("-")
            }
            Col::Orders => Cell::from(stat(|s| s.attributed_orders)),
            Col::Revenue => Cell::from(r.stats.map_or("-".into(), revenue)),
            Col::Conversion => {
                Cell::from(r.stats.map_or("-".into(), |s| percent(s.conversion_rate)))
            }
            Col::Lift => Cell::from(
                r.stats
                    .and_then(|s| s.holdout.as_ref())
                    .map_or("-".into(), lift),
            ),
            Col::Channels => Cell::from(r.settings.map_or("-".into(), |s| s.channels.join(","))),
        }
    }
}

/// The credited revenue, short: `261k JPY`; the first currency and `+` for more.
fn revenue(s: &stockbell_proto::v1::ScenarioStats) -> String {
    let short = |r: &stockbell_proto::v1::Revenue| {
        let zero_decimal = fmt::price(0, &r.currency).starts_with("0 ") || r.currency.is_empty();
        let major = if zero_decimal {
            r.amount_minor.unsigned_abs()
        } else {
            r.amount_minor.unsigned_abs() / 100
        };
        let sign = if r.amount_minor < 0 { "-" } else { "" };
        format!("{sign}{} {}", fmt::count(major), r.currency)
    };
    match s.revenue.as_slice() {
        [] => "0".into(),
        [one] => short(one),
        [first, ..] => format!("{}+", short(first)),
    }
}

/// A fraction as a percentage: `3.1%`, `12%`, `0%`.
fn percent(f: f64) -> String {
    let p = f * 100.0;
    if !p.is_finite() || p == 0.0 {
        "0%".into()
    } else if p.abs() < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// A signed percentage: `+20%`, `-7%`.
fn signed(f: f64) -> String {
    let p = (f * 100.0).round();
    if p > 0.0 {
        format!("+{p:.0}%")
    } else {
        format!("{p:.0}%")
    }
}

/// The holdout lift, `*` when its 95 % interval excludes 0 (`+20%*`; the interval is in
/// the details); `-` without a holdout, `n/a` before both sides have an order.
fn lift(h: &stockbell_proto::v1::HoldoutStats) -> String {
    if h.holdout_pct <= 0.0 && h.held_customers == 0 {
        return "-".into();
    }
    if !h.has_lift {
        return "n/a".into();
    }
    let sure = h.lift_low > 0.0 || h.lift_high < 0.0;
    format!("{}{}", signed(h.lift), if sure { "*" } else { "" })
}

/// The columns that fit in `width` (after borders and the selection marker).
fn columns(width: u16, name_w: u16) -> Vec<Col> {
    let mut by_rank = Col::ALL.to_vec();
    by_rank.sort_by_key(|c| c.spec().2);
    let mut used = 0u16;
    let mut keep = Vec::new();
    for c in by_rank {
        let w = if c == Col::Name { name_w } else { c.spec().1 };
        let need = w + u16::from(!keep.is_empty());
        if used + need > width {
            break;
        }
        used += need;
        keep.push(c);
    }
    Col::ALL.into_iter().filter(|c| keep.contains(c)).collect()
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let rows = app.scenario_rows();
    let table_h = (rows.len() as u16 + 3).clamp(4, (area.height / 2).max(4));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(area);
    table(app, &rows, frame, top);
    if app.scenarios.edit.is_some() {
        scenario_edit::render(app, frame, bottom);
    } else {
        details(rows.get(app.scenarios.selected), frame, bottom);
    }
}

fn table(app: &App, rows: &[ScenarioRow<'_>], frame: &mut Frame, area: Rect) {
    let title = format!(" scenarios ({}) ", rows.len());
    if rows.is_empty() {
        let idle = "no scenarios yet";
        let p = match (
            &app.scenarios.settings,
            pending(&app.scenarios.settings, idle),
        ) {
            (Remote::Ready(_), _) | (_, None) => {
                Paragraph::new(Line::styled("the daemon reported no scenarios yet", LABEL))
            }
            (_, Some(p)) => p,
        };
        frame.render_widget(p.block(block(title)), area);
        return;
    }
    let name_w = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 24) as u16;
    let cols = columns(area.width.saturating_sub(4), name_w);
    let header = Row::new(cols.iter().map(|c| Cell::from(c.spec().0))).style(TITLE);
    let body = rows
        .iter()
        .map(|r| Row::new(cols.iter().map(|c| c.cell(r))));
    let widths = cols.iter().map(|c| match c {
        Col::Name => Constraint::Length(name_w),
        Col::Channels => Constraint::Fill(1),
        c => Constraint::Length(c.spec().1),
    });
    let table = Table::new(body, widths)
        .header(header)
        .block(block(title))
        .row_highlight_style(SELECTED)
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(app.scenarios.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn details(row: Option<&ScenarioRow<'_>>, frame: &mut Frame, area: Rect) {
    let Some(r) = row else {
        frame.render_widget(block(" details "), area);
        return;
    };
    let mut lines = Vec::new();
    match r.settings {
        Some(s) if !r.has_threshold() => lines.extend(order_details(r, s)),
        Some(s) => {
            lines.push(joined(vec![
                vec![if s.enabled {
                    Span::styled("enabled", GOOD)
                } else {
                    Span::styled("disabled", ERROR)
                }],
                kv("priority", s.priority.to_string()),
                kv("threshold", fmt::score(s.threshold)),
                kv("cooldown", fmt::millis(s.cooldown_ms)),
                kv("digest", if s.digest { "on" } else { "off" }),
            ]));
            lines.push(Line::from(kv("channels", s.channels.join(", "))));
            let caps: Vec<&str> = s.caps.iter().map(|c| c.describe.as_str()).collect();
            if !caps.is_empty() {
                lines.push(Line::from(kv("caps", caps.join("; "))));
            }
            if !s.overridden.is_empty() {
                lines.push(Line::from(kv(
                    "changed by an operator:",
                    s.overridden.join(", "),
                )));
            }
        }
        None => lines.push(Line::styled(
            "settings not known (ListScenarios did not list this scenario)",
            LABEL,
        )),
    }
    if let Some(st) = r.stats {
        let mut reasons: Vec<_> = st.suppressed.iter().filter(|c| c.count > 0).collect();
        reasons.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
        let mut line = joined(
            reasons
                .iter()
                .map(|c| kv(&c.reason, fmt::count(c.count)))
                .collect(),
        );
        if reasons.is_empty() {
            line = Line::raw("none");
        }
        line.spans.insert(0, Span::styled("suppressed: ", LABEL));
        lines.push(line);
        let attributed = st.messages > 0
            || st.attributed_orders > 0
            || st.holdout.as_ref().is_some_and(|h| h.held_customers > 0);
        if !r.order_update() && attributed {
            lines.extend(attribution_details(st));
        }
        lines.extend(hygiene_lines(st));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(format!(" {} ", r.name))),
        area,
    );
}

/// Credited orders and revenue, and the holdout comparison with its lift.
fn attribution_details(st: &stockbell_proto::v1::ScenarioStats) -> Vec<Line<'static>> {
    let revenue: Vec<String> = st
        .revenue
        .iter()
        .map(|r| fmt::price(r.amount_minor, &r.currency))
        .collect();
    let mut lines = vec![joined(vec![
        kv("orders", fmt::count(st.attributed_orders)),
        kv(
            "revenue",
            if revenue.is_empty() {
                "0".into()
            } else {
                revenue.join(" + ")
            },
        ),
        kv(
            "conversion",
            format!(
                "{} of {} messages",
                percent(st.conversion_rate),
                fmt::count(st.messages)
            ),
        ),
        kv(
            "bought the notified SKU",
            format!(
                "{} · something else {}",
                fmt::count(st.notified_sku_orders),
                fmt::count(st.other_sku_orders)
            ),
        ),
    ])];
    if let Some(h) = st
        .holdout
        .as_ref()
        .filter(|h| h.holdout_pct > 0.0 || h.held_customers > 0)
    {
        let side =
            |n: u64, rate: f64| format!("{} customers, {} ordered", fmt::count(n), percent(rate));
        let mut parts = vec![
            vec![Span::styled(
                format!("holdout {}%", fmt::score(h.holdout_pct)),
                LABEL,
            )],
            kv("sent", side(h.sent_customers, h.sent_conversion)),
            kv("held out", side(h.held_customers, h.held_conversion)),
        ];
        parts.push(if h.has_lift {
            kv(
                "lift",
                format!(
                    "{} (95% CI {} to {})",
                    signed(h.lift),
                    signed(h.lift_low),
                    signed(h.lift_high)
                ),
            )
        } else {
            kv("lift", "n/a until both sides have an order")
        });
        lines.push(joined(parts));
    }
    lines
}

/// List hygiene: the last day's complaint and hard-bounce rates, and a pause with why
/// (resumed by setting the scenario on).
fn hygiene_lines(st: &stockbell_proto::v1::ScenarioStats) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if st.day_delivered + st.day_hard_bounces > 0 {
        lines.push(joined(vec![
            kv("last day: delivered", fmt::count(st.day_delivered)),
            kv(
                "hard bounces",
                format!(
                    "{} ({:.2} %)",
                    st.day_hard_bounces,
                    st.hard_bounce_rate * 100.0
                ),
            ),
            kv(
                "complaints",
                format!("{} ({:.3} %)", st.day_complaints, st.complaint_rate * 100.0),
            ),
        ]));
    }
    if st.paused {
        lines.push(Line::from(vec![
            Span::styled("PAUSED: ", ERROR),
            Span::raw(format!("{} (turn it on to resume)", st.paused_reason)),
        ]));
    }
    lines
}

/// An order scenario's settings: its class, switch, channels, quiet-hours mode and
/// timing; priority and cooldown for an offer (marketing).
fn order_details(
    r: &ScenarioRow<'_>,
    s: &stockbell_proto::v1::ScenarioSettings,
) -> Vec<Line<'static>> {
    let mut first = vec![vec![if s.enabled {
        Span::styled("enabled", GOOD)
    } else {
        Span::styled("disabled", ERROR)
    }]];
    if r.order_update() {
        first.push(vec![Span::raw("order update (transactional)")]);
        let quiet = if s.quiet == "send" {
            "sent at once"
        } else {
            "waits for the morning"
        };
        first.push(kv("in quiet hours", quiet));
    } else {
        first.push(vec![Span::raw("offer (marketing)")]);
        first.push(kv("priority", s.priority.to_string()));
        first.push(kv("cooldown", fmt::millis(s.cooldown_ms)));
    }
    let mut lines = vec![
        joined(first),
        Line::from(kv("channels", s.channels.join(", "))),
    ];
    if !s.timing.is_empty() {
        lines.push(Line::from(kv("goes", s.timing.clone())));
    }
    let caps: Vec<&str> = s.caps.iter().map(|c| c.describe.as_str()).collect();
    if !caps.is_empty() {
        lines.push(Line::from(kv("caps", caps.join("; "))));
    }
    if !s.overridden.is_empty() {
        lines.push(Line::from(kv(
            "changed by an operator:",
            s.overridden.join(", "),
        )));
    }
    lines
}
