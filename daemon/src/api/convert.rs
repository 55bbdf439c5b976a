//! Validation and conversion of protobuf events into domain events. Every refusal names
//! the field and says how to fix it; nothing here touches state. Numeric ranges and the
//! echoing of refused values are in [`super::limits`].

use std::borrow::Cow;

use stockbell_proto::v1 as pb;

use super::convert_customer as customer;
use super::convert_order as order;
use super::limits::{self, echo, MAX_ID, MAX_MINOR, MAX_UNITS, MAX_WINDOW_MS};
use crate::actors::product::Item;
use crate::actors::IngestItem;
use crate::config::CustomerDefaults;
use crate::domain::{AdjustReason, Catalogue, Millis, ProductEvent, Rejection, Window};

/// The longest SKU, and the longest producer id.
pub(super) const MAX_SKU: usize = MAX_ID;
const MAX_TEXT: usize = 4096;

pub(super) fn reject(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Rejection {
    Rejection::new(field, reason)
}

/// The SKU rule: 1 to [`MAX_SKU`] bytes. `Err` says what is wrong and the fix.
pub(super) fn check_sku(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("sku is empty; set the product's SKU".into());
    }
    if s.len() > MAX_SKU {
        return Err(format!("sku is {} bytes; the limit is {MAX_SKU}", s.len()));
    }
    Ok(s.to_owned())
}

pub(super) fn sku(field: &'static str, s: &str) -> Result<String, Rejection> {
    check_sku(s).map_err(|why| reject(field, why))
}

/// The rule for the shop's ids (customer, order, order line): not blank, at most
/// [`MAX_ID`] bytes. `what` names the id, `fix` says what to send instead of nothing.
pub(super) fn check_id(what: &str, fix: &str, s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(format!("{what} is empty; {fix}"));
    }
    if s.len() > MAX_ID {
        return Err(format!(
            "{what} is {} bytes; the limit is {MAX_ID}",
            s.len()
        ));
    }
    Ok(s.to_owned())
}

/// The currency rule: an ISO 4217 code (3 letters; case and surrounding spaces ignored),
/// returned upper case.
pub(super) fn check_currency(s: &str) -> Result<String, String> {
    let currency = s.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "{} is not an ISO 4217 code; write e.g. \"JPY\"",
            echo(s)
        ));
    }
    Ok(currency)
}

fn window(field: &'static str, w: Option<&pb::Window>) -> Result<Window, Rejection> {
    let Some(w) = w else {
        return Ok(Window::default());
    };
    for (side, v) in [("start_ms", w.start_ms), ("end_ms", w.end_ms)] {
        if !(0..=MAX_WINDOW_MS).contains(&v) {
            return Err(reject(
                field,
                format!(
                    "{side} {v} is not a time: send Unix milliseconds up to {MAX_WINDOW_MS} \
                     (9999-12-31), or 0 to leave that side open"
                ),
            ));
        }
    }
    let opt = |v: i64| (v != 0).then_some(v);
    let win = Window {
        start_ms: opt(w.start_ms),
        end_ms: opt(w.end_ms),
    };
    if win.is_inverted() {
        return Err(reject(
            field,
            format!(
                "window ends ({}) before it starts ({}); swap them or leave end_ms 0 for no end",
                w.end_ms, w.start_ms
            ),
        ));
    }
    Ok(win)
}

fn price(field: &'static str, p: i64) -> Result<i64, Rejection> {
    if !(1..=MAX_MINOR).contains(&p) {
        return Err(reject(
            field,
            format!(
                "price {p} must be between 1 and {MAX_MINOR}, in the currency's minor unit \
                 (e.g. 1980 for ¥1,980)"
            ),
        ));
    }
    Ok(p)
}

/// A count of units in `lo..=MAX_UNITS`; `what` says what it counts.
fn units(field: &'static str, what: &str, q: i64, lo: i64) -> Result<i64, Rejection> {
    if !(lo..=MAX_UNITS).contains(&q) {
        return Err(reject(
            field,
            format!("{what} {q} must be between {lo} and {MAX_UNITS}"),
        ));
    }
    Ok(q)
}

