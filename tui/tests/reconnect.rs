//! The connection state machine against a fake Admin server on 127.0.0.1: it connects,
//! follows the overview stream, reports a daemon that goes away, backs off, reconnects
//! when the daemon is back, falls back to polling, and sends the bearer token.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use stockbell_console::conn::{self, Bearer, ConnConfig, ConnEvent, ConnState, Feed};
use stockbell_proto::v1::admin_server::{Admin, AdminServer};
use stockbell_proto::v1::*;
use stockbell_tests::{next_matching, poll_until};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status};

const TOKEN: &str = "test-admin-token-0123456789";

#[derive(Clone)]
struct Fake {
    stop: watch::Receiver<bool>,
    /// Pretend to be a daemon without WatchOverview.
    no_watch: bool,
}

impl Fake {
    fn auth<T>(req: &Request<T>) -> Result<(), Status> {
        match req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            Some(v) if v == format!("Bearer {TOKEN}") => Ok(()),
            _ => Err(Status::unauthenticated("missing or wrong admin token")),
        }
    }
}

type Res<T> = Result<Response<T>, Status>;

fn nope<T>() -> Res<T> {
    Err(Status::unimplemented("not in the fake"))
}

#[tonic::async_trait]
impl Admin for Fake {
    async fn get_product(&self, _: Request<GetProductRequest>) -> Res<Product> {
        nope()
    }
    async fn list_triggers(&self, _: Request<ListTriggersRequest>) -> Res<ListTriggersResponse> {
        nope()
    }
    async fn get_producer(&self, _: Request<GetProducerRequest>) -> Res<Producer> {
        nope()
    }
    async fn get_customer(&self, _: Request<GetCustomerRequest>) -> Res<Customer> {
        nope()
    }
    async fn list_outbox(&self, _: Request<ListOutboxRequest>) -> Res<ListOutboxResponse> {
        nope()
    }
    async fn retry_outbox(&self, _: Request<RetryOutboxRequest>) -> Res<OutboxEntry> {
        nope()
    }
    async fn get_scenario_stats(
        &self,
        req: Request<GetScenarioStatsRequest>,
    ) -> Res<ScenarioStatsResponse> {
        Self::auth(&req)?;
        Ok(Response::new(ScenarioStatsResponse {
            scenarios: vec![ScenarioStats {
                scenario: "back_in_stock".into(),
                triggered: 1,
                ..Default::default()
            }],
        }))
    }

    type WatchOverviewStream = Pin<Box<dyn Stream<Item = Result<Overview, Status>> + Send>>;

