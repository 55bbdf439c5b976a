//! The demo shop's orders, followed to the customer's door: some purchases are orders
//! (shipped 10–40 s later, delivered 15–60 s after that); customers order sold-out
//! items of backorderable products (a quarter of the catalogue) as backorders with a
//! promised ship window of 20 s to 2.5 min (every fifth one of 4 s, a promise that just
//! passes), and the shop keeps its stock at 0 for them (the owed units live only in the
//! orders). When stock arrives the shop allocates it
//! as the daemon does (oldest first, whole lines, stopping at the first that does not
//! fit), holds those units and ships the lines 5–20 s later. Some backorders get a delay
//! notice with a new window, some promises simply pass (the daemon sends the automatic
//! delay notice and flags them), a few are cancelled. On resume the orders an earlier
//! run left open are cancelled: this run does not know them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use stockbell_proto::v1::{
    event::Kind, BackorderMark, OrderCancelled, OrderDelayed, OrderDelivered, OrderLine,
    OrderPlaced, OrderShipped, Sale, ShipWindow,
};

use super::shop::Shop;

/// Waiting backorders per product at most (the rest of the demand goes to notify-me).
const WAITING_MAX: usize = 12;

/// A backorder line waiting for stock, in the shop's book (oldest first).
#[derive(Debug, Clone)]
struct Waiting {
    order_id: String,
    customer_id: String,
    qty: i64,
}

/// A line to ship: its id, SKU and units; `sale`: units the shop takes out of stock at
/// shipping (a backorder's held units), 0 when they were sold at the order.
#[derive(Debug, Clone)]
struct ShipLine {
    line_id: String,
    sku: String,
    idx: u32,
    sale: i64,
}

#[derive(Debug, Clone)]
enum Step {
    Ship {
        order_id: String,
        customer_id: String,
        lines: Vec<ShipLine>,
    },
    Deliver {
        order_id: String,
        customer_id: String,
    },
    /// A delay notice for a backorder still waiting.
    Delay { order_id: String, idx: u32 },
    /// The customer cancels a backorder still waiting.
    Cancel { order_id: String, idx: u32 },
}

/// What the shop knows of its open orders.
#[derive(Debug, Default)]
pub struct Orders {
    waiting: HashMap<u32, VecDeque<Waiting>>,
    queue: BinaryHeap<Reverse<(i64, u64)>>,
    steps: HashMap<u64, Step>,
    next: u64,
    /// Orders an earlier run left open: (order id, customer id), cancelled first.
    stale: Vec<(String, String)>,
}

/// The demo's share of backorderable products: a quarter, by SKU.
pub fn backorderable(sku: &str) -> bool {
    sku.bytes().map(u32::from).sum::<u32>() % 4 == 0
}

fn order_line(line_id: &str, sku: &str, qty: i64, price: i64) -> OrderLine {
    OrderLine {
        line_id: line_id.into(),
        sku: sku.into(),
        quantity: qty,
        unit_price_minor: price,
        backorder: BackorderMark::InStock as i32,
        promise: None,
    }
}

impl Orders {
    fn at(&mut self, at_ms: i64, step: Step) {
        self.next += 1;
        self.queue.push(Reverse((at_ms, self.next)));
        self.steps.insert(self.next, step);
    }

    /// An order an earlier run placed and left open (found on a product's book).
    pub fn forget(&mut self, order_id: String, customer_id: String) {
        if !self.stale.iter().any(|(o, _)| *o == order_id) {
            self.stale.push((order_id, customer_id));
        }
    }

    fn waits(&self, idx: u32) -> usize {
        self.waiting.get(&idx).map_or(0, VecDeque::len)
    }

    fn take_waiting(&mut self, idx: u32, order_id: &str) -> Option<Waiting> {
        let q = self.waiting.get_mut(&idx)?;
        let i = q.iter().position(|w| w.order_id == order_id)?;
        q.remove(i)
    }
}

