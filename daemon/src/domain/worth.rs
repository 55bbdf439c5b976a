//! The one rule for "is this message still worth sending": asked whenever a message
//! decided earlier is about to go out later than it was decided — at the end of quiet
//! hours, for each batch of a back-in-stock release, and before a delivery attempt that
//! is late. Pure: the product's current state and the time are parameters.

use super::customer::Scenario;
use super::message::ItemContext;
use super::product::ProductState;
use super::{Millis, TriggerConfig};

/// Why a message about a product no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// The product is gone from the catalogue.
    Unknown,
    /// Hidden, or outside its sale window.
    NotOnSale,
    /// Less stock than the message promised (sold out again, or below the minimum).
    OutOfStock,
    /// A price drop whose price went back up.
    PriceUp,
    /// A cart reminder's line that left the cart (removed, ordered, bought) or whose cart
    /// changed since the reminder was decided.
    CartMoved,
}

impl Stale {
    pub fn describe(self) -> &'static str {
        match self {
            Stale::Unknown => "the product is no longer in the catalogue",
            Stale::NotOnSale => "the product is hidden or outside its sale window",
            Stale::OutOfStock => "the product no longer has the stock the message announces",
            Stale::PriceUp => "the price is above the announced one again",
            Stale::CartMoved => "the cart was ordered, bought or changed since",
        }
    }
}

/// The least stock a message of `scenario` may go out with: a restock needs
/// `min_restock_qty`, a new arrival `new_arrival_min_stock`, low stock and a cross-sell
/// offer something left (an offer never shows what cannot ship now), a cart reminder a
/// line that can be bought (in stock, or backorderable). A price drop or a
/// new arrival of a backorderable product needs no stock; order updates none either.
fn min_stock(scenario: Scenario, backorderable: bool, cfg: &TriggerConfig) -> Option<i64> {
    match scenario {
        Scenario::BackInStock => Some(cfg.min_restock_qty.max(1)),
        Scenario::LowStock
        | Scenario::CrossSellOrder
        | Scenario::CrossSellDelivery
        | Scenario::WinBack => Some(1),
        Scenario::NewArrival if backorderable => None,
        // A cart line can be bought while in stock, or at any time when backorderable.
        Scenario::CartAbandoned | Scenario::CheckoutAbandoned if backorderable => None,
        Scenario::CartAbandoned | Scenario::CheckoutAbandoned => Some(1),
        Scenario::NewArrival => Some(cfg.new_arrival_min_stock.max(1)),
        Scenario::PriceDrop if backorderable => None,
        Scenario::PriceDrop => Some(1),
        Scenario::BackorderConfirmation
        | Scenario::BackorderUpdate
        | Scenario::Arrived
        | Scenario::Delayed
        | Scenario::Shipped
        | Scenario::DeliveredFollowup
        | Scenario::LastChance
        | Scenario::Birthday => None,
    }
}

