//! The dispatcher task: polls the outbox for due entries, sends each through its channel
//! (bounded per channel, never the same seq twice at once), records the result, and
//! suppresses a customer's channel after a permanent failure.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use super::email::EmailSender;
use super::line::LineSender;
use super::outbox_ops::{self, RetryPolicy};
use super::templates::Templates;
use super::webhook::WebhookSender;
use super::{OutboxEntry, OutboxStatus, Rendered, SendError};
use crate::actors::customer::CustomerItem;
use crate::actors::{IngestItem, RouterHandle};
use crate::clock::now_ms;
use crate::domain::customer::Channel;
use crate::domain::profile::CustomerEvent;
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::writer::Writer;
use crate::store::Store;

/// The configured channels. Email always exists (SMTP or `.eml` files).
pub struct Channels {
    pub email: EmailSender,
    pub line: Option<LineSender>,
    pub webhook: Option<WebhookSender>,
}

impl Channels {
    fn configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => true,
            Channel::Line => self.line.is_some(),
            Channel::Webhook => self.webhook.is_some(),
        }
    }

    async fn send(&self, entry: &OutboxEntry, rendered: &Rendered) -> Result<(), SendError> {
        let missing = |section: &str| {
            SendError::Permanent(format!(
                "{} is not configured: add a [{section}] section to the config",
                section.to_uppercase()
            ))
        };
        match entry.channel {
            Channel::Email => self.email.send(entry, rendered).await,
            Channel::Line => match &self.line {
                Some(s) => s.send(entry, rendered).await,
                None => Err(missing("line")),
            },
            Channel::Webhook => match &self.webhook {
                Some(s) => s.send(entry, rendered).await,
                None => Err(missing("webhook")),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// How often the outbox is polled when nobody wakes the dispatcher.
    pub poll: Duration,
    /// Most due entries read per poll.
    pub batch: usize,
    pub retry: RetryPolicy,
    /// Concurrent sends per channel: email, LINE, webhook.
    pub email_concurrency: usize,
    pub line_concurrency: usize,
    pub webhook_concurrency: usize,
}

/// Upper bounds (ms) of the delivery-latency buckets; the last bucket is everything above.
pub const LATENCY_BOUNDS_MS: [i64; 16] = [
    50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 1_800_000, 3_600_000,
    21_600_000, 43_200_000, 86_400_000,
];

/// Counters for operators; plain atomics.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub delivered: AtomicU64,
    /// Attempts that failed and will be retried.
    pub retried: AtomicU64,
    pub failed: AtomicU64,
    /// Entries found cancelled (or changed) just before sending.
    pub skipped: AtomicU64,
    /// Delivered counts by created → delivered latency, per [`LATENCY_BOUNDS_MS`].
    pub latency: [AtomicU64; LATENCY_BOUNDS_MS.len() + 1],
    pub latency_sum_ms: AtomicU64,
}

impl DeliveryStats {
    /// The latency under which `q` (0..1) of the deliveries so far fell, as the upper
    /// bound of its bucket (`None` before the first delivery; `i64::MAX` past the last).
    pub fn latency_quantile(&self, q: f64) -> Option<i64> {
        let counts: Vec<u64> = self.latency.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(LATENCY_BOUNDS_MS.get(i).copied().unwrap_or(i64::MAX));
            }
        }
        Some(i64::MAX)
    }

    fn record_delivery(&self, latency_ms: i64) {
        let latency_ms = latency_ms.max(0);
        let bucket = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| latency_ms <= *b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        self.delivered.fetch_add(1, Relaxed);
        self.latency[bucket].fetch_add(1, Relaxed);
        self.latency_sum_ms
            .fetch_add(u64::try_from(latency_ms).unwrap_or(0), Relaxed);
    }
}

/// What the dispatcher task needs.
pub struct DispatcherArgs {
    pub store: Store,
    pub writer: Writer,
    pub router: RouterHandle,
    pub channels: Channels,
    /// Each attempt renders its message from the entry's context with these.
    pub templates: Arc<Templates>,
    pub config: DispatcherConfig,
    /// Woken (`notify_one`) by whoever writes new entries, so they go out without
    /// waiting for the next poll. Create it first and hand a clone to the writers.
    pub wake: Arc<Notify>,
    /// `true` stops polling; sends in flight finish first.
    pub shutdown: watch::Receiver<bool>,
    /// The scenario settings in force: entries of a disabled scenario are cancelled.
    pub rules: Arc<LiveRules>,
    pub metrics: Arc<Metrics>,
}

/// Handle to the running dispatcher.
pub struct Dispatcher {
    wake: Arc<Notify>,
    stats: Arc<DeliveryStats>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    store: Store,
    writer: Writer,
    router: RouterHandle,
    channels: Channels,
    templates: Arc<Templates>,
    retry: RetryPolicy,
    stats: Arc<DeliveryStats>,
    in_flight: Mutex<HashSet<u64>>,
    /// Signalled when a send gives its channel slot back (before its result is written).
    slot_free: Notify,
    rules: Arc<LiveRules>,
    metrics: Arc<Metrics>,
}

