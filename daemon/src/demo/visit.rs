//! What the demo shop's customers do: sign up, browse (views with dwell, mostly in the
//! categories they like, mostly popular things), favourite, add to cart (carts and
//! checkouts, left or completed, in [`super::carts`]), ask to be told when a sold-out item
//! is back, buy, update their profile and, rarely, unsubscribe; order sold-out
//! backorderable items (`orders.rs`). Also the per-step driver of the whole shop
//! ([`Shop::step`]).

use stockbell_proto::v1::{
    event::Kind, CartRemove, CustomerUpsert, Favourite, NotifyMe, Purchase, PurchaseItem,
    Unfavourite, Unsubscribe, UnsubscribeChannel, View,
};

use super::people::{self, CustomerSpec};
use super::shop::Shop;

/// What the shop keeps about a customer between visits.
#[derive(Debug, Clone)]
pub struct Customer {
    pub likes: Vec<u8>,
    pub consent_email: bool,
}

fn upsert(spec: &CustomerSpec, consent_email: bool) -> Kind {
    Kind::CustomerUpsert(CustomerUpsert {
        customer_id: spec.id.clone(),
        email: spec.email.clone(),
        line_user_id: String::new(),
        locale: spec.locale.into(),
        time_zone: spec.time_zone.into(),
        consent_email,
        consent_line: false,
        consent_webhook: false,
        tags: vec![format!("zone:{}", spec.time_zone)],
        birthday: String::new(),
        // About a third of the customers who take marketing mail also subscribe to the
        // shop's newsletter (the `subscribed` segment condition).
        subscribed: consent_email && spec.id.bytes().map(u32::from).sum::<u32>() % 3 == 0,
    })
}

impl Shop {
    pub(super) fn add_customer(&mut self, spec: CustomerSpec) {
        let idx = self.customers.len() as u32;
        self.customer_pick.push(idx, spec.activity);
        self.customers.push(Customer {
            likes: spec.likes.iter().map(|&c| c as u8).collect(),
            consent_email: spec.consent_email,
        });
    }

    pub fn customers_len(&self) -> usize {
        self.customers.len()
    }

    /// The sign-up of customer `i` (contact data, locale, time zone, consent).
    pub fn customer_upsert(&self, i: usize) -> Kind {
        let spec = people::customer(self.seed, i);
        let consent = self.customers.get(i).is_none_or(|c| c.consent_email);
        upsert(&spec, consent)
    }

    /// Appends about `budget` events (at least one step): what is due (restocks, ends of
    /// sales), the shop's own moves and customers' visits.
    pub fn step(&mut self, now_ms: i64, budget: usize, out: &mut Vec<Kind>) {
        self.due(now_ms, out);
        self.order_steps(now_ms, out);
        let goal = out.len() + budget.max(1);
        while out.len() < goal {
            let r = self.rng.f64();
            if r < 0.002 {
                self.reprice(now_ms, out);
            } else if r < 0.00215 {
                self.new_arrival(now_ms, out);
            } else if r < 0.00515 {
                self.adjust(now_ms, out);
            } else if r < 0.00665 {
                self.profile_update(out);
            } else if r < 0.00685 {
                self.unsubscribe(out);
            } else {
                self.visit(now_ms, out);
            }
        }
    }

    pub(super) fn pick_customer(&mut self) -> Option<u32> {
        self.customer_pick.pick(&mut self.rng)
    }

    fn profile_update(&mut self, out: &mut Vec<Kind>) {
        let Some(c) = self.pick_customer() else {
            return;
        };
        let opt_in = self.rng.chance(0.2);
        if let Some(cust) = self.customers.get_mut(c as usize) {
            // Now and then someone without consent opts in on their profile page.
            cust.consent_email |= opt_in;
        }
        out.push(self.customer_upsert(c as usize));
        self.tally.profile_updates += 1;
    }

    fn unsubscribe(&mut self, out: &mut Vec<Kind>) {
        let Some(c) = self.pick_customer() else {
            return;
        };
        if let Some(cust) = self.customers.get_mut(c as usize) {
            cust.consent_email = false;
        }
        out.push(Kind::Unsubscribe(Unsubscribe {
            customer_id: people::customer_id(c as usize),
            channel: UnsubscribeChannel::Email as i32,
        }));
        self.tally.unsubscribes += 1;
    }

    /// A product for this customer: three times in four from a category they like.
    fn pick_product(&mut self, c: u32) -> Option<u32> {
        let likes = self.customers.get(c as usize).map(|x| x.likes.clone());
        if let Some(likes) = likes.filter(|l| !l.is_empty() && self.rng.chance(0.75)) {
            let cat = likes[self.rng.below(likes.len())] as usize;
            if let Some(p) = self
                .by_category
                .get(cat)
                .and_then(|w| w.pick(&mut self.rng))
            {
                return Some(p);
            }
        }
        self.global.pick(&mut self.rng)
    }

