//! Order notices: follows the order-notice log (a product's word about an order's lines:
//! they wait, they were in stock, arrived stock was allocated to them) from its durable
//! cursor and hands each notice to the order's customer through the Router, which stores
//! the customers' order changes and the cursor in one write — exactly once, like the
//! trigger fan-out, but with no audience: a notice names its one customer.

use crate::actors::{Handoff, RouterHandle};
use crate::store::meta::NoticeCursor;
use crate::store::orders::LineNotices;
use crate::store::{Seek, Store, StoreError};

/// Notices handed off per write.
const ROUND: usize = 256;

/// Where the follower starts: the durable cursor (0 = before the first notice).
pub async fn cursor(store: &Store) -> Result<u64, StoreError> {
    Ok(store
        .read(|s| s.get::<NoticeCursor>(()))
        .await?
        .unwrap_or(0))
}

/// Hands off the notices after `cursor`; returns the new cursor, or None when idle.
pub async fn round(
    store: &Store,
    router: &RouterHandle,
    cursor: u64,
) -> anyhow::Result<Option<u64>> {
    let handoff = store
        .read(move |s| {
            let mut h = Handoff::default();
            for row in s
                .iter::<LineNotices>(Seek::From(cursor.saturating_add(1)))?
                .take(ROUND)
            {
                let (id, notice) = match row {
                    Ok(row) => row,
                    Err(e) => {
                        tracing::error!(error = %e, "Skipping an unreadable order notice.");
                        continue;
                    }
                };
                h.notice_cursor = Some(id);
                h.notices.push(notice);
            }
            Ok::<_, StoreError>(h)
        })
        .await?;
    let Some(last) = handoff.notice_cursor else {
        return Ok(None);
    };
    router.hand_off(handoff).await?;
    Ok(Some(last))
}
