//! The order scenarios' templates, rendered with a fixture in both locales: honest ship
//! windows, the cancel, tracking and review links where they belong, related products
//! with pictures, and no unsubscribe footer on an order update.

use super::*;
use crate::domain::message::{OrderContext, OrderLineContext, ShipmentContext};
use crate::domain::order::{Promise, ShipWindow};

/// 2024-12-12 10:00 and 2024-12-19 18:00 in Tokyo.
const DEC_12: i64 = 1_733_965_200_000;
const DEC_19: i64 = 1_734_598_800_000;

fn window() -> Promise {
    Promise::Window(ShipWindow {
        earliest_ms: DEC_12,
        latest_ms: DEC_19,
    })
}

fn line(n: u32, title: &str, promise: Promise, waited: bool) -> OrderLineContext {
    OrderLineContext {
        line_id: n.to_string(),
        sku: format!("SKU-{n}"),
        title: title.into(),
        quantity: 2,
        url: format!("https://shop.example/p/{n}"),
        image_url: format!("https://shop.example/img/{n}.jpg"),
        promise,
        waited,
    }
}

fn order(lines: Vec<OrderLineContext>) -> OrderContext {
    OrderContext {
        order_id: "A-1001".into(),
        time_zone: "Asia/Tokyo".into(),
        lines,
        delay_reason: String::new(),
        shipment: None,
        cancel_url: String::new(),
        review_url: String::new(),
        coupon_code: String::new(),
    }
}

fn related(n: u32, title: &str) -> ItemContext {
    ItemContext {
        sku: format!("REL-{n}"),
        title: title.into(),
        url: format!("https://shop.example/p/rel-{n}"),
        image_url: format!("https://shop.example/img/rel-{n}.jpg"),
        currency: "JPY".into(),
        price_minor: 3_300,
        old_price_minor: None,
        stock_left: None,
    }
}

fn msg(scenario: Scenario, locale: Locale, order: OrderContext) -> MessageContext {
    MessageContext {
        scenario,
        locale,
        customer_id: "c-1".into(),
        items: if scenario.is_marketing() {
            vec![related(1, "Linen Apron"), related(2, "Cotton Tote")]
        } else {
            Vec::new()
        },
        unsubscribe_url: "https://shop.example/u/tok123".into(),
        order: Some(order),
    }
}

/// An order with every part a message may show: a delay reason, the parcel, the links
/// and a coupon.
fn full(lines: Vec<OrderLineContext>) -> OrderContext {
    OrderContext {
        delay_reason: "The maker's kiln broke down".into(),
        shipment: Some(ShipmentContext {
            carrier: "Yamato".into(),
            tracking_number: "1234-5678".into(),
            tracking_url: "https://track.example/1234-5678".into(),
        }),
        cancel_url: "https://shop.example/cancel/tok-9".into(),
        review_url: "https://shop.example/review/A-1001".into(),
        coupon_code: "THANKS10".into(),
        ..order(lines)
    }
}

fn render(scenario: Scenario, locale: Locale, o: OrderContext) -> Rendered {
    Templates::new(None)
        .expect("built-in templates")
        .render(&msg(scenario, locale, o))
        .unwrap_or_else(|e| panic!("{scenario:?} {locale:?}: {e}"))
}

#[test]
fn every_order_scenario_renders_in_both_locales() {
    for locale in [Locale::Ja, Locale::En] {
        for scenario in Scenario::ORDER {
            let o = full(vec![line(1, "Linen Shirt", window(), true)]);
            let r = render(scenario, locale, o);
            let what = format!("{locale:?}/{scenario:?}");
            assert!(
                !r.subject.is_empty() && !r.subject.contains('\n'),
                "{what}: {r:?}"
            );
            assert!(
                r.text.ends_with('\n') && !r.text.contains("\n\n\n"),
                "{what}: {}",
                r.text
            );
            let lang = format!("lang=\"{}\"", locale_dir(locale));
            assert!(r.html.contains(&lang), "{what}");
            if scenario.is_marketing() {
                // Related products, with their pictures, under the marketing rules.
                assert!(r.text.contains("Cotton Tote"), "{what}: {}", r.text);
                assert!(
                    r.html
                        .contains("<img src=\"https://shop.example/img/rel-2.jpg\""),
                    "{what}"
                );
                assert!(r.text.contains("https://shop.example/u/tok123"), "{what}");
            } else {
                assert!(r.text.contains("Linen Shirt"), "{what}: {}", r.text);
                assert!(r.text.contains("A-1001"), "{what}: {}", r.text);
                assert!(
                    r.html
                        .contains("<img src=\"https://shop.example/img/1.jpg\""),
                    "{what}"
                );
            }
        }
    }
}

