//! Property tests: random orders driven through random events, verdicts, arrivals and
//! ticks, checked against the history of notices (a reference kept outside the state):
//! updates never come faster than `update_every` after the last confirmation, update or
//! delay, and do come once it has passed while a line waits; nothing transactional names
//! a line after it shipped, was cancelled or refunded, except the delivered follow-up;
//! an automatic delay comes once per promise; a refusal changes nothing.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::domain::order::{
    BackorderMark, Lines, OrderCancelled, OrderDelayed, OrderDelivered, OrderEvent, OrderLine,
    OrderPlaced, OrderRefunded, OrderShipped, ShipWindow,
};

const D: i64 = 86_400_000;
const T0: i64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Action {
    Tick,
    Verdict {
        line: usize,
        waits: bool,
    },
    Arrive {
        mask: u8,
    },
    Ship {
        lines: Option<u8>,
        tracking: u8,
    },
    Deliver {
        lines: Option<u8>,
    },
    Delay {
        lines: Option<u8>,
        window: Option<(i64, i64)>,
    },
    Cancel {
        lines: Option<u8>,
    },
    Refund {
        lines: Option<u8>,
    },
}

fn mask() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![Just(None), (1u8..32).prop_map(Some)]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => Just(Action::Tick),
        2 => (0usize..4, any::<bool>()).prop_map(|(line, waits)| Action::Verdict { line, waits }),
        1 => (1u8..16).prop_map(|mask| Action::Arrive { mask }),
        1 => (mask(), 0u8..2).prop_map(|(lines, tracking)| Action::Ship { lines, tracking }),
        1 => mask().prop_map(|lines| Action::Deliver { lines }),
        1 => (mask(), prop::option::of((0i64..4 * D, 0i64..6 * D)))
            .prop_map(|(lines, window)| Action::Delay { lines, window }),
        1 => mask().prop_map(|lines| Action::Cancel { lines }),
        1 => mask().prop_map(|lines| Action::Refund { lines }),
    ]
}

fn order_lines() -> impl Strategy<Value = Vec<OrderLine>> {
    let mark = prop::sample::select(vec![
        BackorderMark::Unspecified,
        BackorderMark::Backorder,
        BackorderMark::InStock,
    ]);
    let window = prop::option::of((0i64..5 * D, 0i64..10 * D));
    prop::collection::vec((mark, window), 1..=4).prop_map(|lines| {
        lines
            .into_iter()
            .enumerate()
            .map(|(i, (backorder, w))| OrderLine {
                line_id: format!("L{i}"),
                sku: format!("S{}", i % 3),
                quantity: 1,
                unit_price_minor: 500,
                backorder,
                promise: w.map(|(start, len)| ShipWindow {
                    earliest_ms: T0 + start,
                    latest_ms: T0 + start + len,
                }),
            })
            .collect()
    })
}

fn cadence() -> impl Strategy<Value = OrderCadence> {
    (1i64..6 * D, 0i64..4 * D, 0i64..2 * D, 0i64..8 * D).prop_map(|(u, f, cso, csd)| OrderCadence {
        update_every_ms: u,
        followup_after_ms: f,
        cross_sell_after_order_ms: cso,
        cross_sell_after_delivery_ms: csd,
    })
}

/// Line ids for a mask; bit 4 names a line the order does not have.
fn lines(mask: Option<u8>) -> Lines {
    match mask {
        None => Lines::All,
        Some(m) => Lines::Only(
            (0..5)
                .filter(|b| m & (1 << b) != 0)
                .map(|b| {
                    if b == 4 {
                        "Lx".to_owned()
                    } else {
                        format!("L{b}")
                    }
                })
                .collect(),
        ),
    }
}

fn event(a: &Action, at: Millis) -> Option<OrderEvent> {
    let (order_id, customer_id) = ("o".to_owned(), "c".to_owned());
    Some(match a {
        Action::Ship { lines: m, tracking } => OrderEvent::Shipped(OrderShipped {
            order_id,
            customer_id,
            lines: lines(*m),
            carrier: "post".to_owned(),
            tracking_number: format!("T{tracking}"),
            tracking_url: String::new(),
        }),
        Action::Deliver { lines: m } => OrderEvent::Delivered(OrderDelivered {
            order_id,
            customer_id,
            lines: lines(*m),
        }),
        Action::Delay { lines: m, window } => OrderEvent::Delayed(OrderDelayed {
            order_id,
            customer_id,
            lines: lines(*m),
            promise: window.map_or(Promise::Unknown, |(start, len)| {
                Promise::Window(ShipWindow {
                    earliest_ms: at + start,
                    latest_ms: at + start + len,
                })
            }),
            reason: format!("reason {at}"),
        }),
        Action::Cancel { lines: m } => OrderEvent::Cancelled(OrderCancelled {
            order_id,
            customer_id,
            lines: lines(*m),
            reason: "asked".to_owned(),
        }),
        Action::Refund { lines: m } => OrderEvent::Refunded(OrderRefunded {
            order_id,
            customer_id,
            lines: lines(*m),
            amount_minor: 100,
        }),
        Action::Tick | Action::Verdict { .. } | Action::Arrive { .. } => return None,
    })
}

/// What the notices so far say, kept apart from the state.
#[derive(Default)]
struct History {
    /// The last confirmation, update or delay notice.
    last_clock: Option<Millis>,
    confirmed: bool,
    /// Lines that shipped, were cancelled or refunded (seen in the state after a step).
    closed: HashSet<String>,
    shipped_told: HashSet<String>,
    /// Lines told of an automatic delay, and not given a new window since.
    auto_told: HashSet<String>,
}