pub(super) fn text(field: &'static str, s: &str) -> Result<String, Rejection> {
    if s.len() > MAX_TEXT {
        return Err(reject(
            field,
            format!("{} bytes; the limit is {MAX_TEXT}", s.len()),
        ));
    }
    Ok(s.to_owned())
}

fn upsert(u: &pb::ProductUpsert) -> Result<(String, ProductEvent), Rejection> {
    let sku = sku("product_upsert.sku", &u.sku)?;
    let price = price("product_upsert.price_minor", u.price_minor)?;
    let currency =
        check_currency(&u.currency).map_err(|why| reject("product_upsert.currency", why))?;
    let catalogue = Catalogue {
        title: text("product_upsert.title", &u.title)?,
        url: text("product_upsert.url", &u.url)?,
        image_url: text("product_upsert.image_url", &u.image_url)?,
        category_ids: u
            .category_ids
            .iter()
            .filter(|c| !c.is_empty())
            .cloned()
            .collect(),
        currency,
        backorderable: u.backorderable,
        sale_window: window("product_upsert.sale_window", u.sale_window.as_ref())?,
        display_window: window("product_upsert.display_window", u.display_window.as_ref())?,
    };
    Ok((
        sku,
        ProductEvent::Upsert {
            catalogue,
            price_minor: price,
            imported: u.imported,
        },
    ))
}

fn adjust(a: &pb::StockAdjust) -> Result<(String, ProductEvent), Rejection> {
    let sku = sku("stock_adjust.sku", &a.sku)?;
    let reason = match pb::AdjustReason::try_from(a.reason) {
        Ok(pb::AdjustReason::Sale) => AdjustReason::Sale,
        Ok(pb::AdjustReason::Restock) => AdjustReason::Restock,
        Ok(pb::AdjustReason::Return) => AdjustReason::Return,
        Ok(pb::AdjustReason::Correction) => AdjustReason::Correction,
        _ => {
            return Err(reject(
                "stock_adjust.reason",
                "set a reason: SALE, RESTOCK, RETURN or CORRECTION",
            ))
        }
    };
    let d = a.delta;
    let bad_sign = match reason {
        AdjustReason::Sale => d >= 0,
        AdjustReason::Restock | AdjustReason::Return => d <= 0,
        AdjustReason::Correction => d == 0,
    };
    if bad_sign {
        let want = match reason {
            AdjustReason::Sale => "a SALE adjust must be negative (units leaving stock)",
            AdjustReason::Restock | AdjustReason::Return => {
                "a RESTOCK or RETURN adjust must be positive (units coming in)"
            }
            AdjustReason::Correction => "a CORRECTION must not be 0",
        };
        return Err(reject("stock_adjust.delta", format!("delta {d}: {want}")));
    }
    if d.unsigned_abs() > MAX_UNITS.unsigned_abs() {
        return Err(reject(
            "stock_adjust.delta",
            format!(
                "delta {d}: an adjust moves at most {MAX_UNITS} units either way; send the \
                 real change, or the counted stock with stock_set"
            ),
        ));
    }
    Ok((sku, ProductEvent::StockAdjust { delta: d, reason }))
}

