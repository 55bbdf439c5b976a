//! Tests for `templates.rs`: every locale and scenario, digests, escaping, overrides.

use super::*;

fn item(n: u32, title: &str) -> ItemContext {
    ItemContext {
        sku: format!("SKU-{n}"),
        title: title.into(),
        url: format!("https://shop.example/p/{n}"),
        image_url: format!("https://shop.example/img/{n}.jpg"),
        currency: "JPY".into(),
        price_minor: 1_980,
        old_price_minor: Some(2_400),
        stock_left: Some(3),
    }
}

fn ctx(scenario: Scenario, locale: Locale, items: Vec<ItemContext>) -> MessageContext {
    MessageContext {
        scenario,
        locale,
        customer_id: "c-1".into(),
        items,
        unsubscribe_url: "https://shop.example/u/tok123".into(),
        order: None,
    }
}

fn builtin() -> Templates {
    Templates::new(None).unwrap()
}

#[test]
fn formats_prices() {
    assert_eq!(format_price(1_980, "JPY"), "¥1,980");
    assert_eq!(format_price(1_234_567, "jpy"), "¥1,234,567");
    assert_eq!(format_price(0, "JPY"), "¥0");
    assert_eq!(format_price(1_980, "USD"), "$19.80");
    assert_eq!(format_price(123_456_789, "EUR"), "€1,234,567.89");
    assert_eq!(format_price(5, "GBP"), "£0.05");
    assert_eq!(format_price(-1_980, "USD"), "-$19.80");
    assert_eq!(format_price(1_980, "CHF"), "CHF 19.80");
    assert_eq!(format_price(i64::MIN, "JPY"), "-¥9,223,372,036,854,775,808");
}

#[test]
fn every_locale_and_stock_scenario_renders() {
    let t = builtin();
    for locale in [Locale::Ja, Locale::En] {
        for scenario in Scenario::STOCK {
            let r = t
                .render(&ctx(scenario, locale, vec![item(1, "Linen Shirt")]))
                .unwrap();
            let what = format!("{locale:?}/{scenario:?}");
            assert!(
                !r.subject.is_empty() && !r.subject.contains('\n'),
                "{what}: {r:?}"
            );
            assert!(r.text.contains("Linen Shirt"), "{what}: {}", r.text);
            assert!(r.text.contains("¥1,980"), "{what}: {}", r.text);
            assert!(r.text.contains("https://shop.example/p/1"), "{what}");
            assert!(r.text.contains("https://shop.example/u/tok123"), "{what}");
            assert!(
                r.text.ends_with('\n') && !r.text.contains("\n\n\n"),
                "{what}"
            );
            assert!(
                r.html.contains("href=\"https://shop.example/u/tok123\""),
                "{what}"
            );
            assert!(r.html.contains("Linen Shirt"), "{what}");
            let lang = format!("lang=\"{}\"", locale_dir(locale));
            assert!(r.html.contains(&lang), "{what}");
        }
    }
}

#[test]
fn japanese_copy() {
    let t = builtin();
    let r = t
        .render(&ctx(
            Scenario::BackInStock,
            Locale::Ja,
            vec![item(1, "リネンシャツ")],
        ))
        .unwrap();
    assert_eq!(r.subject, "【再入荷】リネンシャツが再入荷しました");
    assert!(r
        .text
        .starts_with("いつもご利用いただき、ありがとうございます。"));
    assert!(r.text.contains("配信停止"));
    let r = t
        .render(&ctx(
            Scenario::LowStock,
            Locale::Ja,
            vec![item(1, "リネンシャツ")],
        ))
        .unwrap();
    assert_eq!(r.subject, "【残り3点】リネンシャツの在庫が残りわずかです");
    assert!(r.text.contains("残り3点"), "{}", r.text);
    assert!(r.html.contains("残り3点"));
}

#[test]
fn price_drop_strikes_old_price() {
    let t = builtin();
    let r = t
        .render(&ctx(Scenario::PriceDrop, Locale::En, vec![item(1, "Mug")]))
        .unwrap();
    assert_eq!(r.subject, "Price drop: Mug is now ¥1,980");
    assert!(r.text.contains("¥2,400 -> ¥1,980 (17% off)"), "{}", r.text);
    assert!(r.html.contains(">¥2,400</s>"), "{}", r.html);
    let r = t
        .render(&ctx(Scenario::PriceDrop, Locale::Ja, vec![item(1, "マグ")]))
        .unwrap();
    assert!(r.text.contains("¥2,400 → ¥1,980（17%オフ）"), "{}", r.text);
}

