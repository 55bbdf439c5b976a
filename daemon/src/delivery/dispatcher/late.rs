//! Before an attempt: the entry as stored now, unless it must not go — cancelled meanwhile,
//! its scenario disabled, expired (marketing past its scenario's `max_age`), or late
//! marketing none of whose items still hold (`domain::late`). A late message goes out with
//! the items that still hold, rendered from a filtered copy of its context (the stored
//! entry keeps all of them). Products come from the port, each reused for
//! [`PRODUCT_TTL`] so a backlog about one product asks once.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Shared;
use crate::clock::now_ms;
use crate::delivery::outbox::reads;
use crate::delivery::port::DeliveryPort;
use crate::delivery::SendError;
use crate::domain::customer::SuppressReason;
use crate::domain::late::{expired_reason, recheck, turn, Dropped, Turn};
use crate::domain::message::{OutboxEntry, OutboxStatus};
use crate::domain::product::ProductState;
use crate::domain::worth::Stale;

/// How long a product looked up for a re-check is reused.
const PRODUCT_TTL: Duration = Duration::from_secs(1);
/// Products kept at most; past it the expired ones are dropped.
const MAX_PRODUCTS: usize = 4096;

/// What an attempt sends.
pub(super) struct Ready {
    /// The entry as stored.
    pub entry: OutboxEntry,
    /// A copy with only the items that still hold, when a re-check left some out: that
    /// is what is rendered and sent.
    pub filtered: Option<OutboxEntry>,
    /// Items left out by the re-check (counted as `stale` once it is delivered).
    pub dropped: usize,
}

impl Ready {
    /// What is rendered and sent.
    pub fn to_send(&self) -> &OutboxEntry {
        self.filtered.as_ref().unwrap_or(&self.entry)
    }
}

/// The entry to send now, or `None` when nothing is to be sent (and why is handled).
pub(super) async fn prepare(shared: &Shared, seq: u64) -> Option<Ready> {
    // Re-read: an unsubscribe may have cancelled it since the scan.
    let entry = match shared.store.read(move |s| reads::load(s, seq)).await {
        Ok(Some(e)) if e.status == OutboxStatus::Pending => e,
        Ok(_) => {
            shared.stats.skipped.fetch_add(1, Relaxed);
            return None;
        }
        Err(e) => {
            tracing::error!(seq, error = %e, "Cannot read an outbox entry; it stays Pending.");
            return None;
        }
    };
    let rules = shared.rules.get();
    let scenario = entry.scenario.as_str();
    if !rules.enabled(entry.scenario) {
        let why = format!("not sent: scenario {scenario} was disabled by an operator");
        if cancel(shared, &entry, why, None).await {
            tracing::info!(
                seq,
                scenario,
                "Cancelled a queued message of a disabled scenario."
            );
        }
        return None;
    }
    let now = now_ms();
    match turn(&entry, rules.max_age_ms(entry.scenario), now) {
        Turn::AsQueued => Some(Ready {
            entry,
            filtered: None,
            dropped: 0,
        }),
        Turn::Expired { age_ms, max_age_ms } => {
            let why = expired_reason(scenario, age_ms, max_age_ms);
            if cancel(shared, &entry, why, Some(SuppressReason::Expired)).await {
                tracing::debug!(seq, scenario, age_ms, "Not sent: expired.");
            }
            None
        }
        Turn::Recheck => {
            let skus: Vec<String> = entry.context.items.iter().map(|i| i.sku.clone()).collect();
            let products = match shared.products.get(shared.port.as_ref(), skus).await {
                Ok(p) => p,
                Err(e) => {
                    // Nothing is dropped for a lookup that failed: try again later.
                    let why = format!("cannot re-check the products before sending: {e}");
                    let _ = shared
                        .outbox
                        .record(seq, Err(SendError::Transient(why)), now)
                        .await;
                    return None;
                }
            };
            let mut r = recheck(
                &entry,
                |sku| products.get(sku)?.as_ref(),
                now,
                &shared.triggers,
            );
            if entry.scenario.is_journey() {
                // A cart reminder also needs its cart as it was: not ordered, bought or
                // changed since it was decided.
                let journey = match shared.port.journey(entry.customer_id.clone()).await {
                    Ok(j) => j.unwrap_or_default(),
                    Err(e) => {
                        let why = format!("cannot re-check the cart before sending: {e}");
                        let _ = shared
                            .outbox
                            .record(seq, Err(SendError::Transient(why)), now)
                            .await;
                        return None;
                    }
                };
                let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut r.keep)
                    .into_iter()
                    .partition(|i| journey.still_holds(&i.sku, entry.created_ms));
                r.keep = keep;
                if r.keep.is_empty() && !gone.is_empty() {
                    let why = "not sent: the cart was ordered, bought or changed since this reminder was decided".to_string();
                    let reason = Some(SuppressReason::Purchased);
                    if cancel(shared, &entry, why, reason).await {
                        tracing::debug!(seq, scenario, "Not sent: the cart moved on.");
                    }
                    return None;
                }
                r.dropped.extend(gone.into_iter().map(|i| Dropped {
                    sku: i.sku,
                    why: Stale::CartMoved,
                }));
            }
            // A message that shows no product (birthday) has nothing to go stale.
            if r.keep.is_empty() && !r.dropped.is_empty() {
                let why = r.reason();
                if cancel(shared, &entry, why, Some(SuppressReason::Stale)).await {
                    tracing::debug!(seq, scenario, "Not sent: stale.");
                }
                return None;
            }
            let dropped = r.dropped.len();
            let filtered = (dropped > 0).then(|| {
                let mut copy = entry.clone();
                copy.context.items = r.keep;
                copy
            });
            Some(Ready {
                entry,
                filtered,
                dropped,
            })
        }
    }
}

