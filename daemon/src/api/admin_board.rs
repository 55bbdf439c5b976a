//! `Admin.ListBackorders` and `Admin.ListOrders`: what operators follow across orders.
//! The board is read from the `backorder_board` rows the products write with their state
//! (one per SKU that owes lines), the flagged orders from the `late_lines` records the
//! customers write with their orders; neither scans products or customers. The
//! past-promise count of a board row is the SKU's flagged lines still in its book.

use std::collections::HashMap;

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use super::admin_orders::order_view;
use crate::domain::order::board::BoardRow;
use crate::store::board::{BackorderBoard, LateLines};
use crate::store::{Seek, Store, StoreError};

const BOARD_DEFAULT: usize = 50;
const BOARD_MAX: usize = 1000;
const ORDERS_DEFAULT: usize = 50;
const ORDERS_MAX: usize = 200;

fn page_size(asked: u32, default: usize, max: usize) -> usize {
    match asked as usize {
        0 => default,
        n => n.min(max),
    }
}

fn internal(e: StoreError) -> Status {
    Status::internal(e.to_string())
}

/// One page of board rows after `after` (exclusive), and the SKU to continue after.
fn board_page(
    s: &Store,
    after: &str,
    limit: usize,
) -> Result<(Vec<(String, BoardRow)>, String), StoreError> {
    let seek = if after.is_empty() {
        Seek::First
    } else {
        Seek::From(after)
    };
    let mut rows = Vec::new();
    let mut more = false;
    for row in s.iter::<BackorderBoard>(seek)? {
        let (sku, r) = row?;
        if sku.as_str() <= after {
            continue;
        }
        if rows.len() == limit {
            more = true;
            break;
        }
        rows.push((sku, r));
    }
    let next = match (more, rows.last()) {
        (true, Some((sku, _))) => sku.clone(),
        _ => String::new(),
    };
    Ok((rows, next))
}

/// Flagged lines still in their SKU's book, per SKU. The records are few (open lines the
/// shop neither shipped nor delayed after their promise), so they are read whole.
fn past_promise_by_sku(s: &Store) -> Result<HashMap<String, u32>, StoreError> {
    let mut out: HashMap<String, u32> = HashMap::new();
    for row in s.iter::<LateLines>(Seek::First)? {
        let (_, late) = row?;
        if late.in_book() {
            *out.entry(late.sku).or_default() += 1;
        }
    }
    Ok(out)
}

/// Up to `limit` order ids with flagged lines after `after`, and the id to continue after.
fn flagged_orders(
    s: &Store,
    after: &str,
    limit: usize,
) -> Result<(Vec<String>, String), StoreError> {
    let mut ids: Vec<String> = Vec::new();
    let mut more = false;
    // Every key of `after` sorts before (after, "") · anything longer: seek there, skip it.
    for row in s.iter::<LateLines>(Seek::From((after, "")))? {
        let ((order_id, _), _) = row?;
        if order_id == after || ids.last() == Some(&order_id) {
            continue;
        }
        if ids.len() == limit {
            more = true;
            break;
        }
        ids.push(order_id);
    }
    let next = match (more, ids.last()) {
        (true, Some(id)) => id.clone(),
        _ => String::new(),
    };
    Ok((ids, next))
}

fn row_view(sku: String, r: BoardRow, past_promise: u32) -> pb::BackorderRow {
    pb::BackorderRow {
        owed_units: r.owed_units(),
        sku,
        title: r.title,
        waiting_lines: r.waiting_lines,
        waiting_units: r.waiting_units,
        allocated_lines: r.reserved_lines,
        allocated_units: r.reserved_units,
        oldest_wait_ms: r.oldest_wait_ms.unwrap_or(0),
        past_promise_lines: past_promise,
        stock: r.stock,
        available: r.available,
        updated_ms: r.updated_ms,
    }
}

