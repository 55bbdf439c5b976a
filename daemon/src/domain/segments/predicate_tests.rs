//! Predicate tests: one per condition on hand-made rows, parse errors, and property
//! tests against a plain reference evaluator over raw customers.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::domain::segments::parse::parse;
use crate::domain::segments::{Bought, OrderPoint, RfmGroup, Row, ScoreSource, Scores};
use crate::domain::Millis;

const NOW: Millis = 1_000 * DAY_MS;

struct FixedScores(Option<RfmGroup>, f64);

impl ScoreSource for FixedScores {
    fn scores(&self, _row: &Row, _now: Millis) -> Scores {
        Scores {
            group: self.0,
            churn_risk: self.1,
            ..Scores::default()
        }
    }
}

fn cats() -> HashMap<String, Vec<String>> {
    HashMap::from([
        ("A".to_owned(), vec!["c1".to_owned()]),
        ("B".to_owned(), vec!["c1".to_owned(), "c2".to_owned()]),
        ("C".to_owned(), vec!["c2".to_owned()]),
    ])
}

/// Orders on days 900 (2000, coupon), 950 (3000), 990 (7000); bought A in orders 1 and
/// 3 (3 units, last day 990), C in order 2 (1 unit, day 950).
fn row() -> Row {
    Row {
        customer_id: "u1".into(),
        orders: vec![
            OrderPoint {
                at_ms: 900 * DAY_MS,
                amount_minor: 2000,
                coupon: true,
            },
            OrderPoint {
                at_ms: 950 * DAY_MS,
                amount_minor: 3000,
                coupon: false,
            },
            OrderPoint {
                at_ms: 990 * DAY_MS,
                amount_minor: 7000,
                coupon: false,
            },
        ],
        subscribed: true,
        tags: vec!["vip".into()],
        consent: [false, true, false],
        locale: "ja".into(),
        time_zone: "Asia/Tokyo".into(),
        last_click_ms: Some(995 * DAY_MS),
        bought: vec![
            Bought {
                sku: "A".into(),
                units: 3,
                order_indexes: vec![1, 3],
                first_ms: 900 * DAY_MS,
                last_ms: 990 * DAY_MS,
            },
            Bought {
                sku: "C".into(),
                units: 1,
                order_indexes: vec![2],
                first_ms: 950 * DAY_MS,
                last_ms: 950 * DAY_MS,
            },
        ],
        ..Row::default()
    }
}

fn eval(src: &str, row: &Row) -> bool {
    let p = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let c = cats();
    let s = FixedScores(Some(RfmGroup::Loyal), 0.25);
    p.matches(
        row,
        &EvalCtx {
            now_ms: NOW,
            categories: &c,
            scores: &s,
        },
    )
}

#[test]
fn numeric_conditions() {
    let r = row();
    assert!(eval("orders = 3", &r));
    assert!(eval(
        "orders >= 3 and orders <= 3 and orders > 2 and orders < 4",
        &r
    ));
    assert!(!eval("orders != 3", &r));
    assert!(eval("spend = 12000", &r));
    assert!(eval("mean_order = 4000", &r));
    assert!(eval("coupon_orders = 1", &r));
    assert!(eval("first_order_days = 100", &r));
    assert!(eval("last_order_days = 10", &r));
    // Without orders: counts are 0, days and mean never hold.
    let none = Row::default();
    assert!(eval(
        "orders = 0 and spend = 0 and coupon_orders = 0",
        &none
    ));
    assert!(!eval("mean_order >= 0", &none));
    assert!(!eval("first_order_days >= 0", &none));
    assert!(!eval("last_order_days != 5", &none));
}

