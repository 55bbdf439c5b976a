//! `Admin.WatchOverview`: a snapshot of the daemon's counters about once a second.

use std::pin::Pin;

use futures::Stream;
use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;

pub type OverviewStream = Pin<Box<dyn Stream<Item = Result<pb::Overview, Status>> + Send>>;

impl AdminApi {
    pub(super) fn watch(&self, _r: pb::WatchOverviewRequest) -> Result<OverviewStream, Status> {
        Err(Status::unimplemented("WatchOverview is being built"))
    }
}
