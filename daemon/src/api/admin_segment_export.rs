//! A segment's members as a CSV stream.

use std::pin::Pin;

use stockbell_proto::v1 as pb;
use tokio_stream::Stream;
use tonic::Status;

use super::admin::AdminApi;

pub type CsvStream = Pin<Box<dyn Stream<Item = Result<pb::CsvChunk, Status>> + Send + 'static>>;

impl AdminApi {
    pub(super) async fn segment_export(
        &self,
        _r: pb::ExportSegmentRequest,
    ) -> Result<CsvStream, Status> {
        Err(Status::unimplemented("ExportSegment is not built yet"))
    }
}
