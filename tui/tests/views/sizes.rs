//! Every view at many sizes: nothing panics on tiny terminals, a resize redraws cleanly,
//! and the styles that carry meaning are there.

use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use stockbell_console::rpc::CustomerKey;
use stockbell_console::state::scenarios::{Edit, ThresholdEdit};
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::{view, App};

use crate::support::*;

/// An app with data in every view.
fn full() -> App {
    let mut app = with_overview(connected());
    app.products.results = Remote::Ready(search_results());
    app.products.sku = Some("MUG-BLUE".into());
    app.products.detail = Remote::Ready(product());
    app.products.triggers = Remote::Ready(triggers());
    app.customers.key = Some(CustomerKey::Id("C-1".into()));
    app.customers.customer = Remote::Ready(customer());
    app.delivery.entries = Remote::Ready(vec![outbox_entry(3, "failed", "boom")]);
    app.orders.board = Remote::Ready(crate::orders::board_rows());
    app.orders.flagged = Remote::Ready(vec![crate::orders::late_order()]);
    crate::segments::fill(&mut app);
    app
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    let mut app = full();
    for view in ViewId::ALL {
        app.view = view;
        for (w, h) in [
            (1, 1),
            (10, 3),
            (20, 5),
            (40, 10),
            (59, 19),
            (61, 21),
            (99, 40),
            (250, 70),
        ] {
            draw(&app, w, h);
        }
    }
    app.view = ViewId::Scenarios;
    app.scenarios.edit = Some(Edit::Threshold(ThresholdEdit {
        scenario: "back_in_stock".into(),
        input: "7".into(),
        current: Some(40.0),
        estimate: Remote::Loading,
        ticket: 1,
    }));
    for (w, h) in [(1, 1), (20, 5), (60, 12)] {
        draw(&app, w, h);
    }
}

#[test]
fn resizing_redraws_like_a_fresh_screen() {
    let mut app = full();
    for view in ViewId::ALL {
        app.view = view;
        let mut term = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
        term.draw(|f| view::render(&app, f)).expect("draws");
        term.backend_mut().resize(60, 20);
        term.draw(|f| view::render(&app, f)).expect("draws");
        let fresh = draw(&app, 60, 20);
        let buf = term.backend().buffer();
        let resized: Vec<String> = (0..20)
            .map(|y| (0..60).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect();
        assert_eq!(resized, fresh, "{view:?} after a resize");
    }
}

#[test]
fn styles_carry_state() {
    let mut app = with_overview(connected());
    app.view = ViewId::Scenarios;
    let mut term = Terminal::new(TestBackend::new(60, 20)).expect("terminal");
    term.draw(|f| view::render(&app, f)).expect("draws");
    let buf = term.backend().buffer();
    // The current tab is reversed ("2 Scenarios" starts at column 11).
    assert!(buf[(11, 0)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(0, 0)].modifier.contains(Modifier::REVERSED));
    // Connected is green; the selected row is reversed; "off" is red.
    assert_eq!(buf[(0, 1)].fg, Color::Green);
    assert!(buf[(3, 4)].modifier.contains(Modifier::REVERSED));
    let row5: String = (0..60).map(|x| buf[(x, 5)].symbol().to_string()).collect();
    let off = row5.find("off").expect("price_drop is off") as u16;
    let off_col = row5[..off as usize].chars().count() as u16;
    assert_eq!(buf[(off_col, 5)].fg, Color::Red);

    let app = disconnected();
    term.draw(|f| view::render(&app, f)).expect("draws");
    assert_eq!(term.backend().buffer()[(0, 1)].fg, Color::Red);
}
