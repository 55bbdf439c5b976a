//! The row of a customer record: profile fields and the aggregates kept in the record
//! (`lifecycle::aggregates`).

use std::collections::HashMap;

use super::{Bought, Earlier, OrderPoint, Row};
use crate::domain::customer::{Channel, Locale};
use crate::domain::lifecycle::aggregates::Aggregates;
use crate::domain::profile::CustomerState;

/// The customer's [`Row`] as of their record.
pub fn row_of(c: &CustomerState) -> Row {
    let agg = &c.lifecycle.aggregates;
    let orders: Vec<OrderPoint> = agg
        .orders
        .iter()
        .map(|o| OrderPoint {
            at_ms: o.at_ms,
            amount_minor: o.amount_minor(),
            coupon: o.coupon,
        })
        .collect();
    let earlier = agg.earlier.as_ref().filter(|f| f.orders > 0).map(|f| {
        // The gap from the last folded order to the first kept one counts too.
        let bridge = orders.first().map(|o| (o.at_ms - f.last_ms).max(0));
        Earlier {
            orders: f.orders,
            spend_minor: f.spend_minor,
            first_ms: f.first_ms,
            coupon_orders: f.coupon_orders,
            gaps_ms: f.gaps_ms.saturating_add(bridge.unwrap_or(0)),
            gaps: f.gaps + u32::from(bridge.is_some()),
        }
    });
    let last_click_ms = c
        .lifecycle
        .engagement
        .channels
        .iter()
        .filter_map(|e| e.last_click_ms)
        .max();
    Row {
        customer_id: c.id.clone(),
        email: c.email.clone(),
        orders,
        earlier,
        subscribed: agg.subscribed,
        tags: c.tags.clone(),
        consent: [
            c.consent.get(Channel::Email),
            c.consent.get(Channel::Line),
            c.consent.get(Channel::Webhook),
        ],
        locale: match c.locale {
            Locale::Ja => "ja",
            Locale::En => "en",
        }
        .to_owned(),
        time_zone: c.time_zone.clone(),
        last_click_ms,
        bought: bought(agg),
    }
}

/// SKUs bought (units left after cancels and refunds > 0), most units first (then by
/// SKU); order indexes count the folded orders first.
pub fn bought(agg: &Aggregates) -> Vec<Bought> {
    let mut out: Vec<Bought> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    let folded = agg.earlier.as_ref().map_or(0, |f| f.orders);
    if let Some(f) = &agg.earlier {
        for s in &f.skus {
            at.insert(&s.sku, out.len());
            out.push(Bought {
                sku: s.sku.clone(),
                units: s.units,
                order_indexes: s.order_indexes.clone(),
                first_ms: s.first_ms,
                last_ms: s.last_ms,
            });
        }
    }
    for (i, o) in agg.orders.iter().enumerate() {
        let index = folded + i as u32 + 1;
        for l in o.lines.iter().filter(|l| l.units() > 0) {
            let units = l.units();
            match at.get(l.sku.as_str()) {
                Some(&k) => {
                    let b = &mut out[k];
                    b.units = b.units.saturating_add(units);
                    if b.order_indexes.last() != Some(&index) {
                        b.order_indexes.push(index);
                    }
                    b.first_ms = b.first_ms.min(o.at_ms);
                    b.last_ms = b.last_ms.max(o.at_ms);
                }
                None => {
                    at.insert(&l.sku, out.len());
                    out.push(Bought {
                        sku: l.sku.clone(),
                        units,
                        order_indexes: vec![index],
                        first_ms: o.at_ms,
                        last_ms: o.at_ms,
                    });
                }
            }
        }
    }
    out.retain(|b| b.units > 0);
    out.sort_by(|a, b| b.units.cmp(&a.units).then_with(|| a.sku.cmp(&b.sku)));
    out
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
