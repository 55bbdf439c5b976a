//! `Admin.WatchOverview`: a snapshot of the daemon's counters about once a second, with
//! per-second rates over the last interval. The stream ends when the client hangs up or
//! the daemon shuts down.

use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use futures::Stream;
use stockbell_proto::v1 as pb;
use tokio::time::MissedTickBehavior;
use tonic::Status;

use super::admin::AdminApi;
use crate::delivery::health::Health;
use crate::delivery::outbox::reads::{self, Census};
use crate::domain::customer::Scenario;

pub type OverviewStream = Pin<Box<dyn Stream<Item = Result<pb::Overview, Status>> + Send>>;

/// Due entries counted at most per snapshot (the count says "at least" past it).
pub(super) const MAX_DUE_COUNT: u64 = 100_000;

/// The counters since start (the overview's totals; `/metrics` exports the same).
pub(super) fn totals(api: &AdminApi) -> pb::Totals {
    let m = &api.metrics;
    let queued = Scenario::ALL
        .iter()
        .map(|&s| m.scenario(s).queued.load(Relaxed))
        .sum();
    pb::Totals {
        batches: m.batches.load(Relaxed),
        events: m.events_applied.load(Relaxed),
        rejected: m.events_rejected.load(Relaxed),
        duplicates: m.duplicates.load(Relaxed),
        triggers: m.triggers.iter().map(|t| t.load(Relaxed)).sum(),
        queued,
        sent: api.delivery.delivered.load(Relaxed),
        failed: api.delivery.failed.load(Relaxed),
    }
}

fn rates(now: &pb::Totals, before: &pb::Totals, secs: f64) -> pb::Rates {
    let per_s = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs.max(1e-3);
    pb::Rates {
        events: per_s(now.events, before.events),
        rejected: per_s(now.rejected, before.rejected),
        triggers: per_s(now.triggers, before.triggers),
        queued: per_s(now.queued, before.queued),
        sent: per_s(now.sent, before.sent),
        failed: per_s(now.failed, before.failed),
    }
}

/// The outbox by state: the census taken at start plus every transition since.
pub(super) fn depth(api: &AdminApi, t: &pb::Totals, due: u64) -> pb::OutboxDepth {
    let cancelled = api.metrics.outbox_cancelled.load(Relaxed);
    let requeued = api.metrics.outbox_requeued.load(Relaxed);
    depth_of(api.census, t, (cancelled, requeued), due)
}

/// [`depth`] from its parts: the census at start, the totals, the outbox transitions the
/// dispatcher does not count (cancelled, requeued) and the due count.
fn depth_of(
    c: Census,
    t: &pb::Totals,
    (cancelled, requeued): (u64, u64),
    due: u64,
) -> pb::OutboxDepth {
    pb::OutboxDepth {
        pending: (c.pending + t.queued + requeued).saturating_sub(t.sent + t.failed + cancelled),
        delivered: c.delivered + t.sent,
        failed: (c.failed + t.failed).saturating_sub(requeued),
        cancelled: c.cancelled + cancelled,
        due,
    }
}

fn latency(api: &AdminApi) -> pb::Latency {
    let d = &api.delivery;
    let q = |x: f64| {
        d.latency_quantile(x)
            .map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX))
    };
    pb::Latency {
        samples: d.latency.iter().map(|c| c.load(Relaxed)).sum(),
        p50_ms: q(0.5),
        p90_ms: q(0.9),
        p99_ms: q(0.99),
        max_ms: q(1.0),
    }
}

/// Each configured channel's health, as the board has it now.
pub(super) fn channels(api: &AdminApi) -> Vec<pb::ChannelHealth> {
    api.delivery
        .health
        .snapshot()
        .into_iter()
        .map(|c| match c.health {
            Health::Up => pb::ChannelHealth {
                channel: c.channel.as_str().into(),
                ..Default::default()
            },
            Health::Down(o) => pb::ChannelHealth {
                channel: c.channel.as_str().into(),
                down: true,
                down_since_ms: o.since_ms,
                last_error: o.last_error,
                next_probe_ms: o.next_probe_ms,
                failed_probes: o.failed_probes,
            },
        })
        .collect()
}

