//! Customers: the lookup box and one customer's page — contact and consent, interests
//! with scores, engagement (`engagement.rs`), messages held (arbitrating / quiet hours), the cap ledger and recent
//! messages. Wide terminals get two columns; both scroll together.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use stockbell_proto::v1 as pb;

use super::common::{block, input, joined, kv, mark, message, pending, ERROR, LABEL, TITLE, WARN};
use super::WIDE;
use crate::app::App;
use crate::fmt;
use crate::rpc::CustomerKey;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let c = &app.customers;
    let [lookup, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        input(
            "customer",
            &c.input,
            c.typing,
            "press / and type an id or an email",
        ),
        lookup,
    );
    let title = match &c.key {
        Some(CustomerKey::Id(id)) => format!(" customer {id} "),
        Some(CustomerKey::Email(e)) => format!(" customer {e} "),
        None => " customer ".into(),
    };
    let Some(cu) = c.customer.ready() else {
        let p = pending(&c.customer, "no customer looked up yet").unwrap_or_default();
        frame.render_widget(p.block(block(title)), rest);
        return;
    };
    let now = app.now_ms;
    let mut left = profile(cu, now);
    left.extend(super::engagement::lines(cu, now));
    left.extend(interests(cu, now));
    let mut right = held(cu, now);
    right.extend(ledger(cu, now));
    right.extend(recent(cu, now));
    let scroll = (c.scroll, 0);
    if rest.width >= WIDE {
        let [l, r] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
            .areas(rest);
        let page = |lines: Vec<Line<'static>>, t: String| {
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll(scroll)
                .block(block(t))
        };
        frame.render_widget(page(left, title), l);
        frame.render_widget(page(right, " messages ".into()), r);
    } else {
        left.extend(right);
        frame.render_widget(
            Paragraph::new(left)
                .wrap(Wrap { trim: false })
                .scroll(scroll)
                .block(block(title)),
            rest,
        );
    }
}

fn section(name: &str, n: usize) -> Line<'static> {
    Line::from(vec![
        Span::styled(name.to_string(), TITLE),
        Span::styled(format!(" ({n})"), LABEL),
    ])
}

fn profile(c: &pb::Customer, now: i64) -> Vec<Line<'static>> {
    let mut id = vec![vec![Span::styled(c.customer_id.clone(), TITLE)]];
    if !c.email.is_empty() {
        id.push(vec![Span::raw(c.email.clone())]);
    }
    if !c.line_user_id.is_empty() {
        id.push(kv("LINE", c.line_user_id.clone()));
    }
    id.push(vec![Span::raw(format!("{} {}", c.locale, c.time_zone))]);
    let mut consent = vec![Span::styled("consent ", LABEL)];
    for (name, on) in [
        ("email", c.consent_email),
        ("line", c.consent_line),
        ("webhook", c.consent_webhook),
    ] {
        consent.push(Span::raw(format!("{name} ")));
        consent.push(mark(on));
        consent.push(Span::raw("  "));
    }
    let mut lines = vec![joined(id), Line::from(consent)];
    if !c.suppressed.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("suppressed ", LABEL),
            Span::styled(c.suppressed.join(", "), ERROR),
        ]));
    }
    if !c.tags.is_empty() {
        lines.push(Line::from(kv("tags", c.tags.join(", "))));
    }
    lines.push(joined(vec![
        kv("created", fmt::time(c.created_ms)),
        kv("updated", fmt::ago(c.updated_ms, now)),
        vec![Span::styled(
            if c.active { "in memory" } else { "on disk" },
            LABEL,
        )],
    ]));
    lines
}

fn interests(c: &pb::Customer, now: i64) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(""), section("interests", c.interests.len())];
    for i in &c.interests {
        let mut parts = vec![
            vec![Span::styled(format!("{:<8}", i.sku), TITLE)],
            kv("score", fmt::score(i.score)),
        ];
        if i.purchased_ms > 0 {
            parts.push(vec![Span::styled(
                format!("bought {}", fmt::ago(i.purchased_ms, now)),
                WARN,
            )]);
        }
        if i.favourite {
            parts.push(vec![Span::raw("favourite")]);
        }
        if i.in_cart {
            parts.push(vec![Span::raw("in cart")]);
        }
        if i.notify_me_until_ms > 0 {
            parts.push(vec![Span::raw(format!(
                "notify-me until {}",
                fmt::time(i.notify_me_until_ms)
            ))]);
        }
        if i.views > 0 {
            parts.push(vec![Span::raw(format!(
                "{} view{}, {} dwell",
                i.views,
                if i.views == 1 { "" } else { "s" },
                fmt::millis(i64::try_from(i.dwell_ms).unwrap_or(i64::MAX))
            ))]);
        }
        if i.seen_price_minor > 0 {
            parts.push(kv("saw", fmt::group(i.seen_price_minor.unsigned_abs())));
        }
        lines.push(joined(parts));
    }
    lines
}

fn held(c: &pb::Customer, now: i64) -> Vec<Line<'static>> {
    let mut lines = vec![section("held", c.held.len())];
    for h in &c.held {
        let channel = if h.channel.is_empty() {
            "-"
        } else {
            &h.channel
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<12}", h.state), WARN),
            Span::raw(format!("{} {} {} ", h.scenario, channel, h.skus.join(","))),
            Span::styled(format!("due {}", fmt::ago(h.due_ms, now)), LABEL),
        ]));
    }
    lines
}

fn ledger(c: &pb::Customer, now: i64) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(""), section("cap ledger", c.ledger.len())];
    for s in c.ledger.iter().rev() {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>10} ", fmt::ago(s.at_ms, now)), LABEL),
            Span::raw(format!("{} {} {}", s.scenario, s.channel, s.skus.join(","))),
        ]));
    }
    lines
}

fn recent(c: &pb::Customer, now: i64) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::raw(""),
        section("recent messages", c.recent_messages.len()),
    ];
    for m in &c.recent_messages {
        lines.extend(message(m, now));
    }
    lines
}
