//! The dispatcher against a real store, router and channels (`.eml` files, in-process
//! HTTP servers): delivery, retry, failure with suppression, cancellation, shutdown.

use std::path::Path;
use std::time::Instant;

use super::*;
use crate::delivery::email::EmailConfig;
use crate::delivery::outbox_ops::create_batch;
use crate::delivery::test_support::{sample_entry, TestServer};
use crate::delivery::webhook::WebhookConfig;
use crate::domain::customer::Consent;
use crate::domain::profile::{CustomerState, ProfileData};
use crate::store::test_db::TestDb;

/// A store, writer and router as the daemon builds them (default config), with customer
/// "cust-42". Call [`Stack::close`] at the end: it closes the database before the test
/// process exits (RocksDB aborts if a writer thread is still closing it then).
pub(crate) struct Stack {
    pub db: TestDb,
    pub writer: Writer,
    pub router: RouterHandle,
    router_task: tokio::task::JoinHandle<()>,
    writer_thread: std::thread::JoinHandle<()>,
}

impl Stack {
    pub async fn new() -> Stack {
        let db = TestDb::new();
        let (writer, writer_thread) = Writer::start(db.store.clone(), false);
        let cfg = crate::config::Config::default();
        let rules = crate::rules_config::build(&cfg.rules, &cfg.scenarios).expect("rules");
        let router_cfg = crate::actors::RouterConfig {
            triggers: Arc::new(cfg.trigger_config()),
            idle_timeout: Duration::from_secs(60),
            affinity_half_life_ms: cfg.interest.half_life.ms(),
            rules: crate::scenario_control::LiveRules::new(rules),
            links: Arc::new(|_: &str, _| String::new()),
            outbox_notify: Arc::new(Notify::new()),
            fanout_notify: Arc::new(Notify::new()),
            max_active: 100_000,
        };
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let (router, router_task) =
            crate::actors::Router::start(db.store.clone(), writer.clone(), router_cfg, metrics)
                .expect("router");
        upsert_customer(&router, "cust-42").await;
        Stack {
            db,
            writer,
            router,
            router_task,
            writer_thread,
        }
    }

    /// Every other clone of the writer and router must be gone (dispatcher joined).
    pub async fn close(self) {
        drop(self.router);
        self.router_task.await.expect("router task");
        drop(self.writer);
        let thread = self.writer_thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("join")
            .expect("writer thread");
    }
}

/// Creates customer `id` with an email address and every consent.
pub(crate) async fn upsert_customer(router: &RouterHandle, id: &str) {
    let profile = ProfileData {
        email: Some("taro@example.jp".into()),
        line_user_id: Some("U4af4980629".into()),
        locale: Default::default(),
        time_zone: "Asia/Tokyo".into(),
        consent: Consent {
            email: true,
            line: true,
            webhook: true,
        },
        tags: Vec::new(),
    };
    let item = IngestItem::Customer {
        id: id.into(),
        item: CustomerItem {
            index: 0,
            at_ms: 1,
            event: CustomerEvent::Upsert(profile),
        },
    };
    let ack = router.internal(vec![item]).await.expect("upsert");
    assert!(ack.rejections.is_empty(), "{ack:?}");
}

pub(crate) async fn customer(router: &RouterHandle, id: &str) -> CustomerState {
    router
        .get_customer(id.into())
        .await
        .expect("get")
        .expect("exists")
        .0
}

struct Fixture {
    stack: Stack,
    eml: tempfile::TempDir,
    stop: watch::Sender<bool>,
}

fn config(max_attempts: u32) -> DispatcherConfig {
    DispatcherConfig {
        poll: Duration::from_millis(20),
        batch: 64,
        retry: RetryPolicy {
            base_ms: 20,
            max_ms: 50,
            max_attempts,
        },
        email_concurrency: 2,
        line_concurrency: 2,
        webhook_concurrency: 2,
    }
}

impl Fixture {
    async fn new() -> Fixture {
        let (stop, _) = watch::channel(false);
        Fixture {
            stack: Stack::new().await,
            eml: tempfile::tempdir().expect("tempdir"),
            stop,
        }
    }

