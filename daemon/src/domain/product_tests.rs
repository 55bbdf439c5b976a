//! Tests of the product rules, including the must-show cases of DESIGN §4.

use proptest::prelude::*;

use super::*;
use crate::domain::Window;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const T0: i64 = 1_700_000_000_000;

fn upsert(price: i64) -> ProductEvent {
    ProductEvent::Upsert {
        catalogue: Catalogue::default(),
        price_minor: price,
        imported: false,
    }
}

fn run(
    state: &mut Option<ProductState>,
    events: &[(i64, ProductEvent)],
    cfg: &TriggerConfig,
) -> Effects {
    let mut fx = Effects::default();
    for (at, ev) in events {
        // Rejections leave the state as it was; tests that care check them directly.
        let _ = apply(state, "A-1", ev, *at, cfg, &mut fx);
    }
    fx
}

fn kinds(fx: &Effects) -> Vec<TriggerKind> {
    fx.triggers.iter().map(|t| t.kind).collect()
}

fn stocked(qty: i64, cfg: &TriggerConfig) -> Option<ProductState> {
    let mut st = None;
    run(
        &mut st,
        &[
            (T0, upsert(1000)),
            (T0, ProductEvent::StockSet { quantity: qty }),
        ],
        cfg,
    );
    st
}

#[test]
fn unknown_sku_is_rejected_and_changes_nothing() {
    let mut st = None;
    let err = apply(
        &mut st,
        "A-1",
        &ProductEvent::StockSet { quantity: 3 },
        T0,
        &TriggerConfig::default(),
        &mut Effects::default(),
    );
    assert_eq!(err.map_err(|r| r.field), Err("sku".into()));
    assert!(st.is_none());
}

#[test]
fn negative_stock_is_rejected_unless_backorderable() {
    let cfg = TriggerConfig::default();
    let mut st = stocked(2, &cfg);
    let before = st.clone();
    let err = apply(
        &mut st,
        "A-1",
        &ProductEvent::Sale { quantity: 3 },
        T0 + 1,
        &cfg,
        &mut Effects::default(),
    );
    assert_eq!(err.map_err(|r| r.field), Err("sale.quantity".into()));
    assert_eq!(st, before);
    if let Some(s) = st.as_mut() {
        s.catalogue.backorderable = true;
    }
    assert!(apply(
        &mut st,
        "A-1",
        &ProductEvent::Sale { quantity: 3 },
        T0 + 1,
        &cfg,
        &mut Effects::default()
    )
    .is_ok());
    assert_eq!(st.map(|s| s.stock), Some(-1));
}

#[test]
fn five_left_selling_one_a_day_is_not_low_but_ten_a_day_is() {
    let cfg = TriggerConfig {
        low_stock_qty: 2,
        velocity_half_life_ms: 7 * DAY,
        ..TriggerConfig::default()
    };
    for (per_day, expect_low) in [(1, false), (10, true)] {
        let mut st = stocked(10_000, &cfg);
        // Sell `per_day` a day for 60 days with stock topped up, so velocity settles.
        let mut events = Vec::new();
        for day in 0..60 {
            events.push((T0 + day * DAY, ProductEvent::Sale { quantity: per_day }));
        }
        run(&mut st, &events, &cfg);
        let at = T0 + 60 * DAY;
        run(
            &mut st,
            &[(at, ProductEvent::StockSet { quantity: 100 })],
            &cfg,
        );
        let fx = run(
            &mut st,
            &[(at, ProductEvent::StockSet { quantity: 5 })],
            &cfg,
        );
        assert_eq!(
            kinds(&fx).contains(&TriggerKind::LowStock),
            expect_low,
            "{per_day}/day"
        );
    }
}

