//! The dispatcher task: follows the outbox for due entries, sends each through its
//! channel (bounded per channel, never the same seq twice at once) and hands the result
//! to the outbox's owner. `attempt.rs` is one attempt, `stats.rs` the counters.

mod attempt;
mod stats;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

pub use stats::{DeliveryStats, LATENCY_BOUNDS_MS};

use super::channels::Channels;
use super::outbox::{reads, OutboxOwner, RetryPolicy};
use super::port::DeliveryPort;
use super::templates::Templates;
use crate::clock::now_ms;
use crate::domain::customer::Channel;
use crate::domain::message::OutboxEntry;
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::Store;

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

/// What the dispatcher task needs.
pub struct DispatcherArgs {
    pub store: Store,
    /// Records each attempt's result (the one owner of entry updates).
    pub outbox: OutboxOwner,
    /// Suppresses an address after a permanent failure.
    pub port: Arc<dyn DeliveryPort>,
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
    outbox: OutboxOwner,
    port: Arc<dyn DeliveryPort>,
    channels: Channels,
    templates: Arc<Templates>,
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
            outbox: args.outbox,
            port: args.port,
            channels: args.channels,
            templates: args.templates,
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
    let (now, limit) = (now_ms(), cfg.batch);
    let scanned = shared
        .store
        .read(move |s| reads::scan_due(s, now, limit, |seq| !busy.contains(&seq)))
        .await;
    let scan = match scanned {
        Ok(scan) => scan,
        Err(e) => {
            tracing::error!(error = %e, "Cannot read the outbox; retrying at the next poll.");
            return None;
        }
    };
    let full = scan.entries.len() + scan.stale.len() >= cfg.batch;
    if let Err(e) = shared.outbox.remove_stale(scan.stale).await {
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
                attempt::deliver(&guard.shared, entry.seq, permit).await;
                drop(guard);
            });
        }
    }
}

#[cfg(test)]
mod tests;