    pub(super) fn order_id(&mut self) -> String {
        self.tally.orders += 1;
        format!("{}-{}", self.order_prefix, self.tally.orders)
    }

    /// One visit: a checkout of the cart, or a product page view and what follows it.
    fn visit(&mut self, now_ms: i64, out: &mut Vec<Kind>) {
        let Some(c) = self.pick_customer() else {
            return;
        };
        if self.away(c, now_ms) {
            return;
        }
        let customer_id = people::customer_id(c as usize);
        if self.carts.get(&c).is_some_and(|cart| !cart.is_empty()) && self.rng.chance(0.08) {
            self.start_checkout(c, customer_id, now_ms, out);
            return;
        }
        let Some(idx) = self.pick_product(c) else {
            return;
        };
        let Some(p) = self.products.get(idx as usize) else {
            return;
        };
        if p.visible_from_ms > now_ms {
            return;
        }
        let (sku, stock, conversion, price) =
            (p.spec.sku.clone(), p.stock, p.spec.conversion, p.price);
        // A deal sells better.
        let conversion = if price < p.list_price {
            conversion * 2.0
        } else {
            conversion
        };
        let dwell_ms = self.rng.log_uniform(2_000.0, 180_000.0) as u32;
        out.push(Kind::View(View {
            customer_id: customer_id.clone(),
            sku: sku.clone(),
            dwell_ms,
        }));
        self.tally.views += 1;
        let x = self.rng.f64();
        if stock <= 0 {
            if x < 0.25 {
                out.push(Kind::NotifyMe(NotifyMe {
                    customer_id,
                    sku,
                    expires_ms: 0,
                }));
                self.tally.notify_me += 1;
            } else if x < 0.30 {
                out.push(Kind::Favourite(Favourite { customer_id, sku }));
                self.tally.favourites += 1;
            } else if x < 0.36 {
                self.try_backorder(idx, customer_id, now_ms, out);
            }
            return;
        }
        if x < conversion {
            let qty = if self.rng.chance(0.85) {
                1
            } else {
                self.rng.range(2, 3)
            };
            let order = self.order_id();
            let qty = qty.min(stock);
            self.sell(idx, qty, &order, now_ms, out);
            if self.rng.chance(0.3) {
                // An order the shop follows to the door (it also counts as a purchase).
                self.place_in_stock(order, customer_id, &[(idx, qty, price)], now_ms, out);
            } else {
                out.push(purchase(customer_id, order, &[(sku, qty, price * qty)]));
            }
        } else if x < conversion + 0.05 {
            out.push(Kind::Favourite(Favourite { customer_id, sku }));
            self.tally.favourites += 1;
        } else if x < conversion + 0.12 {
            self.add_to_cart(c, idx, customer_id, now_ms, out);
        } else if x < conversion + 0.125 {
            let removed = self.carts.get_mut(&c).and_then(|cart| cart.pop());
            if let Some(sku) = removed.and_then(|i| self.products.get(i as usize)) {
                out.push(Kind::CartRemove(CartRemove {
                    customer_id,
                    sku: sku.spec.sku.clone(),
                }));
            }
        } else if x < conversion + 0.128 {
            out.push(Kind::Unfavourite(Unfavourite { customer_id, sku }));
        }
    }
}

pub(super) fn purchase(
    customer_id: String,
    order_id: String,
    items: &[(String, i64, i64)],
) -> Kind {
    Kind::Purchase(Purchase {
        customer_id,
        order_id,
        items: items
            .iter()
            .map(|(sku, quantity, amount)| PurchaseItem {
                sku: sku.clone(),
                quantity: *quantity,
                amount_minor: *amount,
            })
            .collect(),
        currency: "JPY".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_shop_mixes_every_kind_of_event() {
        let mut shop = Shop::new(42, 300, 2000, 1000.0, 15_000);
        let mut out = Vec::new();
        for i in 0..300 {
            shop.open_product(i, 0, &mut out);
        }
        out.clear();
        let mut kinds = std::collections::BTreeSet::new();
        for s in 0..600 {
            shop.step(s * 100, 100, &mut out);
            for k in out.drain(..) {
                let name = format!("{k:?}");
                kinds.insert(name.split('(').next().unwrap_or_default().to_owned());
            }
        }
        for k in [
            "View",
            "Sale",
            "Purchase",
            "NotifyMe",
            "Favourite",
            "CartAdd",
            "PriceSet",
            "ProductUpsert",
            "StockAdjust",
            "CustomerUpsert",
        ] {
            assert!(kinds.contains(k), "no {k} in {kinds:?}");
        }
        assert!(shop.products().iter().all(|p| p.stock >= 0));
        assert!(shop.tally.restocks > 0 && shop.tally.sales_started > 0);
    }
}
