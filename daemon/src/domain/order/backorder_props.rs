//! Property tests: random sequences of added lines, stock changes (both shop models and
//! anything at all), ships and cancels through a `BackorderBook`, checked against a
//! plain reference model (a list of lines re-sorted and re-summed at every step) and
//! against what each shop model means for free stock.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
struct RefLine {
    order_id: String,
    qty: i64,
    placed: Millis,
    arrival: usize,
    reserved: bool,
}

/// The design's rules written the plain way: nothing cached, everything recounted.
#[derive(Debug, Default)]
struct Reference {
    lines: Vec<RefLine>,
    owed_in_stock: i64,
    stock: i64,
    arrivals: usize,
}

impl Reference {
    fn owed(&self) -> i64 {
        self.lines.iter().map(|l| l.qty).sum()
    }

    fn reserved(&self) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.reserved)
            .map(|l| l.qty)
            .sum()
    }

    fn recognise(&mut self) {
        self.owed_in_stock = self.owed_in_stock.max(-self.stock).clamp(0, self.owed());
    }

    fn free(&self) -> i64 {
        (self.stock + self.owed_in_stock - self.owed()).max(0)
    }

    fn capacity(&self) -> i64 {
        self.stock + self.owed_in_stock - self.reserved()
    }

    fn add(&mut self, order_id: String, qty: i64, placed: Millis) {
        let arrival = self.arrivals;
        self.arrivals += 1;
        self.lines.push(RefLine {
            order_id,
            qty,
            placed,
            arrival,
            reserved: false,
        });
        self.recognise();
    }

    /// The orders the design says a change of stock to `new` covers.
    fn set_stock(&mut self, new: i64) -> Vec<String> {
        let old = self.stock;
        self.stock = new;
        self.recognise();
        if new <= old {
            return Vec::new();
        }
        let mut left = self.capacity();
        let mut waiting: Vec<&mut RefLine> =
            self.lines.iter_mut().filter(|l| !l.reserved).collect();
        waiting.sort_by_key(|l| (l.placed, l.arrival));
        let mut covered = Vec::new();
        for l in waiting {
            if l.qty > left {
                break;
            }
            left -= l.qty;
            l.reserved = true;
            covered.push(l.order_id.clone());
        }
        covered
    }

    fn remove(&mut self, i: usize) -> RefLine {
        let l = self.lines.remove(i);
        self.owed_in_stock = self.owed_in_stock.min(self.owed());
        l
    }
}

#[derive(Debug, Clone, Copy)]
enum Model {
    /// Stock never below zero; shipping takes the units out of stock.
    HeldAtZero,
    /// Backordered units come out of stock when ordered (before or after the order
    /// event); a cancel puts them back. Lines are ordered only while nothing is on hand.
    Negative,
    /// Any stock value at any time.
    Anything,
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        qty: i64,
        placed: Millis,
        stock_first: bool,
    },
    Set(i64),
    Adjust(i64),
    Ship(usize),
    Cancel(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (1i64..6, 0i64..50, any::<bool>())
            .prop_map(|(qty, placed, stock_first)| Op::Add { qty, placed, stock_first }),
        1 => (-15i64..25).prop_map(Op::Set),
        2 => (-8i64..14).prop_map(Op::Adjust),
        1 => any::<usize>().prop_map(Op::Ship),
        1 => any::<usize>().prop_map(Op::Cancel),
    ];
    prop::collection::vec(op, 1..60)
}

fn model() -> impl Strategy<Value = Model> {
    prop_oneof![
        Just(Model::HeldAtZero),
        Just(Model::Negative),
        Just(Model::Anything)
    ]
}

struct Run {
    book: BackorderBook,
    reference: Reference,
    covered_ever: HashSet<String>,
    at: Millis,
}

impl Run {
    fn stock(&mut self, new: i64) -> Result<(), TestCaseError> {
        self.at += 1;
        let old = self.reference.stock;
        let capacity_before = self.reference.capacity();
        let waiting_before: HashSet<String> = self
            .book
            .waiting()
            .iter()
            .map(|l| l.order_id.clone())
            .collect();
        let qty_of: Vec<(String, i64)> = self
            .reference
            .lines
            .iter()
            .map(|l| (l.order_id.clone(), l.qty))
            .collect();
        let expected = self.reference.set_stock(new);
        let a = self.book.on_stock(old, new, self.at);
        let got: Vec<String> = a.covered.iter().map(|l| l.order_id.clone()).collect();
        prop_assert_eq!(
            &got,
            &expected,
            "oldest waiting lines first, stop at a misfit"
        );
        if !a.is_empty() {
            prop_assert!(a.units() <= a.capacity, "covers more than the capacity");
            prop_assert!(new > old, "allocated without a rise");
            let units_now = self.reference.stock + self.reference.owed_in_stock;
            prop_assert_eq!(
                a.capacity,
                units_now - (self.reference.reserved() - a.units())
            );
            prop_assert!(capacity_before <= a.capacity);
        }
        for l in &a.covered {
            prop_assert!(
                waiting_before.contains(&l.order_id),
                "covered a line not waiting"
            );
            prop_assert!(
                self.covered_ever.insert(l.order_id.clone()),
                "covered twice"
            );
            let placed_qty = qty_of.iter().find(|(o, _)| *o == l.order_id).map(|q| q.1);
            prop_assert_eq!(Some(l.quantity), placed_qty, "a line covered in part");
            prop_assert_eq!(
                l.state,
                BookState::Reserved {
                    allocated_ms: self.at
                }
            );
        }
        Ok(())
    }

