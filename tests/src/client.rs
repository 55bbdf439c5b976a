//! Small helpers over the Admin and Ingest calls the tests make again and again. The
//! clients are `stockbell_proto::auth`'s (with the shared bearer-token interceptor).

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
pub use stockbell_proto::auth::{AdminClient, Bearer, IngestClient};
use stockbell_proto::v1::{
    Ack, Customer, EventBatch, GetCustomerRequest, GetProducerRequest, GetProductRequest,
    GetScenarioStatsRequest, ListTriggersRequest, Overview, Product, ScenarioStats, Trigger,
    TriggerKind, WatchOverviewRequest,
};
use tonic::{Code, Status, Streaming};

use crate::poll::next_matching;

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

/// Opens `Admin.WatchOverview` with an overview every `interval_ms`.
pub async fn watch_overview(admin: &AdminClient, interval_ms: u32) -> Result<Streaming<Overview>> {
    let req = WatchOverviewRequest { interval_ms };
    match admin.clone().watch_overview(req).await {
        Ok(r) => Ok(r.into_inner()),
        Err(s) => bail!("WatchOverview: {} {}", s.code(), s.message()),
    }
}

/// Reads an overview stream until `accept` holds for an overview, for up to `timeout`,
/// and returns that overview; `what` names it in the error. An `Err` from `accept` ends the
/// wait with that error.
pub async fn overview_until(
    overview: &mut Streaming<Overview>,
    timeout: Duration,
    what: &str,
    mut accept: impl FnMut(&Overview) -> Result<bool>,
) -> Result<Overview> {
    next_matching(overview, timeout, what, |item| {
        let o =
            item.map_err(|s| anyhow!("the overview stream failed: {} {}", s.code(), s.message()))?;
        Ok(accept(&o)?.then_some(o))
    })
    .await
}

/// Waits (on `Admin.WatchOverview`) until at least `triggers` triggers were written since
/// the daemon started and the fan-out has handled every one of them.
pub async fn fanned_out(admin: &AdminClient, triggers: u64, timeout: Duration) -> Result<()> {
    let mut overview = watch_overview(admin, 200).await?;
    let what = format!("overview with {triggers} triggers written and fanned out");
    overview_until(&mut overview, timeout, &what, |o| {
        let written = o.totals.map_or(0, |t| t.triggers);
        Ok(written >= triggers && o.triggers_waiting == 0)
    })
    .await
    .map(drop)
}
