//! Daily history of segments' metrics: every `[segment_settings] snapshot_every` (and
//! once at start) one scan of the segment board computes the metrics of every customer
//! (segment `""`) and of each defined segment, and one write stores them under today's
//! UTC day (replacing an earlier snapshot of the same day) and deletes the snapshots
//! older than `history_days` days.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::segments::metrics::Metrics;
use crate::domain::segments::Row;
use crate::domain::Millis;
use crate::segment_board::SegmentBoard;
use crate::store::segment_history::{day_of, SegmentHistory, Snapshot};
use crate::store::writer::Writer;
use crate::store::{Batch, Seek, Store, StoreError};

/// Whether a row is a member of a segment.
pub type RowFilter = Box<dyn Fn(&Row) -> bool + Send + Sync>;

/// The defined segments, by name, with their membership tests (called once per
/// snapshot, off the async threads).
pub type SnapshotSegments = Arc<dyn Fn() -> Vec<(String, RowFilter)> + Send + Sync>;

pub struct SegmentSnapshots {
    pub store: Store,
    pub writer: Writer,
    pub board: Arc<SegmentBoard>,
    pub segments: SnapshotSegments,
    pub every: Duration,
    pub history_days: u32,
    pub shutdown: watch::Receiver<bool>,
}

impl SegmentSnapshots {
    /// Runs until the shutdown signal.
    pub fn start(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        loop {
            if *self.shutdown.borrow() {
                return;
            }
            if let Err(e) = snapshot(
                &self.store,
                &self.writer,
                &self.board,
                &self.segments,
                self.history_days,
                crate::clock::now_ms(),
            )
            .await
            {
                tracing::warn!(error = %e, "The segment metrics snapshot failed; it runs again at the next interval.");
            }
            let stop = tokio::select! {
                _ = tokio::time::sleep(self.every) => false,
                _ = self.shutdown.wait_for(|s| *s) => true,
            };
            if stop {
                return;
            }
        }
    }
}

/// Takes one snapshot of every customer and each segment at `now`, and deletes
/// snapshots older than `history_days`; the number of snapshots written.
pub async fn snapshot(
    store: &Store,
    writer: &Writer,
    board: &Arc<SegmentBoard>,
    segments: &SnapshotSegments,
    history_days: u32,
    now: Millis,
) -> Result<usize, StoreError> {
    let board = board.clone();
    let segments = segments.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let list = segments();
        let mut all = Metrics::default();
        let mut each = vec![Metrics::default(); list.len()];
        board.scan(|rows| {
            for row in rows {
                all.add(row);
                for ((_, member), m) in list.iter().zip(each.iter_mut()) {
                    if member(row) {
                        m.add(row);
                    }
                }
            }
        });
        std::iter::once((String::new(), all))
            .chain(list.into_iter().map(|(name, _)| name).zip(each))
            .collect::<Vec<(String, Metrics)>>()
    })
    .await
    .map_err(|_| StoreError::Closed)?;
    let today = day_of(now);
    let keep_from = today.saturating_sub(history_days.max(1) - 1);
    let old = store
        .read(move |s| {
            let mut old = Vec::new();
            for entry in s.iter::<SegmentHistory>(Seek::First)? {
                let ((segment, day), _) = entry?;
                if day < keep_from {
                    old.push((segment, day));
                }
            }
            Ok(old)
        })
        .await?;
    let mut batch = Batch::default();
    for (segment, day) in &old {
        batch.delete::<SegmentHistory>((segment.as_str(), *day));
    }
    for (segment, m) in &computed {
        batch.put::<SegmentHistory>((segment.as_str(), today), &Snapshot::of(m, now));
    }
    writer.write(batch, 0).await?;
    Ok(computed.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::segments::OrderPoint;
    use crate::store::test_db::TestStore;

    const DAY: i64 = 86_400_000;

    fn buyer(id: &str, amount_minor: i64) -> Row {
        Row {
            customer_id: id.to_owned(),
            orders: vec![OrderPoint {
                at_ms: 1,
                amount_minor,
                coupon: false,
            }],
            ..Row::default()
        }
    }

    fn history(store: &Store, segment: &str) -> Vec<(u32, Snapshot)> {
        store
            .iter_prefix::<SegmentHistory>(segment, Seek::First)
            .expect("iter")
            .map(|e| {
                let ((_, day), s) = e.expect("entry");
                (day, s)
            })
            .collect()
    }

    #[tokio::test]
    async fn snapshots_per_segment_and_day_and_old_ones_go() {
        let db = TestStore::new();
        let board = Arc::new(SegmentBoard::new());
        board.put(buyer("a", 100));
        board.put(buyer("b", 300));
        board.put(Row {
            customer_id: "c".into(),
            ..Row::default()
        });
        let segments: SnapshotSegments = Arc::new(|| {
            let big: RowFilter = Box::new(|r: &Row| r.spend_minor() >= 200);
            vec![("big".to_owned(), big)]
        });
        let n = snapshot(db.store(), &db.writer, &board, &segments, 2, 10 * DAY + 5)
            .await
            .expect("snapshot");
        assert_eq!(n, 2);
        let all = history(db.store(), "");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, 10);
        assert_eq!(
            (all[0].1.size, all[0].1.buyers, all[0].1.spend_minor),
            (3, 2, 400)
        );
        assert_eq!(all[0].1.ltv_minor, 200.0);
        let big = history(db.store(), "big");
        assert_eq!((big[0].1.size, big[0].1.spend_minor), (1, 300));

        // Same day again: replaced, not added.
        board.put(buyer("d", 50));
        snapshot(db.store(), &db.writer, &board, &segments, 2, 10 * DAY + 9)
            .await
            .expect("snapshot");
        let all = history(db.store(), "");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1.size, 4);
        // Day 11 keeps days 10 and 11; day 12 drops day 10 (history_days = 2).
        snapshot(db.store(), &db.writer, &board, &segments, 2, 11 * DAY)
            .await
            .expect("snapshot");
        assert_eq!(history(db.store(), "").len(), 2);
        snapshot(db.store(), &db.writer, &board, &segments, 2, 12 * DAY)
            .await
            .expect("snapshot");
        let days: Vec<u32> = history(db.store(), "").iter().map(|(d, _)| *d).collect();
        assert_eq!(days, vec![11, 12]);
        let days: Vec<u32> = history(db.store(), "big").iter().map(|(d, _)| *d).collect();
        assert_eq!(days, vec![11, 12]);
        db.close().await;
    }
}