/// Cancels `entry` saying why; counts it (and each of its items for `reason`). `false`
/// when it was not Pending any more or the change failed.
async fn cancel(
    shared: &Shared,
    entry: &OutboxEntry,
    why: String,
    reason: Option<SuppressReason>,
) -> bool {
    match shared.outbox.cancel(entry.seq, why).await {
        Ok(Some(_)) => {
            shared.metrics.outbox_cancelled.fetch_add(1, Relaxed);
            if let Some(reason) = reason {
                let items = u64::try_from(entry.context.items.len()).unwrap_or(u64::MAX);
                shared
                    .metrics
                    .add_suppressed(entry.scenario, reason, items.max(1));
            }
            true
        }
        Ok(None) => {
            shared.stats.skipped.fetch_add(1, Relaxed);
            false
        }
        Err(e) => {
            tracing::error!(seq = entry.seq, error = %e, "Cannot cancel an outbox entry; it stays Pending.");
            false
        }
    }
}

/// Products looked up through the port, each kept for [`PRODUCT_TTL`].
#[derive(Default)]
pub(super) struct Products {
    cache: Mutex<HashMap<String, (Instant, Option<ProductState>)>>,
}

impl Products {
    /// The current state of each of `skus` (`None`: unknown to the daemon).
    pub(super) async fn get(
        &self,
        port: &dyn DeliveryPort,
        skus: Vec<String>,
    ) -> Result<HashMap<String, Option<ProductState>>, String> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.cache.lock().ok();
            for sku in skus {
                let fresh = cache
                    .as_ref()
                    .and_then(|c| c.get(&sku))
                    .filter(|(at, _)| at.elapsed() < PRODUCT_TTL);
                match fresh {
                    Some((_, p)) => {
                        found.insert(sku, p.clone());
                    }
                    None => missing.push(sku),
                }
            }
        }
        for sku in missing {
            let product = port.product(sku.clone()).await?;
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= MAX_PRODUCTS {
                    cache.retain(|_, (at, _)| at.elapsed() < PRODUCT_TTL);
                }
                cache.insert(sku.clone(), (Instant::now(), product.clone()));
            }
            found.insert(sku, product);
        }
        Ok(found)
    }
}
