//! Products: the search box and results, and the selected product's stock, prices,
//! velocity, predicted sell-out, armed triggers, interested customers, recent triggers
//! and related products (what cross-sell offers would show with it, and why).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;
use stockbell_proto::v1 as pb;

use super::common::{block, input, joined, kv, pending, ERROR, GOOD, LABEL, SELECTED, TITLE, WARN};
use super::WIDE;
use crate::app::App;
use crate::fmt;
use crate::state::Remote;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let p = &app.products;
    let [search, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        input(
            "search",
            &p.query,
            p.typing,
            "press / and type part of a SKU or title",
        ),
        search,
    );
    let (list, detail) = if area.width >= WIDE {
        let [l, d] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
            .areas(rest);
        (l, d)
    } else {
        // With a product open the list shrinks to a few rows; the detail needs the room.
        let n = p.results.ready().map_or(1, |r| r.products.len()) as u16;
        let n = if p.sku.is_some() { n.min(2) } else { n };
        let h = (n + 3).clamp(4, (rest.height / 2).max(4));
        let [l, d] = Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(rest);
        (l, d)
    };
    results(app, frame, list);
    product(app, frame, detail);
}

fn results(app: &App, frame: &mut Frame, area: Rect) {
    let p = &app.products;
    let Some(r) = p.results.ready() else {
        let msg = match &p.results {
            Remote::Failed(e) if e.is_unimplemented() => Paragraph::new(Line::styled(
                "search is not available in this daemon yet: type an exact SKU and press Enter",
                WARN,
            ))
            .wrap(Wrap { trim: true }),
            r => pending(r, "no search yet").unwrap_or_default(),
        };
        frame.render_widget(msg.block(block(" results ")), area);
        return;
    };
    let more = if r.truncated { "+" } else { "" };
    let title = format!(" results for {:?}: {}{more} ", p.searched, r.products.len());
    let wide = area.width >= 60;
    let rows = r.products.iter().map(|s| {
        let mut cells = vec![
            Cell::from(s.sku.clone()),
            Cell::from(s.title.clone()),
            Cell::from(s.stock.to_string()),
        ];
        if wide {
            cells.push(Cell::from(fmt::price(s.price_minor, &s.currency)));
        }
        Row::new(cells)
    });
    let mut widths = vec![
        Constraint::Length(10),
        Constraint::Min(8),
        Constraint::Length(6),
    ];
    let mut head = vec!["sku", "title", "stock"];
    if wide {
        widths.push(Constraint::Length(12));
        head.push("price");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(TITLE))
        .block(block(title))
        .row_highlight_style(SELECTED)
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(p.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn product(app: &App, frame: &mut Frame, area: Rect) {
    let p = &app.products;
    let title = match (&p.sku, p.detail.ready()) {
        (_, Some(d)) => format!(" {} {} ", d.sku, d.title),
        (Some(sku), None) => format!(" {sku} "),
        (None, None) => " product ".into(),
    };
    let Some(d) = p.detail.ready() else {
        let msg = pending(&p.detail, "select a result and press Enter").unwrap_or_default();
        frame.render_widget(msg.block(block(title)), area);
        return;
    };
    let mut lines = facts(d, app.now_ms);
    lines.push(Line::styled("recent triggers", TITLE));
    match &p.triggers {
        Remote::Ready(ts) if ts.is_empty() => lines.push(Line::styled("none", LABEL)),
        Remote::Ready(ts) => lines.extend(ts.iter().map(|t| trigger(t, app.now_ms))),
        Remote::Failed(e) => lines.push(Line::styled(e.to_string(), ERROR)),
        Remote::Idle | Remote::Loading => lines.push(Line::styled("loading…", LABEL)),
    }
    lines.extend(related(&p.related));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(title)),
        area,
    );
}

