//! Fan-out: follows the trigger log from a durable cursor and hands each trigger's
//! audience to the customers through the Router, which stores their decisions and the
//! cursor in one write — so every trigger is fanned out exactly once, across restarts.

pub mod audience;
pub mod reach;
pub mod release;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::actors::persist_keys::FANOUT_CURSOR;
use crate::actors::RouterHandle;
use crate::domain::customer::{Scenario, SuppressReason};
use crate::domain::interest::InterestWeights;
use crate::domain::TriggerConfig;
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::schema::{decode_trigger, decode_trigger_key, trigger_key};
use crate::store::{Cf, Store};

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
    /// The durable cursor, read on a blocking thread (it is a RocksDB read).
    async fn cursor(&self) -> u64 {
        let store = self.store.clone();
        let raw = tokio::task::spawn_blocking(move || store.get_raw(Cf::Meta, FANOUT_CURSOR)).await;
        match raw.unwrap_or(Ok(None)) {
            Ok(Some(b)) => b
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_be_bytes),
            _ => 0,
        }
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut cursor = self.cursor().await;
        let published = |c: u64| {
            self.metrics
                .fanout_cursor
                .store(c, std::sync::atomic::Ordering::Relaxed)
        };
        published(cursor);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if let Err(e) = self.release_due(cursor).await {
                tracing::warn!(error = %e, "Batch release paused; retrying shortly.");
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
        let store = self.store.clone();
        let from = trigger_key(cursor.saturating_add(1));
        let rows = tokio::task::spawn_blocking(move || {
            store.scan_raw(Cf::Triggers, &from, true, ROUND, |_| true)
        })
        .await??;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut offers = Vec::new();
        let mut meta = Vec::new();
        let mut last = cursor;
        // One snapshot of the rules per round (operators may change them meanwhile).
        let rules = self.rules.get();
        let now = crate::clock::now_ms();
        for (k, v) in rows {
            let (Some(id), Ok(t)) = (decode_trigger_key(&k), decode_trigger(&v)) else {
                continue;
            };
            last = id;
            let scenario = Scenario::from(t.kind);
            if !rules.enabled(scenario) {
                continue;
            }
            let Some((product, _)) = self.router.get_product(t.sku.clone()).await? else {
                continue;
            };
            let (sku, product_stock) = (product.sku.clone(), product.stock);
            let (store, snapshot, weights, trig) = (
                self.store.clone(),
                rules.clone(),
                self.weights.clone(),
                self.triggers.clone(),
            );
            let found = tokio::task::spawn_blocking(move || {
                let policy = audience::Policy {
                    rules: &snapshot,
                    weights: &weights,
                    triggers: &trig,
                };
                audience::audience(&store, id, &t, &product, &policy, now)
            })
            .await??;
            let counters = self.metrics.scenario(scenario);
            counters.audience.fetch_add(
                found.offers.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            for (reason, n) in found.left_out {
                if n > 0 && reason != SuppressReason::BelowThreshold {
                    self.metrics.add_suppressed(scenario, reason, n);
                }
            }
            let (per_unit, interval_ms) = rules.batching(scenario);
            if scenario == Scenario::BackInStock && per_unit > 0 {
                let (now_batch, rest) =
                    release::take(found.offers, release::batch_size(per_unit, product_stock));
                offers.extend(now_batch);
                if !rest.is_empty() {
                    let r = release::Release {
                        sku: sku.clone(),
                        offers: rest,
                        due_ms: now + interval_ms,
                        per_unit,
                        interval_ms,
                    };
                    meta.push((release::key(id), Some(release::encode(&r))));
                }
            } else {
                offers.extend(found.offers);
            }
        }
        self.router.offers(last, offers, meta).await?;
        Ok(Some(last))
    }

    /// Releases the next batch of every waiting back-in-stock audience that is due.
    async fn release_due(&self, cursor: u64) -> anyhow::Result<()> {
        let store = self.store.clone();
        let rows = tokio::task::spawn_blocking(move || {
            store.scan_raw(Cf::Meta, release::PREFIX, true, 1000, |k| {
                k.starts_with(release::PREFIX)
            })
        })
        .await??;
        let now = crate::clock::now_ms();
        for (k, v) in rows {
            let mut r = release::decode(&v)?;
            if r.due_ms > now {
                continue;
            }
            let product = self
                .router
                .get_product(r.sku.clone())
                .await?
                .map(|(p, _)| p);
            let mut offers = Vec::new();
            let value = match product
                .filter(|p| release::still_in_stock(p, now, self.triggers.min_restock_qty))
            {
                None => {
                    tracing::info!(sku = %r.sku, waiting = r.offers.len(), "Sold out again: the rest of the back-in-stock audience is not notified.");
                    None
                }
                Some(p) => {
                    let (next, rest) = release::take(
                        std::mem::take(&mut r.offers),
                        release::batch_size(r.per_unit, p.stock),
                    );
                    offers = next;
                    r.offers = rest;
                    r.due_ms = now + r.interval_ms;
                    (!r.offers.is_empty()).then(|| release::encode(&r))
                }
            };
            self.router
                .offers(cursor, offers, vec![(k.to_vec(), value)])
                .await?;
        }
        Ok(())
    }
}