/// Order updates carry no unsubscribe link or footer (they are not marketing); the
/// offers keep theirs.
#[test]
fn order_updates_have_no_unsubscribe_footer_offers_do() {
    for locale in [Locale::Ja, Locale::En] {
        for scenario in Scenario::ORDER {
            let r = render(
                scenario,
                locale,
                full(vec![line(1, "Linen Shirt", window(), true)]),
            );
            let what = format!("{locale:?}/{scenario:?}");
            let footer = ["tok123", "Unsubscribe", "配信停止"];
            let has = |s: &str| footer.iter().any(|f| s.contains(f));
            assert_eq!(has(&r.text), scenario.is_marketing(), "{what}: {}", r.text);
            assert_eq!(has(&r.html), scenario.is_marketing(), "{what}");
        }
    }
}

#[test]
fn the_confirmation_shows_an_honest_window_and_the_cancel_link() {
    let o = full(vec![
        line(1, "Linen Shirt", window(), true),
        line(2, "Wool Scarf", Promise::Unknown, true),
    ]);
    let en = render(Scenario::BackorderConfirmation, Locale::En, o.clone());
    assert_eq!(
        en.subject,
        "Thank you for your order A-1001: 2 items on backorder"
    );
    assert!(
        en.text.contains(
            "* Linen Shirt (quantity 2)\n  Expected to ship between 12 and 19 December\n"
        ),
        "{}",
        en.text
    );
    assert!(
        en.text
            .contains("* Wool Scarf (quantity 2)\n  Ship date: we do not know yet\n"),
        "{}",
        en.text
    );
    assert!(en.text.contains("https://shop.example/cancel/tok-9"));
    assert!(en
        .html
        .contains("Expected to ship <strong>between 12 and 19 December</strong>"));
    assert!(en
        .html
        .contains("href=\"https://shop.example/cancel/tok-9\""));
    let ja = render(Scenario::BackorderConfirmation, Locale::Ja, o);
    assert!(ja.text.contains("発送予定：12月12日〜19日"), "{}", ja.text);
    assert!(ja.text.contains("発送予定：未定"), "{}", ja.text);
    assert!(ja.text.contains("https://shop.example/cancel/tok-9"));
    // No cancel link configured: none shown, and nothing else breaks.
    let plain = order(vec![line(1, "Linen Shirt", window(), true)]);
    let r = render(Scenario::BackorderConfirmation, Locale::En, plain);
    assert!(!r.text.contains("cancel"), "{}", r.text);
}

/// The whole text of one message, to read the copy as a customer would.
#[test]
fn the_english_confirmation_reads_well() {
    let mut o = order(vec![line(1, "Linen Shirt", window(), true)]);
    o.cancel_url = "https://shop.example/cancel/tok-9".into();
    let r = render(Scenario::BackorderConfirmation, Locale::En, o);
    assert_eq!(
        r.text,
        "Thank you for your order A-1001.

Linen Shirt is not in stock yet. We ship it as soon as it arrives; waiting orders are filled oldest first:

* Linen Shirt (quantity 2)
  Expected to ship between 12 and 19 December

What happens next: we will keep you posted while you wait, and write the moment it arrives.

Would you rather not wait? You can cancel for a full refund with one click:
https://shop.example/cancel/tok-9

--
This message is about your order A-1001, so you receive it even if you do not get our newsletters.
"
    );
}

#[test]
fn the_update_gives_the_current_promise() {
    let o = order(vec![line(1, "Linen Shirt", Promise::Unknown, true)]);
    let r = render(Scenario::BackorderUpdate, Locale::En, o.clone());
    assert_eq!(
        r.subject,
        "An update on your order A-1001: Linen Shirt is still on backorder"
    );
    assert!(
        r.text.contains("We do not know the ship date yet"),
        "{}",
        r.text
    );
    let r = render(Scenario::BackorderUpdate, Locale::Ja, o);
    assert!(
        r.text.contains("発送予定日はまだ確定しておりません"),
        "{}",
        r.text
    );
}

#[test]
fn a_delay_apologises_with_reason_window_and_options() {
    let o = full(vec![line(1, "Linen Shirt", Promise::Unknown, true)]);
    let en = render(Scenario::Delayed, Locale::En, o.clone());
    assert_eq!(en.subject, "We are sorry: your order A-1001 is delayed");
    for want in [
        "Why: The maker's kiln broke down",
        "Ship date: we do not know yet",
        "What we are doing:",
        "1. Keep waiting.",
        "2. Cancel for a full refund with one click:\n   https://shop.example/cancel/tok-9",
    ] {
        assert!(en.text.contains(want), "{want:?} in {}", en.text);
    }
    // The reason is the shop's text: escaped in HTML, as is in plain text.
    assert!(
        en.html.contains("The maker&#39;s kiln broke down"),
        "{}",
        en.html
    );
    let ja = render(Scenario::Delayed, Locale::Ja, o);
    assert!(ja.subject.starts_with("【お詫び】"), "{}", ja.subject);
    assert!(ja.text.contains("遅延の理由：The maker's kiln broke down"));
    assert!(ja.text.contains("https://shop.example/cancel/tok-9"));
    let moved = full(vec![line(1, "Linen Shirt", window(), true)]);
    let r = render(Scenario::Delayed, Locale::En, moved);
    assert!(
        r.text
            .contains("Expected to ship between 12 and 19 December"),
        "{}",
        r.text
    );
}