/// Whether a message of `scenario` showing `item` still holds for `product` at `now`:
/// the product can be bought (visible, on sale, with the stock the scenario needs), and
/// a price drop is still at most the announced price. An order update is about what the
/// customer already bought, and a birthday message about the customer: they always hold.
pub fn still_worth_sending(
    scenario: Scenario,
    item: &ItemContext,
    product: Option<&ProductState>,
    now: Millis,
    cfg: &TriggerConfig,
) -> Result<(), Stale> {
    // A birthday message shows no product; an order update is about what was bought.
    if !scenario.is_marketing() || scenario == Scenario::Birthday {
        return Ok(());
    }
    let p = product.ok_or(Stale::Unknown)?;
    if !(p.visible(now) && p.on_sale(now)) {
        return Err(Stale::NotOnSale);
    }
    if min_stock(scenario, p.catalogue.backorderable, cfg).is_some_and(|min| p.available() < min) {
        return Err(Stale::OutOfStock);
    }
    if scenario == Scenario::PriceDrop && p.price_minor > item.price_minor {
        return Err(Stale::PriceUp);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::product::{apply, Effects};
    use crate::domain::{Catalogue, ProductEvent, Window};

    const T0: Millis = 1_700_000_000_000;

    fn product(stock: i64, price: i64, backorderable: bool) -> ProductState {
        let cfg = TriggerConfig::default();
        let mut st = None;
        let mut fx = Effects::default();
        let events = [
            ProductEvent::Upsert {
                catalogue: Catalogue {
                    backorderable,
                    ..Default::default()
                },
                price_minor: price,
                imported: false,
            },
            ProductEvent::StockSet { quantity: stock },
        ];
        for e in &events {
            assert!(apply(&mut st, "tee", e, T0, &cfg, &mut fx).is_ok());
        }
        st.expect("the upsert creates the product")
    }

    fn item(price: i64) -> ItemContext {
        ItemContext {
            sku: "tee".into(),
            price_minor: price,
            ..Default::default()
        }
    }

    fn check(
        s: Scenario,
        announced: i64,
        p: &ProductState,
        cfg: &TriggerConfig,
    ) -> Result<(), Stale> {
        still_worth_sending(s, &item(announced), Some(p), T0, cfg)
    }

    #[test]
    fn a_restock_needs_the_restock_minimum() {
        let cfg = TriggerConfig {
            min_restock_qty: 3,
            ..TriggerConfig::default()
        };
        let bis = Scenario::BackInStock;
        assert_eq!(
            check(bis, 1000, &product(2, 1000, false), &cfg),
            Err(Stale::OutOfStock)
        );
        assert_eq!(check(bis, 1000, &product(3, 1000, false), &cfg), Ok(()));
        // Backorders are not stock: "back in stock" with nothing on the shelf is false.
        assert_eq!(
            check(bis, 1000, &product(0, 1000, true), &cfg),
            Err(Stale::OutOfStock)
        );
        assert_eq!(
            still_worth_sending(bis, &item(1000), None, T0, &cfg),
            Err(Stale::Unknown)
        );
    }

    #[test]
    fn low_stock_needs_something_left() {
        let cfg = TriggerConfig::default();
        let low = Scenario::LowStock;
        assert_eq!(check(low, 1000, &product(1, 1000, false), &cfg), Ok(()));
        assert_eq!(
            check(low, 1000, &product(0, 1000, false), &cfg),
            Err(Stale::OutOfStock)
        );
    }

    #[test]
    fn a_price_drop_holds_while_the_price_is_at_most_the_announced_one() {
        let cfg = TriggerConfig::default();
        let drop = Scenario::PriceDrop;
        assert_eq!(check(drop, 800, &product(5, 800, false), &cfg), Ok(()));
        assert_eq!(check(drop, 800, &product(5, 700, false), &cfg), Ok(()));
        assert_eq!(
            check(drop, 800, &product(5, 900, false), &cfg),
            Err(Stale::PriceUp)
        );
        assert_eq!(
            check(drop, 800, &product(0, 800, false), &cfg),
            Err(Stale::OutOfStock)
        );
        assert_eq!(check(drop, 800, &product(0, 800, true), &cfg), Ok(()));
    }

    #[test]
    fn nothing_holds_outside_the_sale_window() {
        let cfg = TriggerConfig::default();
        let mut p = product(5, 800, false);
        p.catalogue.sale_window = Window {
            start_ms: None,
            end_ms: Some(T0),
        };
        for s in Scenario::ALL.into_iter().filter(|s| s.is_marketing()) {
            // A birthday message shows no product: nothing about one holds it back.
            let want = if s == Scenario::Birthday {
                Ok(())
            } else {
                Err(Stale::NotOnSale)
            };
            assert_eq!(check(s, 800, &p, &cfg), want, "{s:?}");
        }
    }

    #[test]
    fn a_cross_sell_offer_needs_stock_even_for_a_backorderable_product() {
        let cfg = TriggerConfig::default();
        for s in [Scenario::CrossSellOrder, Scenario::CrossSellDelivery] {
            assert_eq!(check(s, 800, &product(1, 800, false), &cfg), Ok(()));
            assert_eq!(
                check(s, 800, &product(0, 800, true), &cfg),
                Err(Stale::OutOfStock),
                "{s:?}"
            );
        }
    }

    #[test]
    fn an_order_update_always_holds() {
        let cfg = TriggerConfig::default();
        let mut gone = product(0, 900, false);
        gone.catalogue.display_window = Window {
            start_ms: None,
            end_ms: Some(T0),
        };
        for s in Scenario::ALL.into_iter().filter(|s| !s.is_marketing()) {
            assert_eq!(check(s, 800, &gone, &cfg), Ok(()), "{s:?}");
            assert_eq!(still_worth_sending(s, &item(800), None, T0, &cfg), Ok(()));
        }
    }
}