/// Removes its seq from the in-flight set however the send task ends (panic included).
struct InFlight {
    shared: Arc<Shared>,
    seq: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut set) = self.shared.in_flight.lock() {
            set.remove(&self.seq);
        }
    }
}

impl Dispatcher {
    pub fn start(args: DispatcherArgs) -> Dispatcher {
        let stats = Arc::new(DeliveryStats::default());
        let shared = Arc::new(Shared {
            store: args.store,
            writer: args.writer,
            router: args.router,
            channels: args.channels,
            templates: args.templates,
            retry: args.config.retry,
            stats: stats.clone(),
            in_flight: Mutex::new(HashSet::new()),
            slot_free: Notify::new(),
            rules: args.rules,
            metrics: args.metrics,
        });
        let task = tokio::spawn(run(shared, args.config, args.wake.clone(), args.shutdown));
        Dispatcher {
            wake: args.wake,
            stats,
            task,
        }
    }

    /// Wake the dispatcher after writing new due entries (`notify_one`).
    pub fn notifier(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.stats.clone()
    }

    /// After shutdown was signalled: waits up to `grace` for sends in flight, then
    /// abandons them (they stay Pending and go out again after a restart).
    pub async fn join(mut self, grace: Duration) {
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            tracing::warn!(?grace, "Deliveries still in flight after the shutdown grace; they will be retried after the restart.");
            self.task.abort();
            let _ = self.task.await;
        }
    }
}

async fn run(
    shared: Arc<Shared>,
    cfg: DispatcherConfig,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = [
        (Channel::Email, cfg.email_concurrency),
        (Channel::Line, cfg.line_concurrency),
        (Channel::Webhook, cfg.webhook_concurrency),
    ]
    .map(|(c, n)| (c, Arc::new(Semaphore::new(n.max(1)))));
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut tick = tokio::time::interval(cfg.poll.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Due entries read by the last scan and not started yet, per channel (as in
    // `limits`), oldest due first. A finished send starts the next one from here; the
    // outbox is read again only when they run dry (so a backlog costs one scan per
    // `cfg.batch` sends, not one per send).
    let mut queue = Queue::default();
    // Whether a scan is owed once the queue is empty: the last one stopped at
    // `cfg.batch`, or a wake-up or tick came while the queue was still full.
    let mut owed = false;
    loop {
        let rescan = tokio::select! {
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => break,
            _ = wake.notified() => true,
            _ = tick.tick() => true,
            _ = shared.slot_free.notified() => {
                if queue.is_empty() && !owed {
                    continue;
                }
                false
            }
            Some(done) = tasks.join_next() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!(error = %e, "A delivery task panicked; its entry stays Pending.");
                    }
                }
                if queue.is_empty() && !owed {
                    continue;
                }
                false
            }
        };
        if queue.is_empty() && (rescan || owed) {
            if let Some((entries, full)) = scan(&shared, &cfg).await {
                queue = Queue::from_scan(entries, &limits);
                owed = full;
            }
        } else if rescan {
            owed = true;
        }
        start_sends(&shared, &limits, &mut tasks, &mut queue);
    }
    let n = tasks.len();
    if n > 0 {
        tracing::info!(
            in_flight = n,
            "Dispatcher stopping: finishing deliveries in flight."
        );
    }
    while tasks.join_next().await.is_some() {}
}

/// Reads up to `cfg.batch` due entries that are not in flight and drops stale due keys;
/// also says whether the read stopped at the limit (more may be due).
async fn scan(shared: &Arc<Shared>, cfg: &DispatcherConfig) -> Option<(Vec<OutboxEntry>, bool)> {
    let busy = match shared.in_flight.lock() {
        Ok(set) => set.clone(),
        Err(_) => return None,
    };
    let scan = match outbox_ops::scan_due(&shared.store, now_ms(), cfg.batch, |seq| {
        !busy.contains(&seq)
    }) {
        Ok(scan) => scan,
        Err(e) => {
            tracing::error!(error = %e, "Cannot read the outbox; retrying at the next poll.");
            return None;
        }
    };
    let full = scan.entries.len() + scan.stale.len() >= cfg.batch;
    if let Err(e) = outbox_ops::remove_stale(&shared.writer, scan.stale).await {
        tracing::warn!(error = %e, "Cannot remove stale outbox_due keys.");
    }
    Some((scan.entries, full))
}

/// Scanned entries waiting for a free slot of their channel, in the order of `limits`.
#[derive(Default)]
struct Queue([std::collections::VecDeque<OutboxEntry>; 3]);

impl Queue {
    fn from_scan(entries: Vec<OutboxEntry>, limits: &[(Channel, Arc<Semaphore>); 3]) -> Queue {
        let mut q = Queue::default();
        for e in entries {
            if let Some(i) = limits.iter().position(|(c, _)| *c == e.channel) {
                q.0[i].push_back(e);
            }
        }
        q
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|q| q.is_empty())
    }
}

