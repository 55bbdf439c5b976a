//! `stockbell-load sink`: a no-op `Ingest` server that decodes batches and acknowledges each
//! at once (applied = number of events, no validation, no storage), so a run against it
//! measures the client, gRPC and the network path alone.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::{ensure, Context};
use futures::{Stream, StreamExt};
use stockbell_proto::v1::ingest_server::{Ingest, IngestServer};
use stockbell_proto::v1::{Ack, EventBatch};
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

use crate::driver::MAX_MESSAGE_BYTES;

/// The no-op service.
pub struct Sink;

fn ack_for(batch: &EventBatch) -> Ack {
    Ack {
        producer_id: batch.producer_id.clone(),
        sequence: batch.sequence,
        duplicate: false,
        applied: u32::try_from(batch.events.len()).unwrap_or(u32::MAX),
        rejected: Vec::new(),
        batch_error: String::new(),
    }
}

#[tonic::async_trait]
impl Ingest for Sink {
    async fn publish(&self, request: Request<EventBatch>) -> Result<Response<Ack>, Status> {
        Ok(Response::new(ack_for(request.get_ref())))
    }

    type StreamStream = Pin<Box<dyn Stream<Item = Result<Ack, Status>> + Send + 'static>>;

    async fn stream(
        &self,
        request: Request<Streaming<EventBatch>>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let acks = request.into_inner().map(|batch| batch.map(|b| ack_for(&b)));
        Ok(Response::new(Box::pin(acks)))
    }
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename,
/// so a reader never sees a partial file.
pub fn write_atomically(path: &Path, contents: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal(mut term: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Serves the sink on `listen` (loopback only; port 0 picks a free port) until SIGTERM/SIGINT.
pub async fn serve(listen: SocketAddr, ready_file: Option<&Path>) -> anyhow::Result<()> {
    ensure!(
        listen.ip().is_loopback(),
        "the sink only listens on loopback addresses, not {listen}"
    );
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let incoming = TcpIncoming::bind(listen)
        .with_context(|| format!("cannot listen on {listen}"))?
        .with_nodelay(Some(true));
    let bound = incoming
        .local_addr()
        .context("cannot read the bound address")?;
    if let Some(path) = ready_file {
        write_atomically(path, &bound.to_string())?;
    }
    eprintln!("stockbell-load sink listening on {bound}");
    let service = IngestServer::new(Sink)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown_signal(term))
        .await
        .context("sink server failed")?;
    eprintln!("stockbell-load sink stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver;
    use crate::mix::Mix;
    use crate::workload::{generate, Spec};

    /// Acks like the sink, but refuses sequence 3 or answers it with the wrong sequence.
    struct Faulty {
        wrong_sequence: bool,
    }

    #[tonic::async_trait]
    impl Ingest for Faulty {
        async fn publish(&self, request: Request<EventBatch>) -> Result<Response<Ack>, Status> {
            Ok(Response::new(ack_for(request.get_ref())))
        }

        type StreamStream = Pin<Box<dyn Stream<Item = Result<Ack, Status>> + Send + 'static>>;

        async fn stream(
            &self,
            request: Request<Streaming<EventBatch>>,
        ) -> Result<Response<Self::StreamStream>, Status> {
            let wrong = self.wrong_sequence;
            let acks = request.into_inner().map(move |batch| {
                batch.map(|b| {
                    let mut ack = ack_for(&b);
                    if b.sequence == 3 {
                        if wrong {
                            ack.sequence = 4;
                        } else {
                            ack.batch_error = "too many events".into();
                        }
                    }
                    ack
                })
            });
            Ok(Response::new(Box::pin(acks)))
        }
    }

    async fn start<S: Ingest>(svc: S) -> String {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = incoming.local_addr().expect("local addr");
        tokio::spawn(
            Server::builder()
                .add_service(IngestServer::new(svc))
                .serve_with_incoming(incoming),
        );
        addr.to_string()
    }

    fn spec() -> Spec {
        Spec {
            producer_id: "test".into(),
            products: 50,
            batch: 7,
            events: 300,
            seed: 1,
            mix: Mix::default(),
            catalogue: true,
            new_arrivals: false,
        }
    }

    #[tokio::test]
    async fn run_against_sink_counts_everything() {
        let addr = start(Sink).await;
        let report = driver::execute(&addr, Some("t0ken"), "test", generate(&spec()), 3)
            .await
            .expect("run");
        let cat = report.catalogue.as_ref().expect("catalogue phase");
        assert_eq!((cat.events, cat.batches, cat.applied), (100, 15, 100));
        assert_eq!((report.mix.events, report.mix.batches), (300, 43));
        assert_eq!(report.mix.applied, 300);
        assert_eq!(report.mix.latency_us.len(), 43);
        assert_eq!(report.rejected(), 0);
        assert_eq!(report.json()["mode"], "run");
    }

    #[tokio::test]
    async fn batch_error_and_wrong_sequence_are_fatal() {
        for wrong_sequence in [false, true] {
            let addr = start(Faulty { wrong_sequence }).await;
            let err = driver::execute(&addr, None, "test", generate(&spec()), 8)
                .await
                .err()
                .expect("must fail");
            let msg = format!("{err:#}");
            let want = if wrong_sequence {
                "out of order"
            } else {
                "too many events"
            };
            assert!(msg.contains(want), "{msg}");
        }
    }

    #[test]
    fn ready_file_is_written_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ready");
        write_atomically(&path, "127.0.0.1:1").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "127.0.0.1:1");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }
}