    fn add(&mut self, order_id: String, qty: i64, placed: Millis) {
        let stock = self.reference.stock;
        let new = NewLine {
            order_id: order_id.clone(),
            line_id: "1".to_owned(),
            customer_id: "c".to_owned(),
            quantity: qty,
            placed_ms: placed,
        };
        let added = self.book.add_waiting(new, stock);
        assert!(added.is_some(), "every generated order id is new");
        self.reference.add(order_id, qty, placed);
    }

    /// Removes the `pick`-th line (of the reserved ones only, if `reserved_only`).
    fn remove(&mut self, pick: usize, reserved_only: bool) -> Option<RefLine> {
        let candidates: Vec<usize> = (0..self.reference.lines.len())
            .filter(|&i| !reserved_only || self.reference.lines[i].reserved)
            .collect();
        let i = *candidates.get(pick % candidates.len().max(1))?;
        let l = self.reference.remove(i);
        let removed = self.book.remove(&l.order_id, "1");
        assert_eq!(removed.map(|r| r.quantity), Some(l.qty));
        Some(l)
    }

    fn check(&self, model: Model) -> Result<(), TestCaseError> {
        let stock = self.reference.stock;
        let free = self.book.free(stock);
        prop_assert_eq!(free, self.reference.free());
        prop_assert!(
            free >= 0 && free <= stock.max(0),
            "free {} at stock {}",
            free,
            stock
        );
        prop_assert_eq!(self.book.owed(), self.reference.owed());
        prop_assert_eq!(self.book.reserved_units(), self.reference.reserved());
        prop_assert!(
            self.book.owed_in_stock() <= self.book.owed(),
            "a unit owed twice"
        );
        match model {
            Model::HeldAtZero => {
                prop_assert_eq!(self.book.owed_in_stock(), 0);
                prop_assert_eq!(free, (stock - self.book.owed()).max(0));
            }
            Model::Negative => {
                prop_assert_eq!(self.book.owed_in_stock(), self.book.owed());
                prop_assert_eq!(free, stock.max(0), "stock is already net of owed units");
            }
            Model::Anything => {}
        }
        Ok(())
    }
}

proptest! {
    #[test]
    fn the_book_matches_the_reference_in_both_shop_models(model in model(), ops in ops()) {
        let mut run = Run {
            book: BackorderBook::default(),
            reference: Reference::default(),
            covered_ever: HashSet::new(),
            at: 1_000,
        };
        for (n, op) in ops.into_iter().enumerate() {
            let stock = run.reference.stock;
            match (model, op) {
                (Model::Negative, Op::Add { qty, placed, stock_first }) => {
                    // Ordered only while nothing is on hand for it: the shop's stock
                    // then shows every owed unit below zero.
                    if stock + run.reference.owed() > 0 {
                        continue;
                    }
                    if stock_first {
                        run.stock(stock - qty)?;
                        run.add(format!("o{n}"), qty, placed);
                    } else {
                        run.add(format!("o{n}"), qty, placed);
                        run.stock(stock - qty)?;
                    }
                }
                (_, Op::Add { qty, placed, .. }) => run.add(format!("o{n}"), qty, placed),
                (Model::HeldAtZero, Op::Set(v)) => run.stock(v.max(0))?,
                (Model::HeldAtZero, Op::Adjust(d)) => run.stock((stock + d).max(0))?,
                // The shop's stock moves only by restocks and sales of units on hand.
                (Model::Negative, Op::Set(_)) => {}
                (Model::Negative, Op::Adjust(d)) => {
                    if d > 0 || stock + d >= 0 {
                        run.stock(stock + d)?;
                    }
                }
                (Model::Anything, Op::Set(v)) => run.stock(v)?,
                (Model::Anything, Op::Adjust(d)) => run.stock(stock + d)?,
                (Model::HeldAtZero, Op::Ship(i)) => {
                    if let Some(l) = run.remove(i, true) {
                        run.stock((run.reference.stock - l.qty).max(0))?;
                    }
                }
                (_, Op::Ship(i)) => {
                    run.remove(i, true);
                }
                (Model::Negative, Op::Cancel(i)) => {
                    if let Some(l) = run.remove(i, false) {
                        run.stock(run.reference.stock + l.qty)?;
                    }
                }
                (_, Op::Cancel(i)) => {
                    run.remove(i, false);
                }
            }
            run.check(model)?;
        }
        let lines: Vec<BookLine> =
            run.book.waiting().iter().chain(run.book.reserved()).cloned().collect();
        prop_assert_eq!(BackorderBook::from_parts(run.book.header(), lines), run.book);
    }
}
