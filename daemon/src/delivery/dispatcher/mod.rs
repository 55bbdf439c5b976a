//! The dispatcher task: follows the outbox lane by lane (message class × channel) for
//! due entries, sends each through its channel (bounded per channel, never the same seq
//! twice at once, nothing but one probe on a channel that is down) and hands the result
//! to the outbox's owner. `lanes.rs` holds the queues and starts sends, `attempt.rs` is
//! one attempt, `late.rs` the expiry and re-check before a late one, `stats.rs` the
//! counters.

mod attempt;
mod lanes;
mod late;
mod stats;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

pub use stats::{DeliveryStats, LATENCY_BOUNDS_MS};

use self::lanes::Lanes;
use super::channels::Channels;
use super::health::{HealthBoard, ProbePolicy};
use super::outbox::{OutboxOwner, OutboxPolicy};
use super::port::DeliveryPort;
use super::templates::Templates;
use crate::domain::customer::Channel;
use crate::domain::TriggerConfig;
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// How often the outbox is polled when nobody wakes the dispatcher.
    pub poll: Duration,
    /// Most due entries read per lane and poll.
    pub batch: usize,
    /// Retries of failed messages (`retry.base_ms` and `retry.max_ms` also pace the
    /// probes of a channel that is down) and how long transactional ones are retried.
    pub retry: OutboxPolicy,
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
    /// Products for the re-check of late messages; suppresses an address after a
    /// permanent failure.
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
    /// The scenario settings in force: entries of a disabled scenario are cancelled,
    /// marketing past its scenario's `max_age` expires.
    pub rules: Arc<LiveRules>,
    /// What "still worth sending" measures a late message against.
    pub triggers: Arc<TriggerConfig>,
    pub metrics: Arc<Metrics>,
    /// Rewrites the item links of marketing messages to the click redirector as they are
    /// rendered; `None` = click tracking off.
    pub clicks: Option<crate::delivery::click_link::ClickLinks>,
    /// Counts deliveries and hard bounces per scenario and sending domain.
    pub board: Arc<crate::hygiene_board::HygieneBoard>,
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
    triggers: Arc<TriggerConfig>,
    /// Products looked up for late re-checks, reused for a moment.
    products: late::Products,
    metrics: Arc<Metrics>,
    clicks: Option<crate::delivery::click_link::ClickLinks>,
    /// (customer, channel) with a soft bounce reported since start: their next delivery
    /// ends the run (`attempt::soft_bounce`).
    soft_bounced: Mutex<HashSet<(String, Channel)>>,
    board: Arc<crate::hygiene_board::HygieneBoard>,
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
        let configured: Vec<Channel> = Channel::ALL
            .into_iter()
            .filter(|c| args.channels.configured(*c))
            .collect();
        let probes = ProbePolicy {
            base_ms: args.config.retry.retry.base_ms,
            max_ms: args.config.retry.retry.max_ms,
        };
        let stats = Arc::new(DeliveryStats {
            health: HealthBoard::new(&configured, probes),
            ..DeliveryStats::default()
        });
        let shared = Arc::new(Shared {
            store: args.store,
            outbox: args.outbox,
            port: args.port,
            channels: args.channels,
            templates: args.templates,
            stats: stats.clone(),
            in_flight: Mutex::new(HashSet::new()),
            slot_free: Notify::new(),
            soft_bounced: Mutex::new(HashSet::new()),
            board: args.board,
            rules: args.rules,
            triggers: args.triggers,
            products: late::Products::default(),
            metrics: args.metrics,
            clicks: args.clicks,
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
    // Due entries read by the last scan of each lane and not started yet, oldest due
    // first. A finished send starts the next one from here; a lane is read again only
    // when its queue runs dry (so a backlog costs one scan per `cfg.batch` sends), and a
    // lane whose channel is down is not read until its probe is due.
    let mut lanes = Lanes::default();
    loop {
        let rescan = tokio::select! {
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => break,
            _ = wake.notified() => true,
            _ = tick.tick() => true,
            _ = shared.slot_free.notified() => {
                if lanes.is_idle() {
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
                if lanes.is_idle() {
                    continue;
                }
                false
            }
        };
        lanes.refill(&shared, &cfg, rescan).await;
        lanes.start_sends(&shared, &limits, &mut tasks);
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

#[cfg(test)]
mod tests;