    async fn stop(self, d: Dispatcher) {
        let _ = self.stop.send(true);
        d.join(Duration::from_secs(10)).await;
        self.stack.close().await;
    }

    fn start(&self, webhook: Option<&TestServer>, max_attempts: u32) -> Dispatcher {
        let email = EmailSender::new(&EmailConfig {
            eml_dir: self.eml.path().to_path_buf(),
            ..EmailConfig::default()
        })
        .expect("email");
        let webhook = webhook.map(|s| {
            WebhookSender::new(&WebhookConfig {
                url: s.url(),
                secret: "s3cret".into(),
                timeout: crate::config::Dur(Duration::from_secs(5)),
            })
            .expect("webhook")
        });
        Dispatcher::start(DispatcherArgs {
            store: self.stack.db.store.clone(),
            writer: self.stack.writer.clone(),
            router: self.stack.router.clone(),
            channels: Channels {
                email,
                line: None,
                webhook,
            },
            templates: Arc::new(
                crate::delivery::templates::Templates::new(None).expect("built-in templates"),
            ),
            config: config(max_attempts),
            wake: Arc::new(Notify::new()),
            shutdown: self.stop.subscribe(),
            rules: crate::scenario_control::LiveRules::new(
                crate::rules_config::build(
                    &crate::rules_config::RulesConfig::default(),
                    &crate::rules_config::ScenariosConfig::default(),
                )
                .expect("default rules"),
            ),
            metrics: Arc::new(crate::metrics::Metrics::default()),
        })
    }

    async fn insert(&self, e: &OutboxEntry) {
        self.stack
            .writer
            .write(create_batch(e), 0)
            .await
            .expect("write");
    }

    fn entry(&self, seq: u64) -> OutboxEntry {
        outbox_ops::load(&self.stack.db.store, seq)
            .expect("read")
            .expect("exists")
    }