fn facts(d: &pb::Product, now_ms: i64) -> Vec<Line<'static>> {
    let price = |m: i64| fmt::price(m, &d.currency);
    let mut state = Vec::new();
    state.push(vec![if d.visible {
        Span::styled("visible", GOOD)
    } else {
        Span::styled("hidden", WARN)
    }]);
    state.push(vec![if d.on_sale {
        Span::styled("on sale", GOOD)
    } else {
        Span::styled("not on sale", WARN)
    }]);
    if d.backorderable {
        state.push(vec![Span::raw("backorderable")]);
    }
    if d.active {
        state.push(vec![Span::styled("in memory", LABEL)]);
    }
    let sellout = if d.predicted_sellout_ms == 0 {
        "no sell-out predicted".to_string()
    } else {
        format!("sells out {}", fmt::ago(d.predicted_sellout_ms, now_ms))
    };
    let mut lines = vec![
        joined(vec![
            kv("stock", d.stock.to_string()),
            vec![Span::raw(format!(
                "{} (ref {})",
                price(d.price_minor),
                fmt::group(d.reference_price_minor.unsigned_abs())
            ))],
            vec![Span::raw(format!("{:.2}/day", d.velocity_per_day))],
        ]),
        joined(vec![vec![Span::raw(sellout)], joined(state).spans]),
        Line::from(kv("armed:", armed(d, now_ms))),
        Line::from(kv(
            "interested:",
            format!(
                "{} ({} ≥ the back-in-stock threshold)",
                fmt::group(d.interested_customers),
                fmt::group(d.interested_above_threshold)
            ),
        )),
    ];
    let mut more = Vec::new();
    if !d.price_history.is_empty() {
        let skip = d.price_history.len().saturating_sub(6);
        let prices: Vec<String> = d.price_history[skip..]
            .iter()
            .map(|pp| fmt::group(pp.price_minor.unsigned_abs()))
            .collect();
        more.push(kv("prices", prices.join(" → ")));
    }
    if !d.category_ids.is_empty() {
        more.push(kv("in", d.category_ids.join(", ")));
    }
    if !more.is_empty() {
        lines.push(joined(more));
    }
    lines
}

fn armed(d: &pb::Product, now_ms: i64) -> String {
    let Some(a) = d.arming else {
        return "-".into();
    };
    let mut out = Vec::new();
    if a.back_in_stock {
        out.push("back in stock".to_string());
    }
    if a.low_stock {
        out.push("low stock".to_string());
    }
    if a.price_drop_pending_minor > 0 {
        out.push(format!(
            "price drop to {} {}",
            fmt::price(a.price_drop_pending_minor, &d.currency),
            fmt::ago(a.price_drop_due_ms, now_ms)
        ));
    }
    if a.new_arrival {
        out.push("new arrival".to_string());
    }
    if out.is_empty() {
        "nothing".into()
    } else {
        out.join(", ")
    }
}

fn kind(k: i32) -> &'static str {
    match pb::TriggerKind::try_from(k) {
        Ok(pb::TriggerKind::BackInStock) => "back in stock",
        Ok(pb::TriggerKind::LowStock) => "low stock",
        Ok(pb::TriggerKind::PriceDrop) => "price drop",
        Ok(pb::TriggerKind::NewArrival) => "new arrival",
        _ => "?",
    }
}

fn trigger(t: &pb::Trigger, now_ms: i64) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{:>9} ", fmt::ago(t.at_ms, now_ms)), LABEL),
        Span::styled(format!("{} ", kind(t.kind)), TITLE),
        Span::raw(t.reason.clone()),
    ])
}

/// The related products: each with its title, why, and whether an offer could show it now.
fn related(r: &Remote<pb::RelatedProducts>) -> Vec<Line<'static>> {
    let head = Line::styled("related products", TITLE);
    match r {
        Remote::Idle => Vec::new(),
        Remote::Loading => vec![head, Line::styled("loading…", LABEL)],
        Remote::Failed(e) if e.is_unimplemented() => vec![
            head,
            Line::styled("not available in this daemon yet", LABEL),
        ],
        Remote::Failed(e) => vec![head, Line::styled(e.to_string(), ERROR)],
        Remote::Ready(r) if r.related.is_empty() => vec![
            head,
            Line::styled(format!("none yet ({:.1} orders counted)", r.orders), LABEL),
        ],
        Remote::Ready(r) => {
            let mut out = vec![head];
            out.extend(r.related.iter().map(|p| {
                let mut spans = vec![
                    Span::styled(format!("{} ", p.sku), TITLE),
                    Span::raw(format!("{} · ", p.title)),
                    Span::styled(p.why.clone(), LABEL),
                ];
                if !p.offerable {
                    spans.push(Span::styled(" · not offerable now", WARN));
                }
                Line::from(spans)
            }));
            out
        }
    }
}