#[test]
fn bought_conditions() {
    let r = row();
    assert!(eval("bought sku \"A\"", &r));
    assert!(!eval("bought sku \"B\"", &r));
    assert!(eval("bought sku \"A\" at_least 3", &r));
    assert!(!eval("bought sku \"A\" at_least 4", &r));
    assert!(eval("bought sku \"A\" within 10d", &r));
    assert!(!eval("bought sku \"A\" within 9d", &r));
    assert!(eval("bought sku \"A\" in_order 1", &r));
    assert!(!eval("bought sku \"A\" in_order 2", &r));
    assert!(eval("bought sku \"A\" in_order >= 2", &r));
    assert!(!eval("bought sku \"C\" in_order >= 3", &r));
    // "first order A, later C".
    assert!(eval(
        "bought sku \"A\" in_order 1 and bought sku \"C\" in_order >= 2",
        &r
    ));
    // Categories: c1 = A (3 units), c2 = C (1 unit; B never bought).
    assert!(eval("bought category \"c1\" at_least 3", &r));
    assert!(eval("bought category \"c2\"", &r));
    assert!(!eval("bought category \"c2\" at_least 2", &r));
    assert!(!eval("bought category \"c2\" within 49d", &r));
    assert!(eval("bought category \"c2\" within 50d in_order 2", &r));
    assert!(!eval("bought category \"c3\"", &r));
    assert!(eval("bought sku \"A\" at_least 0", &Row::default()));
}

#[test]
fn profile_and_score_conditions() {
    let r = row();
    assert!(eval("coupon", &r));
    assert!(!eval("coupon", &Row::default()));
    assert!(eval("subscribed", &r));
    assert!(eval("tag \"vip\" and not tag \"wholesale\"", &r));
    assert!(eval("consent line and consent any", &r));
    assert!(!eval("consent email or consent webhook", &r));
    assert!(!eval("consent any", &Row::default()));
    assert!(eval("locale \"ja\" and not locale \"en\"", &r));
    assert!(eval("time_zone \"Asia/Tokyo\"", &r));
    assert!(eval("clicked within 5d", &r));
    assert!(!eval("clicked within 4d", &r));
    assert!(!eval("clicked within 100d", &Row::default()));
    assert!(eval("rfm \"loyal\"", &r));
    assert!(!eval("rfm \"champions\"", &r));
    assert!(eval("churn_risk < 0.3 and churn_risk >= 0.25", &r));
    assert!(!eval("churn_risk > 0.25", &r));
}

#[test]
fn precedence_and_canonical_text() {
    let p = parse("coupon or subscribed and not tag \"x\"").unwrap();
    assert_eq!(p.to_string(), "coupon or subscribed and not tag \"x\"");
    assert!(matches!(p, Pred::Or(..)));
    let p = parse("(coupon or subscribed) and (orders>1 and spend>=5)").unwrap();
    assert_eq!(
        p.to_string(),
        "(coupon or subscribed) and (orders > 1 and spend >= 5)"
    );
    let p = parse("not (coupon and subscribed)").unwrap();
    assert_eq!(p.to_string(), "not (coupon and subscribed)");
    let p = parse("tag \"a\\\"b\\\\c\"").unwrap();
    assert_eq!(p, Pred::Tag("a\"b\\c".into()));
    assert_eq!(p.to_string(), "tag \"a\\\"b\\\\c\"");
    let p = parse("bought category \"c1\" within 90 d at_least 2 in_order>=2").unwrap();
    assert_eq!(
        p.to_string(),
        "bought category \"c1\" at_least 2 within 90d in_order >= 2"
    );
    assert_eq!(
        parse("churn_risk >= 1").unwrap().to_string(),
        "churn_risk >= 1"
    );
}

