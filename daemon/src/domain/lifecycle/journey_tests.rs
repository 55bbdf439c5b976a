use proptest::prelude::*;

use super::*;
use crate::domain::product::{apply as apply_product, Effects};
use crate::domain::{Catalogue, ProductEvent};

const T0: Millis = 1_700_000_000_000;
const H: i64 = 3_600_000;

fn product(sku: &str, stock: i64, price: i64, backorderable: bool) -> ProductState {
    let cfg = TriggerConfig::default();
    let (mut st, mut fx) = (None, Effects::default());
    let events = [
        ProductEvent::Upsert {
            catalogue: Catalogue {
                title: format!("T-{sku}"),
                url: format!("https://shop.example/p/{sku}"),
                image_url: format!("https://shop.example/i/{sku}.jpg"),
                currency: "JPY".into(),
                backorderable,
                ..Default::default()
            },
            price_minor: price,
            imported: true,
        },
        ProductEvent::StockSet { quantity: stock },
    ];
    for e in &events {
        assert!(apply_product(&mut st, sku, e, T0 - H, &cfg, &mut fx).is_ok());
    }
    st.expect("the upsert creates the product")
}

fn add(sku: &str, price: Option<i64>) -> CartChange {
    CartChange::Add {
        sku: sku.into(),
        quantity: 1,
        unit_price_minor: price,
    }
}

#[test]
fn a_cart_left_alone_has_its_steps_at_idle_plus_after() {
    let rules = JourneyRules::default();
    let mut j = Journey::default();
    assert_eq!(
        j.apply(add("a", None), T0, &rules),
        (true, Some(T0 + 25 * H))
    );
    // A change restarts the clock.
    assert_eq!(
        j.apply(add("b", None), T0 + H, &rules),
        (true, Some(T0 + 26 * H))
    );
    assert_eq!(j.fire(T0 + 26 * H - 1, &rules, Millis::MIN), Fire::Nothing);
    let Fire::Step(s) = j.fire(T0 + 26 * H, &rules, Millis::MIN) else {
        panic!("step 0 is due");
    };
    assert_eq!((s.scenario, s.index), (Scenario::CartAbandoned, 0));
    assert_eq!(j.due_ms, Some(T0 + H + 73 * H));
    // The same timer again (a replay): nothing.
    assert_eq!(j.fire(T0 + 26 * H, &rules, Millis::MIN), Fire::Nothing);
    let Fire::Step(s) = j.fire(T0 + 74 * H, &rules, Millis::MIN) else {
        panic!("step 1 is due");
    };
    assert_eq!(s.index, 1);
    assert_eq!(j.due_ms, None);
}

#[test]
fn a_checkout_has_its_own_steps_and_a_purchase_ends_the_journey() {
    let rules = JourneyRules::default();
    let mut j = Journey::default();
    j.apply(add("a", Some(900)), T0, &rules);
    let lines = vec![
        NewLine {
            sku: "a".into(),
            quantity: 2,
            unit_price_minor: None,
        },
        NewLine {
            sku: "b".into(),
            quantity: 1,
            unit_price_minor: Some(500),
        },
    ];
    let (_, due) = j.apply(CartChange::CheckoutStarted { lines }, T0 + H, &rules);
    assert_eq!(due, Some(T0 + 3 * H));
    assert_eq!(j.scenario(), Scenario::CheckoutAbandoned);
    // The line already in the cart keeps when and at what price it was added.
    assert_eq!(
        (
            j.lines[0].added_ms,
            j.lines[0].unit_price_minor,
            j.lines[0].quantity
        ),
        (T0, Some(900), 2)
    );
    let Fire::Step(s) = j.fire(T0 + 3 * H, &rules, Millis::MIN) else {
        panic!("the checkout step is due");
    };
    let offer = |sku: &str| Offer {
        candidate: Candidate {
            trigger_id: trigger_id(s.run, s.index),
            scenario: s.scenario,
            sku: sku.into(),
            at_ms: T0,
            score: 1.0,
        },
        item: ItemContext::default(),
    };
    assert!(j.holds(&offer("a")));
    // A purchase of another SKU changes nothing.
    assert_eq!(
        j.apply(
            CartChange::Bought {
                skus: vec!["z".into()]
            },
            T0 + 4 * H,
            &rules
        ),
        (false, None)
    );
    // A purchase of one line ends the journey: the rest stays in the cart, quiet.
    assert_eq!(
        j.apply(
            CartChange::Bought {
                skus: vec!["a".into()]
            },
            T0 + 4 * H,
            &rules
        ),
        (true, None)
    );
    assert!(!j.holds(&offer("b")));
    assert_eq!((j.lines.len(), j.due_ms, j.checkout), (1, None, false));
}

#[test]
fn the_cooldown_postpones_a_step_and_never_brings_it_forward() {
    let rules = JourneyRules::default();
    let mut j = Journey::default();
    j.apply(add("a", None), T0, &rules);
    assert_eq!(
        j.fire(T0 + 25 * H, &rules, T0 + 30 * H),
        Fire::Later(T0 + 30 * H)
    );
    assert_eq!(j.fire(T0 + 29 * H, &rules, T0 + 30 * H), Fire::Nothing);
    assert!(matches!(
        j.fire(T0 + 30 * H, &rules, T0 + 30 * H),
        Fire::Step(Step { index: 0, .. })
    ));
    let ledger = [Sent {
        at_ms: T0,
        scenario: Scenario::CheckoutAbandoned,
        channel: crate::domain::customer::Channel::Email,
        skus: vec!["a".into()],
    }];
    assert_eq!(cooldown_until(&ledger, |_| 24 * H), T0 + 24 * H);
    assert_eq!(cooldown_until(&[], |_| 24 * H), Millis::MIN);
}

