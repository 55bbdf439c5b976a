//! The demo shop's carts and checkouts, as the daemon's cart / checkout journeys see
//! them. Items go into the cart at the price shown (`cart_add.unit_price_minor`); now and
//! then a customer with a cart goes to the checkout (`checkout_started`) and most complete
//! it 5–40 s later (an order the shop follows, or a plain purchase), the rest leave; a
//! share of the customers who add to a cart leave too. A customer who left stays away for
//! [`AWAY_MS`]: the cart sits untouched, so its journey starts and its reminders go out;
//! meanwhile the shop cuts the price of some left carts' products ([`Shop::left_cart_product`])
//! and others sell out. A customer who follows a tracked link of a message
//! ([`super::reader`]) is back, and some order a little later: the cart when the product
//! is in it (the reminder worked), else that product (an order, so it can be attributed).

use stockbell_proto::v1::{event::Kind, CartAdd, CheckoutStarted};

use super::people;
use super::shop::{Due, Shop};
use super::visit::purchase;

/// Items a cart holds at most.
const CART_MAX: usize = 6;
/// Share of cart adds after which the customer leaves (and the cart is abandoned).
const LEAVE_AFTER_ADD: f64 = 0.2;
/// Share of started checkouts that are completed (the rest are abandoned).
const COMPLETE_CHECKOUT: f64 = 0.75;
/// How long a customer who left stays away: longer than the demo's reminder steps.
pub const AWAY_MS: i64 = 15 * 60_000;
/// Share of clicks after which the customer orders.
const ORDER_AFTER_CLICK: f64 = 0.35;
/// Left carts remembered for the shop's price cuts.
const LEFT_RECENT: usize = 256;

impl Shop {
    /// Whether customer `c` is away (at the checkout, or gone after leaving a cart).
    pub(super) fn away(&mut self, c: u32, now_ms: i64) -> bool {
        match self.away.get(&c) {
            Some(&until) if until > now_ms => true,
            Some(_) => {
                self.away.remove(&c);
                false
            }
            None => false,
        }
    }

    /// Product `idx` into customer `c`'s cart, at its current price; sometimes the
    /// customer leaves right after.
    pub(super) fn add_to_cart(
        &mut self,
        c: u32,
        idx: u32,
        customer_id: String,
        now_ms: i64,
        out: &mut Vec<Kind>,
    ) {
        let Some(p) = self.products.get(idx as usize) else {
            return;
        };
        let (sku, price) = (p.spec.sku.clone(), p.price);
        let cart = self.carts.entry(c).or_default();
        if cart.len() >= CART_MAX || cart.contains(&idx) {
            return;
        }
        cart.push(idx);
        out.push(Kind::CartAdd(CartAdd {
            customer_id,
            sku,
            unit_price_minor: Some(price),
            quantity: 1,
        }));
        self.tally.carts += 1;
        if self.rng.chance(LEAVE_AFTER_ADD) {
            self.leave(c, now_ms);
        }
    }

    fn leave(&mut self, c: u32, now_ms: i64) {
        self.away.insert(c, now_ms + AWAY_MS);
        self.tally.carts_left += 1;
        if self.left_recent.len() >= LEFT_RECENT {
            self.left_recent.pop_front();
        }
        self.left_recent.push_back(c);
    }

    /// A product in a cart some customer left lately (for the shop's price cuts).
    pub(super) fn left_cart_product(&mut self) -> Option<u32> {
        let n = self.left_recent.len();
        if n == 0 {
            return None;
        }
        let c = self.left_recent[self.rng.below(n)];
        let cart = self.carts.get(&c).filter(|cart| !cart.is_empty())?;
        cart.get(self.rng.below(cart.len())).copied()
    }

    /// Customer `c` goes to the checkout with the cart: most complete it a little later,
    /// the others leave.
    pub(super) fn start_checkout(
        &mut self,
        c: u32,
        customer_id: String,
        now_ms: i64,
        out: &mut Vec<Kind>,
    ) {
        out.push(Kind::CheckoutStarted(CheckoutStarted {
            customer_id,
            lines: Vec::new(),
        }));
        self.tally.checkouts += 1;
        if self.rng.chance(COMPLETE_CHECKOUT) {
            let at = now_ms + self.rng.range(5_000, 40_000);
            // On the checkout pages until then.
            self.away.insert(c, at);
            self.schedule(at, Due::Checkout(c));
        } else {
            self.leave(c, now_ms);
        }
    }

    /// The end of a checkout: the cart is bought.
    pub(super) fn finish_checkout(&mut self, c: u32, now_ms: i64, out: &mut Vec<Kind>) {
        self.away.remove(&c);
        let as_order = self.rng.chance(0.5);
        self.buy_cart(c, as_order, now_ms, out);
    }

