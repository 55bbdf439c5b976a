//! Membership sync of segments with `webhook = true`: every `[segment_settings]
//! webhook_every` each such segment's members now are compared with its members at the
//! last sweep (`segment_members`); who entered and who left is appended to the
//! `segment_changes` log in the same write that updates the stored members, so a crash
//! loses or doubles nothing. The shop webhook follows that log (`segment_entered` /
//! `segment_left` events, at least once, stable event ids).
//!
//! The first sweep of a segment reports every member as entered. A segment whose
//! webhook is turned off keeps its stored members; turned on again, it reports only the
//! differences since.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::segments::sync::{diff, MembershipChange};
use crate::domain::Millis;
use crate::store::segment_sync::{SegmentChanges, SegmentMembers};
use crate::store::writer::Writer;
use crate::store::{Batch, Seek, Store, StoreError};

/// Changes written per batch (a segment's sweep may take several).
const CHUNK: usize = 10_000;

/// Each webhook segment's members now (customer ids sorted ascending, no duplicates).
pub type WebhookMembers = Arc<dyn Fn(Millis) -> Vec<(String, Vec<String>)> + Send + Sync>;

pub struct SegmentSync {
    pub store: Store,
    pub writer: Writer,
    pub members: WebhookMembers,
    pub every: Duration,
    pub shutdown: watch::Receiver<bool>,
}

impl SegmentSync {
    pub fn start(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        loop {
            let stop = tokio::select! {
                _ = tokio::time::sleep(self.every) => false,
                _ = self.shutdown.wait_for(|s| *s) => true,
            };
            if stop || *self.shutdown.borrow() {
                return;
            }
            match sweep(
                &self.store,
                &self.writer,
                &self.members,
                crate::clock::now_ms(),
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    changes = n,
                    "Segment membership changes logged for the shop webhook."
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "The segment membership sweep failed; it runs again at the next interval.")
                }
            }
        }
    }
}

/// One sweep of every webhook segment; the number of changes logged.
pub async fn sweep(
    store: &Store,
    writer: &Writer,
    members: &WebhookMembers,
    now: Millis,
) -> Result<usize, StoreError> {
    let source = members.clone();
    let segments = tokio::task::spawn_blocking(move || source(now))
        .await
        .map_err(|_| StoreError::Closed)?;
    let mut logged = 0;
    for (segment, now_members) in segments {
        let name = segment.clone();
        let (stored, next_id) = store
            .read(move |s| {
                let mut ids = Vec::new();
                for row in s.iter_prefix::<SegmentMembers>(name.as_str(), Seek::First)? {
                    ids.push(row?.0 .1);
                }
                Ok((ids, s.last_key::<SegmentChanges>()?.map_or(1, |id| id + 1)))
            })
            .await?;
        let (entered, left) = diff(&now_members, &stored);
        let changes: Vec<(&str, bool)> = entered
            .into_iter()
            .map(|c| (c, true))
            .chain(left.into_iter().map(|c| (c, false)))
            .collect();
        let mut id = next_id;
        for chunk in changes.chunks(CHUNK) {
            let mut batch = Batch::default();
            for &(customer, entered) in chunk {
                if entered {
                    batch.put::<SegmentMembers>((segment.as_str(), customer), &now);
                } else {
                    batch.delete::<SegmentMembers>((segment.as_str(), customer));
                }
                let change = MembershipChange {
                    segment: segment.clone(),
                    customer_id: customer.to_owned(),
                    entered,
                    at_ms: now,
                };
                batch.put::<SegmentChanges>(id, &change);
                id += 1;
            }
            writer.write(batch, 0).await?;
            logged += chunk.len();
        }
    }
    Ok(logged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_db::TestStore;
    use std::sync::Mutex;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn sweeps_log_who_entered_and_left_once() {
        let db = TestStore::new();
        let now: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(ids(&["a", "b"])));
        let source = now.clone();
        let members: WebhookMembers =
            Arc::new(move |_| vec![("vip".to_owned(), source.lock().expect("lock").clone())]);
        assert_eq!(
            sweep(db.store(), &db.writer, &members, 10)
                .await
                .expect("sweep"),
            2
        );
        // Nothing changed: nothing logged.
        assert_eq!(
            sweep(db.store(), &db.writer, &members, 20)
                .await
                .expect("sweep"),
            0
        );
        *now.lock().expect("lock") = ids(&["b", "c"]);
        assert_eq!(
            sweep(db.store(), &db.writer, &members, 30)
                .await
                .expect("sweep"),
            2
        );
        let log = db
            .store()
            .read(|s| {
                s.iter::<SegmentChanges>(Seek::First)?
                    .map(|r| r.map(|(id, c)| (id, c.customer_id, c.entered, c.at_ms)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .expect("log");
        assert_eq!(
            log,
            [
                (1, "a".to_owned(), true, 10),
                (2, "b".to_owned(), true, 10),
                (3, "c".to_owned(), true, 30),
                (4, "a".to_owned(), false, 30),
            ]
        );
        let stored = db
            .store()
            .read(|s| {
                s.iter_prefix::<SegmentMembers>("vip", Seek::First)?
                    .map(|r| r.map(|((_, c), at)| (c, at)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .expect("members");
        assert_eq!(stored, [("b".to_owned(), 10), ("c".to_owned(), 30)]);
        db.close().await;
    }
}