#[test]
fn shipped_gives_the_tracking_link_and_thanks_those_who_waited() {
    let waited = full(vec![line(1, "Linen Shirt", window(), true)]);
    let en = render(Scenario::Shipped, Locale::En, waited.clone());
    assert_eq!(en.subject, "Finally on its way: your order A-1001");
    assert!(en
        .text
        .contains("Carrier: Yamato\nTracking number: 1234-5678\n"));
    assert!(en
        .text
        .contains("Track your parcel: https://track.example/1234-5678"));
    assert!(en.html.contains("href=\"https://track.example/1234-5678\""));
    // A shipped line shows no ship window and no cancel link.
    assert!(!en.text.contains("Expected to ship") && !en.text.contains("cancel"));
    let ja = render(Scenario::Shipped, Locale::Ja, waited);
    assert!(
        ja.subject.starts_with("【大変お待たせいたしました】"),
        "{}",
        ja.subject
    );
    assert!(
        ja.text.contains("お問い合わせ番号：1234-5678"),
        "{}",
        ja.text
    );
    // When only some lines waited, those are named.
    let mixed = full(vec![
        line(1, "Linen Shirt", window(), true),
        line(2, "Wool Scarf", Promise::None, false),
    ]);
    let r = render(Scenario::Shipped, Locale::En, mixed);
    assert!(
        r.text.contains("* Linen Shirt (quantity 2)\n  Finally on its way. Thank you for waiting.\n\n* Wool Scarf (quantity 2)\n\n"),
        "{}",
        r.text
    );
    let in_stock = full(vec![line(1, "Linen Shirt", Promise::None, false)]);
    let r = render(Scenario::Shipped, Locale::En, in_stock);
    assert_eq!(r.subject, "Your order A-1001 has shipped");
    assert!(!r.text.contains("Finally"), "{}", r.text);
}

#[test]
fn the_follow_up_asks_for_a_review() {
    let o = full(vec![line(1, "Linen Shirt", Promise::None, false)]);
    let en = render(Scenario::DeliveredFollowup, Locale::En, o.clone());
    assert_eq!(en.subject, "How is your Linen Shirt?");
    assert!(en.text.contains("https://shop.example/review/A-1001"));
    assert!(en
        .html
        .contains("href=\"https://shop.example/review/A-1001\""));
    let ja = render(Scenario::DeliveredFollowup, Locale::Ja, o);
    assert_eq!(ja.subject, "「Linen Shirt」はいかがですか？");
    assert!(ja.text.contains("https://shop.example/review/A-1001"));
}

#[test]
fn arrived_says_it_will_ship_soon() {
    let o = order(vec![line(1, "Linen Shirt", window(), true)]);
    let en = render(Scenario::Arrived, Locale::En, o.clone());
    assert_eq!(
        en.subject,
        "Good news: Linen Shirt arrived for your order A-1001"
    );
    assert!(en.text.contains("It will ship soon"), "{}", en.text);
    let ja = render(Scenario::Arrived, Locale::Ja, o);
    assert!(
        ja.subject.starts_with("【入荷のお知らせ】"),
        "{}",
        ja.subject
    );
}

#[test]
fn cross_sell_offers_related_products_and_the_coupon() {
    let o = full(vec![line(1, "Linen Shirt", Promise::None, false)]);
    let after_order = render(Scenario::CrossSellOrder, Locale::En, o.clone());
    assert_eq!(after_order.subject, "Goes well with Linen Shirt");
    assert!(after_order.text.contains("Linen Apron"));
    assert!(
        !after_order.text.contains("THANKS10"),
        "no coupon after an order"
    );
    let after_delivery = render(Scenario::CrossSellDelivery, Locale::En, o.clone());
    assert!(
        after_delivery
            .text
            .contains("use the coupon code THANKS10 on your next order"),
        "{}",
        after_delivery.text
    );
    assert!(after_delivery.html.contains("<strong>THANKS10</strong>"));
    assert!(
        after_delivery.text.contains("ordered from us"),
        "{}",
        after_delivery.text
    );
    let ja = render(Scenario::CrossSellDelivery, Locale::Ja, o);
    assert!(ja.subject.starts_with("【クーポン付き】"), "{}", ja.subject);
    assert!(ja.text.contains("クーポンコード：THANKS10"));
}

#[test]
fn an_order_message_without_its_order_or_an_offer_without_products_is_an_error() {
    let t = Templates::new(None).expect("built-in");
    let mut m = msg(Scenario::Shipped, Locale::En, order(vec![]));
    let err = t.render(&m).expect_err("no lines").to_string();
    assert!(err.contains("shipped") && err.contains("\"c-1\""), "{err}");
    m.order = None;
    assert!(t.render(&m).is_err());
    let mut offer = msg(
        Scenario::CrossSellOrder,
        Locale::En,
        order(vec![line(1, "Linen Shirt", Promise::None, false)]),
    );
    offer.items.clear();
    assert!(t.render(&offer).is_err());
}
