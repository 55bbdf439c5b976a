//! The dispatcher against a real store, the outbox's owner and real channels (`.eml`
//! files, in-process HTTP and SMTP servers), with a port that records what it is asked
//! and serves products: delivery, retry, failure with suppression, cancellation,
//! shutdown; outages, expiry and late re-checks in `outage_tests.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use std::sync::atomic::Ordering::Relaxed;

use futures::future::BoxFuture;
use stockbell_tests::poll_until;

use super::*;
use crate::clock::now_ms;
use crate::delivery::email::{EmailConfig, EmailSender, SmtpConfig, SmtpTls};
use crate::delivery::outbox::{reads, RetryPolicy};
use crate::delivery::test_support::{create_batch, sample_entry, ScriptedSmtp, TestServer};
use crate::delivery::webhook::{WebhookConfig, WebhookSender};
use crate::domain::message::{OutboxEntry, OutboxStatus};
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerEvent;
use crate::store::test_db::TestStore;

/// How long a delivery may take here.
const WAIT: Duration = Duration::from_secs(10);

/// The port as the dispatcher sees it: customer events are recorded, products come from
/// a map (unknown when missing).
#[derive(Default)]
struct RecordingPort {
    events: Mutex<Vec<(String, CustomerEvent)>>,
    products: Mutex<HashMap<String, ProductState>>,
    /// Customers' carts, by customer id.
    journeys: Mutex<HashMap<String, crate::domain::lifecycle::journey::Journey>>,
    /// Product look-ups asked of the port.
    lookups: std::sync::atomic::AtomicU64,
}

impl RecordingPort {
    fn suppressed(&self) -> Vec<(String, Channel)> {
        let events = self.events.lock().map(|e| e.clone()).unwrap_or_default();
        events
            .into_iter()
            .filter_map(|(id, e)| match e {
                CustomerEvent::Suppress { channel } => Some((id, channel)),
                _ => None,
            })
            .collect()
    }
}

impl DeliveryPort for RecordingPort {
    fn product(&self, sku: String) -> BoxFuture<'static, Result<Option<ProductState>, String>> {
        self.lookups.fetch_add(1, Relaxed);
        let found = match self.products.lock() {
            Ok(p) => Ok(p.get(&sku).cloned()),
            Err(_) => Err("the test's product map is poisoned".to_string()),
        };
        Box::pin(async move { found })
    }

    fn journey(
        &self,
        customer_id: String,
    ) -> BoxFuture<'static, Result<Option<crate::domain::lifecycle::journey::Journey>, String>>
    {
        let found = match self.journeys.lock() {
            Ok(j) => Ok(j.get(&customer_id).cloned()),
            Err(_) => Err("the test's journey map is poisoned".to_string()),
        };
        Box::pin(async move { found })
    }

    fn customer_event(
        &self,
        customer_id: String,
        event: CustomerEvent,
    ) -> BoxFuture<'static, Result<(), String>> {
        if let Ok(mut events) = self.events.lock() {
            events.push((customer_id, event));
        }
        Box::pin(async { Ok(()) })
    }
}

/// A store, its writer and the outbox's owner. Call [`Fixture::stop`] at the end: it
/// closes the database before the test process exits (RocksDB aborts otherwise).
struct Fixture {
    db: TestStore,
    outbox: OutboxOwner,
    port: Arc<RecordingPort>,
    eml: tempfile::TempDir,
    stop: watch::Sender<bool>,
    metrics: Arc<Metrics>,
    clicks: Option<crate::delivery::click_link::ClickLinks>,
}

fn config(max_attempts: u32) -> DispatcherConfig {
    DispatcherConfig {
        poll: Duration::from_millis(20),
        batch: 64,
        retry: RetryPolicy {
            base_ms: 20,
            max_ms: 50,
            max_attempts,
        }
        .into(),
        email_concurrency: 2,
        line_concurrency: 2,
        webhook_concurrency: 2,
    }
}

impl Fixture {
    fn new(max_attempts: u32) -> Fixture {
        let (stop, _) = watch::channel(false);
        let db = TestStore::new();
        let policy = config(max_attempts).retry;
        let (outbox, _) = OutboxOwner::start(db.store().clone(), db.writer.clone(), policy);
        Fixture {
            db,
            outbox,
            port: Arc::new(RecordingPort::default()),
            eml: tempfile::tempdir().expect("tempdir"),
            stop,
            metrics: Arc::new(Metrics::default()),
            clicks: None,
        }
    }

    async fn stop(self, d: Dispatcher) {
        let _ = self.stop.send(true);
        d.join(Duration::from_secs(10)).await;
        self.close().await;
    }

    async fn close(self) {
        drop(self.outbox);
        self.db.close().await;
    }

    fn start(&self, webhook: Option<&TestServer>, max_attempts: u32) -> Dispatcher {
        self.start_with(None, webhook, max_attempts)
    }

