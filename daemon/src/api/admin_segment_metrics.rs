//! Segment metrics over the Admin API: metrics now, daily history, the monthly and
//! cohort tables, the RFM grid.

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use super::admin_segments::pb_metrics;
use crate::domain::segments::metrics::Metrics;

impl AdminApi {
    pub(super) async fn segment_metrics(
        &self,
        r: pb::GetSegmentMetricsRequest,
    ) -> Result<pb::SegmentMetrics, Status> {
        let filter = self.segment_filter(&r.segment)?;
        let board = self.segments.clone();
        let m = tokio::task::spawn_blocking(move || {
            board.scan(|rows| Metrics::of(rows.filter(|row| filter.covers(row))))
        })
        .await
        .map_err(|e| Status::internal(format!("metrics task failed: {e}")))?;
        Ok(pb_metrics(&r.segment, &m, crate::clock::now_ms()))
    }

    pub(super) async fn segment_history(
        &self,
        _r: pb::GetSegmentHistoryRequest,
    ) -> Result<pb::SegmentHistory, Status> {
        Err(Status::unimplemented("GetSegmentHistory is not built yet"))
    }

    pub(super) async fn monthly_table(
        &self,
        _r: pb::GetMonthlyTableRequest,
    ) -> Result<pb::MonthlyTable, Status> {
        Err(Status::unimplemented("GetMonthlyTable is not built yet"))
    }

    pub(super) async fn cohort_table(
        &self,
        _r: pb::GetCohortTableRequest,
    ) -> Result<pb::CohortTable, Status> {
        Err(Status::unimplemented("GetCohortTable is not built yet"))
    }

    pub(super) async fn rfm_grid(&self, _r: pb::GetRfmGridRequest) -> Result<pb::RfmGrid, Status> {
        Err(Status::unimplemented("GetRfmGrid is not built yet"))
    }
}
