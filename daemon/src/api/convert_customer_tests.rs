//! Unit tests of `convert_customer.rs`.

use super::*;
use crate::api::convert::tests::defaults;

fn one(kind: Kind) -> Result<Vec<IngestItem>, String> {
    let mut out = Vec::new();
    event(&kind, 3, 1_000, &defaults(), &mut out).map_err(|r| r.field.into_owned())?;
    Ok(out)
}

#[test]
fn bad_customer_fields_are_named() {
    let up = |f: fn(&mut pb::CustomerUpsert)| {
        let mut u = pb::CustomerUpsert {
            customer_id: "c1".into(),
            ..Default::default()
        };
        f(&mut u);
        one(Kind::CustomerUpsert(u)).map(|_| ())
    };
    assert_eq!(
        up(|u| u.customer_id.clear()),
        Err("customer_upsert.customer_id".into())
    );
    assert_eq!(
        up(|u| u.email = "not-an-address".into()),
        Err("customer_upsert.email".into())
    );
    assert_eq!(
        up(|u| u.time_zone = "Tokyo".into()),
        Err("customer_upsert.time_zone".into())
    );
    assert_eq!(
        up(|u| u.locale = "fr".into()),
        Err("customer_upsert.locale".into())
    );
    assert_eq!(up(|u| u.email = "hanako@example.jp".into()), Ok(()));
    let unsub = pb::Unsubscribe {
        customer_id: "c1".into(),
        channel: 0,
    };
    assert_eq!(
        one(Kind::Unsubscribe(unsub)).map(|_| ()),
        Err("unsubscribe.channel".into())
    );
    let nm = pb::NotifyMe {
        customer_id: "c1".into(),
        sku: "A".into(),
        expires_ms: 500,
    };
    assert_eq!(
        one(Kind::NotifyMe(nm)).map(|_| ()),
        Err("notify_me.expires_ms".into())
    );
    let nm = |expires_ms| pb::NotifyMe {
        customer_id: "c1".into(),
        sku: "A".into(),
        expires_ms,
    };
    let until = 1_000 + MAX_NOTIFY_ME_MS;
    assert_eq!(one(Kind::NotifyMe(nm(until))).map(|_| ()), Ok(()));
    for bad in [until + 1, i64::MAX] {
        assert_eq!(
            one(Kind::NotifyMe(nm(bad))).map(|_| ()),
            Err("notify_me.expires_ms".into())
        );
    }
    let view = |dwell_ms| {
        Kind::View(pb::View {
            customer_id: "c1".into(),
            sku: "A".into(),
            dwell_ms,
        })
    };
    assert_eq!(one(view(MAX_DWELL_MS)).map(|_| ()), Ok(()));
    assert_eq!(
        one(view(MAX_DWELL_MS + 1)).map(|_| ()),
        Err("view.dwell_ms".into())
    );
}

#[test]
fn a_purchase_addresses_each_sku_or_nothing() {
    let item = |sku: &str, quantity| pb::PurchaseItem {
        sku: sku.into(),
        quantity,
        amount_minor: 100,
    };
    let p = |items| {
        Kind::Purchase(pb::Purchase {
            customer_id: "c1".into(),
            order_id: "o1".into(),
            items,
            currency: "JPY".into(),
        })
    };
    // One item per sku for its product, and one for the customer's cart (journeys).
    assert_eq!(
        one(p(vec![item("A", 1), item("B", 2)])).map(|v| v.len()),
        Ok(3)
    );
    assert_eq!(
        one(p(vec![item("A", 1), item("B", 0)])).map(|v| v.len()),
        Err("purchase.items.quantity".into())
    );
    assert_eq!(
        one(p(vec![item("A", MAX_UNITS + 1)])).map(|v| v.len()),
        Err("purchase.items.quantity".into())
    );
    let priced = |amount_minor| {
        p(vec![pb::PurchaseItem {
            amount_minor,
            ..item("A", 1)
        }])
    };
    assert_eq!(one(priced(MAX_MINOR)).map(|v| v.len()), Ok(2));
    for bad in [-1, MAX_MINOR + 1] {
        assert_eq!(
            one(priced(bad)).map(|v| v.len()),
            Err("purchase.items.amount_minor".into())
        );
    }
}

#[test]
fn a_purchase_with_an_order_id_is_an_order_for_the_customer() {
    use crate::domain::profile::CustomerEvent;
    let p = |order_id: &str, currency: &str| {
        Kind::Purchase(pb::Purchase {
            customer_id: "c1".into(),
            order_id: order_id.into(),
            items: vec![
                pb::PurchaseItem {
                    sku: "A".into(),
                    quantity: 2,
                    amount_minor: 1_000,
                },
                pb::PurchaseItem {
                    sku: "B".into(),
                    quantity: 1,
                    amount_minor: 250,
                },
            ],
            currency: currency.into(),
        })
    };
    let order = |kind| {
        one(kind).map(|items| {
            items.into_iter().find_map(|i| match i {
                IngestItem::Customer { item, .. } => match item.event {
                    CustomerEvent::Purchase { order, .. } => Some(order),
                    _ => None,
                },
                _ => None,
            })
        })
    };
    let facts = order(p("o1", " jpy "))
        .expect("accepted")
        .flatten()
        .expect("an order");
    assert_eq!(
        (
            facts.order_id.as_str(),
            facts.currency.as_str(),
            facts.total_minor
        ),
        ("o1", "JPY", 1_250)
    );
    assert_eq!(facts.skus, ["A", "B"]);
    // No order id: the cart's journey only. No currency: counted without revenue.
    assert_eq!(order(p("", "JPY")), Ok(Some(None)));
    let bare = order(p("o1", ""))
        .expect("accepted")
        .flatten()
        .expect("an order");
    assert_eq!(bare.currency, "");
    assert_eq!(order(p("o1", "YEN1")), Err("purchase.currency".into()));
    assert_eq!(
        order(p(&"x".repeat(257), "JPY")),
        Err("purchase.order_id".into())
    );
    assert_eq!(order(p("   ", "JPY")), Err("purchase.order_id".into()));
}