impl AdminApi {
    /// One snapshot; `before` is the previous one's totals and when they were taken.
    async fn snapshot(&self, before: Option<(&pb::Totals, Instant)>) -> pb::Overview {
        let t = totals(self);
        let now_ms = crate::clock::now_ms();
        let (due, size) = self
            .store
            .read(move |s| {
                let due = reads::count_due(s, now_ms, MAX_DUE_COUNT).unwrap_or(0);
                Ok((due, s.approximate_size()))
            })
            .await
            .unwrap_or((0, 0));
        let m = &self.metrics;
        let scenarios = self.scenario_stats().scenarios;
        let paused_scenarios = scenarios
            .iter()
            .filter(|s| s.paused)
            .map(|s| s.scenario.clone())
            .collect();
        pb::Overview {
            at_ms: now_ms,
            version: env!("CARGO_PKG_VERSION").into(),
            started_ms: self.started_ms,
            health: m
                .fatal()
                .or_else(|| self.store_health.state().summary())
                .unwrap_or_else(|| "ok".into()),
            rates: Some(match before {
                Some((b, at)) => rates(&t, b, at.elapsed().as_secs_f64()),
                None => pb::Rates::default(),
            }),
            scenarios,
            outbox: Some(depth(self, &t, due)),
            delivery_latency: Some(latency(self)),
            actors: Some(pb::Actors {
                active_products: m.active_products.load(Relaxed),
                active_customers: m.active_customers.load(Relaxed),
                passivated: m.passivated.load(Relaxed),
            }),
            store_bytes: size,
            triggers_waiting: m
                .last_trigger_id
                .load(Relaxed)
                .saturating_sub(m.fanout_cursor.load(Relaxed)),
            totals: Some(t),
            channels: channels(self),
            paused_scenarios,
        }
    }

    pub(super) fn watch(&self, r: pb::WatchOverviewRequest) -> Result<OverviewStream, Status> {
        let every = match r.interval_ms {
            0 => Duration::from_secs(1),
            n if n < 200 => {
                return Err(Status::invalid_argument(format!(
                    "interval_ms {n}: use at least 200 (or 0 for once a second)"
                )))
            }
            n => Duration::from_millis(u64::from(n)),
        };
        let api = self.clone();
        let mut shutdown = self.shutdown.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut before: Option<(pb::Totals, Instant)> = None;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                    () = tx.closed() => return,
                }
                let at = Instant::now();
                let o = api.snapshot(before.as_ref().map(|(t, i)| (t, *i))).await;
                before = o.totals.map(|t| (t, at));
                if tx.send(Ok(o)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_and_never_negative() {
        let before = pb::Totals {
            events: 100,
            sent: 10,
            ..Default::default()
        };
        let now = pb::Totals {
            events: 600,
            sent: 5,
            ..Default::default()
        };
        let r = rates(&now, &before, 0.5);
        assert_eq!(r.events, 1000.0);
        assert_eq!(r.sent, 0.0);
    }

    #[test]
    fn depth_adds_transitions_to_the_census() {
        let census = Census {
            pending: 10,
            delivered: 100,
            failed: 5,
            cancelled: 2,
        };
        let t = pb::Totals {
            queued: 20,
            sent: 12,
            failed: 3,
            ..Default::default()
        };
        // pending: 10 + 20 queued + 1 requeued - 12 sent - 3 failed - 4 cancelled = 12
        let d = depth_of(census, &t, (4, 1), 7);
        assert_eq!(
            (d.pending, d.delivered, d.failed, d.cancelled, d.due),
            (12, 112, 7, 6, 7)
        );
        // Never below zero (more sent than queued since start: the census was low).
        let t = pb::Totals {
            queued: 1,
            sent: 5,
            ..Default::default()
        };
        let d = depth_of(Census::default(), &t, (0, 0), 0);
        assert_eq!((d.pending, d.delivered), (0, 5));
    }
}