#[test]
fn low_stock_says_how_many_are_left() {
    let t = builtin();
    let r = t
        .render(&ctx(Scenario::LowStock, Locale::En, vec![item(1, "Mug")]))
        .unwrap();
    assert_eq!(r.subject, "Only 3 left: Mug");
    assert!(r.text.contains("only 3 left"), "{}", r.text);
    assert!(r.html.contains("Only 3 left"), "{}", r.html);
    // Other scenarios do not talk about stock counts.
    let r = t
        .render(&ctx(Scenario::NewArrival, Locale::En, vec![item(1, "Mug")]))
        .unwrap();
    assert!(!r.text.contains("left"), "{}", r.text);
}

#[test]
fn digest_lists_every_item() {
    let t = builtin();
    let items = vec![item(1, "Alpha"), item(2, "Beta"), item(3, "Gamma")];
    for locale in [Locale::Ja, Locale::En] {
        for scenario in Scenario::STOCK {
            let r = t.render(&ctx(scenario, locale, items.clone())).unwrap();
            assert!(r.subject.contains('3'), "{scenario:?}: {}", r.subject);
            for (n, title) in [(1, "Alpha"), (2, "Beta"), (3, "Gamma")] {
                assert!(r.text.contains(title), "{}", r.text);
                assert!(r.html.contains(title));
                assert!(r.text.contains(&format!("https://shop.example/p/{n}")));
            }
        }
    }
    let r = t
        .render(&ctx(Scenario::NewArrival, Locale::En, items))
        .unwrap();
    assert_eq!(r.subject, "3 new arrivals picked for you");
}

#[test]
fn html_escapes_but_text_does_not() {
    let t = builtin();
    let evil = "<script>alert(1)</script> & \"Co\"";
    let r = t
        .render(&ctx(Scenario::BackInStock, Locale::En, vec![item(1, evil)]))
        .unwrap();
    assert!(!r.html.contains("<script>"), "{}", r.html);
    assert!(r
        .html
        .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
    assert!(r.text.contains(evil));
    assert!(r.subject.contains(evil));
}

#[test]
fn no_items_is_an_error() {
    let err = builtin()
        .render(&ctx(Scenario::BackInStock, Locale::En, vec![]))
        .unwrap_err();
    assert!(err.to_string().contains("\"c-1\""), "{err}");
}

#[test]
fn override_dir_replaces_one_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("en")).unwrap();
    std::fs::write(
        dir.path().join("en/back_in_stock.subject"),
        "Restocked!! {{ item.title }} at {{ item.price_minor|price(item.currency) }}",
    )
    .unwrap();
    let t = Templates::new(Some(dir.path())).unwrap();
    let r = t
        .render(&ctx(
            Scenario::BackInStock,
            Locale::En,
            vec![item(1, "Mug")],
        ))
        .unwrap();
    assert_eq!(r.subject, "Restocked!! Mug at ¥1,980");
    // Everything else is still built in.
    assert!(r.text.contains("is available again"));
    let r = t
        .render(&ctx(
            Scenario::BackInStock,
            Locale::Ja,
            vec![item(1, "マグ")],
        ))
        .unwrap();
    assert_eq!(r.subject, "【再入荷】マグが再入荷しました");
}

#[test]
fn broken_override_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ja")).unwrap();
    let path = dir.path().join("ja/price_drop.html");
    std::fs::write(&path, "{% if digest %}unclosed").unwrap();
    let err = Templates::new(Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("syntax error"), "{err}");

    // A template that parses but uses an unknown variable fails at start too.
    std::fs::write(&path, "{{ item.no_such_field }}").unwrap();
    let err = Templates::new(Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("undefined"), "{err}");
}

#[test]
fn misnamed_override_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("en")).unwrap();
    std::fs::write(dir.path().join("en/back_in_stok.html"), "x").unwrap();
    let err = Templates::new(Some(dir.path())).unwrap_err().to_string();
    assert!(err.contains("back_in_stok.html"), "{err}");
    assert!(err.contains("back_in_stock.html"), "{err}");
}

#[test]
fn the_last_chance_button_is_its_tracked_item_else_keep_url() {
    let mut t = builtin();
    t.set_keep_url("https://shop.example/keep");
    let tracked = ItemContext {
        url: "https://bell.example/c/tok".into(),
        ..ItemContext::default()
    };
    for locale in [Locale::En, Locale::Ja] {
        let plain = t
            .render(&ctx(Scenario::LastChance, locale, vec![]))
            .unwrap();
        assert!(
            plain.text.contains("https://shop.example/keep"),
            "{}",
            plain.text
        );
        assert!(plain.html.contains("href=\"https://shop.example/keep\""));
        let r = t
            .render(&ctx(Scenario::LastChance, locale, vec![tracked.clone()]))
            .unwrap();
        for body in [&r.text, &r.html] {
            assert!(body.contains("https://bell.example/c/tok"), "{body}");
            assert!(!body.contains("https://shop.example/keep"), "{body}");
        }
    }
    // No keep_url and nothing tracked: no button.
    let r = builtin()
        .render(&ctx(Scenario::LastChance, Locale::En, vec![]))
        .unwrap();
    assert!(!r.html.contains("keep me posted"), "{}", r.html);
}
