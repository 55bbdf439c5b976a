//! A customer's engagement on their page: per channel the last click, the last marketing
//! message and the messages since the customer last engaged; the last order; the latest
//! clicks (message, link, scenario, SKUs) and the clicks held or dropped by the scanner
//! rule.

use ratatui::text::{Line, Span};
use stockbell_proto::v1 as pb;

use super::common::{joined, kv, LABEL, TITLE, WARN};
use crate::fmt;

/// Clicks listed on the page (the newest).
const SHOWN: usize = 5;

pub fn lines(c: &pb::Customer, now: i64) -> Vec<Line<'static>> {
    let Some(e) = &c.engagement else {
        return Vec::new();
    };
    let mut lines = vec![
        Line::raw(""),
        Line::from(vec![
            Span::styled("engagement", TITLE),
            Span::styled(format!(" ({} clicks)", e.clicks.len()), LABEL),
        ]),
    ];
    let when = |ms: i64| {
        if ms > 0 {
            fmt::ago(ms, now)
        } else {
            "never".into()
        }
    };
    lines.push(Line::from(kv("last order", when(e.last_order_ms))));
    for ch in &e.channels {
        lines.push(joined(vec![
            vec![Span::styled(format!("{:<8}", ch.channel), TITLE)],
            kv("click", when(ch.last_click_ms)),
            kv("marketing", when(ch.last_marketing_ms)),
            kv("since engaged", ch.marketing_since_engaged.to_string()),
        ]));
    }
    for k in e.clicks.iter().take(SHOWN) {
        lines.push(joined(vec![
            vec![Span::raw(fmt::ago(k.at_ms, now))],
            vec![Span::raw(format!("#{} link {}", k.entry_seq, k.link))],
            vec![Span::raw(format!("{} {}", k.scenario, k.channel))],
            vec![Span::styled(k.skus.join(", "), LABEL)],
        ]));
    }
    if e.provisional_clicks > 0 || e.scanner_clicks > 0 {
        lines.push(Line::from(vec![Span::styled(
            format!(
                "{} held in the scanner window, {} dropped as a link scanner's",
                e.provisional_clicks, e.scanner_clicks
            ),
            WARN,
        )]));
    }
    lines
}