impl AdminApi {
    pub(super) async fn backorders(
        &self,
        req: pb::ListBackordersRequest,
    ) -> Result<pb::ListBackordersResponse, Status> {
        let limit = page_size(req.limit, BOARD_DEFAULT, BOARD_MAX);
        let after = req.after_sku;
        let (rows, next, late) = self
            .store
            .read(move |s| {
                let (rows, next) = board_page(s, &after, limit)?;
                Ok((rows, next, past_promise_by_sku(s)?))
            })
            .await
            .map_err(internal)?;
        Ok(pb::ListBackordersResponse {
            rows: rows
                .into_iter()
                .map(|(sku, r)| {
                    let n = late.get(&sku).copied().unwrap_or(0);
                    row_view(sku, r, n)
                })
                .collect(),
            next_after_sku: next,
        })
    }

    pub(super) async fn list_orders(
        &self,
        req: pb::ListOrdersRequest,
    ) -> Result<pb::ListOrdersResponse, Status> {
        match req.filter.as_str() {
            "" | "past_promise" => {}
            other => {
                return Err(Status::invalid_argument(format!(
                    "filter {} is not known: send \"past_promise\" (or nothing) for orders \
                     with a line past its promise",
                    super::limits::echo(other)
                )))
            }
        }
        let limit = page_size(req.limit, ORDERS_DEFAULT, ORDERS_MAX);
        let after = req.after_order_id;
        let (ids, next) = self
            .store
            .read(move |s| flagged_orders(s, &after, limit))
            .await
            .map_err(internal)?;
        let rules = self.control.live.get();
        let cadence = crate::actors::customer_orders::cadence(&rules);
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            // The order's owner has it as it is now; a record the owner has just removed
            // (shipped meanwhile) still shows the order, with the line's status.
            match self.order_state(&id).await {
                Ok(Some(o)) => orders.push(order_view(&o, &cadence, Vec::new())),
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(pb::ListOrdersResponse {
            orders,
            next_after_order_id: next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::board::LateLine;
    use crate::domain::order::state::LineStatus;
    use crate::store::Batch;

    fn row(title: &str) -> BoardRow {
        BoardRow {
            title: title.into(),
            waiting_lines: 1,
            waiting_units: 1,
            reserved_lines: 0,
            reserved_units: 0,
            oldest_wait_ms: Some(1),
            stock: 0,
            available: 0,
            updated_ms: 1,
        }
    }

    fn late(sku: &str, status: LineStatus) -> LateLine {
        LateLine {
            customer_id: "c".into(),
            sku: sku.into(),
            quantity: 1,
            status,
            latest_ms: 1,
            flagged_ms: 2,
        }
    }

    #[tokio::test]
    async fn pages_follow_key_order_and_end_with_an_empty_cursor() {
        let t = crate::store::test_db::TestStore::new();
        let mut b = Batch::default();
        for sku in ["A", "B", "C"] {
            b.put::<BackorderBoard>(sku, &row(sku));
        }
        for (o, l, sku, st) in [
            ("o1", "1", "A", LineStatus::Waiting),
            ("o1", "2", "A", LineStatus::Allocated),
            ("o2", "1", "A", LineStatus::InStock),
            ("o3", "1", "C", LineStatus::Waiting),
        ] {
            b.put::<LateLines>((o, l), &late(sku, st));
        }
        assert!(t.writer.write(b, 1).await.is_ok());
        let s = t.store();
        let (rows, next) = board_page(s, "", 2).expect("page 1");
        let skus: Vec<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!((skus, next.as_str()), (vec!["A", "B"], "B"));
        let (rows, next) = board_page(s, "B", 2).expect("page 2");
        assert_eq!((rows.len(), next.as_str()), (1, ""));

        let late = past_promise_by_sku(s).expect("late");
        assert_eq!(
            late.get("A"),
            Some(&2),
            "the in-stock line is not the book's"
        );
        assert_eq!(late.get("C"), Some(&1));

        let (ids, next) = flagged_orders(s, "", 2).expect("orders 1");
        assert_eq!(
            (ids, next.as_str()),
            (vec!["o1".to_owned(), "o2".to_owned()], "o2")
        );
        let (ids, next) = flagged_orders(s, "o2", 2).expect("orders 2");
        assert_eq!((ids, next.as_str()), (vec!["o3".to_owned()], ""));
        t.close().await;
    }
}
