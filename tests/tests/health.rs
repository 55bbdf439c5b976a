//! Standard gRPC services: health checking says SERVING for the server and the stockbell
//! services, and server reflection lists them (grpc.reflection v1, else v1alpha).

use anyhow::{anyhow, bail, ensure, Result};
use stockbell_tests::{Daemon, DaemonOptions};
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_says_serving() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut health = HealthClient::new(daemon.channel().await?);
    for service in ["", "stockbell.v1.Ingest", "stockbell.v1.Admin"] {
        let req = HealthCheckRequest {
            service: service.into(),
        };
        let resp = health
            .check(req)
            .await
            .map_err(|s| anyhow!("Health.Check({service:?}): {} {}", s.code(), s.message()))?
            .into_inner();
        ensure!(
            resp.status() == ServingStatus::Serving,
            "{service:?} is {:?}",
            resp.status()
        );
    }
    Ok(())
}

/// Lists services with one reflection API version; `Ok(Err(status))` if the call failed.
macro_rules! list_services {
    ($channel:expr, $pb:path) => {{
        use r::server_reflection_request::MessageRequest;
        use r::server_reflection_response::MessageResponse;
        use $pb as r;
        let req = r::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut client = r::server_reflection_client::ServerReflectionClient::new($channel);
        match client
            .server_reflection_info(tokio_stream::iter([req]))
            .await
        {
            Err(status) => Ok(Err(status)),
            Ok(resp) => match resp.into_inner().message().await {
                Err(status) => Ok(Err(status)),
                Ok(None) => Err(anyhow!("reflection stream ended without a response")),
                Ok(Some(r::ServerReflectionResponse {
                    message_response: Some(MessageResponse::ListServicesResponse(list)),
                    ..
                })) => Ok(Ok(list.service.into_iter().map(|s| s.name).collect())),
                Ok(Some(other)) => Err(anyhow!("unexpected reflection response {other:?}")),
            },
        }
    }};
}

async fn reflected_services(channel: Channel) -> Result<Vec<String>> {
    let v1: Result<Result<Vec<String>, tonic::Status>> =
        list_services!(channel.clone(), tonic_reflection::pb::v1);
    match v1? {
        Ok(names) => return Ok(names),
        Err(s) if s.code() == Code::Unimplemented => {}
        Err(s) => bail!("reflection v1: {} {}", s.code(), s.message()),
    }
    let v1alpha: Result<Result<Vec<String>, tonic::Status>> =
        list_services!(channel, tonic_reflection::pb::v1alpha);
    v1alpha?.map_err(|s| anyhow!("reflection v1alpha: {} {}", s.code(), s.message()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let names = reflected_services(daemon.channel().await?).await?;
    for want in ["stockbell.v1.Ingest", "stockbell.v1.Admin"] {
        ensure!(
            names.iter().any(|n| n == want),
            "{want} not listed: {names:?}"
        );
    }
    Ok(())
}
