//! The simulated shop's state: the catalogue with stock and prices, the opening load,
//! taking over from an earlier run, sales, and the schedule of what happens later
//! (restocks, ends of price cuts, checkouts finishing, customers coming back from a
//! message). The shop's own moves are in [`super::moves`], customers' in [`super::visit`]
//! and [`super::carts`].
//!
//! The model mirrors what the daemon holds exactly (the shop is its only producer), so
//! no sale is ever refused for lack of stock. Events carry no event time: the daemon's
//! clock stamps them, and this model keeps its own schedule on the same wall clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use stockbell_proto::v1::{event::Kind, PriceSet, ProductUpsert, StockSet, Window};

use super::catalog::{self, ProductSpec, CATEGORIES};
use super::people;
use super::rng::Rng;

/// Sales per event of the customer mix, roughly; sizes stock so that it lasts minutes.
const SALES_PER_EVENT: f64 = 0.05;
/// Share of the opening catalogue that is sold out when the demo starts.
const OPENING_SOLD_OUT: f64 = 0.04;

/// One product as the shop sees it.
#[derive(Debug, Clone)]
pub struct Product {
    pub spec: ProductSpec,
    pub list_price: i64,
    pub price: i64,
    pub stock: i64,
    /// Not shown (and not browsed) before this time (new arrivals announced ahead).
    pub visible_from_ms: i64,
    pub restock_pending: bool,
    /// A price change is scheduled (the end of a sale or of a flicker).
    pub price_pending: bool,
    /// Units allocated to backorders and not shipped yet: in the daemon's stock, not
    /// for sale (`stock` is what can be sold).
    pub held: i64,
}

/// Products picked by weight; products are only ever added.
#[derive(Debug, Default)]
pub struct Weighted {
    cum: Vec<f64>,
    idx: Vec<u32>,
}

impl Weighted {
    pub fn push(&mut self, idx: u32, weight: f64) {
        let total = self.cum.last().copied().unwrap_or(0.0) + weight.max(1e-9);
        self.cum.push(total);
        self.idx.push(idx);
    }

    pub fn pick(&self, rng: &mut Rng) -> Option<u32> {
        let total = *self.cum.last()?;
        let x = rng.f64() * total;
        let i = self.cum.partition_point(|&c| c <= x);
        self.idx.get(i.min(self.idx.len() - 1)).copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Due {
    Restock(u32),
    /// Back to the list price.
    PriceBack(u32),
    /// Customer `.0` completes the checkout they started.
    Checkout(u32),
    /// Customer `.0`, who followed a link of a message to product `.1`, orders.
    ComeBack(u32, u32),
}

/// What happened so far (for the status line).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sales: u64,
    pub units: u64,
    pub restocks: u64,
    pub sales_started: u64,
    pub flickers: u64,
    pub list_changes: u64,
    pub arrivals: u64,
    pub views: u64,
    pub favourites: u64,
    pub carts: u64,
    pub notify_me: u64,
    pub orders: u64,
    pub backorders: u64,
    pub allocated: u64,
    pub shipped: u64,
    pub delivered: u64,
    pub delays: u64,
    pub cancels: u64,
    pub profile_updates: u64,
    pub unsubscribes: u64,
    pub checkouts: u64,
    /// Carts (with or without a started checkout) whose customer left and stays away.
    pub carts_left: u64,
    pub clicks: u64,
    /// Orders of customers who followed a message's link.
    pub click_orders: u64,
}

pub struct Shop {
    pub(super) seed: u64,
    pub(super) rng: Rng,
    pub(super) products: Vec<Product>,
    /// Products of the opening catalogue (the rest are new arrivals).
    pub(super) opening: usize,
    pub(super) global: Weighted,
    pub(super) by_category: Vec<Weighted>,
    pub(super) customers: Vec<super::visit::Customer>,
    pub(super) customer_pick: Weighted,
    pub(super) carts: HashMap<u32, Vec<u32>>,
    /// Customers away until then: at the checkout, or gone after leaving their cart.
    pub(super) away: HashMap<u32, i64>,
    /// Customers who left a cart lately, newest last (the shop cuts some of its prices).
    pub(super) left_recent: VecDeque<u32>,
    /// Product index by lower-case SKU (as the product pages' URLs spell it).
    pub(super) by_sku: HashMap<String, u32>,
    queue: BinaryHeap<Reverse<(i64, u64, Due)>>,
    queued: u64,
    /// Expected units sold per second per unit of product weight.
    rate_per_weight: f64,
    pub(super) stable_for_ms: i64,
    pub(super) order_prefix: String,
    pub(super) orders: super::orders::Orders,
    pub tally: Tally,
}

pub(super) fn event_price(sku: &str, price_minor: i64) -> Kind {
    Kind::PriceSet(PriceSet {
        sku: sku.into(),
        price_minor,
    })
}

impl Shop {
    /// A shop of `products` products and `customers` customers seeing about `rate`
    /// events a second; a price drop must hold `stable_for_ms` to be announced.
    pub fn new(
        seed: u64,
        products: usize,
        customers: usize,
        rate: f64,
        stable_for_ms: i64,
    ) -> Shop {
        let specs: Vec<ProductSpec> = (0..products).map(|i| catalog::product(seed, i)).collect();
        let total: f64 = specs.iter().map(|s| s.weight).sum();
        let mut shop = Shop {
            seed,
            rng: Rng::new(seed),
            products: Vec::with_capacity(products),
            opening: products,
            global: Weighted::default(),
            by_category: (0..CATEGORIES.len()).map(|_| Weighted::default()).collect(),
            customers: Vec::with_capacity(customers),
            customer_pick: Weighted::default(),
            carts: HashMap::new(),
            away: HashMap::new(),
            left_recent: VecDeque::new(),
            by_sku: HashMap::new(),
            queue: BinaryHeap::new(),
            queued: 0,
            rate_per_weight: rate * SALES_PER_EVENT / total.max(1.0),
            stable_for_ms,
            order_prefix: format!("D{:x}", stockbelld::clock::now_ms() / 1000),
            orders: super::orders::Orders::default(),
            tally: Tally::default(),
        };
        for spec in specs {
            shop.add(spec, 0, 0);
        }
        for i in 0..customers {
            shop.add_customer(people::customer(seed, i));
        }
        shop
    }

