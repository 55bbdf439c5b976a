//! Segment definitions over the Admin API: list (with live metrics), create, update,
//! delete.

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use crate::domain::segments::metrics::Metrics;
use crate::domain::segments::Row;
use crate::domain::Millis;

impl AdminApi {
    pub(super) async fn segments_list(
        &self,
        _r: pb::ListSegmentsRequest,
    ) -> Result<pb::ListSegmentsResponse, Status> {
        Err(Status::unimplemented("ListSegments is not built yet"))
    }

    pub(super) async fn segment_create(
        &self,
        _r: pb::SegmentDefinition,
    ) -> Result<pb::Segment, Status> {
        Err(Status::unimplemented("CreateSegment is not built yet"))
    }

    pub(super) async fn segment_update(
        &self,
        _r: pb::SegmentDefinition,
    ) -> Result<pb::Segment, Status> {
        Err(Status::unimplemented("UpdateSegment is not built yet"))
    }

    pub(super) async fn segment_delete(
        &self,
        _r: pb::DeleteSegmentRequest,
    ) -> Result<pb::DeleteSegmentResponse, Status> {
        Err(Status::unimplemented("DeleteSegment is not built yet"))
    }
}

/// A membership test over one row.
pub(super) type RowTest = Box<dyn Fn(&Row) -> bool + Send + Sync>;

/// Which customers a request covers: every customer, or one segment's members as of
/// when the filter was made (definitions, categories and scores captured then).
pub(super) struct SegmentFilter {
    /// `None` = every customer.
    test: Option<RowTest>,
}

impl SegmentFilter {
    pub fn covers(&self, row: &Row) -> bool {
        self.test.as_ref().is_none_or(|t| t(row))
    }
}

impl AdminApi {
    /// The filter of segment `name` (empty = every customer); NOT_FOUND names an
    /// unknown segment.
    pub(super) fn segment_filter(&self, name: &str) -> Result<SegmentFilter, Status> {
        if name.is_empty() {
            return Ok(SegmentFilter { test: None });
        }
        Err(Status::not_found(format!(
            "segment \"{name}\" is not defined; ListSegments shows the defined ones"
        )))
    }
}

/// A segment's metrics as the API shows them.
pub(super) fn pb_metrics(segment: &str, m: &Metrics, now: Millis) -> pb::SegmentMetrics {
    pb::SegmentMetrics {
        segment: segment.to_owned(),
        size: m.size,
        buyers: m.buyers,
        repeaters: m.repeaters,
        repeat_rate: m.repeat_rate(),
        aov_per_customer_minor: m.aov_per_customer_minor(),
        aov_per_order_minor: m.aov_per_order_minor(),
        avg_orders: m.avg_orders(),
        ltv_minor: m.ltv_minor(),
        spend_minor: m.spend_minor,
        orders: m.orders,
        avg_repurchase_interval_ms: m.avg_repurchase_interval_ms(),
        avg_lifetime_ms: m.avg_lifetime_ms(),
        computed_at_ms: now,
    }
}