#[test]
fn low_stock_fires_once_per_episode_and_rearms_on_restock() {
    let cfg = TriggerConfig::default();
    let mut st = stocked(10, &cfg);
    let sales: Vec<_> = (1..=8)
        .map(|i| (T0 + i * DAY, ProductEvent::Sale { quantity: 1 }))
        .collect();
    let fx = run(&mut st, &sales, &cfg);
    assert_eq!(
        kinds(&fx)
            .iter()
            .filter(|k| **k == TriggerKind::LowStock)
            .count(),
        1
    );
    // A return does not re-arm; a restock does.
    let fx = run(
        &mut st,
        &[
            (
                T0 + 9 * DAY,
                ProductEvent::StockAdjust {
                    delta: 20,
                    reason: AdjustReason::Return,
                },
            ),
            (T0 + 9 * DAY, ProductEvent::StockSet { quantity: 2 }),
        ],
        &cfg,
    );
    assert!(fx.triggers.is_empty());
    let fx = run(
        &mut st,
        &[
            (
                T0 + 10 * DAY,
                ProductEvent::StockAdjust {
                    delta: 30,
                    reason: AdjustReason::Restock,
                },
            ),
            (T0 + 11 * DAY, ProductEvent::Sale { quantity: 30 }),
        ],
        &cfg,
    );
    assert_eq!(kinds(&fx), vec![TriggerKind::LowStock]);
}

#[test]
fn restock_below_minimum_fires_nothing_until_it_reaches_it() {
    let cfg = TriggerConfig {
        min_restock_qty: 5,
        ..TriggerConfig::default()
    };
    let mut st = stocked(3, &cfg);
    run(
        &mut st,
        &[(T0 + 1, ProductEvent::Sale { quantity: 3 })],
        &cfg,
    );
    let fx = run(
        &mut st,
        &[(
            T0 + 2,
            ProductEvent::StockAdjust {
                delta: 4,
                reason: AdjustReason::Restock,
            },
        )],
        &cfg,
    );
    assert!(!kinds(&fx).contains(&TriggerKind::BackInStock));
    let fx = run(
        &mut st,
        &[(
            T0 + 3,
            ProductEvent::StockAdjust {
                delta: 6,
                reason: AdjustReason::Restock,
            },
        )],
        &cfg,
    );
    assert_eq!(kinds(&fx), vec![TriggerKind::BackInStock]);
    let t = &fx.triggers[0];
    assert_eq!((t.old_stock, t.new_stock), (4, 10));
}

#[test]
fn price_drop_fires_only_after_it_held() {
    let cfg = TriggerConfig {
        stable_for_ms: HOUR,
        ..TriggerConfig::default()
    };
    let mut st = stocked(50, &cfg);
    let fx = run(
        &mut st,
        &[(T0 + 10, ProductEvent::PriceSet { price_minor: 800 })],
        &cfg,
    );
    assert!(fx.triggers.is_empty());
    assert_eq!(
        fx.timers,
        vec![TimerOp {
            due_ms: T0 + 10 + HOUR,
            kind: TimerKind::PriceStable,
            put: true
        }]
    );
    let fx = run(
        &mut st,
        &[(T0 + 10 + HOUR, ProductEvent::Timer(TimerKind::PriceStable))],
        &cfg,
    );
    assert_eq!(kinds(&fx), vec![TriggerKind::PriceDrop]);
    assert_eq!(
        (
            fx.triggers[0].old_price_minor,
            fx.triggers[0].new_price_minor
        ),
        (1000, 800)
    );
    assert_eq!(st.map(|s| s.reference_price_minor), Some(800));
}

#[test]
fn price_that_drops_and_recovers_within_stable_for_fires_nothing() {
    let cfg = TriggerConfig {
        stable_for_ms: HOUR,
        ..TriggerConfig::default()
    };
    let mut st = stocked(50, &cfg);
    let fx = run(
        &mut st,
        &[
            (T0 + 10, ProductEvent::PriceSet { price_minor: 700 }),
            (
                T0 + 20 * 60_000,
                ProductEvent::PriceSet { price_minor: 1000 },
            ),
            (T0 + 10 + HOUR, ProductEvent::Timer(TimerKind::PriceStable)),
            (T0 + 5 * HOUR, ProductEvent::PriceSet { price_minor: 990 }),
        ],
        &cfg,
    );
    assert!(fx.triggers.is_empty());
    // The cancelled timer is removed.
    assert!(fx.timers.contains(&TimerOp {
        due_ms: T0 + 10 + HOUR,
        kind: TimerKind::PriceStable,
        put: false
    }));
}