#[test]
fn parse_errors_name_position_and_fix() {
    let cases: [(&str, &str); 14] = [
        ("", "at 0: the predicate is empty, write a condition"),
        (
            "orders >= ",
            "at 10: expected a whole number after orders, found the end",
        ),
        ("orders 2", "at 7: expected a comparison after orders"),
        (
            "order >= 2",
            "at 0: unknown condition \"order\", start a condition with",
        ),
        ("coupon and", "at 10: expected a condition, found the end"),
        (
            "coupon subscribed",
            "at 7: expected and / or before \"subscribed\"",
        ),
        ("(coupon", "at 7: expected \")\" (for the \"(\" at 0)"),
        ("coupon)", "at 6: \")\" closes nothing"),
        ("tag vip", "at 4: expected a quoted string after tag"),
        ("tag \"vip", "at 4: the string is not closed"),
        (
            "rfm \"best\"",
            "at 4: unknown RFM group \"best\", use one of champions",
        ),
        ("churn_risk > 1.5", "at 13: churn risk 1.5 is outside 0..1"),
        (
            "clicked within 30",
            "at 17: expected the unit d after clicked within 30",
        ),
        (
            "bought sku \"A\" in_order 0",
            "at 24: in_order 0 is not an order number",
        ),
    ];
    for (src, want) in cases {
        let e = parse(src).unwrap_err();
        assert!(e.starts_with(want), "{src:?}: {e}");
    }
    assert!(parse("orders >= -1")
        .unwrap_err()
        .contains("never negative"));
    assert!(parse("Orders >= 1")
        .unwrap_err()
        .starts_with("at 0: unexpected character 'O'"));
    assert!(parse(&"not ".repeat(100)).unwrap_err().contains("nesting"));
}

// ---- property tests: a reference evaluator over raw customers ----

/// A raw order: day, amount, coupon, SKU indexes with units.
type RawOrder = (i64, i64, bool, Vec<(usize, i64)>);

/// A raw customer: orders, profile fields.
#[derive(Debug, Clone)]
struct Raw {
    orders: Vec<RawOrder>,
    subscribed: bool,
    tags: Vec<usize>,
    consent: [bool; 3],
    locale: usize,
    click_day: Option<i64>,
    group: Option<usize>,
    churn: f64,
}

const SKUS: [&str; 4] = ["A", "B", "C", "D"];
const CATS: [&str; 3] = ["c1", "c2", "c3"];
const TAGS: [&str; 3] = ["vip", "new", "x"];
const LOCALES: [&str; 2] = ["ja", "en"];

fn sku_cats(sku: &str) -> &'static [&'static str] {
    match sku {
        "A" => &["c1"],
        "B" => &["c1", "c2"],
        "C" => &["c2"],
        _ => &[],
    }
}

fn cat_map() -> HashMap<String, Vec<String>> {
    SKUS.iter()
        .map(|s| {
            (
                (*s).to_owned(),
                sku_cats(s).iter().map(|c| (*c).to_owned()).collect(),
            )
        })
        .collect()
}

/// The Row the aggregates would hold for `raw` (orders sorted by day).
fn row_of_raw(raw: &Raw) -> Row {
    let mut bought: Vec<Bought> = Vec::new();
    for (i, (day, _, _, lines)) in raw.orders.iter().enumerate() {
        for (s, units) in lines {
            let sku = SKUS[*s];
            let idx = i as u32 + 1;
            match bought.iter_mut().find(|b| b.sku == sku) {
                Some(b) => {
                    b.units += units;
                    if b.order_indexes.last() != Some(&idx) {
                        b.order_indexes.push(idx);
                    }
                    b.last_ms = day * DAY_MS;
                }
                None => bought.push(Bought {
                    sku: sku.into(),
                    units: *units,
                    order_indexes: vec![idx],
                    first_ms: day * DAY_MS,
                    last_ms: day * DAY_MS,
                }),
            }
        }
    }
    Row {
        customer_id: "c".into(),
        email: None,
        orders: raw
            .orders
            .iter()
            .map(|(day, amount, coupon, _)| OrderPoint {
                at_ms: day * DAY_MS,
                amount_minor: *amount,
                coupon: *coupon,
            })
            .collect(),
        earlier: None,
        subscribed: raw.subscribed,
        tags: raw.tags.iter().map(|t| TAGS[*t].to_owned()).collect(),
        consent: raw.consent,
        locale: LOCALES[raw.locale].into(),
        time_zone: "Asia/Tokyo".into(),
        last_click_ms: raw.click_day.map(|d| d * DAY_MS),
        bought,
    }
}

fn cmp_ref(c: Cmp, a: f64, b: f64) -> bool {
    match c {
        Cmp::Ge => a >= b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Lt => a < b,
        Cmp::Eq => a == b,
        Cmp::Ne => a != b,
    }
}

