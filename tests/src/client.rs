//! gRPC clients for a test daemon (with an optional bearer token) and small helpers over
//! the Admin and Ingest calls the tests make again and again.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use stockbell_proto::v1::{
    admin_client, ingest_client, Ack, Customer, EventBatch, GetCustomerRequest, GetProducerRequest,
    GetProductRequest, GetScenarioStatsRequest, ListTriggersRequest, Product, ScenarioStats,
    Trigger, TriggerKind, WatchOverviewRequest,
};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Code, Request, Status, Streaming};

/// Ingest client as the harness hands it out.
pub type IngestClient = ingest_client::IngestClient<InterceptedService<Channel, Bearer>>;
/// Admin client as the harness hands it out.
pub type AdminClient = admin_client::AdminClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer TOKEN` to every request when it holds a token.
#[derive(Debug, Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(token: Option<&str>) -> Result<Self> {
        let value = token
            .map(|t| format!("Bearer {t}").parse::<MetadataValue<Ascii>>())
            .transpose()
            .context("token is not a valid header value")?;
        Ok(Self(value))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// Publishes one batch, failing on any error status.
pub async fn publish(ingest: &mut IngestClient, batch: EventBatch) -> Result<Ack> {
    let what = format!("Publish {}#{}", batch.producer_id, batch.sequence);
    let ack = ingest
        .publish(batch)
        .await
        .map_err(|s| anyhow::anyhow!("{what}: {} {}", s.code(), s.message()))?;
    Ok(ack.into_inner())
}

/// Publishes one batch and checks that every event applied.
pub async fn publish_ok(ingest: &mut IngestClient, batch: EventBatch) -> Result<Ack> {
    let n = batch.events.len();
    let ack = publish(ingest, batch).await?;
    if ack.duplicate || !ack.rejected.is_empty() || ack.applied as usize != n {
        bail!("expected all {n} events to apply, got {ack:?}");
    }
    Ok(ack)
}

/// The next Ack of an `Ingest.Stream` call, failing on an error, end of stream or a stall
/// of more than a minute.
pub async fn next_ack(acks: &mut Streaming<Ack>) -> Result<Ack> {
    match tokio::time::timeout(Duration::from_secs(60), acks.message()).await {
        Err(_) => bail!("no Ack within 60 s"),
        Ok(Err(s)) => bail!("Ack stream failed: {} {}", s.code(), s.message()),
        Ok(Ok(None)) => bail!("Ack stream ended early"),
        Ok(Ok(Some(ack))) => Ok(ack),
    }
}

/// `Admin.GetProduct`, failing on any error status (NOT_FOUND included).
pub async fn product(admin: &mut AdminClient, sku: &str) -> Result<Product> {
    let req = GetProductRequest { sku: sku.into() };
    match admin.get_product(req).await {
        Ok(p) => Ok(p.into_inner()),
        Err(s) => bail!("GetProduct {sku:?}: {} {}", s.code(), s.message()),
    }
}

/// `Admin.GetProduct`'s status code when it fails, `None` when the product exists.
pub async fn product_error(admin: &mut AdminClient, sku: &str) -> Option<Code> {
    let req = GetProductRequest { sku: sku.into() };
    admin.get_product(req).await.err().map(|s| s.code())
}

/// Fired triggers, newest first (up to 1000), optionally of one kind and/or for one sku.
pub async fn triggers(
    admin: &mut AdminClient,
    kind: Option<TriggerKind>,
    sku: Option<&str>,
) -> Result<Vec<Trigger>> {
    let req = ListTriggersRequest {
        kind: kind.unwrap_or(TriggerKind::Unspecified) as i32,
        sku: sku.unwrap_or_default().into(),
        limit: 1000,
        before_id: 0,
    };
    match admin.list_triggers(req).await {
        Ok(r) => Ok(r.into_inner().triggers),
        Err(s) => bail!("ListTriggers: {} {}", s.code(), s.message()),
    }
}

/// `Admin.GetProducer(..).last_sequence`.
pub async fn last_sequence(admin: &mut AdminClient, producer_id: &str) -> Result<u64> {
    let req = GetProducerRequest {
        producer_id: producer_id.into(),
    };
    match admin.get_producer(req).await {
        Ok(p) => Ok(p.into_inner().last_sequence),
        Err(s) => bail!("GetProducer {producer_id:?}: {} {}", s.code(), s.message()),
    }
}

/// Fails unless `result` is an error status with one of `codes`; returns that status.
pub fn expect_code<T: std::fmt::Debug>(
    result: std::result::Result<T, Status>,
    codes: &[Code],
) -> Result<Status> {
    match result {
        Ok(v) => bail!("expected status {codes:?}, got success: {v:?}"),
        Err(s) if codes.contains(&s.code()) => Ok(s),
        Err(s) => bail!(
            "expected status {codes:?}, got {:?}: {}",
            s.code(),
            s.message()
        ),
    }
}

/// One scenario's counters from `Admin.GetScenarioStats`.
pub async fn scenario_stats(admin: &AdminClient, scenario: &str) -> Result<ScenarioStats> {
    admin
        .clone()
        .get_scenario_stats(GetScenarioStatsRequest {})
        .await?
        .into_inner()
        .scenarios
        .into_iter()
        .find(|s| s.scenario == scenario)
        .with_context(|| format!("no stats for scenario {scenario:?}"))
}

/// `Admin.GetCustomer` by id.
pub async fn customer_view(admin: &AdminClient, id: &str) -> Result<Customer> {
    let req = GetCustomerRequest {
        customer_id: id.into(),
        ..Default::default()
    };
    Ok(admin.clone().get_customer(req).await?.into_inner())
}

/// Waits (on `Admin.WatchOverview`) until at least `triggers` triggers were written since
/// the daemon started and the fan-out has handled every one of them.
pub async fn fanned_out(admin: &AdminClient, triggers: u64, timeout: Duration) -> Result<()> {
    let req = WatchOverviewRequest { interval_ms: 200 };
    let mut overview = admin.clone().watch_overview(req).await?.into_inner();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let o = tokio::time::timeout_at(deadline, overview.message())
            .await
            .context("the fan-out did not catch up in time")??
            .context("the overview stream ended")?;
        let written = o.totals.map_or(0, |t| t.triggers);
        if written >= triggers && o.triggers_waiting == 0 {
            return Ok(());
        }
    }
}