impl Shop {
    /// An order for units just sold from stock (`Sale` already sent): shipped later.
    pub(super) fn place_in_stock(
        &mut self,
        order_id: String,
        customer_id: String,
        items: &[(u32, i64, i64)],
        now_ms: i64,
        out: &mut Vec<Kind>,
    ) {
        let mut lines = Vec::new();
        let mut ship = Vec::new();
        for (n, &(idx, qty, price)) in items.iter().enumerate() {
            let Some(p) = self.products.get(idx as usize) else {
                continue;
            };
            let line_id = (n + 1).to_string();
            lines.push(order_line(&line_id, &p.spec.sku, qty, price));
            ship.push(ShipLine {
                line_id,
                sku: p.spec.sku.clone(),
                idx,
                sale: 0,
            });
        }
        if lines.is_empty() {
            return;
        }
        // Some orders use the shop's spring coupon (segments by coupon use).
        let coupon_code = if self.rng.chance(0.15) {
            "SPRING10".into()
        } else {
            String::new()
        };
        out.push(Kind::OrderPlaced(OrderPlaced {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            currency: "JPY".into(),
            coupon_code,
            lines,
        }));
        let at = now_ms + self.rng.range(10_000, 40_000);
        self.orders.at(
            at,
            Step::Ship {
                order_id,
                customer_id,
                lines: ship,
            },
        );
    }

    /// A customer on a sold-out product's page orders it anyway, if it is
    /// backorderable: a backorder with a promised window (the restock is ordered).
    pub(super) fn try_backorder(
        &mut self,
        idx: u32,
        customer_id: String,
        now_ms: i64,
        out: &mut Vec<Kind>,
    ) -> bool {
        let Some(p) = self.products.get(idx as usize) else {
            return false;
        };
        if !backorderable(&p.spec.sku) || self.orders.waits(idx) >= WAITING_MAX {
            return false;
        }
        let (sku, price) = (p.spec.sku.clone(), p.price);
        let order_id = self.order_id();
        let qty = if self.rng.chance(0.8) { 1 } else { 2 };
        // Every fifth promise is one that just passes: 4 s, while a line ships at least
        // 5 s after its stock arrives. The daemon sends the automatic delay notice and
        // flags the order for the operator.
        let tight = self.tally.backorders.is_multiple_of(5);
        let (earliest, latest) = if tight {
            (now_ms + 1_000, now_ms + 4_000)
        } else {
            (now_ms + 10_000, now_ms + self.rng.range(20_000, 150_000))
        };
        out.push(Kind::OrderPlaced(OrderPlaced {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            currency: "JPY".into(),
            coupon_code: String::new(),
            lines: vec![OrderLine {
                backorder: BackorderMark::Backorder as i32,
                promise: Some(ShipWindow {
                    earliest_ms: earliest,
                    latest_ms: latest,
                }),
                ..order_line("1", &sku, qty, price)
            }],
        }));
        self.tally.backorders += 1;
        self.orders
            .waiting
            .entry(idx)
            .or_default()
            .push_back(Waiting {
                order_id: order_id.clone(),
                customer_id,
                qty,
            });
        self.plan_restock(idx, now_ms);
        let x = if tight { 1.0 } else { self.rng.f64() };
        if x < 0.2 {
            let at = now_ms + self.rng.range(5_000, 15_000);
            self.orders.at(at, Step::Delay { order_id, idx });
        } else if x < 0.25 {
            let at = now_ms + self.rng.range(20_000, 60_000);
            self.orders.at(at, Step::Cancel { order_id, idx });
        }
        true
    }

    /// Stock of `idx` rose: the arrived units go to its waiting backorders, oldest first,
    /// each whole, stopping at the first that does not fit (as the daemon allocates);
    /// the shop holds them and ships them 5–20 s later.
    pub(super) fn allocate(&mut self, idx: u32, now_ms: i64) {
        let Some(p) = self.products.get_mut(idx as usize) else {
            return;
        };
        let Some(q) = self.orders.waiting.get_mut(&idx) else {
            return;
        };
        let mut covered = Vec::new();
        while let Some(w) = q.front() {
            if w.qty > p.stock {
                break;
            }
            p.stock -= w.qty;
            p.held += w.qty;
            covered.extend(q.pop_front());
        }
        let sku = p.spec.sku.clone();
        for w in covered {
            self.tally.allocated += 1;
            let at = now_ms + self.rng.range(5_000, 20_000);
            let lines = vec![ShipLine {
                line_id: "1".into(),
                sku: sku.clone(),
                idx,
                sale: w.qty,
            }];
            self.orders.at(
                at,
                Step::Ship {
                    order_id: w.order_id,
                    customer_id: w.customer_id,
                    lines,
                },
            );
        }
    }

    /// Order steps due by `now_ms`, after the cancellation of an earlier run's orders.
    pub(super) fn order_steps(&mut self, now_ms: i64, out: &mut Vec<Kind>) {
        for (order_id, customer_id) in std::mem::take(&mut self.orders.stale) {
            out.push(Kind::OrderCancelled(OrderCancelled {
                order_id,
                customer_id,
                lines: Vec::new(),
                reason: "the demo shop restarted and no longer knows this order".into(),
            }));
        }
        while let Some(Reverse((at, id))) = self.orders.queue.peek().copied() {
            if at > now_ms {
                break;
            }
            self.orders.queue.pop();
            if let Some(step) = self.orders.steps.remove(&id) {
                self.order_step(step, now_ms, out);
            }
        }
    }