#[test]
fn a_reminder_drops_what_cannot_be_bought_and_shows_a_lower_price() {
    let rules = JourneyRules::default();
    let cfg = TriggerConfig::default();
    let mut j = Journey::default();
    j.apply(add("cut", Some(1_000)), T0, &rules);
    j.apply(add("gone", Some(1_000)), T0, &rules);
    j.apply(add("up", Some(1_000)), T0, &rules);
    j.apply(add("pre", None), T0, &rules);
    j.apply(add("deleted", None), T0, &rules);
    let products: HashMap<String, ProductState> = [
        product("cut", 3, 800, false),
        product("gone", 0, 1_000, false),
        product("up", 2, 1_200, false),
        product("pre", 0, 700, true),
    ]
    .into_iter()
    .map(|p| (p.sku.clone(), p))
    .collect();
    let Fire::Step(s) = j.fire(T0 + 25 * H, &rules, Millis::MIN) else {
        panic!("due");
    };
    let r = j.reminder(s, &products, T0 + 25 * H, &cfg);
    let shown: Vec<(&str, i64, Option<i64>)> = r
        .offers
        .iter()
        .map(|o| {
            (
                o.item.sku.as_str(),
                o.item.price_minor,
                o.item.old_price_minor,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("cut", 800, Some(1_000)),
            ("up", 1_200, None),
            ("pre", 700, None)
        ]
    );
    let left: Vec<&str> = r.left_out.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(left, ["gone"]);
}

/// What happens to a cart, in the property test's model.
#[derive(Debug, Clone)]
enum Ev {
    Add(u8),
    Remove(u8),
    Checkout,
    Buy(u8),
    /// Stock of a SKU changes (sold out or back).
    Stock(u8, i64),
    /// The journey timer fires; offers go to a queue (arbitration, quiet hours).
    Timer,
    /// Queued offers are sent if they still hold (the actor's re-check).
    Deliver,
}

fn ev() -> impl Strategy<Value = (Ev, i64)> {
    let e = prop_oneof![
        (0u8..4).prop_map(Ev::Add),
        (0u8..4).prop_map(Ev::Remove),
        Just(Ev::Checkout),
        (0u8..4).prop_map(Ev::Buy),
        ((0u8..4), (0i64..3)).prop_map(|(s, q)| Ev::Stock(s, q)),
        Just(Ev::Timer),
        Just(Ev::Timer),
        Just(Ev::Deliver),
    ];
    (e, 0i64..30 * H)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Against a model that remembers every change: a step is never sent before its
    /// offset from the last change, never after an order or purchase of its line (until
    /// the cart changes again), never twice; a sold-out line is never in a sent reminder.
    #[test]
    fn steps_keep_their_promises(events in proptest::collection::vec(ev(), 1..60)) {
        let rules = JourneyRules { idle_ms: H, cart_after_ms: vec![2 * H, 6 * H], checkout_after_ms: vec![H] };
        let cfg = TriggerConfig::default();
        let sku = |i: u8| format!("s{i}");
        let mut products: HashMap<String, ProductState> =
            (0..4).map(|i| (sku(i), product(&sku(i), 5, 1_000, false))).collect();
        let mut j = Journey::default();
        let mut now = T0;
        let mut last_change = None::<Millis>;
        let mut bought_at: HashMap<String, Millis> = HashMap::new();
        let mut queue: Vec<(Offer, Millis)> = Vec::new();
        let mut sent_steps: Vec<u64> = Vec::new();
        for (e, dt) in events {
            now += dt;
            match e {
                Ev::Add(i) => { j.apply(add(&sku(i), None), now, &rules); last_change = Some(now); }
                Ev::Remove(i) => {
                    if j.apply(CartChange::Remove { sku: sku(i) }, now, &rules).0 { last_change = Some(now); }
                }
                Ev::Checkout => {
                    if !j.lines.is_empty() {
                        j.apply(CartChange::CheckoutStarted { lines: vec![] }, now, &rules);
                        last_change = Some(now);
                    }
                }
                Ev::Buy(i) => { j.apply(CartChange::Bought { skus: vec![sku(i)] }, now, &rules); bought_at.insert(sku(i), now); }
                Ev::Stock(i, q) => { if let Some(p) = products.get_mut(&sku(i)) { p.stock = q; } }
                Ev::Timer => {
                    if let Fire::Step(s) = j.fire(now, &rules, Millis::MIN) {
                        let offset = if s.scenario == Scenario::CheckoutAbandoned { &rules.checkout_after_ms } else { &rules.cart_after_ms };
                        let changed = last_change.expect("a step needs a change first");
                        prop_assert!(now >= changed + rules.idle_ms + offset[s.index as usize], "step {} early", s.index);
                        for o in j.reminder(s, &products, now, &cfg).offers {
                            queue.push((o, now));
                        }
                    }
                }
                Ev::Deliver => {
                    let mut steps: Vec<u64> = Vec::new();
                    for (o, decided) in queue.drain(..) {
                        if !j.holds(&o) { continue; }
                        let p = &products[&o.candidate.sku];
                        if still_worth_sending(o.candidate.scenario, &o.item, Some(p), now, &cfg).is_err() {
                            continue;
                        }
                        // Sent: never after an order or purchase of the line since it was decided.
                        prop_assert!(bought_at.get(&o.candidate.sku).is_none_or(|b| *b < decided));
                        prop_assert!(p.stock > 0, "a sold-out line in a sent reminder");
                        if !steps.contains(&o.candidate.trigger_id) { steps.push(o.candidate.trigger_id); }
                    }
                    for s in steps {
                        prop_assert!(!sent_steps.contains(&s), "step {s:x} sent twice");
                        sent_steps.push(s);
                    }
                }
            }
        }
    }
}
