//! Segments: the list (every customer first, then the daemon's segments with their live
//! metrics, refreshed while shown), the selected segment's history, monthly and cohort
//! tables and RFM grid, and `x` exporting the selected segment to a CSV file.

use stockbell_proto::v1 as pb;

use super::{step, Note, Remote};
use crate::input::Action;
use crate::rpc::{Reply, Request};

/// One row of the list: every customer (`name` empty) or a named segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub name: String,
    pub source: String,
    pub metrics: Option<pb::SegmentMetrics>,
}

impl SegmentRow {
    /// The name as shown: `all customers` for the empty name.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            "all customers"
        } else {
            &self.name
        }
    }
}

/// The selected segment's detail.
#[derive(Debug, Default)]
pub struct Detail {
    /// The segment these belong to.
    pub segment: String,
    pub history: Remote<Vec<pb::SegmentSnapshot>>,
    pub monthly: Remote<Vec<pb::MonthRow>>,
    pub cohorts: Remote<Vec<pb::CohortRow>>,
    pub rfm: Remote<pb::RfmGrid>,
}

#[derive(Debug, Default)]
pub struct SegmentsState {
    /// `ListSegments`.
    pub list: Remote<Vec<pb::Segment>>,
    /// `GetSegmentMetrics` of every customer (the first row).
    pub all: Remote<pb::SegmentMetrics>,
    pub selected: usize,
    /// Replies still out for the list and the all-customers row.
    pub in_flight: u8,
    pub loaded_at_ms: i64,
    pub detail: Detail,
    pub detail_at_ms: i64,
    /// The file an export is writing, while it runs.
    pub exporting: Option<String>,
    pub note: Option<Note>,
}

