//! Orders: the order-id box, then either the lists — the backorder board (per SKU:
//! waiting lines and units, allocated, owed, oldest wait, lines past their promise), the
//! orders flagged past their promise and the customers' cancellation requests (newest
//! first: the lines asked for and what became of them) — one panel each, stacked, the
//! selected list marked; or one order's page (lines with status, promise, allocation,
//! shipment, and the messages about it), as `GetOrder` gives it.
//!
//! Panels are laid out from `Panel::ALL`, so another list is one more arm in `panel` and
//! one more entry there.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use stockbell_proto::v1 as pb;

use super::common::{
    block, input, joined, kv, message, pending, ERROR, GOOD, LABEL, SELECTED, TITLE, WARN,
};
use crate::app::App;
use crate::fmt;
use crate::state::orders::{OrdersState, Panel};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let o = &app.orders;
    let [lookup, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        input("order", &o.input, o.typing, "press / and type an order id"),
        lookup,
    );
    if let Some(id) = &o.open {
        order_page(o, id, app.now_ms, frame, rest);
        return;
    }
    let areas = Layout::vertical(Panel::ALL.map(|_| Constraint::Ratio(1, Panel::ALL.len() as u32)))
        .split(rest);
    for (p, a) in Panel::ALL.iter().zip(areas.iter()) {
        panel(o, *p, app.now_ms, frame, *a);
    }
}

fn panel(o: &OrdersState, which: Panel, now: i64, frame: &mut Frame, area: Rect) {
    let focus = o.panel == which;
    let marker = if focus { "▶ " } else { "" };
    let (title, body) = match which {
        Panel::Board => {
            let n = o.board.ready().map_or(0, Vec::len);
            let title = format!(" {marker}backorder board ({}) ", counted(n, "SKU"));
            let body = match o.board.ready() {
                None => pending(&o.board, "not loaded yet"),
                Some(rows) if rows.is_empty() => {
                    Some(Paragraph::new("no order line waits for stock"))
                }
                Some(rows) => Some(board(rows, focus.then_some(o.board_selected), now, area)),
            };
            (title, body)
        }
        Panel::Flagged => {
            let n = o.flagged.ready().map_or(0, Vec::len);
            let title = format!(" {marker}past their promise ({}) ", counted(n, "order"));
            let body = match o.flagged.ready() {
                None => pending(&o.flagged, "not loaded yet"),
                Some(orders) if orders.is_empty() => {
                    Some(Paragraph::new("no order is past its promise"))
                }
                Some(orders) => Some(flagged(
                    orders,
                    focus.then_some(o.flagged_selected),
                    now,
                    area,
                )),
            };
            (title, body)
        }
        Panel::Requests => {
            let n = o.requests.ready().map_or(0, Vec::len);
            let title = format!(
                " {marker}cancellation requests ({}) ",
                counted(n, "request")
            );
            let body = match o.requests.ready() {
                None => pending(&o.requests, "not loaded yet"),
                Some(rows) if rows.is_empty() => {
                    Some(Paragraph::new("no customer has asked to cancel an order"))
                }
                Some(rows) => Some(requests(
                    rows,
                    focus.then_some(o.requests_selected),
                    now,
                    area,
                )),
            };
            (title, body)
        }
    };
    frame.render_widget(body.unwrap_or_default().block(block(title)), area);
}

fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Rows that fit, scrolled so the selection shows.
fn window(len: usize, selected: Option<usize>, area: Rect) -> std::ops::Range<usize> {
    let rows = usize::from(area.height.saturating_sub(3)).max(1);
    let first = selected.map_or(0, |s| s.saturating_sub(rows - 1));
    first..(first + rows).min(len)
}

fn board(
    rows: &[pb::BackorderRow],
    selected: Option<usize>,
    now: i64,
    area: Rect,
) -> Paragraph<'static> {
    let mut lines = vec![Line::styled(
        format!(
            "  {:<14} {:>8} {:>9} {:>5} {:>10} {:>5}  title",
            "sku", "waiting", "allocated", "owed", "oldest", "late"
        ),
        LABEL,
    )];
    for i in window(rows.len(), selected, area) {
        let r = &rows[i];
        let oldest = if r.oldest_wait_ms > 0 {
            fmt::millis(now.saturating_sub(r.oldest_wait_ms))
        } else {
            "-".into()
        };
        let mark = if selected == Some(i) { "> " } else { "  " };
        let row = format!(
            "{mark}{:<14} {:>8} {:>9} {:>5} {:>10} ",
            fmt::truncate(&r.sku, 14),
            format!("{}/{}u", r.waiting_lines, r.waiting_units),
            format!("{}/{}u", r.allocated_lines, r.allocated_units),
            r.owed_units,
            oldest,
        );
        let late_style = if r.past_promise_lines > 0 {
            ERROR
        } else {
            LABEL
        };
        let style = if selected == Some(i) {
            SELECTED
        } else {
            Default::default()
        };
        lines.push(Line::from(vec![
            Span::styled(row, style),
            Span::styled(format!("{:>5}", r.past_promise_lines), late_style),
            Span::raw(format!("  {}", r.title)),
        ]));
    }
    Paragraph::new(lines)
}

