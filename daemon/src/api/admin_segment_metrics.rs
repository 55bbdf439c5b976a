//! Segment metrics over the Admin API: metrics now, daily history, the monthly and
//! cohort tables, the RFM grid. Each covers every customer (segment `""`) or one
//! segment's members (`segment_filter`) and reads the segment board in one scan off the
//! async threads.

use chrono::{TimeZone, Utc};
use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use super::admin_segments::pb_metrics;
use crate::domain::segments::metrics::Metrics;
use crate::domain::segments::rfm::{fm_of, group_of};
use crate::domain::segments::tables::{Cohorts, Monthly};
use crate::domain::segments::{RfmGroup, Row};
use crate::store::segment_history::{day_of, SegmentHistory, Snapshot};
use crate::store::Seek;

/// Most months a monthly or cohort table spans.
const MAX_MONTHS: u32 = 120;
const DAY_MS: i64 = 86_400_000;

fn blocking_failed(e: tokio::task::JoinError) -> Status {
    Status::internal(format!("the segment scan failed: {e}"))
}

/// `months` of a table request: 0 = 12, at most [`MAX_MONTHS`].
fn months_of(months: u32) -> Result<u32, Status> {
    match months {
        0 => Ok(12),
        m if m <= MAX_MONTHS => Ok(m),
        m => Err(Status::invalid_argument(format!(
            "months = {m} is too many: pass 1 to {MAX_MONTHS} (or 0 for the last 12)"
        ))),
    }
}