/// A segment name as part of a file name: characters other than a-z, 0-9, `_` and `-`
/// become `_`; the empty name is `all`.
pub fn file_stem(segment: &str) -> String {
    if segment.is_empty() {
        return "all".into();
    }
    segment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file an export started at `now_ms` writes in the current directory:
/// `segment-<name>-<YYYYMMDD-HHMMSS>.csv` (UTC).
pub fn export_file(segment: &str, now_ms: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_else(|| now_ms.to_string());
    format!("segment-{}-{at}.csv", file_stem(segment))
}

impl SegmentsState {
    /// How often the list (live sizes and metrics) refreshes while shown.
    pub const REFRESH_MS: i64 = 5_000;
    /// How often the selected segment's history and tables refresh while shown.
    pub const DETAIL_REFRESH_MS: i64 = 60_000;

    /// The list's rows: every customer, then the daemon's segments in its order.
    pub fn rows(&self) -> Vec<SegmentRow> {
        let mut rows = vec![SegmentRow {
            name: String::new(),
            source: "all".into(),
            metrics: self.all.ready().cloned(),
        }];
        if let Some(list) = self.list.ready() {
            rows.extend(list.iter().map(|s| {
                SegmentRow {
                    name: s
                        .definition
                        .as_ref()
                        .map(|d| d.name.clone())
                        .unwrap_or_default(),
                    source: s.source.clone(),
                    metrics: s.metrics.clone(),
                }
            }));
        }
        rows
    }

    /// The selected segment's name (empty = every customer).
    pub fn selected_name(&self) -> String {
        self.rows()
            .get(self.selected)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    }

    /// Asks for the list and the all-customers metrics.
    pub fn load(&mut self) -> Vec<Request> {
        self.in_flight = 2;
        self.list.reload();
        self.all.reload();
        vec![
            Request::ListSegments,
            Request::SegmentMetrics {
                segment: String::new(),
            },
        ]
    }

    /// Asks for the selected segment's history, tables and grid.
    pub fn load_detail(&mut self, now_ms: i64) -> Vec<Request> {
        let segment = self.selected_name();
        if segment != self.detail.segment {
            self.detail = Detail {
                segment: segment.clone(),
                ..Detail::default()
            };
        }
        self.detail_at_ms = now_ms;
        self.detail.history.reload();
        self.detail.monthly.reload();
        self.detail.cohorts.reload();
        self.detail.rfm.reload();
        vec![
            Request::SegmentHistory {
                segment: segment.clone(),
            },
            Request::MonthlyTable {
                segment: segment.clone(),
            },
            Request::CohortTable {
                segment: segment.clone(),
            },
            Request::RfmGrid { segment },
        ]
    }

    /// Shown: the list, and the detail when it is not the selected segment's.
    pub fn show(&mut self, now_ms: i64) -> Vec<Request> {
        let mut reqs = if self.in_flight == 0 {
            self.load()
        } else {
            Vec::new()
        };
        if self.detail.segment != self.selected_name()
            || matches!(self.detail.history, Remote::Idle)
        {
            reqs.extend(self.load_detail(now_ms));
        }
        reqs
    }

    pub fn handle(&mut self, action: Action, now_ms: i64) -> Vec<Request> {
        match action {
            Action::Refresh => {
                let mut reqs = if self.in_flight == 0 {
                    self.load()
                } else {
                    Vec::new()
                };
                reqs.extend(self.load_detail(now_ms));
                reqs
            }
            Action::Export => self.export(now_ms),
            a => {
                let before = self.selected;
                self.selected = step(self.selected, self.rows().len(), a);
                if self.selected != before {
                    return self.load_detail(now_ms);
                }
                Vec::new()
            }
        }
    }

    fn export(&mut self, now_ms: i64) -> Vec<Request> {
        if let Some(path) = &self.exporting {
            self.note = Note::error(format!("an export is running ({path})"));
            return Vec::new();
        }
        let segment = self.selected_name();
        let path = export_file(&segment, now_ms);
        self.note = Note::info(format!("exporting to {path}…"));
        self.exporting = Some(path.clone());
        vec![Request::ExportSegment { segment, path }]
    }

    /// The periodic refresh while the view is shown.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Request> {
        let mut reqs = Vec::new();
        if self.in_flight == 0 && now_ms - self.loaded_at_ms >= Self::REFRESH_MS {
            reqs.extend(self.load());
        }
        if now_ms - self.detail_at_ms >= Self::DETAIL_REFRESH_MS {
            reqs.extend(self.load_detail(now_ms));
        }
        reqs
    }

    pub fn on_reply(&mut self, reply: Reply, now_ms: i64) -> Vec<Request> {
        match reply {
            Reply::Segments(result) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.loaded_at_ms = now_ms;
                let name = self.selected_name();
                match result {
                    Err(e) if self.list.ready().is_some() => self.note = Note::error(e.to_string()),
                    r => self.list = r.into(),
                }
                // Keep the same segment selected when the list moves under it.
                let rows = self.rows();
                self.selected = rows
                    .iter()
                    .position(|r| r.name == name)
                    .unwrap_or(self.selected.min(rows.len().saturating_sub(1)));
                if self.selected_name() != self.detail.segment {
                    return self.load_detail(now_ms);
                }
            }
            Reply::SegmentMetrics { segment, result } if segment.is_empty() => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.loaded_at_ms = now_ms;
                match result {
                    Err(e) if self.all.ready().is_some() => self.note = Note::error(e.to_string()),
                    r => self.all = r.into(),
                }
            }
            Reply::SegmentHistory { segment, result } if segment == self.detail.segment => {
                self.detail.history = result.into();
            }
            Reply::MonthlyTable { segment, result } if segment == self.detail.segment => {
                self.detail.monthly = result.into();
            }
            Reply::CohortTable { segment, result } if segment == self.detail.segment => {
                self.detail.cohorts = result.into();
            }
            Reply::RfmGrid { segment, result } if segment == self.detail.segment => {
                self.detail.rfm = result.into();
            }
            Reply::Exported { path, result, .. } => {
                self.exporting = None;
                self.note = match result {
                    Ok(w) => Note::info(format!(
                        "exported {} rows ({} bytes) to {path}",
                        w.rows, w.bytes
                    )),
                    Err(e) => Note::error(e.to_string()),
                };
            }
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{Exported, RpcError};

    fn seg(name: &str, size: u64) -> pb::Segment {
        pb::Segment {
            definition: Some(pb::SegmentDefinition {
                name: name.into(),
                ..Default::default()
            }),
            source: "api".into(),
            metrics: Some(pb::SegmentMetrics {
                segment: name.into(),
                size,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn export_files_are_named_after_the_segment_and_time() {
        // 2026-01-10 12:00:00 UTC.
        let now = 1_768_046_400_000;
        assert_eq!(export_file("", now), "segment-all-20260110-120000.csv");
        assert_eq!(
            export_file("rfm:at_risk", now),
            "segment-rfm_at_risk-20260110-120000.csv"
        );
        assert_eq!(file_stem("../x y"), "___x_y");
    }

    #[test]
    fn moving_the_selection_asks_for_that_segments_detail() {
        let mut s = SegmentsState::default();
        let reqs = s.show(0);
        assert!(reqs.contains(&Request::ListSegments));
        assert!(reqs.contains(&Request::RfmGrid {
            segment: String::new()
        }));
        s.on_reply(Reply::Segments(Ok(vec![seg("vip", 3)])), 10);
        assert_eq!(s.rows().len(), 2);
        let reqs = s.handle(Action::Down, 20);
        assert_eq!(s.selected_name(), "vip");
        assert!(reqs.contains(&Request::MonthlyTable {
            segment: "vip".into()
        }));
        // A late reply for the previous selection is dropped.
        s.on_reply(
            Reply::RfmGrid {
                segment: String::new(),
                result: Ok(pb::RfmGrid::default()),
            },
            30,
        );
        assert!(s.detail.rfm.is_loading());
    }

    #[test]
    fn an_export_runs_once_and_reports_its_file() {
        let mut s = SegmentsState::default();
        let reqs = s.handle(Action::Export, 1_768_046_400_000);
        assert_eq!(
            reqs,
            vec![Request::ExportSegment {
                segment: String::new(),
                path: "segment-all-20260110-120000.csv".into()
            }]
        );
        assert!(s.handle(Action::Export, 1).is_empty());
        s.on_reply(
            Reply::Exported {
                segment: String::new(),
                path: "segment-all-20260110-120000.csv".into(),
                result: Ok(Exported { rows: 2, bytes: 90 }),
            },
            2,
        );
        assert_eq!(
            s.note.as_ref().map(|n| n.text.as_str()),
            Some("exported 2 rows (90 bytes) to segment-all-20260110-120000.csv")
        );
        s.handle(Action::Export, 3);
        s.on_reply(
            Reply::Exported {
                segment: String::new(),
                path: "p".into(),
                result: Err(RpcError::new(
                    "ExportSegment",
                    tonic::Code::NotFound,
                    "no such segment",
                )),
            },
            4,
        );
        assert!(s.note.as_ref().is_some_and(|n| n.error));
        assert!(s.exporting.is_none());
    }
}