/// The plain reference: straight from the raw orders, no Row helpers.
fn reference(p: &Pred, raw: &Raw, now_day: i64) -> bool {
    let n = raw.orders.len() as f64;
    let spend: i64 = raw.orders.iter().map(|o| o.1).sum();
    match p {
        Pred::And(a, b) => reference(a, raw, now_day) && reference(b, raw, now_day),
        Pred::Or(a, b) => reference(a, raw, now_day) || reference(b, raw, now_day),
        Pred::Not(a) => !reference(a, raw, now_day),
        Pred::Num(k, c, v) => {
            let v = *v as f64;
            match k {
                Num::Orders => cmp_ref(*c, n, v),
                Num::Spend => cmp_ref(*c, spend as f64, v),
                Num::CouponOrders => {
                    cmp_ref(*c, raw.orders.iter().filter(|o| o.2).count() as f64, v)
                }
                Num::MeanOrder => n > 0.0 && cmp_ref(*c, spend as f64 / n, v),
                Num::FirstOrderDays => raw
                    .orders
                    .first()
                    .is_some_and(|o| cmp_ref(*c, (now_day - o.0) as f64, v)),
                Num::LastOrderDays => raw
                    .orders
                    .last()
                    .is_some_and(|o| cmp_ref(*c, (now_day - o.0) as f64, v)),
            }
        }
        Pred::Bought(b) => {
            let is_item = |s: &str| match &b.item {
                Item::Sku(x) => s == x,
                Item::Category(c) => sku_cats(s).contains(&c.as_str()),
            };
            let mut total = 0;
            for s in SKUS.iter().filter(|s| is_item(s)) {
                let holding: Vec<(usize, &RawOrder)> = raw
                    .orders
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.3.iter().any(|(k, _)| SKUS[*k] == *s))
                    .collect();
                let Some(last) = holding.last() else { continue };
                if b.within_days
                    .is_some_and(|d| last.1 .0 < now_day - i64::from(d))
                {
                    continue;
                }
                let ok = match b.in_order {
                    None => true,
                    Some(InOrder::Exactly(k)) => holding.iter().any(|(i, _)| *i + 1 == k as usize),
                    Some(InOrder::AtLeast(k)) => holding.iter().any(|(i, _)| *i + 1 >= k as usize),
                };
                if ok {
                    total += holding
                        .iter()
                        .flat_map(|(_, o)| o.3.iter())
                        .filter(|(k, _)| SKUS[*k] == *s)
                        .map(|(_, u)| u)
                        .sum::<i64>();
                }
            }
            total >= b.at_least.unwrap_or(1)
        }
        Pred::Coupon => raw.orders.iter().any(|o| o.2),
        Pred::Subscribed => raw.subscribed,
        Pred::Tag(t) => raw.tags.iter().any(|i| TAGS[*i] == t),
        Pred::Consent(ConsentOf::Email) => raw.consent[0],
        Pred::Consent(ConsentOf::Line) => raw.consent[1],
        Pred::Consent(ConsentOf::Webhook) => raw.consent[2],
        Pred::Consent(ConsentOf::Any) => raw.consent.contains(&true),
        Pred::Locale(l) => LOCALES[raw.locale] == l,
        Pred::TimeZone(z) => z == "Asia/Tokyo",
        Pred::ClickedWithin(d) => raw.click_day.is_some_and(|c| c >= now_day - i64::from(*d)),
        Pred::Rfm(g) => raw.group.map(|i| RfmGroup::ALL[i]) == Some(*g),
        Pred::ChurnRisk(c, v) => cmp_ref(*c, raw.churn, *v),
    }
}