/// Starts sends for queued entries while their channel has room.
fn start_sends(
    shared: &Arc<Shared>,
    limits: &[(Channel, Arc<Semaphore>); 3],
    tasks: &mut JoinSet<()>,
    queue: &mut Queue,
) {
    for ((_, sem), waiting) in limits.iter().zip(queue.0.iter_mut()) {
        while !waiting.is_empty() {
            let Ok(permit) = sem.clone().try_acquire_owned() else {
                break;
            };
            let Some(entry) = waiting.pop_front() else {
                break;
            };
            let inserted = shared
                .in_flight
                .lock()
                .map(|mut set| set.insert(entry.seq))
                .unwrap_or(false);
            if !inserted {
                continue;
            }
            let guard = InFlight {
                shared: shared.clone(),
                seq: entry.seq,
            };
            tasks.spawn(async move {
                deliver(&guard.shared, entry.seq, permit).await;
                drop(guard);
            });
        }
    }
}

/// One attempt at one entry, from the re-read to the recorded result. The channel slot
/// (`permit`) is given back as soon as the send itself is over, so the next send starts
/// while this result is being written; the entry stays in flight until it is recorded.
async fn deliver(shared: &Shared, seq: u64, permit: tokio::sync::OwnedSemaphorePermit) {
    // Re-read: an unsubscribe may have cancelled it since the poll.
    let entry = match outbox_ops::load(&shared.store, seq) {
        Ok(Some(e)) if e.status == OutboxStatus::Pending => e,
        Ok(_) => {
            shared.stats.skipped.fetch_add(1, Relaxed);
            return;
        }
        Err(e) => {
            tracing::error!(seq, error = %e, "Cannot read an outbox entry; it stays Pending.");
            return;
        }
    };
    if !shared.rules.get().enabled(entry.scenario) {
        let why = format!(
            "not sent: scenario {} was disabled by an operator",
            entry.scenario.as_str()
        );
        match outbox_ops::cancel_one(&shared.store, &shared.writer, seq, &why).await {
            Ok(Some(_)) => {
                shared.metrics.outbox_cancelled.fetch_add(1, Relaxed);
                tracing::info!(
                    seq,
                    scenario = entry.scenario.as_str(),
                    "Cancelled a queued message of a disabled scenario."
                );
            }
            Ok(None) => {
                shared.stats.skipped.fetch_add(1, Relaxed);
            }
            Err(e) => {
                tracing::error!(seq, error = %e, "Cannot cancel an outbox entry; it stays Pending.")
            }
        }
        return;
    }
    let result = match shared.templates.render(&entry.context) {
        Ok(rendered) => shared.channels.send(&entry, &rendered).await,
        Err(e) => Err(SendError::Unrenderable(format!(
            "{e}; fix the template override and retry the entry"
        ))),
    };
    drop(permit);
    shared.slot_free.notify_one();
    let now = now_ms();
    let recorded = outbox_ops::commit_result(
        &shared.store,
        &shared.writer,
        seq,
        &result,
        now,
        &shared.retry,
    )
    .await;
    let updated = match recorded {
        Ok(Some(updated)) => updated,
        Ok(None) => {
            shared.stats.skipped.fetch_add(1, Relaxed);
            return;
        }
        Err(e) => {
            // The send is not recorded: the entry goes out again (same Message-ID).
            tracing::error!(seq, error = %e, "Cannot record a delivery result.");
            return;
        }
    };
    match (&result, updated.status) {
        (Ok(()), _) => {
            shared.stats.record_delivery(now - entry.created_ms);
            let c = shared.metrics.scenario(entry.scenario);
            c.sent.fetch_add(1, Relaxed);
            tracing::debug!(seq, channel = entry.channel.as_str(), "Delivered.");
        }
        (Err(e), OutboxStatus::Pending) => {
            shared.stats.retried.fetch_add(1, Relaxed);
            tracing::info!(seq, channel = entry.channel.as_str(), attempts = updated.attempts, next_attempt_ms = updated.next_attempt_ms, error = %e, "Delivery failed; will retry.");
        }
        (Err(e), _) => {
            shared.stats.failed.fetch_add(1, Relaxed);
            let c = shared.metrics.scenario(entry.scenario);
            c.failed.fetch_add(1, Relaxed);
            tracing::warn!(seq, channel = entry.channel.as_str(), customer_id = %entry.customer_id, attempts = updated.attempts, error = %e, "Delivery failed for good.");
            // Neither a template error nor a channel the operator has not set up says
            // anything about the address.
            if e.blames_address() && shared.channels.configured(entry.channel) {
                suppress(shared, &entry).await;
            }
        }
    }
}

async fn suppress(shared: &Shared, entry: &OutboxEntry) {
    let item = IngestItem::Customer {
        id: entry.customer_id.clone(),
        item: CustomerItem {
            index: 0,
            at_ms: now_ms(),
            event: CustomerEvent::Suppress {
                channel: entry.channel,
            },
        },
    };
    match shared.router.internal(vec![item]).await {
        Ok(ack) if !ack.rejections.is_empty() => {
            tracing::warn!(customer_id = %entry.customer_id, rejections = ?ack.rejections, "Could not suppress the channel.");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(customer_id = %entry.customer_id, error = %e, "Could not suppress the channel.");
        }
    }
}

#[cfg(test)]
#[path = "dispatcher_tests.rs"]
pub(crate) mod tests;
