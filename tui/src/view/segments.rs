//! Segments: the list with live size and key metrics; for the selected segment its
//! daily history as sparklines (size, LTV, repeat rate), the monthly table, the cohort
//! table (each month's active customers as % of the cohort) and the RFM grid as a heat
//! map (recency down, frequency+monetary across, cells coloured by customers).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;
use stockbell_proto::v1 as pb;

use super::common::{block, pending, LABEL, SELECTED, TITLE};
use super::WIDE;
use crate::app::App;
use crate::fmt;
use crate::state::segments::SegmentRow;
use crate::state::Remote;

/// Heat-map backgrounds from few customers to many (256-colour greens).
const HEAT: [Color; 5] = [
    Color::Indexed(22),
    Color::Indexed(28),
    Color::Indexed(34),
    Color::Indexed(40),
    Color::Indexed(46),
];

/// The RFM heat map's width: `R` label, five 6-column cells, the border.
const RFM_WIDTH: u16 = 4 + 5 * 6 + 2;

/// Most cohort columns shown (months since the first order).
const COHORT_COLUMNS: usize = 7;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let s = &app.segments;
    let rows = s.rows();
    let list_h = u16::try_from(rows.len()).unwrap_or(u16::MAX).min(6) + 3;
    let [list, charts, bottom] = Layout::vertical([
        Constraint::Length(list_h),
        Constraint::Length(5),
        Constraint::Min(0),
    ])
    .areas(area);
    table(app, &rows, frame, list);
    let label = rows
        .get(s.selected)
        .map(|r| r.label().to_owned())
        .unwrap_or_default();
    history(app, frame, charts);
    let wide = bottom.width >= WIDE;
    if wide {
        let [monthly_a, cohort_a, rfm_a] = Layout::horizontal([
            Constraint::Percentage(38),
            Constraint::Min(20),
            Constraint::Length(RFM_WIDTH),
        ])
        .areas(bottom);
        monthly(app, frame, monthly_a);
        cohorts(app, frame, cohort_a);
        rfm(app, &label, frame, rfm_a);
    } else if bottom.width >= RFM_WIDTH + 40 {
        let [monthly_a, rfm_a] =
            Layout::horizontal([Constraint::Min(40), Constraint::Length(RFM_WIDTH)]).areas(bottom);
        monthly(app, frame, monthly_a);
        rfm(app, &label, frame, rfm_a);
    } else {
        // Narrow: the heat map, then the monthly table below it when there is room.
        let [rfm_a, monthly_a] =
            Layout::vertical([Constraint::Length(9), Constraint::Min(0)]).areas(bottom);
        rfm(app, &label, frame, rfm_a);
        monthly(app, frame, monthly_a);
    }
}

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn days(ms: i64) -> String {
    if ms <= 0 {
        "-".into()
    } else {
        format!("{:.1}d", ms as f64 / 86_400_000.0)
    }
}

fn minor(v: f64) -> String {
    fmt::group(v.max(0.0).round() as u64)
}

