//! The gRPC server: Ingest and Admin behind their bearer tokens, gRPC health and
//! reflection (v1 and v1alpha), with TCP_NODELAY on every connection, served on a
//! listener bound by the caller (so a taken port fails before
//! anything is announced) until shutdown. Health follows the store (NOT_SERVING while it
//! refuses writes) and turns NOT_SERVING before draining.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use stockbell_proto::v1::admin_server::AdminServer;
use stockbell_proto::v1::ingest_server::IngestServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use super::admin::AdminApi;
use super::auth::BearerAuth;
use super::ingest::IngestApi;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::health::{StoreHealth, WriteState};

const SERVICES: [&str; 2] = ["stockbell.v1.Ingest", "stockbell.v1.Admin"];

/// The running gRPC server.
pub struct GrpcServer {
    health: HealthReporter,
    /// Keeps health in step with the store (NOT_SERVING while it refuses writes).
    follow: tokio::task::JoinHandle<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl GrpcServer {
    /// Serves `ingest` and `admin` (with health and reflection) on `listener` until
    /// `shutdown` turns true; health follows `store` (and a write no retry can mend marks
    /// the daemon fatal in `metrics`).
    pub async fn start(
        listener: TcpListener,
        (ingest, admin): (IngestApi, AdminApi),
        cfg: &Config,
        (store, metrics): (&StoreHealth, Arc<Metrics>),
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<GrpcServer> {
        let (health, health_svc) = tonic_health::server::health_reporter();
        set_health(&health, ServingStatus::Serving).await;
        let follow = tokio::spawn(follow_store(health.clone(), store.subscribe(), metrics));
        // Reflection in both versions: grpcio's reflection client and older tools speak
        // only v1alpha.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(stockbell_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection()
            .build_v1()
            .context("cannot build the reflection service")?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .context("cannot build the v1alpha reflection service")?;
        let max = cfg.server.max_message_bytes;
        let ingest = IngestServer::new(ingest).max_decoding_message_size(max);
        let admin = AdminServer::new(admin).max_decoding_message_size(max);
        let ingest_auth = BearerAuth::new("ingest", &cfg.auth.ingest_tokens)
            .with_client_names(&cfg.auth.ingest_client_names);
        let admin_auth = BearerAuth::new("admin", &cfg.auth.admin_tokens)
            .with_client_names(&cfg.auth.admin_client_names);
        let ingest = InterceptedService::new(ingest, move |r| ingest_auth.check(r));
        let admin = InterceptedService::new(admin, move |r| admin_auth.check(r));
        let mut stop = shutdown;
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &cfg.server.tls {
            builder = builder
                .tls_config(server_tls(tls)?)
                .context("cannot set up TLS for the gRPC server ([server.tls])")?;
        }
        let server = builder
            .add_service(health_svc)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(ingest)
            .add_service(admin)
            // TCP_NODELAY: without it Nagle holds the tail of a multi-segment answer until
            // the client's delayed ACK, and every answer over ~300 bytes took 40+ ms.
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            );
        Ok(GrpcServer {
            health,
            follow,
            task: tokio::spawn(server),
        })
    }

    /// Resolves if the server stops by itself (an error: it should run until shutdown).
    pub async fn stopped(&mut self) -> anyhow::Result<()> {
        (&mut self.task)
            .await
            .context("the gRPC server task failed")?
            .context("the gRPC server failed")
    }

    /// Every service, and the server as a whole (""), reports NOT_SERVING from now on.
    pub async fn not_serving(&mut self) {
        self.follow.abort();
        let _ = (&mut self.follow).await;
        set_health(&self.health, ServingStatus::NotServing).await;
    }

    /// After shutdown was signalled: waits up to `grace` for open calls, then closes.
    pub async fn join(mut self, grace: Duration) {
        if !self.task.is_finished() && tokio::time::timeout(grace, &mut self.task).await.is_err() {
            tracing::warn!(
                ?grace,
                "Connections still open after the shutdown grace; closing them."
            );
            self.task.abort();
        }
    }
}

/// tonic's TLS config from `[server.tls]` (the files read and checked again).
fn server_tls(tls: &crate::config::tls::TlsConfig) -> anyhow::Result<ServerTlsConfig> {
    use crate::config::tls::ClientAuth;
    let files = tls.load()?;
    let mut out =
        ServerTlsConfig::new().identity(Identity::from_pem(files.cert_pem, files.key_pem));
    if let Some((ca, auth)) = files.client_ca {
        out = out
            .client_ca_root(Certificate::from_pem(ca))
            .client_auth_optional(auth == ClientAuth::Optional);
    }
    // A client that opens a connection and never finishes the handshake is dropped.
    Ok(out.timeout(Duration::from_secs(10)))
}

/// Sets the server ("") and every stockbell service to `status`.
async fn set_health(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    for s in SERVICES {
        health.set_service_status(s, status).await;
    }
}

/// Keeps gRPC health in step with the store until aborted at shutdown: NOT_SERVING while
/// it refuses writes, SERVING once it takes them again. A write no retry can mend stops
/// the daemon like any internal error (memory may be ahead of the store).
async fn follow_store(
    health: HealthReporter,
    mut state: watch::Receiver<WriteState>,
    metrics: Arc<Metrics>,
) {
    loop {
        let now = state.borrow_and_update().clone();
        let status = if now.takes_writes() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        set_health(&health, status).await;
        if let WriteState::Failed { error } = &now {
            metrics.set_fatal(&format!("the store failed a write: {error}"));
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}