fn flagged(
    orders: &[pb::Order],
    selected: Option<usize>,
    now: i64,
    area: Rect,
) -> Paragraph<'static> {
    let mut lines = vec![Line::styled(
        format!("  {:<16} {:<10} late lines", "order", "customer"),
        LABEL,
    )];
    for i in window(orders.len(), selected, area) {
        let o = &orders[i];
        let late: Vec<String> = o
            .lines
            .iter()
            .filter(|l| l.past_promise)
            .map(|l| {
                let by = l.promise.as_ref().map_or_else(String::new, |p| {
                    format!(" due {}", fmt::ago(p.latest_ms, now))
                });
                format!("{} ×{} {}{by}", l.sku, l.quantity, l.status)
            })
            .collect();
        let mark = if selected == Some(i) { "> " } else { "  " };
        let style = if selected == Some(i) {
            SELECTED
        } else {
            Default::default()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{mark}{:<16} {:<10} ",
                    fmt::truncate(&o.order_id, 16),
                    fmt::truncate(&o.customer_id, 10)
                ),
                style,
            ),
            Span::styled(late.join("; "), WARN),
        ]));
    }
    Paragraph::new(lines)
}

/// One row per request: who asked for which order when, then each line asked for with
/// its status now — green `cancelled` once the shop cancelled (or refunded) them all.
fn requests(
    rows: &[pb::CancellationRequest],
    selected: Option<usize>,
    now: i64,
    area: Rect,
) -> Paragraph<'static> {
    let mut lines = vec![Line::styled(
        format!(
            "  {:<6} {:<16} {:<10} {:<10} lines now",
            "req", "order", "customer", "asked"
        ),
        LABEL,
    )];
    for i in window(rows.len(), selected, area) {
        let r = &rows[i];
        let mark = if selected == Some(i) { "> " } else { "  " };
        let style = if selected == Some(i) {
            SELECTED
        } else {
            Default::default()
        };
        let ids = r.line_ids.join(", ");
        let now_span = if r.cancelled {
            Span::styled(format!("{ids} cancelled"), GOOD)
        } else if r.line_statuses.is_empty() {
            Span::styled(format!("{ids} (order no longer kept)"), LABEL)
        } else {
            let each: Vec<String> = r
                .line_ids
                .iter()
                .zip(&r.line_statuses)
                .map(|(id, status)| format!("{id} {status}"))
                .collect();
            Span::styled(each.join(", "), WARN)
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{mark}{:<6} {:<16} {:<10} {:<10} ",
                    format!("#{}", r.request_id),
                    fmt::truncate(&r.order_id, 16),
                    fmt::truncate(&r.customer_id, 10),
                    fmt::ago(r.requested_at_ms, now),
                ),
                style,
            ),
            now_span,
        ]));
    }
    Paragraph::new(lines)
}

fn order_page(o: &OrdersState, id: &str, now: i64, frame: &mut Frame, area: Rect) {
    let title = format!(" order {id} ");
    let Some(order) = o.order.ready() else {
        let p = pending(&o.order, "loading").unwrap_or_default();
        frame.render_widget(p.block(block(title)), area);
        return;
    };
    let mut lines = vec![joined(vec![
        vec![Span::styled(order.order_id.clone(), TITLE)],
        kv("customer", order.customer_id.clone()),
        kv("placed", fmt::time(order.placed_ms)),
    ])];
    let mut status = vec![kv("confirmation", order.confirmation.clone())];
    if order.last_notice_ms > 0 {
        status.push(kv("last notice", fmt::ago(order.last_notice_ms, now)));
    }
    if order.next_due_ms > 0 {
        status.push(kv("next due", fmt::ago(order.next_due_ms, now)));
    }
    lines.push(joined(status));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("lines ({})", order.lines.len()),
        TITLE,
    ));
    for l in &order.lines {
        lines.extend(line(l, &order.currency, now));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("messages ({})", order.messages.len()),
        TITLE,
    ));
    for m in &order.messages {
        lines.extend(message(m, now));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((o.scroll, 0))
            .block(block(title)),
        area,
    );
}

fn line(l: &pb::OrderLineView, currency: &str, now: i64) -> Vec<Line<'static>> {
    let status_style = match l.status.as_str() {
        "waiting" | "pending" => WARN,
        "cancelled" | "refunded" => LABEL,
        _ => GOOD,
    };
    let mut head = vec![
        Span::styled(format!("{} ", l.line_id), LABEL),
        Span::styled(format!("{} ×{} ", l.sku, l.quantity), TITLE),
        Span::raw(format!("{} ", fmt::price(l.unit_price_minor, currency))),
        Span::styled(l.status.clone(), status_style),
    ];
    if l.past_promise {
        head.push(Span::styled("  PAST PROMISE", ERROR));
    }
    let mut out = vec![Line::from(head)];
    let promise = match (&l.promise, l.promise_unknown) {
        (Some(p), _) => format!("{} – {}", fmt::time(p.earliest_ms), fmt::time(p.latest_ms)),
        (None, true) => "unknown (we do not know yet)".into(),
        (None, false) => "none".into(),
    };
    let mut detail = vec![kv("promise", promise)];
    if l.waiting_since_ms > 0 {
        detail.push(kv("waiting since", fmt::ago(l.waiting_since_ms, now)));
    }
    if l.allocated_ms > 0 {
        detail.push(kv("allocated", fmt::ago(l.allocated_ms, now)));
    }
    out.push(Line::from(
        [vec![Span::raw("   ")], joined(detail).spans].concat(),
    ));
    let mut after = Vec::new();
    if !l.delay_reason.is_empty() {
        after.push(kv("delay", l.delay_reason.clone()));
    }
    if l.shipped_ms > 0 {
        after.push(kv(
            "shipped",
            format!(
                "{} {} {}",
                fmt::ago(l.shipped_ms, now),
                l.carrier,
                l.tracking_number
            ),
        ));
    }
    if l.delivered_ms > 0 {
        after.push(kv("delivered", fmt::ago(l.delivered_ms, now)));
    }
    if l.closed_ms > 0 {
        after.push(kv("closed", fmt::ago(l.closed_ms, now)));
    }
    if !after.is_empty() {
        out.push(Line::from(
            [vec![Span::raw("   ")], joined(after).spans].concat(),
        ));
    }
    out
}