fn table(app: &App, rows: &[SegmentRow], frame: &mut Frame, area: Rect) {
    let s = &app.segments;
    let wide = area.width >= WIDE;
    let mut head = vec!["segment", "size", "repeat", "LTV"];
    let mut widths = vec![
        Constraint::Min(14),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(10),
    ];
    if wide {
        head.extend([
            "buyers",
            "AOV/cust",
            "AOV/order",
            "orders/b",
            "interval",
            "source",
        ]);
        widths.extend([
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(7),
        ]);
    }
    let body = rows.iter().map(|r| {
        let m = r.metrics.clone().unwrap_or_default();
        let known = r.metrics.is_some();
        let v = |text: String| if known { text } else { "…".into() };
        let mut cells = vec![
            Cell::from(r.label().to_owned()),
            Cell::from(v(fmt::count(m.size))),
            Cell::from(v(pct(m.repeat_rate))),
            Cell::from(v(minor(m.ltv_minor))),
        ];
        if wide {
            cells.extend([
                Cell::from(v(fmt::count(m.buyers))),
                Cell::from(v(minor(m.aov_per_customer_minor))),
                Cell::from(v(minor(m.aov_per_order_minor))),
                Cell::from(v(format!("{:.2}", m.avg_orders))),
                Cell::from(v(days(m.avg_repurchase_interval_ms))),
                Cell::from(Span::styled(r.source.clone(), LABEL)),
            ]);
        }
        Row::new(cells)
    });
    let mut title = vec![Span::styled(" segments ", TITLE)];
    if let Remote::Failed(e) = &s.list {
        title.push(Span::styled(
            format!("({}) ", fmt::truncate(&e.to_string(), 60)),
            LABEL,
        ));
    }
    if s.loaded_at_ms > 0 {
        title.push(Span::styled(
            format!("updated {} ", fmt::ago(s.loaded_at_ms, app.now_ms)),
            LABEL,
        ));
    }
    let table = Table::new(body, widths)
        .header(Row::new(head).style(TITLE))
        .block(block(Line::from(title)))
        .row_highlight_style(SELECTED)
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(s.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn history(app: &App, frame: &mut Frame, area: Rect) {
    let d = &app.segments.detail;
    let Some(points) = d.history.ready() else {
        let p = pending(&d.history, "select a segment").unwrap_or_default();
        frame.render_widget(p.block(block(" history ")), area);
        return;
    };
    let metrics: Vec<pb::SegmentMetrics> = points
        .iter()
        .map(|p| p.metrics.clone().unwrap_or_default())
        .collect();
    let last = metrics.last().cloned().unwrap_or_default();
    let span = match (points.first(), points.last()) {
        (Some(a), Some(b)) => format!("{} … {}", a.day, b.day),
        _ => "no snapshots yet".into(),
    };
    let series: [(String, Vec<u64>); 3] = [
        (
            format!(" size {} ", fmt::count(last.size)),
            metrics.iter().map(|m| m.size).collect(),
        ),
        (
            format!(" LTV {} ", minor(last.ltv_minor)),
            metrics
                .iter()
                .map(|m| m.ltv_minor.max(0.0).round() as u64)
                .collect(),
        ),
        (
            format!(" repeat {} ", pct(last.repeat_rate)),
            metrics
                .iter()
                .map(|m| (m.repeat_rate.clamp(0.0, 1.0) * 1000.0).round() as u64)
                .collect(),
        ),
    ];
    let areas = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(area);
    for (i, ((title, data), a)) in series.into_iter().zip(areas.iter()).enumerate() {
        let mut b = block(title);
        if i == 0 {
            b = b.title_bottom(Line::styled(format!(" {span} "), LABEL));
        }
        // The newest days when there are more than fit.
        let fits = usize::from(a.width.saturating_sub(2));
        let data = relative(&data[data.len().saturating_sub(fits)..]);
        frame.render_widget(
            Sparkline::default()
                .data(&data)
                .style(Style::new().fg(Color::Cyan))
                .block(b),
            *a,
        );
    }
}

/// Bars over a floor below the smallest value (a quarter of the range below it), so a
/// series that moves little still shows its shape; all-equal values draw level bars.
pub fn relative(data: &[u64]) -> Vec<u64> {
    let (Some(&lo), Some(&hi)) = (data.iter().min(), data.iter().max()) else {
        return Vec::new();
    };
    if lo == hi {
        return vec![1; data.len()];
    }
    let floor = lo.saturating_sub((hi - lo).div_ceil(4));
    data.iter().map(|v| v - floor).collect()
}

fn monthly(app: &App, frame: &mut Frame, area: Rect) {
    let d = &app.segments.detail;
    let Some(months) = d.monthly.ready() else {
        let p = pending(&d.monthly, "").unwrap_or_default();
        frame.render_widget(p.block(block(" monthly ")), area);
        return;
    };
    let head = ["month", "new", "repeat", "dormant", "orders", "revenue"];
    let widths = [
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Min(8),
    ];
    // Newest first.
    let rows = months.iter().rev().map(|m| {
        Row::new([
            m.month.clone(),
            fmt::count(m.new_customers),
            fmt::count(m.repeat_customers),
            fmt::count(m.dormant_customers),
            fmt::count(m.orders),
            fmt::group(u64::try_from(m.revenue_minor).unwrap_or(0)),
        ])
    });
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(head).style(TITLE))
            .block(block(" monthly ")),
        area,
    );
}