    fn order_step(&mut self, step: Step, now_ms: i64, out: &mut Vec<Kind>) {
        match step {
            Step::Ship {
                order_id,
                customer_id,
                lines,
            } => {
                out.push(Kind::OrderShipped(OrderShipped {
                    order_id: order_id.clone(),
                    customer_id: customer_id.clone(),
                    lines: lines.iter().map(|l| l.line_id.clone()).collect(),
                    carrier: "Yamato".into(),
                    tracking_number: format!(
                        "{}{:04}",
                        self.rng.range(1000, 9999),
                        self.tally.shipped % 10_000
                    ),
                    tracking_url: format!("https://track.example.jp/{order_id}"),
                }));
                for l in lines.iter().filter(|l| l.sale > 0) {
                    if let Some(p) = self.products.get_mut(l.idx as usize) {
                        p.held -= l.sale;
                    }
                    out.push(Kind::Sale(Sale {
                        sku: l.sku.clone(),
                        quantity: l.sale,
                        order_id: order_id.clone(),
                    }));
                }
                self.tally.shipped += 1;
                let at = now_ms + self.rng.range(15_000, 60_000);
                self.orders.at(
                    at,
                    Step::Deliver {
                        order_id,
                        customer_id,
                    },
                );
            }
            Step::Deliver {
                order_id,
                customer_id,
            } => {
                out.push(Kind::OrderDelivered(OrderDelivered {
                    order_id,
                    customer_id,
                    lines: Vec::new(),
                }));
                self.tally.delivered += 1;
            }
            Step::Delay { order_id, idx } => {
                let Some(w) = self
                    .orders
                    .waiting
                    .get(&idx)
                    .and_then(|q| q.iter().find(|w| w.order_id == order_id))
                else {
                    return;
                };
                let customer_id = w.customer_id.clone();
                let earliest = now_ms + self.rng.range(30_000, 90_000);
                out.push(Kind::OrderDelayed(OrderDelayed {
                    order_id,
                    customer_id,
                    lines: Vec::new(),
                    new_window: Some(ShipWindow {
                        earliest_ms: earliest,
                        latest_ms: earliest + 120_000,
                    }),
                    unknown_window: false,
                    reason: "Our supplier's shipment is late.".into(),
                }));
                self.tally.delays += 1;
            }
            Step::Cancel { order_id, idx } => {
                let Some(w) = self.orders.take_waiting(idx, &order_id) else {
                    return;
                };
                out.push(Kind::OrderCancelled(OrderCancelled {
                    order_id,
                    customer_id: w.customer_id,
                    lines: Vec::new(),
                    reason: "I found it elsewhere.".into(),
                }));
                self.tally.cancels += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(out: &[Kind]) -> Vec<String> {
        out.iter()
            .map(|k| {
                format!("{k:?}")
                    .split('(')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn backorders_wait_get_the_arrived_stock_oldest_first_and_ship() {
        let mut shop = Shop::new(7, 200, 100, 1000.0, 15_000);
        let idx = (0..200u32)
            .find(|&i| backorderable(&shop.products[i as usize].spec.sku))
            .expect("a backorderable product");
        shop.set_stock(idx, 0);
        let mut out = Vec::new();
        for c in 0..3 {
            assert!(shop.try_backorder(idx, format!("C{c}"), 1_000, &mut out));
        }
        assert_eq!(kinds(&out), ["OrderPlaced"; 3]);
        let owed: Vec<i64> = shop.orders.waiting[&idx].iter().map(|w| w.qty).collect();
        // Stock for the first line only: it is covered, the others keep waiting.
        shop.set_stock(idx, owed[0]);
        shop.allocate(idx, 2_000);
        assert_eq!(shop.orders.waits(idx), 2);
        assert_eq!(
            (
                shop.products[idx as usize].stock,
                shop.products[idx as usize].held
            ),
            (0, owed[0])
        );
        out.clear();
        shop.order_steps(2_000 + 600_000, &mut out);
        let k = kinds(&out);
        assert!(k.contains(&"OrderShipped".to_owned()), "{k:?}");
        assert!(k.contains(&"Sale".to_owned()), "{k:?}");
        assert_eq!(shop.products[idx as usize].held, 0);
        assert!(shop.tally.shipped >= 1);
    }
}
