//! The related-products table's one writer: follows the placed-order log (the Router
//! writes one record per new order, in the batch that places it) from its durable
//! cursor, and counts each order's co-purchases (`domain::order::related`) into the
//! SKUs' records, their categories' best sellers and the order total. The records and
//! the cursor go in one write, so a crash neither loses an order nor counts it twice;
//! ingest never waits for it.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::order::related::{
    order_skus, record_order, CategoryBestSellers, CoPurchase, OrderTotal, PlacedOrder,
    RelatedConfig,
};
use crate::store::records::Products;
use crate::store::related::{
    CategorySellers, OrderTotals, PlacedOrders, RelatedCursor, RelatedRecords,
};
use crate::store::writer::Writer;
use crate::store::{Batch, Seek, Store, StoreError};

/// Placed orders counted per write.
const ROUND: usize = 256;

pub struct RelatedFollower {
    pub store: Store,
    pub writer: Writer,
    pub cfg: RelatedConfig,
}

impl RelatedFollower {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut cursor = match self.store.read(|s| s.get::<RelatedCursor>(())).await {
            Ok(c) => c.unwrap_or(0),
            Err(e) => {
                tracing::error!(error = %e, "Cannot read the related-products cursor; starting from the first order.");
                0
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            loop {
                match self.round(cursor).await {
                    Ok(Some(next)) => cursor = next,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, cursor, "Counting co-purchases paused; retrying shortly.");
                        break;
                    }
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }

    /// Counts the orders after `cursor`; returns the new cursor, or None when idle.
    pub async fn round(&self, cursor: u64) -> Result<Option<u64>, StoreError> {
        let cfg = self.cfg;
        let Some((batch, last)) = self
            .store
            .read(move |s| plan_round(s, cursor, &cfg))
            .await?
        else {
            return Ok(None);
        };
        self.writer.write(batch, 0).await?;
        Ok(Some(last))
    }
}

/// The write counting the placed orders after `cursor` (up to `ROUND`), with the new
/// cursor; None when there are none.
pub fn plan_round(
    s: &Store,
    cursor: u64,
    cfg: &RelatedConfig,
) -> Result<Option<(Batch, u64)>, StoreError> {
    let mut orders: Vec<PlacedOrder> = Vec::new();
    let mut last = None;
    for row in s
        .iter::<PlacedOrders>(Seek::From(cursor.saturating_add(1)))?
        .take(ROUND)
    {
        match row {
            Ok((id, order)) => {
                last = Some(id);
                orders.push(order);
            }
            Err(e) => tracing::error!(error = %e, "Skipping an unreadable placed order."),
        }
    }
    let Some(last) = last else {
        return Ok(None);
    };
    let per_order: Vec<Vec<String>> = orders
        .iter()
        .map(|o| order_skus(o.skus.iter().map(String::as_str), cfg))
        .collect();
    let mut skus: Vec<&str> = per_order.iter().flatten().map(String::as_str).collect();
    skus.sort_unstable();
    skus.dedup();
    let mut records: HashMap<String, CoPurchase> = skus
        .iter()
        .zip(s.multi_get::<RelatedRecords>(skus.iter().copied())?)
        .filter_map(|(sku, r)| Some(((*sku).to_owned(), r?)))
        .collect();
    let categories_of: HashMap<String, Vec<String>> = skus
        .iter()
        .zip(s.multi_get::<Products>(skus.iter().copied())?)
        .filter_map(|(sku, p)| Some(((*sku).to_owned(), p?.catalogue.category_ids)))
        .collect();
    let mut cats: Vec<&str> = categories_of
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    cats.sort_unstable();
    cats.dedup();
    let mut sellers: HashMap<String, CategoryBestSellers> = cats
        .iter()
        .zip(s.multi_get::<CategorySellers>(cats.iter().copied())?)
        .filter_map(|(c, b)| Some(((*c).to_owned(), b?)))
        .collect();
    let mut total: OrderTotal = s.get::<OrderTotals>(())?.unwrap_or_default();
    for (order, skus) in orders.iter().zip(&per_order) {
        let mut recs: Vec<CoPurchase> = skus
            .iter()
            .map(|sku| {
                records
                    .remove(sku)
                    .unwrap_or_else(|| CoPurchase::new(sku, order.at_ms))
            })
            .collect();
        record_order(&mut total, &mut recs, order.at_ms, cfg);
        for r in recs {
            records.insert(r.sku.clone(), r);
        }
        for sku in skus {
            for cat in categories_of.get(sku).into_iter().flatten() {
                sellers
                    .entry(cat.clone())
                    .or_insert_with(|| CategoryBestSellers::new(cat, order.at_ms))
                    .record(sku, order.at_ms, cfg);
            }
        }
    }
    let mut batch = Batch::default();
    for (sku, r) in &records {
        batch.put::<RelatedRecords>(sku, r);
    }
    for (cat, b) in &sellers {
        batch.put::<CategorySellers>(cat, b);
    }
    batch.put::<OrderTotals>((), &total);
    batch.put::<RelatedCursor>((), &last);
    Ok(Some((batch, last)))
}

#[cfg(test)]
#[path = "related_tests.rs"]
mod tests;