/// Converts event `index` into the items it addresses (a purchase of several skus is
/// several items); all or nothing. `now` fills a missing event time.
pub fn event(
    e: &pb::Event,
    index: u32,
    now: Millis,
    defaults: &CustomerDefaults,
    out: &mut Vec<IngestItem>,
) -> Result<(), Rejection> {
    use pb::event::Kind;
    let at = if e.event_time_ms == 0 {
        now
    } else {
        e.event_time_ms
    };
    if e.event_time_ms != 0 && !limits::event_time_ok(at, now) {
        return Err(reject(
            "event_time_ms",
            format!(
                "{at} is not between 2000-01-01 ({}) and a day after the daemon's clock ({}); \
                 send Unix milliseconds, or 0 for the daemon's clock",
                limits::MIN_EVENT_TIME_MS,
                now.saturating_add(limits::MAX_AHEAD_MS)
            ),
        ));
    }
    let (sku, ev) = match &e.kind {
        None => return Err(reject(
            "kind",
            "the event has no kind; set one of product_upsert, stock_set, stock_adjust, sale, price_set, customer_upsert, favourite, unfavourite, view, cart_add, cart_remove, notify_me, purchase, unsubscribe, order_placed, order_shipped, order_delivered, order_delayed, order_cancelled, order_refunded, checkout_started, complaint",
        )),
        Some(Kind::ProductUpsert(u)) => upsert(u)?,
        Some(Kind::StockSet(s)) => (
            sku("stock_set.sku", &s.sku)?,
            ProductEvent::StockSet {
                quantity: units("stock_set.quantity", "quantity", s.quantity, -MAX_UNITS)?,
            },
        ),
        Some(Kind::StockAdjust(a)) => adjust(a)?,
        Some(Kind::Sale(s)) => {
            let quantity = units("sale.quantity", "quantity", s.quantity, 1)?;
            (sku("sale.sku", &s.sku)?, ProductEvent::Sale { quantity })
        }
        Some(Kind::PriceSet(p)) => (
            sku("price_set.sku", &p.sku)?,
            ProductEvent::PriceSet {
                price_minor: price("price_set.price_minor", p.price_minor)?,
            },
        ),
        Some(
            k @ (Kind::OrderPlaced(_)
            | Kind::OrderShipped(_)
            | Kind::OrderDelivered(_)
            | Kind::OrderDelayed(_)
            | Kind::OrderCancelled(_)
            | Kind::OrderRefunded(_)),
        ) => return order::event(k, index, at, out),
        Some(other) => return customer::event(other, index, at, defaults, out),
    };
    out.push(IngestItem::Product {
        sku,
        item: Item {
            index,
            at_ms: at,
            event: ev,
        },
    });
    Ok(())
}

/// A batch split into valid items and early rejections.
pub struct Converted {
    pub items: Vec<IngestItem>,
    pub rejected: Vec<(u32, Rejection)>,
}

pub fn batch(events: &[pb::Event], now: Millis, defaults: &CustomerDefaults) -> Converted {
    let mut items = Vec::with_capacity(events.len());
    let mut rejected = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let index = i as u32;
        if let Err(r) = event(e, index, now, defaults, &mut items) {
            rejected.push((index, r));
        }
    }
    Converted { items, rejected }
}

/// Batch-level checks: these refuse the whole batch.
pub fn check_batch(b: &pb::EventBatch, max_events: usize) -> Result<(), String> {
    if b.producer_id.trim().is_empty() {
        return Err(
            "producer_id is empty; set a stable id for this producer (e.g. \"shop-erp\")".into(),
        );
    }
    if b.producer_id.len() > MAX_SKU {
        return Err(format!(
            "producer_id is {} bytes; the limit is {MAX_SKU}",
            b.producer_id.len()
        ));
    }
    if b.sequence == 0 {
        return Err("sequence is 0; sequences start at 1 and increase with every new batch".into());
    }
    if b.sequence > limits::MAX_SEQUENCE {
        return Err(format!(
            "sequence {} is above {} (2^63 - 1), the largest a batch may carry; count batches \
             from 1, or use a timestamp in nanoseconds at most",
            b.sequence,
            limits::MAX_SEQUENCE
        ));
    }
    if b.events.len() > max_events {
        return Err(format!("{} events in one batch; the limit is {max_events} (server.max_batch_events): split the batch", b.events.len()));
    }
    Ok(())
}

#[cfg(test)]
#[path = "convert_tests.rs"]
pub(crate) mod tests;
