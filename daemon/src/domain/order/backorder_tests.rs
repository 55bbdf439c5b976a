//! The cases and the book's edge cases, one by one.

use super::*;

fn line(order: &str, qty: i64, placed_ms: Millis) -> NewLine {
    NewLine {
        order_id: order.to_owned(),
        line_id: "1".to_owned(),
        customer_id: format!("c-{order}"),
        quantity: qty,
        placed_ms,
    }
}

fn ids(lines: &[BookLine]) -> Vec<&str> {
    lines.iter().map(|l| l.order_id.as_str()).collect()
}

#[test]
fn restock_of_10_with_8_owed_frees_2_when_stock_went_negative() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("o1", 8, 100), 0);
    // The shop takes the 8 units out of stock.
    assert!(book.on_stock(0, -8, 200).is_empty());
    assert_eq!((book.owed_in_stock(), book.free(-8)), (8, 0));
    // Restock +10 shows as stock 2.
    let a = book.on_stock(-8, 2, 300);
    assert_eq!((a.capacity, a.units()), (10, 8));
    assert_eq!(
        a.covered[0].state,
        BookState::Reserved { allocated_ms: 300 }
    );
    assert_eq!((book.physical(2), book.free(2)), (10, 2));
    // Shipping the 8 leaves stock 2, all free.
    book.remove("o1", "1");
    assert_eq!((book.owed_in_stock(), book.free(2)), (0, 2));
}

#[test]
fn restock_of_10_with_8_owed_frees_2_when_stock_is_held_at_0() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("o1", 5, 100), 0);
    book.add_waiting(line("o2", 3, 110), 0);
    assert_eq!(book.free(0), 0);
    let a = book.on_stock(0, 10, 300);
    assert_eq!((a.capacity, a.units()), (10, 8));
    assert_eq!(ids(&a.covered), ["o1", "o2"]);
    assert_eq!((book.owed_in_stock(), book.free(10)), (0, 2));
    // The shop ships and takes the 8 out of stock: still 2 free, in either order.
    book.on_stock(10, 2, 400);
    assert_eq!(
        book.free(2),
        0,
        "reserved units not shipped yet are still owed"
    );
    book.remove("o1", "1");
    book.remove("o2", "1");
    assert_eq!(book.free(2), 2);
}

#[test]
fn restock_covering_two_of_three_waiting_orders_tells_the_two_oldest() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("oldest", 3, 100), 0);
    book.add_waiting(line("middle", 2, 200), 0);
    book.add_waiting(line("youngest", 4, 300), 0);
    let a = book.on_stock(0, 6, 1_000);
    assert_eq!(ids(&a.covered), ["oldest", "middle"]);
    assert_eq!(ids(book.waiting()), ["youngest"]);
    assert_eq!(
        book.free(6),
        0,
        "the unit left is owed to the youngest order"
    );
}

#[test]
fn nothing_is_allocated_when_the_oldest_line_does_not_fit() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("big", 5, 100), 0);
    book.add_waiting(line("small", 1, 200), 0);
    let a = book.on_stock(0, 3, 1_000);
    assert!(a.is_empty(), "a younger line never jumps an older one");
    assert_eq!((a.capacity, book.free(3)), (3, 0));
    // Two more units cover the big line, the last unit the small one.
    let a = book.on_stock(3, 6, 2_000);
    assert_eq!(ids(&a.covered), ["big", "small"]);
}

#[test]
fn lines_are_ordered_by_placement_then_by_arrival() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("late", 1, 300), 0);
    book.add_waiting(line("tie-first", 1, 100), 0);
    book.add_waiting(line("tie-second", 1, 100), 0);
    assert_eq!(ids(book.waiting()), ["tie-first", "tie-second", "late"]);
    let a = book.on_stock(0, 2, 1_000);
    assert_eq!(ids(&a.covered), ["tie-first", "tie-second"]);
}

#[test]
fn reserved_units_are_not_allocated_again() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("o1", 8, 100), 0);
    book.on_stock(0, 10, 200);
    book.add_waiting(line("o2", 3, 300), 10);
    // 8 of the 12 on hand are reserved for o1: 4 left for o2.
    let a = book.on_stock(10, 12, 400);
    assert_eq!((a.capacity, ids(&a.covered)), (4, vec!["o2"]));
    assert_eq!(book.free(12), 1);
}

#[test]
fn a_stock_fall_or_a_rise_with_nothing_waiting_allocates_nothing() {
    let mut book = BackorderBook::default();
    assert!(book.on_stock(0, 5, 100).is_empty());
    book.add_waiting(line("o1", 2, 100), 5);
    assert!(
        book.on_stock(5, 4, 200).is_empty(),
        "a fall is not an arrival"
    );
    assert!(book.on_stock(4, 4, 300).is_empty());
    assert_eq!(ids(&book.on_stock(4, 5, 400).covered), ["o1"]);
}