fn arb_raw() -> impl Strategy<Value = Raw> {
    let order = (
        0i64..60,
        0i64..20_000,
        any::<bool>(),
        prop::collection::vec((0usize..4, 1i64..4), 0..3),
    );
    (
        prop::collection::vec(order, 0..6),
        any::<bool>(),
        prop::collection::vec(0usize..3, 0..3),
        any::<[bool; 3]>(),
        0usize..2,
        prop::option::of(0i64..100),
        prop::option::of(0usize..11),
        0u32..=4,
    )
        .prop_map(
            |(mut orders, subscribed, tags, consent, locale, click, group, churn)| {
                // Days as gaps, so orders are ascending; the last within the 100-day range.
                let mut day = 0;
                for o in orders.iter_mut() {
                    day += o.0 / 4;
                    o.0 = day;
                }
                // Each order lists a SKU once.
                for o in orders.iter_mut() {
                    let mut seen = Vec::new();
                    o.3.retain(|(s, _)| {
                        let fresh = !seen.contains(s);
                        seen.push(*s);
                        fresh
                    });
                }
                Raw {
                    orders,
                    subscribed,
                    tags,
                    consent,
                    locale,
                    click_day: click,
                    group,
                    churn: f64::from(churn) / 4.0,
                }
            },
        )
}

fn arb_cmp() -> impl Strategy<Value = Cmp> {
    prop::sample::select(Cmp::ALL.to_vec())
}

fn arb_str(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(pool.to_vec()).prop_map(str::to_owned),
        "[a-z\"\\\\ é]{0,4}",
    ]
}

fn arb_leaf() -> impl Strategy<Value = Pred> {
    prop_oneof![
        (
            prop::sample::select(Num::ALL.to_vec()),
            arb_cmp(),
            0i64..200
        )
            .prop_map(|(n, c, v)| {
                let v = if matches!(n, Num::Spend | Num::MeanOrder) {
                    v * 200 - 2000
                } else {
                    v / 10
                };
                Pred::Num(n, c, v)
            }),
        (
            prop_oneof![
                arb_str(&SKUS).prop_map(Item::Sku),
                arb_str(&CATS).prop_map(Item::Category)
            ],
            prop::option::of(0i64..6),
            prop::option::of(0u32..80),
            prop::option::of(prop_oneof![
                (1u32..5).prop_map(InOrder::Exactly),
                (1u32..5).prop_map(InOrder::AtLeast)
            ]),
        )
            .prop_map(
                |(item, at_least, within_days, in_order)| Pred::Bought(BoughtCond {
                    item,
                    at_least,
                    within_days,
                    in_order
                })
            ),
        Just(Pred::Coupon),
        Just(Pred::Subscribed),
        arb_str(&TAGS).prop_map(Pred::Tag),
        prop::sample::select(ConsentOf::ALL.to_vec()).prop_map(Pred::Consent),
        arb_str(&LOCALES).prop_map(Pred::Locale),
        prop_oneof![Just("Asia/Tokyo".to_owned()), Just("UTC".to_owned())].prop_map(Pred::TimeZone),
        (0u32..120).prop_map(Pred::ClickedWithin),
        (0usize..11).prop_map(|i| Pred::Rfm(RfmGroup::ALL[i])),
        (arb_cmp(), 0u32..=8).prop_map(|(c, v)| Pred::ChurnRisk(c, f64::from(v) / 8.0)),
    ]
}

fn arb_pred() -> impl Strategy<Value = Pred> {
    arb_leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Pred::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Pred::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Pred::Not(Box::new(a))),
        ]
    })
}

proptest! {
    #[test]
    fn evaluator_agrees_with_reference(p in arb_pred(), raws in prop::collection::vec(arb_raw(), 1..8)) {
        let cats = cat_map();
        let now_day = 100;
        for raw in &raws {
            let scores = FixedScores(raw.group.map(|i| RfmGroup::ALL[i]), raw.churn);
            let ctx = EvalCtx { now_ms: now_day * DAY_MS, categories: &cats, scores: &scores };
            let row = row_of_raw(raw);
            prop_assert_eq!(p.matches(&row, &ctx), reference(&p, raw, now_day), "{} on {:?}", p, raw);
        }
    }

    #[test]
    fn canonical_text_parses_back(p in arb_pred()) {
        let text = p.to_string();
        let back = parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&p), "{}", text);
        prop_assert_eq!(back.map(|b| b.to_string()), Ok(text));
    }

    #[test]
    fn parser_never_panics(s in "[a-z_ ()<>=!\"0-9.\\-]{0,40}") {
        let _ = parse(&s);
    }
}