    /// Buys what in customer `c`'s cart is in stock, as an order the shop follows to the
    /// door or as a plain purchase; false when nothing in it was in stock.
    fn buy_cart(&mut self, c: u32, as_order: bool, now_ms: i64, out: &mut Vec<Kind>) -> bool {
        let cart = self.carts.remove(&c).unwrap_or_default();
        let mut items = Vec::new();
        for idx in cart {
            if let Some(p) = self.products.get(idx as usize).filter(|p| p.stock > 0) {
                items.push((idx, 1, p.price));
            }
        }
        if items.is_empty() {
            return false;
        }
        let customer_id = people::customer_id(c as usize);
        let order = self.order_id();
        for &(idx, qty, _) in &items {
            self.sell(idx, qty, &order, now_ms, out);
        }
        if as_order {
            self.place_in_stock(order, customer_id, &items, now_ms, out);
        } else {
            let lines: Vec<(String, i64, i64)> = items
                .iter()
                .filter_map(|&(idx, qty, price)| {
                    let p = self.products.get(idx as usize)?;
                    Some((p.spec.sku.clone(), qty, price * qty))
                })
                .collect();
            out.push(purchase(customer_id, order, &lines));
        }
        true
    }

    /// `customer_id` followed a tracked link of a message to `location` (a product's
    /// page): the customer is back, and may order a little later.
    pub fn clicked(&mut self, customer_id: &str, location: &str, now_ms: i64) {
        self.tally.clicks += 1;
        let Some(c) = people::customer_index(customer_id) else {
            return;
        };
        let sku = location.rsplit('/').next().unwrap_or_default();
        let Some(&idx) = self.by_sku.get(sku) else {
            return;
        };
        self.away.remove(&c);
        if self.rng.chance(ORDER_AFTER_CLICK) {
            let at = now_ms + self.rng.range(3_000, 60_000);
            self.schedule(at, Due::ComeBack(c, idx));
        }
    }

    /// Customer `c`, back from a message's link to product `idx`, orders: the cart when
    /// the product is in it, else the product (a backorder when it is sold out and
    /// backorderable).
    pub(super) fn come_back(&mut self, c: u32, idx: u32, now_ms: i64, out: &mut Vec<Kind>) {
        let in_cart = self.carts.get(&c).is_some_and(|cart| cart.contains(&idx));
        if in_cart && self.buy_cart(c, true, now_ms, out) {
            self.tally.click_orders += 1;
            return;
        }
        let Some(p) = self.products.get(idx as usize) else {
            return;
        };
        let customer_id = people::customer_id(c as usize);
        if p.stock > 0 {
            let price = p.price;
            let order = self.order_id();
            self.sell(idx, 1, &order, now_ms, out);
            self.place_in_stock(order, customer_id, &[(idx, 1, price)], now_ms, out);
            self.tally.click_orders += 1;
        } else if self.try_backorder(idx, customer_id, now_ms, out) {
            self.tally.click_orders += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(k: &Kind) -> String {
        let name = format!("{k:?}");
        name.split('(').next().unwrap_or_default().to_owned()
    }

    #[test]
    fn carts_are_priced_checkouts_start_and_some_customers_leave() {
        let mut shop = Shop::new(42, 300, 2000, 1000.0, 15_000);
        let mut out = Vec::new();
        for i in 0..300 {
            shop.open_product(i, 0, &mut out);
        }
        out.clear();
        let mut checkouts = 0;
        for s in 0..600 {
            shop.step(s * 100, 100, &mut out);
            for k in out.drain(..) {
                match &k {
                    Kind::CartAdd(a) => {
                        assert!(a.unit_price_minor.is_some_and(|p| p > 0), "{a:?}");
                        assert_eq!(a.quantity, 1);
                    }
                    Kind::CheckoutStarted(_) => checkouts += 1,
                    _ => {}
                }
            }
        }
        assert!(checkouts > 0, "no checkout started");
        let t = &shop.tally;
        assert!(t.checkouts > 0 && t.carts_left > 0, "{t:?}");
        assert!(shop.away.values().any(|&until| until > 60_000));
    }

    #[test]
    fn a_click_on_a_cart_item_brings_the_customer_back_to_order_the_cart() {
        let mut shop = Shop::new(7, 50, 10, 1000.0, 15_000);
        let mut out = Vec::new();
        for i in 0..50 {
            shop.open_product(i, 0, &mut out);
        }
        out.clear();
        let idx = (0..50u32)
            .find(|&i| shop.products()[i as usize].stock > 0)
            .expect("a product in stock");
        let sku = shop.products()[idx as usize].spec.sku.clone();
        shop.add_to_cart(3, idx, people::customer_id(3), 0, &mut out);
        shop.leave(3, 0);
        assert!(shop.away(3, 1_000));
        let url = format!("https://shop.example.jp/products/{}", sku.to_lowercase());
        // Some clicks lead to an order: click until one does.
        let mut at = 1_000;
        while shop.tally.click_orders == 0 && at < 1_000_000 {
            shop.clicked(&people::customer_id(3), &url, at);
            at += 100_000;
            out.clear();
            shop.due(at, &mut out);
        }
        assert!(shop.tally.clicks > 0 && !shop.away(3, at));
        assert_eq!(shop.tally.click_orders, 1);
        let placed = out
            .iter()
            .find_map(|k| match k {
                Kind::OrderPlaced(o) => Some(o),
                _ => None,
            })
            .expect("an order");
        assert_eq!(placed.customer_id, people::customer_id(3));
        assert_eq!(placed.lines[0].sku, sku);
        assert!(out.iter().any(|k| name(k) == "Sale"));
        assert!(!shop.carts.contains_key(&3), "the cart was bought");
    }
}
