//! The client side of a run: connects to an `Ingest` server and pushes pre-generated batches
//! over `Ingest.Stream`, keeping up to `inflight` batches unacknowledged, checking that every
//! Ack matches the (producer, sequence) sent in order and timing each phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use stockbell_proto::auth::{Bearer, IngestClient};
use stockbell_proto::tls::TlsFlags;
use stockbell_proto::v1::{ingest_client, EventBatch};
use tokio::sync::{mpsc, Semaphore};
use tonic::transport::{Channel, Endpoint};

use crate::report::{PhaseStats, RunReport};
use crate::workload::Workload;

/// Largest gRPC message sent or accepted (64 MiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// A run fails when no Ack arrives for this long.
const ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// The Ingest client of a run (with a bearer token when one is given).
pub type Client = IngestClient;

/// `--tls-ca`, `--tls-cert`, `--tls-key`: TLS to a daemon with `[server.tls]` (the
/// address then is `https://host:port` or just `host:port`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM file of the CA that signed the daemon's certificate.
    #[arg(long)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// PEM client certificate for mTLS (its name in the daemon's `auth.*_client_names`).
    #[arg(long)]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    pub tls_key: Option<std::path::PathBuf>,
}

impl TlsArgs {
    /// The flags as the shared client TLS helper takes them.
    pub fn flags(&self) -> TlsFlags {
        TlsFlags {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
        }
    }
}

/// A channel to `addr` ("http://127.0.0.1:50051" or just "127.0.0.1:50051") with
/// TCP_NODELAY; `timeout` bounds each call when given.
pub async fn channel(addr: &str, timeout: Option<Duration>) -> anyhow::Result<Channel> {
    channel_with(addr, timeout, &TlsFlags::default()).await
}

/// [`channel`] over TLS when `tls` holds flags (`host:port` then means `https://`).
pub async fn channel_with(
    addr: &str,
    timeout: Option<Duration>,
    tls: &TlsFlags,
) -> anyhow::Result<Channel> {
    let uri = tls.uri(addr).map_err(|e| anyhow::anyhow!("--addr {e}"))?;
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .with_context(|| format!("bad server address {uri:?}"))?;
    if let Some(cfg) = tls.client_config().map_err(|e| anyhow::anyhow!("{e}"))? {
        endpoint = endpoint.tls_config(cfg).context("TLS config")?;
    }
    let mut endpoint = endpoint
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10));
    if let Some(t) = timeout {
        endpoint = endpoint.timeout(t);
    }
    endpoint
        .connect()
        .await
        .with_context(|| format!("cannot connect to {uri}"))
}

/// The bearer token to send (`--token`), checked.
pub fn bearer(token: Option<&str>) -> anyhow::Result<Bearer> {
    Bearer::new(token).map_err(|e| anyhow::anyhow!("--token: {e}"))
}

/// Connects an Ingest client to `addr`, sending `token` if given.
pub async fn connect(addr: &str, token: Option<&str>) -> anyhow::Result<Client> {
    connect_with(addr, token, &TlsFlags::default()).await
}

/// [`connect`] over TLS when `tls` holds flags.
pub async fn connect_with(
    addr: &str,
    token: Option<&str>,
    tls: &TlsFlags,
) -> anyhow::Result<Client> {
    let bearer = bearer(token)?;
    let channel = channel_with(addr, None, tls).await?;
    Ok(
        ingest_client::IngestClient::with_interceptor(channel, bearer)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    )
}

/// A batch as it was handed to gRPC.
struct Sent {
    sequence: u64,
    events: usize,
    at: Instant,
}

/// Streams `batches` in one `Ingest.Stream` call and waits for all their Acks.
pub async fn run_phase(
    client: &mut Client,
    producer_id: &str,
    batches: Vec<EventBatch>,
    inflight: usize,
) -> anyhow::Result<PhaseStats> {
    let n = batches.len();
    run_iter(client, producer_id, batches.into_iter(), n, inflight).await
}

/// Like [`run_phase`], for batches generated while they are sent (so a large workload
/// never has to be in memory at once). `n_batches` must be the number `batches` yields.
pub async fn run_iter<I>(
    client: &mut Client,
    producer_id: &str,
    batches: I,
    n_batches: usize,
    inflight: usize,
) -> anyhow::Result<PhaseStats>
where
    I: Iterator<Item = EventBatch> + Send + 'static,
{
    let mut stats = PhaseStats::new()?;
    stats.batches = n_batches;
    if n_batches == 0 {
        return Ok(stats);
    }
    let window = Arc::new(Semaphore::new(inflight.max(1)));
    let (sent_tx, mut sent_rx) = mpsc::unbounded_channel::<Sent>();
    let outbound = futures::stream::unfold(
        (batches, Arc::clone(&window), sent_tx),
        |(mut rest, window, sent_tx)| async move {
            let batch = rest.next()?;
            window.acquire().await.ok()?.forget();
            let sent = Sent {
                sequence: batch.sequence,
                events: batch.events.len(),
                at: Instant::now(),
            };
            sent_tx.send(sent).ok()?;
            Some((batch, (rest, window, sent_tx)))
        },
    );

    let start = Instant::now();
    let mut acks = client
        .stream(outbound)
        .await
        .context("Ingest.Stream call failed")?
        .into_inner();
    for _ in 0..stats.batches {
        let ack = tokio::time::timeout(ACK_TIMEOUT, acks.message())
            .await
            .with_context(|| format!("no Ack within {} s", ACK_TIMEOUT.as_secs()))?
            .context("Ack stream failed")?
            .context("server closed the Ack stream before acknowledging every batch")?;
        let now = Instant::now();
        let Ok(sent) = sent_rx.try_recv() else {
            bail!(
                "got an Ack for sequence {} that was not sent yet",
                ack.sequence
            );
        };
        if ack.producer_id != producer_id || ack.sequence != sent.sequence {
            bail!(
                "Ack out of order: expected ({producer_id:?}, {}), got ({:?}, {})",
                sent.sequence,
                ack.producer_id,
                ack.sequence
            );
        }
        if !ack.batch_error.is_empty() {
            bail!(
                "batch {} of {} events refused: {}",
                sent.sequence,
                sent.events,
                ack.batch_error
            );
        }
        stats.record_latency(now.duration_since(sent.at));
        stats.events += sent.events;
        stats.applied += u64::from(ack.applied);
        stats.rejected += ack.rejected.len() as u64;
        stats.duplicates += u64::from(ack.duplicate);
        window.add_permits(1);
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}

/// Runs the catalogue phase (if any) and then the mix phase on one connection.
pub async fn execute(
    addr: &str,
    token: Option<&str>,
    producer_id: &str,
    workload: Workload,
    inflight: usize,
) -> anyhow::Result<RunReport> {
    let client = connect(addr, token).await?;
    execute_on(client, producer_id, workload, inflight).await
}

/// [`execute`] on a client already connected (e.g. over TLS with [`connect_with`]).
pub async fn execute_on(
    mut client: Client,
    producer_id: &str,
    workload: Workload,
    inflight: usize,
) -> anyhow::Result<RunReport> {
    let catalogue = if workload.catalogue.is_empty() {
        None
    } else {
        let stats = run_phase(&mut client, producer_id, workload.catalogue, inflight)
            .await
            .context("catalogue phase")?;
        Some(stats)
    };
    let mix = run_phase(&mut client, producer_id, workload.mix, inflight)
        .await
        .context("mix phase")?;
    Ok(RunReport { catalogue, mix })
}