#[test]
fn negative_stock_reported_before_the_order_is_still_recognised() {
    let mut book = BackorderBook::default();
    book.on_stock(0, -8, 100);
    book.add_waiting(line("o1", 8, 150), -8);
    assert_eq!(book.owed_in_stock(), 8);
    let a = book.on_stock(-8, 2, 200);
    assert_eq!((a.units(), book.free(2)), (8, 2));
}

#[test]
fn owed_units_below_zero_are_never_counted_beyond_what_is_owed() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("o1", 3, 100), 0);
    // The shop's stock says 10 are missing, but only 3 are owed.
    book.on_stock(0, -10, 200);
    assert_eq!(book.owed_in_stock(), 3);
    book.on_stock(-10, 5, 300);
    assert_eq!((book.physical(5), book.free(5)), (8, 5));
}

#[test]
fn a_cancelled_line_leaves_the_book_and_its_units_with_it() {
    let mut book = BackorderBook::default();
    book.add_waiting(line("o1", 4, 100), 0);
    book.on_stock(0, -4, 150);
    let removed = book.remove("o1", "1").expect("the line is in the book");
    assert_eq!(removed.quantity, 4);
    assert_eq!((book.owed(), book.owed_in_stock()), (0, 0));
    assert_eq!(book.remove("o1", "1"), None);
    // The shop puts the units back: nothing free appears out of nowhere.
    assert_eq!(book.free(0), 0);
}

#[test]
fn a_re_sent_line_changes_nothing() {
    let mut book = BackorderBook::default();
    assert!(book.add_waiting(line("o1", 2, 100), 0).is_some());
    assert_eq!(book.add_waiting(line("o1", 2, 100), 0), None);
    book.on_stock(0, 2, 200);
    assert_eq!(
        book.add_waiting(line("o1", 2, 100), 2),
        None,
        "reserved too"
    );
    assert_eq!(book.owed(), 2);
}

#[test]
fn the_product_verdict_follows_the_mark_then_the_stock() {
    use BackorderMark::*;
    assert!(line_waits(Backorder, false, 10, 1));
    assert!(!line_waits(InStock, true, -5, 1));
    assert!(line_waits(Unspecified, true, 2, 3));
    assert!(!line_waits(Unspecified, true, 3, 3));
    assert!(!line_waits(Unspecified, false, 0, 3), "not backorderable");
    let mut book = BackorderBook::default();
    let p = book.place(line("o1", 3, 100), Unspecified, true, 2);
    assert!(p.waits && p.added.is_some());
    let p = book.place(line("o2", 1, 100), Unspecified, true, 2);
    assert_eq!((p.waits, p.added), (false, None));
}

#[test]
fn a_book_rebuilt_from_its_stored_parts_is_the_same_book() {
    let mut book = BackorderBook::default();
    for (i, t) in [300, 100, 100, 200].into_iter().enumerate() {
        book.add_waiting(line(&format!("o{i}"), 1, t), 0);
    }
    book.on_stock(0, -4, 350);
    book.on_stock(-4, -2, 400);
    let mut lines: Vec<BookLine> = book.reserved().to_vec();
    lines.extend(book.waiting().iter().rev().cloned());
    let rebuilt = BackorderBook::from_parts(book.header(), lines);
    assert_eq!(rebuilt, book);
    let json = serde_json::to_string(&book).expect("a book serialises");
    let back: BackorderBook = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, book);
}

/// Every order update a customer is told reads its products' states: a copy of the
/// product may not copy its waiting lines (10,000 of them, once per message, made
/// announcing an arrival quadratic: 8 s for 10,000 lines). A change to either copy
/// leaves the other as it was.
#[test]
fn a_copy_of_the_book_shares_its_lines_until_one_of_them_changes() {
    let mut book = BackorderBook::default();
    for i in 0..1000 {
        book.add_waiting(line(&format!("o{i:04}"), 1, 100 + i), 0);
    }
    book.on_stock(0, 10, 2000);
    let copy = book.clone();
    assert!(std::ptr::eq(copy.waiting(), book.waiting()));
    assert!(std::ptr::eq(copy.reserved(), book.reserved()));

    book.on_stock(10, 12, 3000);
    book.remove("o0000", "1");
    book.add_waiting(line("late", 1, 99), 0);
    assert_eq!((copy.waiting().len(), copy.reserved().len()), (990, 10));
    assert_eq!(ids(&copy.reserved()[..2]), ["o0000", "o0001"]);
    assert_eq!((book.waiting().len(), book.reserved().len()), (989, 11));
    assert_eq!(ids(&book.waiting()[..1]), ["late"]);
    assert!(!std::ptr::eq(copy.waiting(), book.waiting()));
}
