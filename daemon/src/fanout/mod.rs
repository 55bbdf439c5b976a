//! Fan-out: follows the trigger log from a durable cursor and hands each trigger's
//! audience to the customers through the Router (and, in `notices.rs`, the order-notice
//! log to each order's customer), which stores their decisions and the
//! cursor in one write — so every trigger is fanned out exactly once, across restarts.
//! A trigger carries the product as it was when it fired, so the fan-out reads only
//! the store; a back-in-stock audience larger than the stock allows is released in
//! batches (`domain::release`), each re-checked against the product's current state.

pub mod audience;
pub mod notices;
pub mod reach;
pub mod related;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::actors::{Handoff, RouterHandle};
use crate::domain::customer::{Scenario, SuppressReason};
use crate::domain::interest::InterestWeights;
use crate::domain::product::ProductState;
use crate::domain::release::{self, Release};
use crate::domain::worth::still_worth_sending;
use crate::domain::{Millis, TriggerConfig};
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::meta::{FanoutCursor, Releases};
use crate::store::records::Triggers;
use crate::store::{Seek, Store, StoreError};

/// Triggers read per round.
const ROUND: usize = 16;

pub struct Fanout {
    pub store: Store,
    pub router: RouterHandle,
    pub rules: Arc<LiveRules>,
    pub weights: InterestWeights,
    pub triggers: Arc<TriggerConfig>,
    pub metrics: Arc<Metrics>,
    /// Woken when new triggers are durable.
    pub wake: Arc<Notify>,
}

impl Fanout {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut cursor = match self.store.read(|s| s.get::<FanoutCursor>(())).await {
            Ok(c) => c.unwrap_or(0),
            Err(e) => {
                tracing::error!(error = %e, "Cannot read the fan-out cursor; starting from the first trigger.");
                0
            }
        };
        let published = |c: u64| self.metrics.fanout_cursor.store(c, Relaxed);
        published(cursor);
        let mut notice_cursor = match notices::cursor(&self.store).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "Cannot read the order-notice cursor; starting from the first notice.");
                0
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if let Err(e) = self.release_due().await {
                tracing::warn!(error = %e, "Batch release paused; retrying shortly.");
            }
            loop {
                match notices::round(&self.store, &self.router, notice_cursor).await {
                    Ok(Some(next)) => notice_cursor = next,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, cursor = notice_cursor, "Order notices paused; retrying shortly.");
                        break;
                    }
                }
                if *shutdown.borrow() {
                    return;
                }
            }
            loop {
                match self.round(cursor).await {
                    Ok(Some(next)) => {
                        cursor = next;
                        published(cursor);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, cursor, "Fan-out paused; retrying shortly.");
                        break;
                    }
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }

    /// Fans out the triggers after `cursor`; returns the new cursor, or None when idle.
    async fn round(&self, cursor: u64) -> anyhow::Result<Option<u64>> {
        // One snapshot of the rules per round (operators may change them meanwhile).
        let rules = self.rules.get();
        let now = crate::clock::now_ms();
        let picked_up = std::time::Instant::now();
        let (weights, triggers) = (self.weights.clone(), self.triggers.clone());
        let round = self
            .store
            .read(move |store| {
                let policy = audience::Policy {
                    rules: &rules,
                    weights: &weights,
                    triggers: &triggers,
                };
                plan_round(store, cursor, &policy, now)
            })
            .await?;
        let Some(last) = round.handoff.cursor else {
            return Ok(None);
        };
        for c in &round.counts {
            let counters = self.metrics.scenario(c.scenario);
            counters.audience.fetch_add(c.offered, Relaxed);
            for (reason, n) in &c.left_out {
                if *n > 0 && *reason != SuppressReason::BelowThreshold {
                    self.metrics.add_suppressed(c.scenario, *reason, *n);
                }
            }
        }
        self.router.hand_off(round.handoff).await?;
        // Every trigger of the round had its decisions written by that one hand-off.
        let took = picked_up.elapsed();
        for c in &round.counts {
            self.metrics
                .histograms
                .observe_fanout(c.scenario.as_str(), took);
        }
        Ok(Some(last))
    }

    /// Releases the next batch of every waiting back-in-stock audience that is due, while
    /// the product still holds; the rest of an audience is dropped once it does not.
    async fn release_due(&self) -> anyhow::Result<()> {
        let now = crate::clock::now_ms();
        let due = self
            .store
            .read(move |s| {
                let mut due = Vec::new();
                for row in s.iter_prefix::<Releases>((), Seek::First)? {
                    let (id, r) = row?;
                    if r.due_ms <= now {
                        due.push((id, r));
                    }
                }
                Ok(due)
            })
            .await?;
        for (id, mut r) in due {
            let product = self
                .router
                .get_product(r.sku.clone())
                .await?
                .map(|f| f.state);
            let holds = |p: &ProductState| match r.waiting.first() {
                Some(a) => still_worth_sending(
                    Scenario::BackInStock,
                    &a.offer.item,
                    Some(p),
                    now,
                    &self.triggers,
                )
                .is_ok(),
                None => false,
            };
            let mut handoff = Handoff::default();
            match product.filter(holds) {
                None => {
                    tracing::info!(sku = %r.sku, waiting = r.waiting.len(), "Sold out again: the rest of the back-in-stock audience is not notified.");
                    handoff.releases.push((id, None));
                }
                Some(p) => {
                    let (next, rest) = release::take(
                        std::mem::take(&mut r.waiting),
                        release::batch_size(r.per_unit, p.available()),
                    );
                    handoff.offers = next;
                    r.waiting = rest;
                    r.due_ms = now + r.interval_ms;
                    let keep = (!r.waiting.is_empty()).then_some(r);
                    handoff.releases.push((id, keep));
                }
            }
            self.router.hand_off(handoff).await?;
        }
        Ok(())
    }
}

