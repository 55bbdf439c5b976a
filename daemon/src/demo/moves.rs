//! The shop's own moves: restocks arriving, price changes (cuts that hold past
//! `stable_for` so they are announced, flickers undone before they could be, small
//! list-price changes), a trickle of new arrivals, returns and stock counts.

use stockbell_proto::v1::{event::Kind, AdjustReason, StockAdjust, StockSet};

use super::catalog::{self, shop_price};
use super::shop::{event_price, Due, Shop};

impl Shop {
    pub(super) fn restock(&mut self, idx: u32, out: &mut Vec<Kind>) {
        let secs = self.rng.log_uniform(30.0, 600.0);
        let qty = self.cover(idx, secs) + self.rng.range(2, 8);
        let absolute = self.rng.chance(0.2);
        let Some(p) = self.products.get_mut(idx as usize) else {
            return;
        };
        p.restock_pending = false;
        p.stock += qty;
        let sku = p.spec.sku.clone();
        out.push(if absolute {
            // A warehouse count after the delivery.
            Kind::StockSet(StockSet {
                sku,
                quantity: p.stock + p.held,
            })
        } else {
            Kind::StockAdjust(StockAdjust {
                sku,
                delta: qty,
                reason: AdjustReason::Restock as i32,
            })
        });
        self.tally.restocks += 1;
    }

    /// A price move on a product: a sale of 10-35 % that holds past `stable_for` (so it
    /// is announced) and ends later, a flicker that is undone before it could be, or a
    /// small change of the list price.
    pub(super) fn reprice(&mut self, now_ms: i64, out: &mut Vec<Kind>) {
        // Now and then a product in a cart its customer left: abandoned carts see price
        // cuts (and flickers) before their reminders go.
        let in_left_cart = if self.rng.chance(0.2) {
            self.left_cart_product()
        } else {
            None
        };
        let Some(idx) = in_left_cart.or_else(|| self.global.pick(&mut self.rng)) else {
            return;
        };
        let x = self.rng.f64();
        let stable = self.stable_for_ms;
        let Some(p) = self.products.get(idx as usize) else {
            return;
        };
        if p.price_pending || p.visible_from_ms > now_ms {
            return;
        }
        let (list, in_stock) = (p.list_price, p.stock > 0);
        let (price, back_in_ms) = if x < 0.45 && in_stock {
            self.tally.sales_started += 1;
            let pct = self.rng.range(2, 7) * 5;
            let hold = stable + (self.rng.log_uniform(10.0, 300.0) * 1000.0) as i64;
            (catalog::discount(list, pct), Some(hold))
        } else if x < 0.65 {
            self.tally.flickers += 1;
            let pct = self.rng.range(12, 30);
            let hold = (stable / 3).clamp(500, 8_000);
            (catalog::discount(list, pct), Some(hold))
        } else {
            self.tally.list_changes += 1;
            let f = if x < 0.9 {
                0.93 + 0.14 * self.rng.f64()
            } else {
                1.05 + 0.1 * self.rng.f64()
            };
            (shop_price(list as f64 * f), None)
        };
        let Some(p) = self.products.get_mut(idx as usize) else {
            return;
        };
        if back_in_ms.is_none() {
            p.list_price = price;
        }
        if price == p.price {
            return;
        }
        p.price = price;
        out.push(event_price(&p.spec.sku, price));
        if let Some(ms) = back_in_ms {
            p.price_pending = true;
            self.schedule(now_ms + ms, Due::PriceBack(idx));
        }
    }

    /// A new product: listed now (or shown from a little later) and stocked at once.
    pub(super) fn new_arrival(&mut self, now_ms: i64, out: &mut Vec<Kind>) {
        let spec = catalog::arrival(self.seed, self.arrivals());
        let later = self.rng.chance(0.3);
        let from = if later {
            now_ms + self.rng.range(20_000, 60_000)
        } else {
            0
        };
        out.push(Self::upsert(&spec, spec.list_price, false, from));
        let sku = spec.sku.clone();
        let idx = self.add(spec, 0, from);
        let secs = self.rng.log_uniform(60.0, 600.0);
        let quantity = self.cover(idx, secs) + self.rng.range(3, 12);
        out.push(Kind::StockSet(StockSet { sku, quantity }));
        self.set_stock(idx, quantity);
        self.tally.arrivals += 1;
    }

    /// A return (one unit back) or a stock count that confirms the stock.
    pub(super) fn adjust(&mut self, now_ms: i64, out: &mut Vec<Kind>) {
        let Some(idx) = self.global.pick(&mut self.rng) else {
            return;
        };
        let count = self.rng.chance(0.3);
        let Some(p) = self.products.get_mut(idx as usize) else {
            return;
        };
        let sku = p.spec.sku.clone();
        if count {
            out.push(Kind::StockSet(StockSet {
                sku,
                quantity: p.stock + p.held,
            }));
        } else {
            p.stock += 1;
            out.push(Kind::StockAdjust(StockAdjust {
                sku,
                delta: 1,
                reason: AdjustReason::Return as i32,
            }));
            self.allocate(idx, now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_never_exceed_stock_and_prices_come_back() {
        let mut shop = Shop::new(1, 50, 10, 1000.0, 15_000);
        let mut out = Vec::new();
        for i in 0..50 {
            shop.open_product(i, 0, &mut out);
        }
        let before = shop.products[0].stock;
        shop.sell(0, before + 5, "o", 0, &mut out);
        assert_eq!(shop.products[0].stock, 0);
        for _ in 0..200 {
            shop.reprice(0, &mut out);
        }
        assert!(shop.on_sale() > 0);
        shop.due(3_600_000, &mut out);
        assert_eq!(shop.on_sale(), 0, "every sale and flicker ended");
    }
}