/// `"YYYY-MM-DD"` of a day counted from 1970-01-01.
fn day_label(day: u32) -> String {
    Utc.timestamp_millis_opt(i64::from(day) * DAY_MS)
        .single()
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

fn pb_snapshot(segment: &str, s: &Snapshot) -> pb::SegmentMetrics {
    pb::SegmentMetrics {
        segment: segment.to_owned(),
        size: s.size,
        buyers: s.buyers,
        repeaters: s.repeaters,
        repeat_rate: s.repeat_rate,
        aov_per_customer_minor: s.aov_per_customer_minor,
        aov_per_order_minor: s.aov_per_order_minor,
        avg_orders: s.avg_orders,
        ltv_minor: s.ltv_minor,
        spend_minor: s.spend_minor,
        orders: s.orders,
        avg_repurchase_interval_ms: s.avg_repurchase_interval_ms,
        avg_lifetime_ms: s.avg_lifetime_ms,
        computed_at_ms: s.computed_at_ms,
    }
}

impl AdminApi {
    pub(super) async fn segment_metrics(
        &self,
        r: pb::GetSegmentMetricsRequest,
    ) -> Result<pb::SegmentMetrics, Status> {
        let m = self
            .over_members(&r.segment, |rows| Metrics::of(rows))
            .await?;
        Ok(pb_metrics(&r.segment, &m, crate::clock::now_ms()))
    }

    /// Runs `f` over the members of `segment` (empty = every customer) in one
    /// read-locked scan of the board, off the async threads.
    async fn over_members<T: Send + 'static>(
        &self,
        segment: &str,
        f: impl FnOnce(&mut dyn Iterator<Item = &Row>) -> T + Send + 'static,
    ) -> Result<T, Status> {
        let filter = self.segment_filter(segment)?;
        self.scan_rows(move |rows| f(&mut rows.filter(|row| filter.covers(row))))
            .await
    }

    pub(super) async fn segment_history(
        &self,
        r: pb::GetSegmentHistoryRequest,
    ) -> Result<pb::SegmentHistory, Status> {
        self.segment_filter(&r.segment)?;
        let kept = self.segment_settings.history_days;
        let days = match r.days {
            0 => 90.min(kept),
            d if d <= kept => d,
            d => {
                return Err(Status::invalid_argument(format!(
                    "days = {d} is more than the {kept} days kept ([segment_settings] \
                     history_days): pass 1 to {kept} (or 0 for the last 90)"
                )))
            }
        };
        let from = day_of(crate::clock::now_ms()).saturating_sub(days - 1);
        let segment = r.segment.clone();
        let points = self
            .store
            .read(move |s| {
                let mut points = Vec::new();
                for entry in s.iter_prefix::<SegmentHistory>(
                    segment.as_str(),
                    Seek::From((segment.as_str(), from)),
                )? {
                    let ((_, day), snap) = entry?;
                    points.push((day, snap));
                }
                Ok(points)
            })
            .await
            .map_err(|e| Status::unavailable(format!("cannot read the segment history: {e}")))?;
        Ok(pb::SegmentHistory {
            points: points
                .iter()
                .map(|(day, s)| pb::SegmentSnapshot {
                    day: day_label(*day),
                    metrics: Some(pb_snapshot(&r.segment, s)),
                })
                .collect(),
        })
    }

    pub(super) async fn monthly_table(
        &self,
        r: pb::GetMonthlyTableRequest,
    ) -> Result<pb::MonthlyTable, Status> {
        let months = months_of(r.months)?;
        let dormant = self.segment_settings.dormant_after.ms();
        let now = crate::clock::now_ms();
        let rows = self
            .over_members(&r.segment, move |rows| {
                let mut t = Monthly::new(now, months, dormant);
                rows.for_each(|row| t.add(row));
                t.finish()
            })
            .await?;
        Ok(pb::MonthlyTable {
            months: rows
                .into_iter()
                .map(|m| pb::MonthRow {
                    month: m.month,
                    new_customers: m.new_customers,
                    repeat_customers: m.repeat_customers,
                    dormant_customers: m.dormant_customers,
                    orders: m.orders,
                    revenue_minor: m.revenue_minor,
                })
                .collect(),
        })
    }

    pub(super) async fn cohort_table(
        &self,
        r: pb::GetCohortTableRequest,
    ) -> Result<pb::CohortTable, Status> {
        let months = months_of(r.months)?;
        let now = crate::clock::now_ms();
        let rows = self
            .over_members(&r.segment, move |rows| {
                let mut t = Cohorts::new(now, months);
                rows.for_each(|row| t.add(row));
                t.finish()
            })
            .await?;
        Ok(pb::CohortTable {
            cohorts: rows
                .into_iter()
                .map(|c| pb::CohortRow {
                    cohort: c.cohort,
                    customers: c.customers,
                    active: c.active,
                    revenue_minor: c.revenue_minor,
                })
                .collect(),
        })
    }

    pub(super) async fn rfm_grid(&self, r: pb::GetRfmGridRequest) -> Result<pb::RfmGrid, Status> {
        let filter = self.segment_filter(&r.segment)?;
        let board = self.segments.clone();
        let now = crate::clock::now_ms();
        let (cells, groups, scored) = tokio::task::spawn_blocking(move || {
            // Cutoffs first: a recompute scans the board itself.
            let cut = board.cutoffs(now);
            let mut cells = [(0u64, 0i64); 25];
            let mut groups = [0u64; RfmGroup::ALL.len()];
            let mut scored = 0u64;
            board.scan(|rows| {
                for row in rows.filter(|row| filter.covers(row)) {
                    let (rec, f, m) = cut.rfm(row);
                    let fm = fm_of(f, m);
                    let Some(group) = group_of(rec, fm) else {
                        continue;
                    };
                    scored += 1;
                    let cell = &mut cells[usize::from(rec - 1) * 5 + usize::from(fm - 1)];
                    cell.0 += 1;
                    cell.1 += row.spend_minor();
                    if let Some(i) = RfmGroup::ALL.iter().position(|g| *g == group) {
                        groups[i] += 1;
                    }
                }
            });
            (cells, groups, scored)
        })
        .await
        .map_err(blocking_failed)?;
        Ok(pb::RfmGrid {
            cells: cells
                .iter()
                .enumerate()
                .map(|(i, &(customers, spend_minor))| pb::RfmCell {
                    recency: i as u32 / 5 + 1,
                    fm: i as u32 % 5 + 1,
                    customers,
                    spend_minor,
                })
                .collect(),
            groups: RfmGroup::ALL
                .iter()
                .zip(groups)
                .map(|(g, customers)| pb::RfmGroupSize {
                    group: g.as_str().to_owned(),
                    customers,
                })
                .collect(),
            scored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bounds_and_day_labels() {
        assert_eq!(months_of(0).expect("default"), 12);
        assert_eq!(months_of(120).expect("max"), 120);
        let e = months_of(121).expect_err("too many");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("months"));
        assert_eq!(day_label(0), "1970-01-01");
        assert_eq!(day_label(20_000), "2024-10-04");
    }
}
