//! The daemon's one in-memory table of customer rows (`domain::segments::Row`), what
//! segment predicates, metrics, RFM scores and exports read. The Router puts a
//! customer's row after the customer's record is durable; the table is rebuilt from the
//! customers column family at start. Readers take the read lock for one scan and never
//! hold it across an await.

mod scores;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::domain::segments::Row;

pub use scores::DEFAULT_RFM_REFRESH_MS;

#[derive(Default)]
pub struct SegmentBoard {
    rows: RwLock<HashMap<String, Arc<Row>>>,
    scores: scores::ScoreCache,
}

impl SegmentBoard {
    pub fn new() -> SegmentBoard {
        SegmentBoard::default()
    }

    /// A board whose scores are recomputed at most every `rfm_refresh_ms`
    /// (`[segment_settings] rfm_refresh`).
    pub fn with_rfm_refresh(rfm_refresh_ms: i64) -> SegmentBoard {
        SegmentBoard {
            rows: RwLock::default(),
            scores: scores::ScoreCache::new(rfm_refresh_ms),
        }
    }

    /// Puts (or replaces) a customer's row.
    pub fn put(&self, row: Row) {
        if let Ok(mut rows) = self.rows.write() {
            rows.insert(row.customer_id.clone(), Arc::new(row));
        }
    }

    /// Puts many rows under one lock (the rebuild at start).
    pub fn put_all(&self, batch: Vec<Row>) {
        if let Ok(mut rows) = self.rows.write() {
            rows.reserve(batch.len());
            for row in batch {
                rows.insert(row.customer_id.clone(), Arc::new(row));
            }
        }
    }

    pub fn get(&self, customer_id: &str) -> Option<Arc<Row>> {
        self.rows.read().ok()?.get(customer_id).cloned()
    }

    /// The rows of `ids` that exist, in `ids`' order, under one read lock.
    pub fn get_many(&self, ids: &[String]) -> Vec<Arc<Row>> {
        match self.rows.read() {
            Ok(rows) => ids.iter().filter_map(|id| rows.get(id).cloned()).collect(),
            Err(poisoned) => {
                let rows = poisoned.get_ref();
                ids.iter().filter_map(|id| rows.get(id).cloned()).collect()
            }
        }
    }

    pub fn len(&self) -> usize {
        self.rows.read().map_or(0, |r| r.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` over every row under one read lock (no awaits inside).
    pub fn scan<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &Row>) -> T) -> T {
        match self.rows.read() {
            Ok(rows) => f(&mut rows.values().map(|r| r.as_ref())),
            Err(poisoned) => f(&mut poisoned.get_ref().values().map(|r| r.as_ref())),
        }
    }
}