#[test]
fn nothing_fires_outside_the_display_window() {
    let cfg = TriggerConfig::default();
    let hidden = Catalogue {
        display_window: Window {
            start_ms: Some(T0 + 30 * DAY),
            end_ms: None,
        },
        ..Catalogue::default()
    };
    let mut st = None;
    let fx = run(
        &mut st,
        &[
            (
                T0,
                ProductEvent::Upsert {
                    catalogue: hidden,
                    price_minor: 1000,
                    imported: false,
                },
            ),
            (T0, ProductEvent::StockSet { quantity: 10 }),
            (T0 + 1, ProductEvent::Sale { quantity: 9 }),
            (T0 + 2, ProductEvent::Sale { quantity: 1 }),
            (
                T0 + 3,
                ProductEvent::StockAdjust {
                    delta: 10,
                    reason: AdjustReason::Restock,
                },
            ),
            (T0 + 4, ProductEvent::PriceSet { price_minor: 500 }),
            (T0 + 4 + HOUR, ProductEvent::Timer(TimerKind::PriceStable)),
        ],
        &cfg,
    );
    assert!(fx.triggers.is_empty(), "{:?}", fx.triggers);
    assert!(fx
        .timers
        .iter()
        .any(|t| t.kind == TimerKind::DisplayStart && t.due_ms == T0 + 30 * DAY));
    // When the window opens, the product is announced as new.
    let fx = run(
        &mut st,
        &[(T0 + 30 * DAY, ProductEvent::Timer(TimerKind::DisplayStart))],
        &cfg,
    );
    assert_eq!(kinds(&fx), vec![TriggerKind::NewArrival]);
}

#[test]
fn new_arrival_waits_for_stock_and_imported_products_are_not_new() {
    let cfg = TriggerConfig {
        new_arrival_min_stock: 5,
        ..TriggerConfig::default()
    };
    let mut st = None;
    let fx = run(
        &mut st,
        &[
            (T0, upsert(100)),
            (T0 + 1, ProductEvent::StockSet { quantity: 2 }),
        ],
        &cfg,
    );
    assert!(fx.triggers.is_empty());
    let fx = run(
        &mut st,
        &[
            (T0 + 2, ProductEvent::StockSet { quantity: 9 }),
            (T0 + 3, ProductEvent::StockSet { quantity: 20 }),
        ],
        &cfg,
    );
    assert_eq!(kinds(&fx), vec![TriggerKind::NewArrival]);
    let mut old = None;
    let imported = ProductEvent::Upsert {
        catalogue: Catalogue::default(),
        price_minor: 100,
        imported: true,
    };
    let fx = run(
        &mut old,
        &[
            (T0, imported),
            (T0, ProductEvent::StockSet { quantity: 50 }),
        ],
        &cfg,
    );
    assert!(fx.triggers.is_empty());
}

#[test]
fn sold_out_again_then_restocked_fires_back_in_stock_each_time() {
    let cfg = TriggerConfig::default();
    let mut st = stocked(1, &cfg);
    let fx = run(
        &mut st,
        &[
            (T0 + 1, ProductEvent::Sale { quantity: 1 }),
            (T0 + 2, ProductEvent::StockSet { quantity: 4 }),
            (T0 + 3, ProductEvent::StockSet { quantity: 0 }),
            (T0 + 4, ProductEvent::StockSet { quantity: 4 }),
        ],
        &cfg,
    );
    let backs = kinds(&fx)
        .iter()
        .filter(|k| **k == TriggerKind::BackInStock)
        .count();
    assert_eq!(backs, 2);
}

