//! Server reflection for clients that speak only `grpc.reflection.v1alpha` (grpcio's own
//! reflection client, older grpcurl and IDE plugins): listing the services and fetching
//! the file that declares `stockbell.v1.Ingest` both work.

use anyhow::{anyhow, bail, ensure, Context, Result};
use prost::Message;
use stockbell_tests::{Daemon, DaemonOptions};
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1alpha::{ServerReflectionRequest, ServerReflectionResponse};

/// One request on a v1alpha reflection stream, and its one answer.
async fn ask(daemon: &Daemon, request: MessageRequest) -> Result<MessageResponse> {
    let mut client = ServerReflectionClient::new(daemon.channel().await?);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .map_err(|s| anyhow!("v1alpha ServerReflectionInfo: {} {}", s.code(), s.message()))?
        .into_inner();
    match answers.message().await {
        Err(s) => bail!("v1alpha reflection stream: {} {}", s.code(), s.message()),
        Ok(None) => bail!("v1alpha reflection stream ended without an answer"),
        Ok(Some(ServerReflectionResponse {
            message_response: Some(MessageResponse::ErrorResponse(e)),
            ..
        })) => bail!(
            "v1alpha reflection error {}: {}",
            e.error_code,
            e.error_message
        ),
        Ok(Some(ServerReflectionResponse {
            message_response: Some(answer),
            ..
        })) => Ok(answer),
        Ok(Some(other)) => bail!("v1alpha reflection answer without a message: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1alpha_lists_the_services() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let MessageResponse::ListServicesResponse(list) =
        ask(&daemon, MessageRequest::ListServices(String::new())).await?
    else {
        bail!("ListServices was not answered with a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "stockbell.v1.Ingest",
        "stockbell.v1.Admin",
        "grpc.health.v1.Health",
    ] {
        ensure!(
            names.iter().any(|n| n == want),
            "{want} not listed: {names:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1alpha_serves_the_file_declaring_ingest() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let request = MessageRequest::FileContainingSymbol("stockbell.v1.Ingest".into());
    let MessageResponse::FileDescriptorResponse(files) = ask(&daemon, request).await? else {
        bail!("FileContainingSymbol was not answered with files");
    };
    let files = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .context("decoding the FileDescriptorProtos")?;
    let declaring = files
        .iter()
        .find(|f| f.package() == "stockbell.v1" && f.service.iter().any(|s| s.name() == "Ingest"));
    let file = declaring.ok_or_else(|| {
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        anyhow!("no file declares service stockbell.v1.Ingest; got {names:?}")
    })?;
    let ingest = file
        .service
        .iter()
        .find(|s| s.name() == "Ingest")
        .context("service vanished")?;
    let methods: Vec<&str> = ingest.method.iter().map(|m| m.name()).collect();
    ensure!(
        methods.contains(&"Publish") && methods.contains(&"Stream"),
        "Ingest's methods are {methods:?}"
    );
    Ok(())
}