    async fn watch_overview(
        &self,
        req: Request<WatchOverviewRequest>,
    ) -> Res<Self::WatchOverviewStream> {
        Self::auth(&req)?;
        if self.no_watch {
            return nope();
        }
        // An overview every 50 ms; UNAVAILABLE once the server stops, like stockbelld.
        let stream = futures::stream::unfold(Some(self.stop.clone()), |stop| async move {
            let mut stop = stop?;
            let stopped = tokio::select! {
                _ = stop.wait_for(|s| *s) => true,
                _ = tokio::time::sleep(Duration::from_millis(50)) => false,
            };
            if stopped {
                Some((
                    Err(Status::unavailable("stockbelld is shutting down")),
                    None,
                ))
            } else {
                let ov = Overview {
                    version: "fake".into(),
                    health: "ok".into(),
                    ..Default::default()
                };
                Some((Ok(ov), Some(stop)))
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
    async fn list_scenarios(&self, _: Request<ListScenariosRequest>) -> Res<ListScenariosResponse> {
        nope()
    }
    async fn update_scenario(&self, _: Request<UpdateScenarioRequest>) -> Res<ScenarioSettings> {
        nope()
    }
    async fn estimate_reach(&self, _: Request<EstimateReachRequest>) -> Res<ReachEstimate> {
        nope()
    }
    async fn search_products(
        &self,
        _: Request<SearchProductsRequest>,
    ) -> Res<SearchProductsResponse> {
        nope()
    }

    async fn create_backup(&self, _: Request<CreateBackupRequest>) -> Res<Backup> {
        nope()
    }

    async fn get_order(&self, _: Request<GetOrderRequest>) -> Res<Order> {
        nope()
    }

    async fn list_cancellation_requests(
        &self,
        _: Request<ListCancellationRequestsRequest>,
    ) -> Res<ListCancellationRequestsResponse> {
        nope()
    }

    async fn list_backorders(
        &self,
        _: Request<ListBackordersRequest>,
    ) -> Res<ListBackordersResponse> {
        nope()
    }

    async fn list_orders(&self, _: Request<ListOrdersRequest>) -> Res<ListOrdersResponse> {
        nope()
    }

    async fn get_related(&self, _: Request<GetRelatedRequest>) -> Res<RelatedProducts> {
        nope()
    }
    async fn preview_sunset(&self, _: Request<PreviewSunsetRequest>) -> Res<SunsetPreview> {
        nope()
    }
    async fn list_segments(&self, _: Request<ListSegmentsRequest>) -> Res<ListSegmentsResponse> {
        nope()
    }
    async fn create_segment(&self, _: Request<SegmentDefinition>) -> Res<Segment> {
        nope()
    }
    async fn update_segment(&self, _: Request<SegmentDefinition>) -> Res<Segment> {
        nope()
    }
    async fn delete_segment(&self, _: Request<DeleteSegmentRequest>) -> Res<DeleteSegmentResponse> {
        nope()
    }
    async fn get_segment_metrics(
        &self,
        _: Request<GetSegmentMetricsRequest>,
    ) -> Res<SegmentMetrics> {
        nope()
    }
    async fn get_segment_history(
        &self,
        _: Request<GetSegmentHistoryRequest>,
    ) -> Res<SegmentHistory> {
        nope()
    }
    async fn get_monthly_table(&self, _: Request<GetMonthlyTableRequest>) -> Res<MonthlyTable> {
        nope()
    }
    async fn get_cohort_table(&self, _: Request<GetCohortTableRequest>) -> Res<CohortTable> {
        nope()
    }
    async fn get_rfm_grid(&self, _: Request<GetRfmGridRequest>) -> Res<RfmGrid> {
        nope()
    }
    type ExportSegmentStream = Pin<Box<dyn Stream<Item = Result<CsvChunk, Status>> + Send>>;
    async fn export_segment(
        &self,
        req: Request<ExportSegmentRequest>,
    ) -> Res<Self::ExportSegmentStream> {
        Fake::auth(&req)?;
        if req.get_ref().segment != "vip" {
            return Err(Status::not_found("segment is not defined"));
        }
        // A header and two records over three chunks, one cut mid-record.
        let chunks = [
            &b"customer_id,tags\r\nc-1,\"a,\r\nb\"\r"[..],
            b"\nc-2,",
            b"'=x\r\n",
        ]
        .map(|c| Ok(CsvChunk { data: c.to_vec() }));
        let stream: Self::ExportSegmentStream = Box::pin(tokio_stream::iter(chunks));
        Ok(Response::new(stream))
    }
}

/// A running fake daemon; `stop` ends its streams and shuts it down.
struct Daemon {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Daemon {
    async fn start(addr: SocketAddr, no_watch: bool) -> (Daemon, SocketAddr) {
        // The port of a stopped daemon is free again at once (SO_REUSEADDR); retry briefly.
        let listener = poll_until(Duration::from_secs(5), || async {
            Ok(TcpListener::bind(addr).await?)
        })
        .await
        .expect("bind the fake daemon");
        let bound = listener.local_addr().expect("local addr");
        let (stop, rx) = watch::channel(false);
        let fake = Fake {
            stop: rx.clone(),
            no_watch,
        };
        let task = tokio::spawn(async move {
            let mut rx = rx;
            let _ = tonic::transport::Server::builder()
                .add_service(AdminServer::new(fake))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
        });
        (Daemon { stop, task }, bound)
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

fn follow(addr: SocketAddr, token: &str) -> ReceiverStream<ConnEvent> {
    let mut cfg = ConnConfig::new(
        format!("http://{addr}"),
        Bearer::new(Some(token)).expect("token"),
    );
    cfg.interval = Duration::from_millis(200);
    cfg.stall = Duration::from_secs(3);
    cfg.connect_timeout = Duration::from_secs(1);
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(conn::run(cfg, tx));
    ReceiverStream::new(rx)
}

/// The next event `pick` accepts (others are skipped), within 10 s.
async fn next<T>(
    events: &mut ReceiverStream<ConnEvent>,
    what: &str,
    pick: impl Fn(ConnEvent) -> Option<T>,
) -> T {
    next_matching(events, Duration::from_secs(10), what, |ev| Ok(pick(ev)))
        .await
        .expect("the connection task reports it")
}

fn connected(ev: ConnEvent) -> Option<Feed> {
    match ev {
        ConnEvent::State(ConnState::Connected { feed, .. }) => Some(feed),
        _ => None,
    }
}

fn disconnected(ev: ConnEvent) -> Option<(String, Duration)> {
    match ev {
        ConnEvent::State(ConnState::Disconnected { error, backoff, .. }) => Some((error, backoff)),
        _ => None,
    }
}

fn overview(ev: ConnEvent) -> Option<Overview> {
    match ev {
        ConnEvent::Overview(o) => Some(*o),
        _ => None,
    }
}

#[tokio::test]
async fn reconnects_with_backoff_when_the_daemon_restarts() {
    let (daemon, addr) = Daemon::start("127.0.0.1:0".parse().expect("addr"), false).await;
    let mut rx = follow(addr, TOKEN);
    assert_eq!(next(&mut rx, "connected", connected).await, Feed::Stream);
    assert_eq!(next(&mut rx, "an overview", overview).await.version, "fake");

    daemon.stop().await;
    let (error, first) = next(&mut rx, "disconnected", disconnected).await;
    assert!(error.contains("UNAVAILABLE"), "{error}");
    assert_eq!(first, Duration::from_millis(250));
    // Nothing listens now: each failed attempt waits longer.
    let (error, second) = next(&mut rx, "a failed reconnect", disconnected).await;
    assert!(second > first, "{second:?} after {first:?} ({error})");

    let (daemon, _) = Daemon::start(addr, false).await;
    assert_eq!(next(&mut rx, "reconnected", connected).await, Feed::Stream);
    next(&mut rx, "an overview after the restart", overview).await;
    // A success resets the backoff.
    daemon.stop().await;
    let (_, again) = next(&mut rx, "disconnected again", disconnected).await;
    assert_eq!(again, Duration::from_millis(250));
}

#[tokio::test]
async fn polls_scenario_counters_without_watch_overview() {
    let (daemon, addr) = Daemon::start("127.0.0.1:0".parse().expect("addr"), true).await;
    let mut rx = follow(addr, TOKEN);
    let feed = next(&mut rx, "connected", connected).await;
    assert!(
        matches!(&feed, Feed::Polling { why } if why.contains("WatchOverview")),
        "{feed:?}"
    );
    let stats = next(&mut rx, "polled stats", |ev| match ev {
        ConnEvent::Stats(s) => Some(s),
        _ => None,
    })
    .await;
    assert_eq!(stats[0].scenario, "back_in_stock");
    daemon.stop().await;
    next(&mut rx, "disconnected", disconnected).await;
}

#[tokio::test]
async fn a_wrong_token_is_reported_with_the_fix() {
    let (daemon, addr) = Daemon::start("127.0.0.1:0".parse().expect("addr"), false).await;
    let mut rx = follow(addr, "wrong-token-0123456789");
    let (error, _) = next(&mut rx, "refused", disconnected).await;
    assert!(
        error.contains("UNAUTHENTICATED") && error.contains("--token"),
        "{error}"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn the_console_exports_a_segment_to_a_file() {
    use stockbell_console::rpc::{dispatch, Exported, Reply, Request as Ask};
    let (daemon, addr) = Daemon::start("127.0.0.1:0".parse().expect("addr"), false).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let client = admin_client::AdminClient::with_interceptor(
        channel,
        Bearer::new(Some(TOKEN)).expect("token"),
    );
    let dir = std::env::temp_dir().join(format!("stockbell-console-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("vip.csv").display().to_string();
    let (tx, mut rx) = mpsc::unbounded_channel();
    for segment in ["vip", "nope"] {
        let path = if segment == "vip" {
            path.clone()
        } else {
            dir.join("nope.csv").display().to_string()
        };
        dispatch(
            Some(&client),
            Ask::ExportSegment {
                segment: segment.into(),
                path,
            },
            &tx,
        );
        let reply = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a reply")
            .expect("the channel is open");
        let Reply::Exported { result, .. } = reply else {
            panic!("not an export reply: {reply:?}");
        };
        if segment == "vip" {
            assert_eq!(result, Ok(Exported { rows: 2, bytes: 40 }));
        } else {
            assert_eq!(result.map_err(|e| e.code), Err(tonic::Code::NotFound));
        }
    }
    let written = std::fs::read(&path).expect("the file");
    assert_eq!(
        written,
        b"customer_id,tags\r\nc-1,\"a,\r\nb\"\r\nc-2,'=x\r\n"
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["vip.csv"], "no temporary or failed files are left");
    let _ = std::fs::remove_dir_all(&dir);
    daemon.stop().await;
}