/// `active` as whole percents of `customers` ("-" past the current month).
pub fn cohort_cells(c: &pb::CohortRow, columns: usize) -> Vec<String> {
    (0..columns)
        .map(|k| match c.active.get(k) {
            Some(&n) if c.customers > 0 => {
                format!("{:.0}%", n as f64 * 100.0 / c.customers as f64)
            }
            Some(_) => "0%".into(),
            None => "-".into(),
        })
        .collect()
}

fn cohorts(app: &App, frame: &mut Frame, area: Rect) {
    let d = &app.segments.detail;
    let Some(cohorts) = d.cohorts.ready() else {
        let p = pending(&d.cohorts, "").unwrap_or_default();
        frame.render_widget(p.block(block(" cohorts ")), area);
        return;
    };
    let fits = usize::from(area.width.saturating_sub(2 + 8 + 6)) / 5;
    let columns = fits.clamp(1, COHORT_COLUMNS);
    let mut head = vec!["cohort".to_owned(), "cust".to_owned()];
    head.extend((0..columns).map(|k| format!("+{k}")));
    let mut widths = vec![Constraint::Length(7), Constraint::Length(5)];
    widths.extend((0..columns).map(|_| Constraint::Length(4)));
    let rows = cohorts.iter().rev().map(|c| {
        let mut cells = vec![c.cohort.clone(), fmt::count(c.customers)];
        cells.extend(cohort_cells(c, columns));
        Row::new(cells)
    });
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(head).style(TITLE))
            .block(block(" cohorts: active % by month ")),
        area,
    );
}

/// The heat level (0..=4) of `n` customers in a grid whose fullest cell holds `max`.
pub fn heat_level(n: u64, max: u64) -> usize {
    if n == 0 || max == 0 {
        return 0;
    }
    let level = (n as f64 / max as f64 * 5.0).ceil() as usize;
    level.clamp(1, 5) - 1
}

fn rfm(app: &App, label: &str, frame: &mut Frame, area: Rect) {
    let d = &app.segments.detail;
    let title = format!(" RFM {} ", fmt::truncate(label, 16));
    let Some(grid) = d.rfm.ready() else {
        let p = pending(&d.rfm, "").unwrap_or_default();
        frame.render_widget(p.block(block(title)), area);
        return;
    };
    let count = |r: u32, fm: u32| {
        grid.cells
            .iter()
            .find(|c| c.recency == r && c.fm == fm)
            .map_or(0, |c| c.customers)
    };
    let max = grid.cells.iter().map(|c| c.customers).max().unwrap_or(0);
    let head: String = (1..=5).map(|fm| format!(" {fm:>5}")).collect();
    let mut lines = vec![Line::styled(format!("R\\FM{head}"), LABEL)];
    for r in (1..=5).rev() {
        let mut spans = vec![Span::styled(format!("{r:<4}"), LABEL)];
        for fm in 1..=5 {
            let n = count(r, fm);
            let style = if n == 0 {
                LABEL
            } else {
                Style::new().bg(HEAT[heat_level(n, max)]).fg(Color::Black)
            };
            spans.push(Span::raw(" "));
            spans.push(Span::styled(format!("{:>5}", fmt::count(n)), style));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::styled(
        format!("scored {}", fmt::count(grid.scored)),
        LABEL,
    ));
    frame.render_widget(Paragraph::new(lines).block(block(title)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_show_movement_over_a_floor() {
        assert_eq!(relative(&[400, 402, 408]), vec![2, 4, 10]);
        assert_eq!(relative(&[5, 5]), vec![1, 1]);
        assert!(relative(&[]).is_empty());
        assert_eq!(relative(&[1, 9]), vec![1, 9]);
    }

    #[test]
    fn heat_levels_scale_with_the_fullest_cell() {
        assert_eq!(heat_level(0, 10), 0);
        assert_eq!(heat_level(1, 10), 0);
        assert_eq!(heat_level(2, 10), 0);
        assert_eq!(heat_level(3, 10), 1);
        assert_eq!(heat_level(10, 10), 4);
        assert_eq!(heat_level(5, 0), 0);
    }

    #[test]
    fn cohort_cells_are_percent_of_the_cohort() {
        let c = pb::CohortRow {
            cohort: "2026-01".into(),
            customers: 4,
            active: vec![4, 1, 3],
            revenue_minor: vec![],
        };
        assert_eq!(cohort_cells(&c, 4), ["100%", "25%", "75%", "-"]);
    }
}
