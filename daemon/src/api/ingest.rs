//! `stockbell.v1.Ingest`: Publish (one batch) and Stream (many, pipelined, acked in order).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt};
use futures::Stream;
use stockbell_proto::v1 as pb;
use stockbell_proto::v1::ingest_server::Ingest;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::{convert, limits};
use crate::actors::{BatchAck, RouterError, RouterHandle, Submitted};
use crate::config::CustomerDefaults;
use crate::store::health::StoreHealth;

/// Batches of one stream being applied at once.
const STREAM_WINDOW: usize = 64;

#[derive(Clone)]
pub struct IngestApi {
    pub router: RouterHandle,
    pub max_batch_events: usize,
    pub defaults: Arc<CustomerDefaults>,
    /// Becomes true when the daemon starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// New batches are refused while the store refuses writes (those already taken wait
    /// for the writer, which holds and retries the refused write).
    pub store: StoreHealth,
    /// Observes each batch's received → ack-sent time (`stockbell_ingest_ack_latency_seconds`).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// UNAVAILABLE for a batch that arrives while the store refuses writes, if it does.
fn door(store: &StoreHealth) -> Result<(), Status> {
    match store.state().summary() {
        None => Ok(()),
        Some(why) => Err(Status::unavailable(format!(
            "{why}: this batch was not applied; retry it later (writing resumes by itself once space is freed, and Health.Check says SERVING again)"
        ))),
    }
}

fn to_ack(b: &pb::EventBatch, ack: BatchAck) -> pb::Ack {
    pb::Ack {
        producer_id: b.producer_id.clone(),
        sequence: b.sequence,
        duplicate: ack.duplicate,
        applied: ack.applied,
        rejected: ack
            .rejections
            .into_iter()
            .map(|r| pb::Rejection {
                index: r.index,
                field: r.field,
                reason: r.reason,
            })
            .collect(),
        batch_error: String::new(),
    }
}

/// The producer id a refused batch's ack repeats: cut when it is too long to be one.
fn echoed_id(id: String) -> String {
    if id.len() > convert::MAX_SKU {
        limits::clip(&id)
    } else {
        id
    }
}

fn status(e: RouterError) -> Status {
    match e {
        RouterError::Unavailable => Status::unavailable(e.to_string()),
        RouterError::Store(_) => Status::internal(e.to_string()),
    }
}

fn submitted(b: &pb::EventBatch, conv: convert::Converted) -> Submitted {
    Submitted {
        producer: b.producer_id.clone(),
        sequence: b.sequence,
        items: conv.items,
        early: conv.rejected,
    }
}

impl IngestApi {
    async fn apply(&self, batch: &pb::EventBatch) -> Result<pb::Ack, Status> {
        convert::check_batch(batch, self.max_batch_events).map_err(Status::invalid_argument)?;
        let conv = convert::batch(&batch.events, crate::clock::now_ms(), &self.defaults);
        let ack = self
            .router
            .ingest(submitted(batch, conv))
            .await
            .map_err(status)?;
        Ok(to_ack(batch, ack))
    }
}

type AckStream = Pin<Box<dyn Stream<Item = Result<pb::Ack, Status>> + Send>>;

#[tonic::async_trait]
impl Ingest for IngestApi {
    async fn publish(&self, req: Request<pb::EventBatch>) -> Result<Response<pb::Ack>, Status> {
        if *self.shutdown.borrow() {
            return Err(Status::unavailable(
                "stockbelld is shutting down; retry against the restarted daemon",
            ));
        }
        door(&self.store)?;
        let received = Instant::now();
        let ack = self.apply(req.get_ref()).await.map(Response::new);
        if ack.is_ok() {
            self.metrics
                .histograms
                .observe_ack("publish", received.elapsed());
        }
        ack
    }

    type StreamStream = AckStream;

    async fn stream(
        &self,
        req: Request<Streaming<pb::EventBatch>>,
    ) -> Result<Response<AckStream>, Status> {
        let mut inbound = req.into_inner();
        let (pending_tx, mut pending_rx) =
            mpsc::channel::<(Instant, BoxFuture<'static, Result<pb::Ack, Status>>)>(STREAM_WINDOW);
        let (out_tx, out_rx) = mpsc::channel(STREAM_WINDOW);
        let api = self.clone();
        let mut shutdown = self.shutdown.clone();
        // Reader: validates each batch and queues it at the router before reading the
        // next one, so the router applies them in stream order; acks are awaited below.
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    n = inbound.next() => n,
                    _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                        let closing = Status::unavailable("stockbelld is shutting down; reconnect and resume after Admin.GetProducer's last_sequence");
                        let _ = pending_tx.send((Instant::now(), futures::future::ready(Err(closing)).boxed())).await;
                        break;
                    }
                };
                let received = Instant::now();
                let batch = match next {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => {
                        // E.g. a message that does not decode: the batches before it are
                        // still acked, then the stream ends with this status.
                        tracing::debug!(error = %e, "An ingest stream ended with an error.");
                        let _ = pending_tx
                            .send((received, futures::future::ready(Err(e)).boxed()))
                            .await;
                        break;
                    }
                    None => break,
                };
                // Batches before this one still get their acks (in order), then the error.
                if let Err(refused) = door(&api.store) {
                    let _ = pending_tx
                        .send((received, futures::future::ready(Err(refused)).boxed()))
                        .await;
                    break;
                }
                let pending = match convert::check_batch(&batch, api.max_batch_events) {
                    Err(e) => {
                        let ack = pb::Ack {
                            producer_id: echoed_id(batch.producer_id),
                            sequence: batch.sequence,
                            batch_error: e,
                            ..Default::default()
                        };
                        futures::future::ready(Ok(ack)).boxed()
                    }
                    Ok(()) => {
                        let conv =
                            convert::batch(&batch.events, crate::clock::now_ms(), &api.defaults);
                        match api.router.submit(submitted(&batch, conv)).await {
                            Ok(fut) => {
                                async move { fut.await.map(|a| to_ack(&batch, a)).map_err(status) }
                                    .boxed()
                            }
                            Err(e) => futures::future::ready(Err(status(e))).boxed(),
                        }
                    }
                };
                if pending_tx.send((received, pending)).await.is_err() {
                    break;
                }
            }
        });
        // Writer: answers in batch order.
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            while let Some((received, pending)) = pending_rx.recv().await {
                let item = pending.await;
                let stop = item.is_err();
                let acked = item.is_ok();
                if out_tx.send(item).await.is_err() || stop {
                    break;
                }
                if acked {
                    metrics.histograms.observe_ack("stream", received.elapsed());
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}