    /// Waits until entry `seq` has `status`, or panics after 10 s.
    async fn wait_status(&self, seq: u64, status: OutboxStatus) -> OutboxEntry {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let e = self.entry(seq);
            if e.status == status {
                return e;
            }
            assert!(Instant::now() < deadline, "seq {seq} stuck at {e:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn eml_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_is_delivered_once_and_latency_recorded() {
    let f = Fixture::new().await;
    let d = f.start(None, 3);
    for seq in 1..=5 {
        let mut e = sample_entry(seq, Channel::Email, false);
        // Inside the (2 s, 5 s] bucket, clear of its 2 s lower edge.
        e.created_ms = now_ms() - 3_000;
        f.insert(&e).await;
    }
    d.notifier().notify_one();
    for seq in 1..=5 {
        let e = f.wait_status(seq, OutboxStatus::Delivered).await;
        assert_eq!(e.attempts, 1);
        assert!(e.delivered_ms.is_some());
    }
    let names = eml_files(f.eml.path());
    assert_eq!(names.len(), 5, "{names:?}");
    let stats = d.stats();
    assert_eq!(stats.delivered.load(Relaxed), 5);
    // Three seconds old: all in the "≤ 5 s" bucket.
    assert_eq!(stats.latency[6].load(Relaxed), 5);
    assert_eq!(stats.latency_quantile(0.5), Some(5_000));
    assert_eq!(stats.latency_quantile(0.99), Some(5_000));
    assert!(outbox_ops::due(&f.stack.db.store, i64::MAX, 10)
        .expect("due")
        .is_empty());
    f.stop(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_retry_until_delivered_or_failed() {
    let f = Fixture::new().await;
    let server = TestServer::start(&[503, 503, 200, 500, 500, 500]).await;
    let d = f.start(Some(&server), 3);
    f.insert(&sample_entry(1, Channel::Webhook, false)).await;
    let e = f.wait_status(1, OutboxStatus::Delivered).await;
    assert_eq!(e.attempts, 3);
    f.insert(&sample_entry(2, Channel::Webhook, false)).await;
    let e = f.wait_status(2, OutboxStatus::Failed).await;
    assert_eq!(e.attempts, 3);
    assert!(
        e.last_error.as_deref().unwrap_or("").contains("500"),
        "{e:?}"
    );
    // Exhausted retries say nothing about the address: no suppression.
    assert!(customer(&f.stack.router, "cust-42")
        .await
        .suppressed
        .is_empty());
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("x-stockbell-delivery").to_string())
        .collect();
    assert_eq!(sent, ["1", "1", "1", "2", "2", "2"]);
    f.stop(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_fails_the_entry_and_suppresses_the_channel() {
    let f = Fixture::new().await;
    let server = TestServer::start(&[400]).await;
    let d = f.start(Some(&server), 5);
    f.insert(&sample_entry(1, Channel::Webhook, false)).await;
    let e = f.wait_status(1, OutboxStatus::Failed).await;
    assert_eq!(e.attempts, 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while customer(&f.stack.router, "cust-42").await.suppressed != [Channel::Webhook] {
        assert!(Instant::now() < deadline, "webhook was not suppressed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // LINE is not configured: failed, but the customer's LINE id is not to blame.
    f.insert(&sample_entry(2, Channel::Line, false)).await;
    let e = f.wait_status(2, OutboxStatus::Failed).await;
    assert!(
        e.last_error.as_deref().unwrap_or("").contains("[line]"),
        "{e:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        customer(&f.stack.router, "cust-42").await.suppressed,
        [Channel::Webhook]
    );
    f.stop(d).await;
}

/// Messages are rendered when they are sent: one that cannot be rendered fails alone,
/// says why, and does not suppress the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_cannot_be_rendered_fails_without_suppressing_the_address() {
    let f = Fixture::new().await;
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 5);
    let mut broken = sample_entry(1, Channel::Webhook, false);
    broken.context.items.clear();
    f.insert(&broken).await;
    f.insert(&sample_entry(2, Channel::Webhook, false)).await;
    let e = f.wait_status(1, OutboxStatus::Failed).await;
    assert_eq!(e.attempts, 1);
    let why = e.last_error.as_deref().unwrap_or("");
    assert!(
        why.contains("no items to render") && why.contains("template"),
        "{why}"
    );
    f.wait_status(2, OutboxStatus::Delivered).await;
    let sent = server.requests();
    assert_eq!(sent.len(), 1, "only the renderable entry goes out");
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).expect("json");
    assert!(
        body["subject"]
            .as_str()
            .unwrap_or("")
            .contains("Linen Shirt"),
        "rendered at send time from the context: {body}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(customer(&f.stack.router, "cust-42")
        .await
        .suppressed
        .is_empty());
    f.stop(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_future_entries_are_not_sent() {
    let f = Fixture::new().await;
    let server = TestServer::start(&[]).await;
    let mut cancelled = sample_entry(1, Channel::Webhook, true);
    cancelled.status = OutboxStatus::Cancelled;
    f.insert(&cancelled).await;
    let mut later = sample_entry(2, Channel::Webhook, false);
    later.next_attempt_ms = now_ms() + 3_600_000;
    f.insert(&later).await;
    f.insert(&sample_entry(3, Channel::Webhook, false)).await;
    let d = f.start(Some(&server), 3);
    f.wait_status(3, OutboxStatus::Delivered).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.requests().len(), 1);
    assert_eq!(f.entry(1).status, OutboxStatus::Cancelled);
    assert_eq!(f.entry(2).status, OutboxStatus::Pending);
    f.stop(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_sends_in_flight() {
    let f = Fixture::new().await;
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 3);
    for seq in 1..=20 {
        f.insert(&sample_entry(seq, Channel::Webhook, false)).await;
    }
    d.notifier().notify_one();
    // Stop as soon as the first request arrives; whatever started must be recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.requests().is_empty() {
        assert!(Instant::now() < deadline, "nothing was sent");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = f.stop.send(true);
    d.join(Duration::from_secs(10)).await;
    let sent = server.requests().len();
    let delivered = (1..=20)
        .filter(|s| f.entry(*s).status == OutboxStatus::Delivered)
        .count();
    assert_eq!(sent, delivered, "every request that went out is recorded");
    assert!(delivered < 20 || sent == 20);
    f.stack.close().await;
}