/// One round of fan-out: the hand-off to write and what to count.
#[derive(Default)]
struct Round {
    handoff: Handoff,
    counts: Vec<Counted>,
}

/// One trigger's audience in numbers.
struct Counted {
    scenario: Scenario,
    offered: u64,
    left_out: Vec<(SuppressReason, u64)>,
}

/// The audiences of the next triggers after `cursor` (on a blocking thread). A
/// back-in-stock audience larger than the stock allows starts a release; customers
/// waiting in a release of a product (stored, or started earlier in this round) are
/// left out of its low-stock audience.
fn plan_round(
    store: &Store,
    cursor: u64,
    policy: &audience::Policy<'_>,
    now: Millis,
) -> Result<Round, StoreError> {
    let mut round = Round::default();
    let mut started: HashMap<String, HashSet<String>> = HashMap::new();
    for row in store
        .iter::<Triggers>(Seek::From(cursor.saturating_add(1)))?
        .take(ROUND)
    {
        let (id, t) = match row {
            Ok(row) => row,
            Err(e) => {
                tracing::error!(error = %e, "Skipping an unreadable trigger.");
                continue;
            }
        };
        round.handoff.cursor = Some(id);
        let scenario = Scenario::from(t.kind);
        if !policy.rules.enabled(scenario) {
            continue;
        }
        let mut waiting = HashSet::new();
        if scenario == Scenario::LowStock {
            waiting = audience::waiting_for_restock(store, &t.sku)?;
            waiting.extend(started.get(&t.sku).into_iter().flatten().cloned());
        }
        let found = audience::audience(store, id, &t, policy, now, &waiting)?;
        round.counts.push(Counted {
            scenario,
            offered: found.offers.len() as u64,
            left_out: found.left_out,
        });
        let (per_unit, interval_ms) = policy.rules.batching(scenario);
        if scenario == Scenario::BackInStock && per_unit > 0 {
            let (now_batch, rest) =
                release::take(found.offers, release::batch_size(per_unit, t.new_stock));
            round.handoff.offers.extend(now_batch);
            if !rest.is_empty() {
                let ids = rest.iter().map(|a| a.customer_id.clone());
                started.entry(t.sku.clone()).or_default().extend(ids);
                let r = Release {
                    sku: t.sku.clone(),
                    waiting: rest,
                    due_ms: now + interval_ms,
                    per_unit,
                    interval_ms,
                };
                round.handoff.releases.push((id, Some(r)));
            }
        } else {
            round.handoff.offers.extend(found.offers);
        }
    }
    Ok(round)
}