fn arb_event() -> impl Strategy<Value = ProductEvent> {
    prop_oneof![
        (0i64..40).prop_map(|q| ProductEvent::StockSet { quantity: q }),
        (1i64..6).prop_map(|q| ProductEvent::Sale { quantity: q }),
        (1i64..30).prop_map(|d| ProductEvent::StockAdjust {
            delta: d,
            reason: AdjustReason::Restock
        }),
        (1i64..5).prop_map(|d| ProductEvent::StockAdjust {
            delta: d,
            reason: AdjustReason::Return
        }),
        (500i64..1500).prop_map(|p| ProductEvent::PriceSet { price_minor: p }),
        Just(ProductEvent::Timer(TimerKind::PriceStable)),
    ]
}

proptest! {
    /// Low stock never fires twice without a restock in between, and back in stock
    /// only fires when stock reaches the minimum from sold out.
    #[test]
    fn low_stock_once_per_episode(events in proptest::collection::vec((0i64..4 * HOUR, arb_event()), 1..120)) {
        let cfg = TriggerConfig { min_restock_qty: 3, ..TriggerConfig::default() };
        let mut st = None;
        run(&mut st, &[(T0, upsert(1000))], &cfg);
        let mut at = T0;
        let mut low_since_restock = 0;
        for (dt, ev) in events {
            at += dt;
            let before = st.as_ref().map(|s| s.stock).unwrap_or(0);
            let ev = match ev { ProductEvent::Timer(k) => { let due = st.as_ref().and_then(|s| s.arming.price_drop).map(|p| p.due_ms).unwrap_or(at); at = at.max(due); let _ = k; ProductEvent::Timer(TimerKind::PriceStable) } e => e };
            let mut fx = Effects::default();
            if apply(&mut st, "A-1", &ev, at, &cfg, &mut fx).is_err() { continue; }
            let after = st.as_ref().map(|s| s.stock).unwrap_or(0);
            let restock = matches!(ev, ProductEvent::StockAdjust { reason: AdjustReason::Restock, .. }) || (matches!(ev, ProductEvent::StockSet { .. }) && after > before);
            if restock { low_since_restock = 0; }
            for t in &fx.triggers {
                match t.kind {
                    TriggerKind::LowStock => { low_since_restock += 1; prop_assert!(low_since_restock <= 1); prop_assert!(t.new_stock > 0); }
                    TriggerKind::BackInStock => { prop_assert!(t.new_stock >= 3); }
                    TriggerKind::PriceDrop => { prop_assert!(t.new_price_minor * 10 <= t.old_price_minor * 9); }
                    TriggerKind::NewArrival => {}
                }
            }
        }
    }

    /// A price drop is announced only for a price that held `stable_for` unchanged.
    #[test]
    fn price_drop_needs_stability(prices in proptest::collection::vec((1i64..120, 400i64..1200), 1..40)) {
        let cfg = TriggerConfig { stable_for_ms: HOUR, ..TriggerConfig::default() };
        let mut st = stocked(100, &cfg);
        let mut at = T0;
        let mut last_change = at;
        for (minutes, price) in prices {
            at += minutes * 60_000;
            let mut fx = Effects::default();
            // The scheduler fires a due timer before later events.
            if let Some(pd) = st.as_ref().and_then(|s| s.arming.price_drop) {
                if pd.due_ms <= at {
                    apply(&mut st, "A-1", &ProductEvent::Timer(TimerKind::PriceStable), pd.due_ms, &cfg, &mut fx).ok();
                    for t in &fx.triggers { prop_assert!(t.at_ms - last_change >= HOUR); }
                }
            }
            let before = st.as_ref().map(|s| s.price_minor);
            apply(&mut st, "A-1", &ProductEvent::PriceSet { price_minor: price }, at, &cfg, &mut fx).ok();
            if before != Some(price) { last_change = at; }
        }
    }
}