fn check_step(
    h: &mut History,
    before: &OrderState,
    after: &OrderState,
    fx: &Effects,
    at: Millis,
    cfg: &OrderCadence,
    was_tick: bool,
) -> Result<(), TestCaseError> {
    let status_before: HashMap<&str, LineStatus> =
        before.lines.iter().map(|l| (l.id(), l.status)).collect();
    for n in &fx.notices {
        prop_assert!(!n.lines.is_empty(), "{:?} about no line", n.kind);
        if n.kind == OrderNotice::DeliveredFollowUp {
            for id in &n.lines {
                prop_assert_eq!(
                    after.line(id).map(|l| l.status),
                    Some(LineStatus::Delivered)
                );
            }
            continue;
        }
        if n.kind.is_transactional() {
            for id in &n.lines {
                prop_assert!(
                    !h.closed.contains(id),
                    "{:?} names {} after it closed",
                    n.kind,
                    id
                );
                prop_assert!(
                    status_before[id.as_str()].is_open(),
                    "{:?} names {}",
                    n.kind,
                    id
                );
            }
        }
        match n.kind {
            OrderNotice::Update => {
                let last = h.last_clock.expect("an update follows a confirmation");
                prop_assert!(
                    at - last >= cfg.update_every_ms,
                    "update {} after {}",
                    at,
                    last
                );
                for id in &n.lines {
                    prop_assert_eq!(status_before[id.as_str()], LineStatus::Waiting);
                }
            }
            OrderNotice::Confirmation => {
                prop_assert!(!h.confirmed, "confirmed twice");
                h.confirmed = true;
            }
            OrderNotice::Shipped => {
                for id in &n.lines {
                    prop_assert!(h.shipped_told.insert(id.clone()), "shipped {} twice", id);
                }
            }
            OrderNotice::Delayed { auto: true } => {
                for id in &n.lines {
                    prop_assert!(h.auto_told.insert(id.clone()), "auto delay twice: {}", id);
                }
            }
            OrderNotice::Delayed { auto: false } => {
                for id in &n.lines {
                    h.auto_told.remove(id);
                }
            }
            _ => {}
        }
    }
    let clock = fx.notices.iter().any(|n| {
        matches!(
            n.kind,
            OrderNotice::Confirmation | OrderNotice::Update | OrderNotice::Delayed { .. }
        )
    });
    // Not slower: a tick past the due time while a line waits brings word.
    let waits = before.lines.iter().any(|l| l.status == LineStatus::Waiting);
    if was_tick && h.confirmed && waits {
        if let Some(last) = h.last_clock {
            if at - last >= cfg.update_every_ms {
                prop_assert!(clock, "a waiting line went {} ms without word", at - last);
            }
        }
    }
    if clock {
        h.last_clock = Some(at);
    }
    for l in &after.lines {
        if !l.status.is_open() {
            h.closed.insert(l.id().to_owned());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn cadence_and_silence_after_ship_or_cancel_hold(
        order in order_lines(),
        cfg in cadence(),
        steps in prop::collection::vec((0i64..3 * D, action()), 1..50),
    ) {
        let placed = OrderEvent::Placed(OrderPlaced {
            order_id: "o".to_owned(),
            customer_id: "c".to_owned(),
            currency: "JPY".to_owned(),
            coupon_code: String::new(),
            lines: order,
        });
        let mut slot = None;
        let mut h = History::default();
        let fx = apply(&mut slot, &placed, T0, &cfg).expect("a valid order is accepted");
        let mut st = slot.clone().expect("placed");
        // Before placement no line had a status: every line counts as open.
        let mut unplaced = st.clone();
        for l in &mut unplaced.lines {
            l.status = LineStatus::Pending;
        }
        check_step(&mut h, &unplaced, &st, &fx, T0, &cfg, false)?;
        let mut at = T0;
        for (dt, a) in steps {
            at += dt;
            let before = st.clone();
            let fx = match &a {
                Action::Tick => tick(&mut st, at, &cfg),
                Action::Verdict { line, waits } => {
                    let v = [LineVerdict { line_id: format!("L{line}"), waits: *waits }];
                    match line_verdicts(&mut st, &v, at, &cfg) {
                        Ok(fx) => fx,
                        Err(_) => {
                            prop_assert_eq!(&st, &before, "a refused verdict changed the order");
                            continue;
                        }
                    }
                }
                Action::Arrive { mask } => {
                    let ids: Vec<String> =
                        (0..4).filter(|b| mask & (1 << b) != 0).map(|b| format!("L{b}")).collect();
                    arrived(&mut st, &ids, at, &cfg)
                }
                other => {
                    let ev = event(other, at).expect("a shop event");
                    let mut slot = Some(st.clone());
                    match apply(&mut slot, &ev, at, &cfg) {
                        Ok(fx) => {
                            st = slot.expect("still there");
                            fx
                        }
                        Err(e) => {
                            prop_assert_eq!(slot.as_ref(), Some(&before), "refusal changed it");
                            prop_assert!(e.field.contains('.'), "field {}", e.field);
                            continue;
                        }
                    }
                }
            };
            if !fx.changed {
                prop_assert_eq!(&st, &before, "changed nothing yet differs");
            }
            prop_assert_eq!(fx.next_due_ms, st.next_due_ms(&cfg));
            check_step(&mut h, &before, &st, &fx, at, &cfg, matches!(a, Action::Tick))?;
        }
    }
}
