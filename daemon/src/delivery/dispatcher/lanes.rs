//! The dispatcher's queues, one per lane (message class × channel): refilled from that
//! lane's due index when they run dry, drained into sends while the channel has free
//! slots — transactional lanes first — and, on a channel that is down, only into its
//! one probe when that is due.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::{attempt, DispatcherConfig, InFlight, Shared};
use crate::clock::now_ms;
use crate::delivery::health::{Admit, SendKind};
use crate::delivery::outbox::reads;
use crate::domain::customer::Channel;
use crate::domain::message::{Lane, OutboxEntry};

/// One lane's scanned entries waiting for a slot, and whether it is owed a scan.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<OutboxEntry>,
    /// Read again as soon as the queue is empty: the last scan stopped at the batch
    /// size, or a wake-up or tick came while the queue was still full.
    owed: bool,
}

/// The queues of [`Lane::ALL`], in that order.
#[derive(Default)]
pub(super) struct Lanes([Queue; Lane::ALL.len()]);

impl Lanes {
    /// Nothing queued and no scan owed: a finished send has nothing to start.
    pub(super) fn is_idle(&self) -> bool {
        self.0.iter().all(|q| q.waiting.is_empty() && !q.owed)
    }

    /// Reads the lanes that ran dry and may send now (their channel is up, or its probe
    /// is due) when a scan was asked for (`rescan`) or is owed; a lane still holding
    /// entries is owed one instead.
    pub(super) async fn refill(
        &mut self,
        shared: &Arc<Shared>,
        cfg: &DispatcherConfig,
        rescan: bool,
    ) {
        let now = now_ms();
        let health = &shared.stats.health;
        let mut wanted = Vec::new();
        for (lane, q) in Lane::ALL.into_iter().zip(self.0.iter_mut()) {
            if !q.waiting.is_empty() {
                q.owed |= rescan;
            } else if (rescan || q.owed) && health.admit(lane.channel, now) != Admit::Wait {
                wanted.push(lane);
            }
        }
        if wanted.is_empty() {
            return;
        }
        let busy = match shared.in_flight.lock() {
            Ok(set) => set.clone(),
            Err(_) => return,
        };
        let limit = cfg.batch;
        let lanes = wanted.clone();
        let scanned = shared
            .store
            .read(move |s| {
                lanes
                    .into_iter()
                    .map(|lane| reads::scan_due(s, lane, now, limit, |seq| !busy.contains(&seq)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await;
        let scans = match scanned {
            Ok(scans) => scans,
            Err(e) => {
                tracing::error!(error = %e, "Cannot read the outbox; retrying at the next poll.");
                return;
            }
        };
        let mut stale = Vec::new();
        for (lane, scan) in wanted.into_iter().zip(scans) {
            let full = scan.entries.len() + scan.stale.len() >= limit;
            if let Some(q) = self.queue(lane) {
                q.waiting.extend(scan.entries);
                q.owed = full;
            }
            stale.extend(scan.stale);
        }
        if let Err(e) = shared.outbox.remove_stale(stale).await {
            tracing::warn!(error = %e, "Cannot remove stale outbox_due keys.");
        }
    }

    fn queue(&mut self, lane: Lane) -> Option<&mut Queue> {
        let i = Lane::ALL.iter().position(|l| *l == lane)?;
        self.0.get_mut(i)
    }

    /// Starts sends for queued entries while their channel has room: every slot while it
    /// is up, one probe when it is down and the probe is due, nothing otherwise.
    pub(super) fn start_sends(
        &mut self,
        shared: &Arc<Shared>,
        limits: &[(Channel, Arc<Semaphore>); 3],
        tasks: &mut JoinSet<()>,
    ) {
        let now = now_ms();
        let health = &shared.stats.health;
        for (lane, q) in Lane::ALL.into_iter().zip(self.0.iter_mut()) {
            let Some((_, sem)) = limits.iter().find(|(c, _)| *c == lane.channel) else {
                continue;
            };
            match health.admit(lane.channel, now) {
                Admit::Wait => {}
                Admit::Send => {
                    let kind = SendKind::Regular { started_ms: now };
                    while !q.waiting.is_empty() {
                        let Ok(permit) = sem.clone().try_acquire_owned() else {
                            break;
                        };
                        if let Some(entry) = q.waiting.pop_front() {
                            spawn(shared, tasks, entry, permit, kind);
                        }
                    }
                }
                Admit::Probe => {
                    let Ok(permit) = sem.clone().try_acquire_owned() else {
                        continue;
                    };
                    let Some(entry) = q.waiting.pop_front() else {
                        continue;
                    };
                    if health.start_probe(lane.channel, now) {
                        spawn(shared, tasks, entry, permit, SendKind::Probe);
                    } else {
                        q.waiting.push_front(entry);
                    }
                }
            }
        }
    }
}

/// One send task for `entry`, unless the same seq is in flight already.
fn spawn(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    entry: OutboxEntry,
    permit: OwnedSemaphorePermit,
    kind: SendKind,
) {
    let inserted = shared
        .in_flight
        .lock()
        .map(|mut set| set.insert(entry.seq))
        .unwrap_or(false);
    if !inserted {
        if kind == SendKind::Probe {
            // Give the probe slot back: nothing went out.
            shared.stats.health.record(
                entry.channel,
                kind,
                crate::delivery::health::Outcome::NotSent,
                now_ms(),
            );
        }
        return;
    }
    let guard = InFlight {
        shared: shared.clone(),
        seq: entry.seq,
    };
    tasks.spawn(async move {
        attempt::deliver(&guard.shared, &entry, permit, kind).await;
        drop(guard);
    });
}