    /// With email over SMTP to `smtp` (else to `.eml` files) and a webhook to `webhook`.
    fn start_with(
        &self,
        smtp: Option<SocketAddr>,
        webhook: Option<&TestServer>,
        max_attempts: u32,
    ) -> Dispatcher {
        let email = EmailSender::new(&EmailConfig {
            eml_dir: self.eml.path().to_path_buf(),
            smtp: smtp.map(|addr| SmtpConfig {
                host: addr.ip().to_string(),
                port: Some(addr.port()),
                tls: SmtpTls::None,
                username: None,
                password: None,
                pool_size: 2,
                timeout: crate::settings::Dur(Duration::from_secs(5)),
                ca_file: None,
            }),
            ..EmailConfig::default()
        })
        .expect("email");
        let webhook = webhook.map(|s| {
            WebhookSender::new(&WebhookConfig {
                url: s.url(),
                secret: "s3cret".into(),
                timeout: crate::settings::Dur(Duration::from_secs(5)),
            })
            .expect("webhook")
        });
        Dispatcher::start(DispatcherArgs {
            board: Arc::new(crate::hygiene_board::HygieneBoard::new(
                Default::default(),
                "shop@shop.example",
            )),
            store: self.db.store().clone(),
            outbox: self.outbox.clone(),
            port: self.port.clone(),
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
                crate::config::rules::build(
                    &crate::config::rules::RulesConfig::default(),
                    &crate::config::rules::ScenariosConfig::default(),
                )
                .expect("default rules"),
            ),
            triggers: Arc::new(TriggerConfig::default()),
            metrics: self.metrics.clone(),
            clicks: self.clicks.clone(),
        })
    }

    async fn insert(&self, e: &OutboxEntry) {
        self.db
            .writer
            .write(create_batch(e), 0)
            .await
            .expect("write");
    }

    fn entry(&self, seq: u64) -> OutboxEntry {
        reads::load(self.db.store(), seq)
            .expect("read")
            .expect("exists")
    }

    /// Waits until `n` entries failed for good (each fully handled, suppression included).
    async fn wait_failed(&self, d: &Dispatcher, n: u64) {
        poll_until(WAIT, || async {
            let failed = d.stats().failed.load(Relaxed);
            anyhow::ensure!(failed >= n, "{failed} of {n} entries failed");
            Ok(())
        })
        .await
        .expect("entries failed");
    }

    /// Waits until entry `seq` has `status`.
    async fn wait_status(&self, seq: u64, status: OutboxStatus) -> OutboxEntry {
        poll_until(WAIT, || async {
            let e = self.entry(seq);
            anyhow::ensure!(e.status == status, "seq {seq} stuck at {e:?}");
            Ok(e)
        })
        .await
        .expect("entry status")
    }
}

/// A sample entry decided just now (marketing ones are neither late nor expired).
fn fresh(seq: u64, channel: Channel, marketing: bool) -> OutboxEntry {
    let mut e = sample_entry(seq, channel, marketing);
    e.created_ms = now_ms();
    e.next_attempt_ms = e.created_ms;
    e
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
    let f = Fixture::new(3);
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
    assert!(reads::due(f.db.store(), i64::MAX, 10)
        .expect("due")
        .is_empty());
    f.stop(d).await;
}

/// With click tracking on, a marketing message's item link goes through the redirector
/// (a token for its seq and index), in the items and in the rendered text; an order
/// update's links stay as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketing_links_are_sent_through_the_click_redirector() {
    use crate::delivery::click_link::{ClickLinks, ClickToken};
    let mut f = Fixture::new(3);
    let links = ClickLinks::new(b"k".to_vec(), "https://bell.example");
    f.clicks = Some(links.clone());
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 3);
    f.insert(&fresh(1, Channel::Webhook, true)).await;
    f.insert(&fresh(2, Channel::Webhook, false)).await;
    f.wait_status(1, OutboxStatus::Delivered).await;
    f.wait_status(2, OutboxStatus::Delivered).await;
    let bodies: Vec<serde_json::Value> = server
        .requests()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    let marketing = bodies.iter().find(|b| b["id"] == 1).expect("seq 1 sent");
    let url = marketing["items"][0]["url"].as_str().unwrap_or("");
    let token = url.strip_prefix("https://bell.example/c/").unwrap_or("");
    assert_eq!(
        links.verify(token),
        Ok(ClickToken { seq: 1, link: 0 }),
        "{url}"
    );
    let text = marketing["text"].as_str().unwrap_or("");
    assert!(
        text.contains(url) && !text.contains("https://shop.example/p/1"),
        "{text}"
    );
    let order = bodies.iter().find(|b| b["id"] == 2).expect("seq 2 sent");
    assert!(
        !order.to_string().contains("/c/"),
        "order updates are not tracked: {order}"
    );
    f.stop(d).await;
}

