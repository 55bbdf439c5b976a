//! What operators see across orders, as plain data: the backorder board (one row per SKU
//! whose book is not empty, written by the product's owner in the same write as its
//! state) and the lines past their promise (one record per flagged line, written by the
//! order's owner, the customer's actor, in the same write as the order). Pure: the
//! records are derived from the states, and the writes are the difference between the
//! records before and after a change, so nothing else has to remember to keep them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state::{LineStatus, OrderState};
use super::Promise;
use crate::domain::product::ProductState;
use crate::domain::Millis;

/// One SKU's row of the backorder board: what its book owes, as of its last change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardRow {
    pub title: String,
    /// Lines waiting for stock and their units.
    pub waiting_lines: u32,
    pub waiting_units: i64,
    /// Lines stock was allocated to that have not shipped, and their units.
    pub reserved_lines: u32,
    pub reserved_units: i64,
    /// When the oldest waiting line was placed; `None` when nothing waits (only
    /// allocated lines are left).
    pub oldest_wait_ms: Option<Millis>,
    pub stock: i64,
    /// The units no line is owed (`ProductState::available`).
    pub available: i64,
    pub updated_ms: Millis,
}

impl BoardRow {
    /// Units of waiting and allocated lines.
    pub fn owed_units(&self) -> i64 {
        self.waiting_units.saturating_add(self.reserved_units)
    }

    /// The row of a product whose book is not empty; `None` for an empty book.
    pub fn of(p: &ProductState) -> Option<BoardRow> {
        let book = &p.book;
        if book.is_empty() {
            return None;
        }
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Some(BoardRow {
            title: p.catalogue.title.clone(),
            waiting_lines: count(book.waiting().len()),
            waiting_units: book.waiting_units(),
            reserved_lines: count(book.reserved().len()),
            reserved_units: book.reserved_units(),
            oldest_wait_ms: book.oldest_wait_ms(),
            stock: p.stock,
            available: p.available(),
            updated_ms: p.updated_ms,
        })
    }
}

/// A change to one SKU's board row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardWrite {
    Put(BoardRow),
    Remove,
}

/// The board write for a product written with `after`, whose book was `had_book`
/// (not empty) before: the row while the book is not empty, its removal when the book
/// just emptied, nothing when it stayed empty (most products never owe a line).
pub fn board_write(had_book: bool, after: Option<&ProductState>) -> Option<BoardWrite> {
    match after.and_then(BoardRow::of) {
        Some(row) => Some(BoardWrite::Put(row)),
        None if had_book => Some(BoardWrite::Remove),
        None => None,
    }
}

/// A line past its promise: its window's `latest_ms` passed with neither shipment nor
/// delay notice (the order state's `past_promise`), and it is still open (not shipped,
/// cancelled or refunded) — the operator's to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateLine {
    pub customer_id: String,
    pub sku: String,
    pub quantity: i64,
    pub status: LineStatus,
    /// The promise that passed: its window's end.
    pub latest_ms: Millis,
    /// When the automatic delay notice went (the promise was found passed).
    pub flagged_ms: Millis,
}

impl LateLine {
    /// Owed by its SKU's backorder book (waiting or allocated): counted on the board.
    pub fn in_book(&self) -> bool {
        matches!(
            self.status,
            LineStatus::Pending | LineStatus::Waiting | LineStatus::Allocated
        )
    }
}

/// (order id, line id).
pub type LineKey = (String, String);

/// The flagged lines of some orders.
pub fn late_lines<'a>(
    orders: impl IntoIterator<Item = &'a OrderState>,
) -> BTreeMap<LineKey, LateLine> {
    let mut out = BTreeMap::new();
    for o in orders {
        for l in &o.lines {
            if !(l.past_promise && l.status.is_open()) {
                continue;
            }
            let latest_ms = match l.promise {
                Promise::Window(w) => w.latest_ms,
                Promise::None | Promise::Unknown => continue,
            };
            out.insert(
                (o.order_id.clone(), l.id().to_owned()),
                LateLine {
                    customer_id: o.customer_id.clone(),
                    sku: l.placed.sku.clone(),
                    quantity: l.placed.quantity,
                    status: l.status,
                    latest_ms,
                    flagged_ms: l.last_delay_ms.unwrap_or(latest_ms),
                },
            );
        }
    }
    out
}

/// A change to one line's late record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LateWrite {
    Put(LineKey, LateLine),
    Remove(LineKey),
}

/// The writes that take the late records from `before` to `after`.
pub fn late_writes(
    before: &BTreeMap<LineKey, LateLine>,
    after: &BTreeMap<LineKey, LateLine>,
) -> Vec<LateWrite> {
    let mut out: Vec<LateWrite> = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .map(|k| LateWrite::Remove(k.clone()))
        .collect();
    out.extend(
        after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| LateWrite::Put(k.clone(), v.clone())),
    );
    out
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
