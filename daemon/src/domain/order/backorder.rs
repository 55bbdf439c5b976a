//! The backorder book of one SKU, owned by that product's actor: the order lines waiting
//! for stock (oldest first), the lines stock was allocated to but that have not shipped
//! (`reserved`), and how many owed units the shop already took out of its stock.
//!
//! Invariants a change must keep:
//! - `waiting` is sorted by (`placed_ms`, `seq`): "oldest first", ties by arrival order
//!   (`seq` is given by the book on arrival and never reused).
//! - An allocation walks `waiting` from the front, covers a line whole or not at all and
//!   stops at the first line that does not fit: a younger line never jumps an older one.
//!   It runs on stock rises only (`on_stock`), never on a removal: a line the shop marks
//!   as a backorder while units are on hand waits for the next rise, by the shop's choice.
//! - `0 <= owed_in_stock <= owed()`: no owed unit is counted twice.
//!
//! The two shop models, and how each is recognised. `owed_in_stock` is raised to
//! `-stock` whenever stock is negative (on every stock change and every added line), and
//! clamped to `owed`; it is lowered only when owed falls (ship, cancel):
//! - *negative stock*: the shop subtracts backordered units from stock (−8 means 8 owed).
//!   Negative stock is the sign: those units are owed and already out of stock, so when
//!   stock rises the units up to zero are not new (`physical = stock + owed_in_stock`).
//!   Lines 8, stock −8, restock +10 → stock 2, physical 10, allocate 8, free 2.
//! - *stock held at 0*: stock never goes below zero, `owed_in_stock` stays 0 and the owed
//!   units exist only in the book: `physical = stock`. Lines 8, stock 0, restock to 10 →
//!   physical 10, allocate 8, free 2.
//!
//! A shop in the negative model that had some units when the line came (stock 3, a line
//! of 5 → stock −2) is recognised for the 2 units below zero only; the book then sees 3
//! units fewer than are on hand until the line leaves it. That errs on the safe side:
//! fewer back-in-stock notices, never a unit promised twice.
//!
//! The lines are shared (`Arc`) between the book and its clones: every order update a
//! customer is told reads the product's state (titles, pictures), and a copy of
//! thousands of waiting lines per message made announcing them quadratic. A change
//! copies the lines only while such a clone is still alive (`Arc::make_mut`).
//!
//! Storage (the lead's store layer): the header (`BookHeader`) lives in the product
//! state, each line under its own key. Every operation returns the lines it added,
//! changed or removed, so the caller writes exactly those keys. Key order should be
//! (`placed_ms`, `seq`) for "oldest first" to be key order; `from_parts` sorts anyway.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::BackorderMark;
use crate::domain::Millis;

/// Where a line of the book stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookState {
    /// Waiting for stock.
    Waiting,
    /// Units were allocated to it at `allocated_ms`; it has not shipped yet.
    Reserved { allocated_ms: Millis },
}

/// One order line owed by this SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookLine {
    pub order_id: String,
    pub line_id: String,
    pub customer_id: String,
    pub quantity: i64,
    pub placed_ms: Millis,
    /// Arrival number in this book: orders lines placed in the same millisecond.
    pub seq: u64,
    pub state: BookState,
}

impl BookLine {
    fn is(&self, order_id: &str, line_id: &str) -> bool {
        self.order_id == order_id && self.line_id == line_id
    }

    fn age_key(&self) -> (Millis, u64) {
        (self.placed_ms, self.seq)
    }
}

/// A line of a placed order, as the Router hands it to its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub order_id: String,
    pub line_id: String,
    pub customer_id: String,
    pub quantity: i64,
    pub placed_ms: Millis,
}

/// Stock allocated to waiting lines by one stock rise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Units that could be allocated: physical stock minus reserved units, before it.
    pub capacity: i64,
    /// The lines covered, oldest first, now `Reserved`.
    pub covered: Vec<BookLine>,
}

