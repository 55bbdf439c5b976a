//! Products view: search results and the product detail.

use stockbell_console::rpc::RpcError;
use stockbell_console::state::{Remote, ViewId};
use stockbell_console::App;
use tonic::Code;

use crate::support::*;

fn app() -> App {
    let mut app = connected();
    app.view = ViewId::Products;
    let p = &mut app.products;
    p.query = "mug".into();
    p.searched = "mug".into();
    p.results = Remote::Ready(search_results());
    p.sku = Some("MUG-BLUE".into());
    p.detail = Remote::Ready(product());
    p.triggers = Remote::Ready(triggers());
    app
}

#[test]
fn narrow() {
    let s = draw(&app(), 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Products 4 Cust 5 Deli 6 Orders 7 Segs      ",
            "● connected · 127.0.0.1:50051                               ",
            "search: mug                                                 ",
            "┌ results for \"mug\": 3 ────────────────────────────────────┐",
            "│  sku        title                     stock  price       │",
            "│> MUG-BLUE   Blue mug                  3      1,200 JPY   │",
            "│  MUG-RED    Red mug                   0      1,200 JPY   │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ MUG-BLUE Blue mug ───────────────────────────────────────┐",
            "│stock 3 · 1,200 JPY (ref 1,500) · 1.50/day                │",
            "│sells out in 2d00h · visible · on sale · in memory        │",
            "│armed: price drop to 1,000 JPY in 40m00s                  │",
            "│interested: 1,250 (310 ≥ the back-in-stock threshold)     │",
            "│prices 1,500 → 1,400 → 1,200 · in kitchen, mugs           │",
            "│recent triggers                                           │",
            "│5m00s ago low stock 3 left, 2.0 days of cover             │",
            "│3d00h ago back in stock restocked from 0 to 20            │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "/ search  ↑↓ select  Enter open  Tab/1-7 views  q quit      ",
        ],
    );
}

#[test]
fn wide() {
    let s = draw(&app(), 120, 30);
    assert_row(&s, "search: mug");
    assert_row(&s, "┌ results for \"mug\": 3 ────────────────────────┐┌ MUG-BLUE Blue mug ───────────────────────────────────────────────────┐");
    assert_row(&s, "│  sku        title                      stock ││stock 3 · 1,200 JPY (ref 1,500) · 1.50/day                            │");
    assert_row(&s, "│> MUG-BLUE   Blue mug                   3     ││sells out in 2d00h · visible · on sale · in memory                    │");
    assert_row(&s, "│  MUG-RED    Red mug                    0     ││armed: price drop to 1,000 JPY in 40m00s                              │");
    assert_row(&s, "│  MUG-XL     Extra large travel mug wit 25    ││interested: 1,250 (310 ≥ the back-in-stock threshold)                 │");
    assert_row(&s, "│                                              ││prices 1,500 → 1,400 → 1,200 · in kitchen, mugs                       │");
    assert_row(&s, "│                                              ││recent triggers                                                       │");
    assert_row(&s, "│                                              ││5m00s ago low stock 3 left, 2.0 days of cover                         │");
    assert_row(&s, "│                                              ││3d00h ago back in stock restocked from 0 to 20                        │");
    assert_row(&s, "│                                              ││                                                                      │");
}

#[test]
fn search_not_implemented_and_typing() {
    let mut app = connected();
    app.view = ViewId::Products;
    app.products.query = "MUG-BLU".into();
    app.products.typing = true;
    app.products.results = Remote::Failed(RpcError::new(
        "SearchProducts",
        Code::Unimplemented,
        "UNIMPLEMENTED: SearchProducts is being built",
    ));
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Over 2 Scen 3 Products 4 Cust 5 Deli 6 Orders 7 Segs      ",
            "● connected · 127.0.0.1:50051                               ",
            "search: MUG-BLU_                                            ",
            "┌ results ─────────────────────────────────────────────────┐",
            "│search is not available in this daemon yet: type an exact │",
            "│SKU and press Enter                                       │",
            "└──────────────────────────────────────────────────────────┘",
            "┌ product ─────────────────────────────────────────────────┐",
            "│select a result and press Enter                           │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "│                                                          │",
            "└──────────────────────────────────────────────────────────┘",
            "                                                            ",
            "Enter search  Esc stop typing  Ctrl-C quit                  ",
        ],
    );
}

fn related() -> stockbell_proto::v1::RelatedProducts {
    use stockbell_proto::v1::RelatedProduct;
    stockbell_proto::v1::RelatedProducts {
        sku: "MUG-BLUE".into(),
        orders: 12.0,
        total_orders: 400.0,
        related: vec![
            RelatedProduct {
                sku: "SAUCER".into(),
                title: "Blue saucer".into(),
                source: "co_bought".into(),
                score: 8.5,
                lift: 8.5,
                support: 4.0,
                why: "co-bought 4.0 times, lift 8.50".into(),
                offerable: true,
                available: 7,
            },
            RelatedProduct {
                sku: "MUG-RED".into(),
                title: "Red mug".into(),
                source: "category_best_seller".into(),
                score: 30.0,
                why: "best seller in category \"mugs\" (30.0 orders)".into(),
                offerable: false,
                ..Default::default()
            },
        ],
    }
}

#[test]
fn related_products_say_why_and_which_cannot_be_offered_now() {
    let mut app = app();
    app.products.related = Remote::Ready(related());
    let s = draw(&app, 120, 30);
    assert_row(&s, "│                                              ││related products                                                      │");
    assert_row(&s, "│                                              ││SAUCER Blue saucer · co-bought 4.0 times, lift 8.50                   │");
    assert_row(&s, "│                                              ││MUG-RED Red mug · best seller in category \"mugs\" (30.0 orders) · not  │");
    assert_row(&s, "│                                              ││offerable now                                                         │");
    app.products.related = Remote::Failed(RpcError::new(
        "GetRelated",
        Code::Unimplemented,
        "UNIMPLEMENTED",
    ));
    let s = draw(&app, 120, 30);
    assert_row(&s, "│                                              ││not available in this daemon yet                                      │");
}
