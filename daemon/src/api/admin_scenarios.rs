//! `Admin.ListScenarios`, `Admin.UpdateScenario`, `Admin.EstimateReach` and
//! `Admin.SearchProducts`.

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;

impl AdminApi {
    pub(super) fn scenarios(&self) -> pb::ListScenariosResponse {
        pb::ListScenariosResponse::default()
    }

    pub(super) async fn update_scenario(
        &self,
        _r: pb::UpdateScenarioRequest,
    ) -> Result<pb::ScenarioSettings, Status> {
        Err(Status::unimplemented("UpdateScenario is being built"))
    }

    pub(super) async fn reach(
        &self,
        _r: pb::EstimateReachRequest,
    ) -> Result<pb::ReachEstimate, Status> {
        Err(Status::unimplemented("EstimateReach is being built"))
    }

    pub(super) async fn search_products(
        &self,
        _r: pb::SearchProductsRequest,
    ) -> Result<pb::SearchProductsResponse, Status> {
        Err(Status::unimplemented("SearchProducts is being built"))
    }
}