impl Allocation {
    pub fn units(&self) -> i64 {
        self.covered.iter().map(|l| l.quantity).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.covered.is_empty()
    }
}

/// The product's verdict on one placed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub waits: bool,
    /// The line as stored; `None` when it does not wait or was already in the book.
    pub added: Option<BookLine>,
}

/// The part of the book kept in the product state (the lines have their own keys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookHeader {
    pub owed_in_stock: i64,
    pub next_seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackorderBook {
    /// Shared with the book's clones; serialized as a plain sequence (serde `rc`).
    waiting: Arc<Vec<BookLine>>,
    reserved: Arc<Vec<BookLine>>,
    header: BookHeader,
}

/// The product's verdict on a placed line: the shop's mark, or, unmarked, whether the
/// product is backorderable and has fewer units than the line's quantity.
pub fn line_waits(mark: BackorderMark, backorderable: bool, stock: i64, quantity: i64) -> bool {
    match mark {
        BackorderMark::Backorder => true,
        BackorderMark::InStock => false,
        BackorderMark::Unspecified => backorderable && stock < quantity,
    }
}

impl BackorderBook {
    /// Rebuilds a book from its stored header and lines (any order).
    pub fn from_parts(header: BookHeader, lines: Vec<BookLine>) -> Self {
        let (mut waiting, mut reserved): (Vec<_>, Vec<_>) = lines
            .into_iter()
            .partition(|l| l.state == BookState::Waiting);
        waiting.sort_by_key(BookLine::age_key);
        reserved.sort_by_key(BookLine::age_key);
        let next_seq = waiting
            .iter()
            .chain(&reserved)
            .map(|l| l.seq.saturating_add(1))
            .max()
            .unwrap_or(0)
            .max(header.next_seq);
        let mut book = BackorderBook {
            waiting: Arc::new(waiting),
            reserved: Arc::new(reserved),
            header: BookHeader { next_seq, ..header },
        };
        book.header.owed_in_stock = book.header.owed_in_stock.clamp(0, book.owed());
        book
    }

    pub fn header(&self) -> BookHeader {
        self.header
    }

    /// Waiting lines, oldest first.
    pub fn waiting(&self) -> &[BookLine] {
        &self.waiting
    }

    /// Allocated lines not yet shipped, oldest first.
    pub fn reserved(&self) -> &[BookLine] {
        &self.reserved
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.reserved.is_empty()
    }

    pub fn waiting_units(&self) -> i64 {
        self.waiting.iter().map(|l| l.quantity).sum()
    }

    pub fn reserved_units(&self) -> i64 {
        self.reserved.iter().map(|l| l.quantity).sum()
    }

    /// Units of waiting and reserved lines.
    pub fn owed(&self) -> i64 {
        self.waiting_units().saturating_add(self.reserved_units())
    }

    /// Owed units the shop has already subtracted from stock (the negative-stock model).
    pub fn owed_in_stock(&self) -> i64 {
        self.header.owed_in_stock
    }

    /// Units on hand not yet shipped.
    pub fn physical(&self, stock: i64) -> i64 {
        stock.saturating_add(self.header.owed_in_stock)
    }

    /// What back in stock and low stock treat as stock: the units no line is owed.
    /// Never negative, never more than `stock`.
    pub fn free(&self, stock: i64) -> i64 {
        self.physical(stock).saturating_sub(self.owed()).max(0)
    }

    /// When the oldest waiting line was placed.
    pub fn oldest_wait_ms(&self) -> Option<Millis> {
        self.waiting.first().map(|l| l.placed_ms)
    }

    fn contains(&self, order_id: &str, line_id: &str) -> bool {
        self.waiting
            .iter()
            .chain(self.reserved.iter())
            .any(|l| l.is(order_id, line_id))
    }