/// A message the server refuses for now (SMTP 4xx for its recipient) is retried and
/// charged an attempt each time: delivered on a later try, or failed after
/// `max_attempts` (marketing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_retry_until_delivered_or_failed() {
    let f = Fixture::new(3);
    let smtp = ScriptedSmtp::start("220 scripted").await;
    smtp.script("RCPT", &["450 4.2.1 busy", "450 4.2.1 busy"]);
    let d = f.start_with(Some(smtp.addr), None, 3);
    f.insert(&fresh(1, Channel::Email, true)).await;
    let e = f.wait_status(1, OutboxStatus::Delivered).await;
    assert_eq!(e.attempts, 3);
    smtp.script(
        "RCPT",
        &["452 4.2.2 full", "452 4.2.2 full", "452 4.2.2 full"],
    );
    f.insert(&fresh(2, Channel::Email, true)).await;
    let e = f.wait_status(2, OutboxStatus::Failed).await;
    assert_eq!(e.attempts, 3);
    assert!(
        e.last_error.as_deref().unwrap_or("").contains("452"),
        "{e:?}"
    );
    // Exhausted retries say nothing about the address: no suppression.
    f.wait_failed(&d, 1).await;
    assert!(f.port.suppressed().is_empty());
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(d.stats().retried.load(Relaxed), 4);
    f.stop(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_fails_the_entry_and_suppresses_the_channel() {
    let f = Fixture::new(5);
    let server = TestServer::start(&[400]).await;
    let d = f.start(Some(&server), 5);
    f.insert(&sample_entry(1, Channel::Webhook, false)).await;
    let e = f.wait_status(1, OutboxStatus::Failed).await;
    assert_eq!(e.attempts, 1);
    f.wait_failed(&d, 1).await;
    assert_eq!(
        f.port.suppressed(),
        [("cust-42".to_owned(), Channel::Webhook)]
    );
    // LINE is not configured: failed, but the customer's LINE id is not to blame.
    f.insert(&sample_entry(2, Channel::Line, false)).await;
    let e = f.wait_status(2, OutboxStatus::Failed).await;
    assert!(
        e.last_error.as_deref().unwrap_or("").contains("[line]"),
        "{e:?}"
    );
    f.wait_failed(&d, 2).await;
    assert_eq!(
        f.port.suppressed(),
        [("cust-42".to_owned(), Channel::Webhook)]
    );
    f.stop(d).await;
}

/// Messages are rendered when they are sent: one that cannot be rendered fails alone,
/// says why, and does not suppress the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_cannot_be_rendered_fails_without_suppressing_the_address() {
    let f = Fixture::new(5);
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 5);
    let mut broken = sample_entry(1, Channel::Webhook, false);
    broken.context.order = None;
    f.insert(&broken).await;
    f.insert(&sample_entry(2, Channel::Webhook, false)).await;
    let e = f.wait_status(1, OutboxStatus::Failed).await;
    assert_eq!(e.attempts, 1);
    let why = e.last_error.as_deref().unwrap_or("");
    assert!(
        why.contains("no order lines to render") && why.contains("template"),
        "{why}"
    );
    f.wait_status(2, OutboxStatus::Delivered).await;
    let sent = server.requests();
    assert_eq!(sent.len(), 1, "only the renderable entry goes out");
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).expect("json");
    assert!(
        body["subject"].as_str().unwrap_or("").contains("1001"),
        "rendered at send time from the context: {body}"
    );
    f.wait_failed(&d, 1).await;
    assert!(f.port.suppressed().is_empty());
    f.stop(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_future_entries_are_not_sent() {
    let f = Fixture::new(3);
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
    // A later entry goes out only after a later scan: by then the first two were seen.
    f.insert(&sample_entry(4, Channel::Webhook, false)).await;
    d.notifier().notify_one();
    f.wait_status(4, OutboxStatus::Delivered).await;
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("x-stockbell-delivery").to_string())
        .collect();
    assert_eq!(sent, ["3", "4"]);
    assert_eq!(f.entry(1).status, OutboxStatus::Cancelled);
    assert_eq!(f.entry(2).status, OutboxStatus::Pending);
    f.stop(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_sends_in_flight() {
    let f = Fixture::new(3);
    let server = TestServer::start(&[]).await;
    let d = f.start(Some(&server), 3);
    for seq in 1..=20 {
        f.insert(&sample_entry(seq, Channel::Webhook, false)).await;
    }
    d.notifier().notify_one();
    // Stop as soon as the first request arrives; whatever started must be recorded.
    poll_until(WAIT, || async {
        anyhow::ensure!(!server.requests().is_empty(), "nothing was sent");
        Ok(())
    })
    .await
    .expect("a first request");
    let _ = f.stop.send(true);
    d.join(Duration::from_secs(10)).await;
    let sent = server.requests().len();
    let entries: Vec<OutboxEntry> = (1..=20).map(|s| f.entry(s)).collect();
    let delivered = entries
        .iter()
        .filter(|e| e.status == OutboxStatus::Delivered)
        .count();
    assert_eq!(sent, delivered, "every request that went out is recorded");
    // The rest were never attempted: still Pending, untouched, for the next start.
    for e in entries
        .iter()
        .filter(|e| e.status != OutboxStatus::Delivered)
    {
        assert_eq!((e.status, e.attempts), (OutboxStatus::Pending, 0), "{e:?}");
    }
    f.close().await;
}

#[path = "outage_tests.rs"]
mod outage;