    pub(super) fn add(&mut self, spec: ProductSpec, stock: i64, visible_from_ms: i64) -> u32 {
        let idx = self.products.len() as u32;
        self.by_sku.insert(spec.sku.to_lowercase(), idx);
        self.global.push(idx, spec.weight);
        if let Some(w) = self.by_category.get_mut(spec.category) {
            w.push(idx, spec.weight);
        }
        self.products.push(Product {
            list_price: spec.list_price,
            price: spec.list_price,
            stock,
            visible_from_ms,
            restock_pending: false,
            price_pending: false,
            held: 0,
            spec,
        });
        idx
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn arrivals(&self) -> usize {
        self.products.len() - self.opening
    }

    pub fn sold_out(&self) -> usize {
        self.products.iter().filter(|p| p.stock <= 0).count()
    }

    pub fn on_sale(&self) -> usize {
        self.products
            .iter()
            .filter(|p| p.price < p.list_price)
            .count()
    }

    /// Units this product sells in about `secs` seconds.
    pub(super) fn cover(&self, idx: u32, secs: f64) -> i64 {
        let w = self
            .products
            .get(idx as usize)
            .map_or(1.0, |p| p.spec.weight);
        (w * self.rate_per_weight * secs).round() as i64
    }

    pub(super) fn schedule(&mut self, at_ms: i64, due: Due) {
        self.queued += 1;
        self.queue.push(Reverse((at_ms, self.queued, due)));
    }

    pub(super) fn upsert(
        p: &ProductSpec,
        price: i64,
        imported: bool,
        display_from_ms: i64,
    ) -> Kind {
        let cat = CATEGORIES.get(p.category).map_or("misc", |c| c.id);
        Kind::ProductUpsert(ProductUpsert {
            sku: p.sku.clone(),
            title: p.title.clone(),
            url: format!("https://shop.example.jp/products/{}", p.sku.to_lowercase()),
            image_url: format!("https://shop.example.jp/img/{}.jpg", p.sku.to_lowercase()),
            category_ids: vec![cat.into()],
            price_minor: price,
            currency: "JPY".into(),
            backorderable: super::orders::backorderable(&p.sku),
            sale_window: None,
            display_window: (display_from_ms > 0).then_some(Window {
                start_ms: display_from_ms,
                end_ms: 0,
            }),
            imported,
        })
    }

    /// Creates opening product `i` (it existed before stockbell: `imported`, never a new
    /// arrival) with its opening stock; a few start sold out.
    pub fn open_product(&mut self, i: usize, now_ms: i64, out: &mut Vec<Kind>) {
        let Some(p) = self.products.get(i) else {
            return;
        };
        out.push(Self::upsert(&p.spec, p.price, true, 0));
        let sku = p.spec.sku.clone();
        let idx = i as u32;
        if self.rng.chance(OPENING_SOLD_OUT) {
            // Sold out just before the demo: stock, then a count of zero, which arms the
            // back-in-stock trigger like a last sale would.
            out.push(Kind::StockSet(StockSet {
                sku: sku.clone(),
                quantity: 1,
            }));
            out.push(Kind::StockSet(StockSet { sku, quantity: 0 }));
            self.set_stock(idx, 0);
            self.plan_restock(idx, now_ms);
        } else {
            let secs = self.rng.log_uniform(20.0, 600.0);
            let quantity = self.cover(idx, secs) + self.rng.range(1, 6);
            out.push(Kind::StockSet(StockSet { sku, quantity }));
            self.set_stock(idx, quantity);
        }
    }

    /// Takes over a product the daemon already has (a restarted demo).
    pub fn restore(
        &mut self,
        idx: usize,
        stock: i64,
        price: i64,
        visible_from_ms: i64,
        now_ms: i64,
    ) {
        let Some(p) = self.products.get_mut(idx) else {
            return;
        };
        p.stock = stock;
        p.price = price;
        p.visible_from_ms = visible_from_ms;
        p.list_price = p.list_price.max(price);
        let on_sale = p.price < p.list_price;
        if stock <= 0 {
            self.plan_restock(idx as u32, now_ms);
        }
        if on_sale {
            let back = now_ms + self.rng.range(10_000, 120_000);
            self.products[idx].price_pending = true;
            self.schedule(back, Due::PriceBack(idx as u32));
        }
    }

    /// Takes over new arrival `k` that an earlier run created.
    pub fn restore_arrival(&mut self, stock: i64, price: i64, visible_from_ms: i64, now_ms: i64) {
        let spec = catalog::arrival(self.seed, self.arrivals());
        let idx = self.add(spec, stock, visible_from_ms);
        self.restore(idx as usize, stock, price, visible_from_ms, now_ms);
    }

    pub(super) fn set_stock(&mut self, idx: u32, stock: i64) {
        if let Some(p) = self.products.get_mut(idx as usize) {
            p.stock = stock;
        }
    }

    /// Orders stock: it arrives in 10 s to 2.5 min (now and then 5 to 10 min).
    pub(super) fn plan_restock(&mut self, idx: u32, now_ms: i64) {
        let Some(p) = self.products.get_mut(idx as usize) else {
            return;
        };
        if p.restock_pending {
            return;
        }
        p.restock_pending = true;
        let secs = if self.rng.chance(0.05) {
            self.rng.log_uniform(300.0, 600.0)
        } else {
            self.rng.log_uniform(10.0, 150.0)
        };
        self.schedule(now_ms + (secs * 1000.0) as i64, Due::Restock(idx));
    }

    /// A sale of `qty` (at most the stock): the Sale event, and a reorder when it ran
    /// out (or, sometimes, when it runs low).
    pub(super) fn sell(
        &mut self,
        idx: u32,
        qty: i64,
        order_id: &str,
        now_ms: i64,
        out: &mut Vec<Kind>,
    ) {
        let Some(p) = self.products.get_mut(idx as usize) else {
            return;
        };
        let qty = qty.min(p.stock);
        if qty <= 0 {
            return;
        }
        p.stock -= qty;
        let left = p.stock;
        out.push(Kind::Sale(stockbell_proto::v1::Sale {
            sku: p.spec.sku.clone(),
            quantity: qty,
            order_id: order_id.into(),
        }));
        self.tally.sales += 1;
        self.tally.units += qty as u64;
        if left == 0 || (left <= 3 && self.rng.chance(0.3)) {
            self.plan_restock(idx, now_ms);
        }
    }

    /// Applies everything due by `now_ms` (restocks, ends of sales and flickers).
    pub(super) fn due(&mut self, now_ms: i64, out: &mut Vec<Kind>) {
        while let Some(Reverse((at, _, due))) = self.queue.peek().copied() {
            if at > now_ms {
                break;
            }
            self.queue.pop();
            match due {
                Due::Restock(idx) => {
                    self.restock(idx, out);
                    self.allocate(idx, now_ms);
                }
                Due::PriceBack(idx) => {
                    if let Some(p) = self.products.get_mut(idx as usize) {
                        p.price_pending = false;
                        if p.price != p.list_price {
                            p.price = p.list_price;
                            out.push(event_price(&p.spec.sku, p.price));
                        }
                    }
                }
                Due::Checkout(c) => self.finish_checkout(c, now_ms, out),
                Due::ComeBack(c, idx) => self.come_back(c, idx, now_ms, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_catalogue_is_stocked_and_sold_out_items_get_restocked() {
        let mut shop = Shop::new(42, 500, 10, 1000.0, 15_000);
        let mut out = Vec::new();
        for i in 0..500 {
            shop.open_product(i, 0, &mut out);
        }
        assert!(out.len() >= 1000);
        let sold_out = shop.sold_out();
        assert!(sold_out > 0 && sold_out < 60, "{sold_out} sold out");
        out.clear();
        shop.due(10 * 60_000, &mut out);
        assert_eq!(
            shop.sold_out(),
            0,
            "every sold-out product restocked in 10 min"
        );
        assert!(shop.products().iter().all(|p| p.stock > 0));
    }
}