    /// Remembers owed units below zero stock, never more than are owed.
    fn recognise(&mut self, stock: i64) {
        let below_zero = stock.saturating_neg().max(0);
        self.header.owed_in_stock = self
            .header
            .owed_in_stock
            .max(below_zero)
            .clamp(0, self.owed());
    }

    /// Adds a line that waits, at the current `stock`. A line already in the book (a
    /// re-sent order) changes nothing: `None`. Returns the line as stored.
    pub fn add_waiting(&mut self, line: NewLine, stock: i64) -> Option<BookLine> {
        if self.contains(&line.order_id, &line.line_id) {
            return None;
        }
        let stored = BookLine {
            order_id: line.order_id,
            line_id: line.line_id,
            customer_id: line.customer_id,
            quantity: line.quantity.max(0),
            placed_ms: line.placed_ms,
            seq: self.header.next_seq,
            state: BookState::Waiting,
        };
        self.header.next_seq = self.header.next_seq.saturating_add(1);
        let at = self
            .waiting
            .partition_point(|l| l.age_key() <= stored.age_key());
        Arc::make_mut(&mut self.waiting).insert(at, stored.clone());
        self.recognise(stock);
        Some(stored)
    }

    /// The product's verdict on a placed line (`line_waits`), and the line added to the
    /// book when it waits.
    pub fn place(
        &mut self,
        line: NewLine,
        mark: BackorderMark,
        backorderable: bool,
        stock: i64,
    ) -> Placement {
        if !line_waits(mark, backorderable, stock, line.quantity) {
            return Placement {
                waits: false,
                added: None,
            };
        }
        Placement {
            waits: true,
            added: self.add_waiting(line, stock),
        }
    }

    /// Stock changed from `old` to `new` at `at_ms`. Updates what the shop holds for
    /// owed lines and, on a rise while lines wait, allocates: capacity = physical −
    /// reserved, waiting lines oldest first, whole lines, stopping at the first that does
    /// not fit.
    pub fn on_stock(&mut self, old: i64, new: i64, at_ms: Millis) -> Allocation {
        self.recognise(new);
        if new <= old || self.waiting.is_empty() {
            return Allocation::default();
        }
        let capacity = self.physical(new).saturating_sub(self.reserved_units());
        let mut left = capacity;
        let mut fit = 0;
        for line in self.waiting.iter() {
            if line.quantity > left {
                break;
            }
            left -= line.quantity;
            fit += 1;
        }
        if fit == 0 {
            // Nothing fits: leave the (possibly shared) lines alone.
            return Allocation {
                capacity,
                covered: Vec::new(),
            };
        }
        let covered: Vec<BookLine> = Arc::make_mut(&mut self.waiting)
            .drain(..fit)
            .map(|l| BookLine {
                state: BookState::Reserved {
                    allocated_ms: at_ms,
                },
                ..l
            })
            .collect();
        let reserved = Arc::make_mut(&mut self.reserved);
        reserved.extend(covered.iter().cloned());
        // A line placed earlier can arrive after younger ones were allocated.
        reserved.sort_by_key(BookLine::age_key);
        Allocation { capacity, covered }
    }

    /// Removes a line, waiting or reserved, because it shipped, was cancelled or
    /// refunded (all the same to the book). In the negative model shipped units were
    /// already out of stock, so what the shop holds for owed lines falls with them; in
    /// the zero model the shop's own stock change says so. `None`: not in the book.
    pub fn remove(&mut self, order_id: &str, line_id: &str) -> Option<BookLine> {
        let removed = [&mut self.waiting, &mut self.reserved]
            .into_iter()
            .find_map(|lines| {
                let i = lines.iter().position(|l| l.is(order_id, line_id))?;
                Some(Arc::make_mut(lines).remove(i))
            })?;
        self.header.owed_in_stock = self.header.owed_in_stock.min(self.owed());
        Some(removed)
    }
}

#[cfg(test)]
#[path = "backorder_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "backorder_props.rs"]
mod props;
