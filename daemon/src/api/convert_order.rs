//! Validation and conversion of the order events (placed, shipped, delivered, delayed,
//! cancelled, refunded) into `domain::order::OrderEvent`, for the actor of the order's
//! customer. An order placed also yields the items a `purchase` of its skus yields. All or
//! nothing: a refusal names the field with the line's index
//! (`order_placed.lines[2].quantity`), says the fix, and adds no item. Ranges are in
//! [`super::limits`].

use std::borrow::Cow;
use std::collections::HashMap;

use stockbell_proto::v1 as pb;
use stockbell_proto::v1::event::Kind;

use super::convert::{check_currency, check_id, check_sku, reject};
use super::convert_customer::{check_customer_id, purchase_items};
use super::limits::{
    echo, MAX_CARRIER, MAX_COUPON, MAX_MINOR, MAX_ORDER_LINES, MAX_PROMISE_AHEAD_MS,
    MAX_REASON_CHARS, MAX_TRACKING_NUMBER, MAX_UNITS, MAX_URL, MIN_EVENT_TIME_MS,
};
use crate::actors::{IngestItem, OrderItem};
use crate::domain::order::{
    BackorderMark, Lines, OrderCancelled, OrderDelayed, OrderDelivered, OrderEvent, OrderLine,
    OrderPlaced, OrderRefunded, OrderShipped, Promise, ShipWindow,
};
use crate::domain::{Millis, Rejection};

/// A refusal inside one order event: where below the event (`lines[2].quantity`), and
/// what is wrong with the fix.
#[derive(Debug)]
struct Bad {
    path: Cow<'static, str>,
    reason: String,
}

fn bad(path: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Bad {
    Bad {
        path: path.into(),
        reason: reason.into(),
    }
}

impl Bad {
    /// The same refusal, about line `i` of the order.
    fn in_line(self, i: usize) -> Bad {
        bad(format!("lines[{i}].{}", self.path), self.reason)
    }
}

/// Converts order event `index` at `at` into its items: the order item for the customer,
/// and for an order placed the purchase items first. All or nothing.
pub fn event(
    kind: &Kind,
    index: u32,
    at: Millis,
    out: &mut Vec<IngestItem>,
) -> Result<(), Rejection> {
    let (name, converted) = match kind {
        Kind::OrderPlaced(p) => ("order_placed", placed(p, at).map(OrderEvent::Placed)),
        Kind::OrderShipped(s) => ("order_shipped", shipped(s).map(OrderEvent::Shipped)),
        Kind::OrderDelivered(d) => ("order_delivered", delivered(d).map(OrderEvent::Delivered)),
        Kind::OrderDelayed(d) => ("order_delayed", delayed(d, at).map(OrderEvent::Delayed)),
        Kind::OrderCancelled(c) => ("order_cancelled", cancelled(c).map(OrderEvent::Cancelled)),
        Kind::OrderRefunded(r) => ("order_refunded", refunded(r).map(OrderEvent::Refunded)),
        _ => {
            return Err(reject(
                "kind",
                "internal: an event that is not an order reached the order converter",
            ))
        }
    };
    let event = converted.map_err(|b| reject(format!("{name}.{}", b.path), b.reason))?;
    if let OrderEvent::Placed(p) = &event {
        let skus = p.lines.iter().map(|l| l.sku.clone());
        purchase_items(&p.customer_id, skus, index, at, out);
    }
    out.push(IngestItem::Order {
        customer_id: event.customer_id().to_owned(),
        item: OrderItem {
            index,
            at_ms: at,
            event,
        },
    });
    Ok(())
}

/// The ids every order event carries.
struct Head {
    order_id: String,
    customer_id: String,
}

fn head(order_id: &str, customer_id: &str) -> Result<Head, Bad> {
    Ok(Head {
        order_id: check_id("order_id", "set the shop's id for this order", order_id)
            .map_err(|why| bad("order_id", why))?,
        customer_id: check_customer_id(customer_id).map_err(|why| bad("customer_id", why))?,
    })
}

fn line_id(id: &str) -> Result<String, String> {
    check_id("line_id", "set the shop's id for this order line", id)
}

fn duplicate(id: &str, first: usize) -> String {
    format!(
        "line id {} is also lines[{first}]'s; line ids are unique within an order",
        echo(id)
    )
}

/// The lines a later event names: none = every line it can apply to.
fn named_lines(ids: &[String]) -> Result<Lines, Bad> {
    if ids.is_empty() {
        return Ok(Lines::All);
    }
    if ids.len() > MAX_ORDER_LINES {
        return Err(bad(
            "lines",
            format!(
                "{} line ids; an order has at most {MAX_ORDER_LINES} lines: name each line once, \
                 or none for every line",
                ids.len()
            ),
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    let mut lines = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let path = || format!("lines[{i}]");
        lines.push(line_id(id).map_err(|why| bad(path(), why))?);
        if let Some(first) = seen.insert(id, i) {
            return Err(bad(path(), duplicate(id, first)));
        }
    }
    Ok(Lines::Only(lines))
}

/// A promised window: each side from 2000-01-01 to 2 years after the event, in order.
fn ship_window(w: &pb::ShipWindow, at: Millis) -> Result<ShipWindow, String> {
    let last = at.saturating_add(MAX_PROMISE_AHEAD_MS);
    for (side, v) in [("earliest_ms", w.earliest_ms), ("latest_ms", w.latest_ms)] {
        if !(MIN_EVENT_TIME_MS..=last).contains(&v) {
            return Err(format!(
                "{side} {v} is not between 2000-01-01 ({MIN_EVENT_TIME_MS}) and 2 years after \
                 the event ({last}); send Unix milliseconds, or leave the window unset for no \
                 promise"
            ));
        }
    }
    if w.earliest_ms > w.latest_ms {
        return Err(format!(
            "earliest_ms {} is after latest_ms {}; swap them",
            w.earliest_ms, w.latest_ms
        ));
    }
    Ok(ShipWindow {
        earliest_ms: w.earliest_ms,
        latest_ms: w.latest_ms,
    })
}

/// A string of at most `max` bytes; `what` names it in the reason.
fn short(path: &'static str, what: &str, s: &str, max: usize) -> Result<String, Bad> {
    if s.len() > max {
        return Err(bad(
            path,
            format!(
                "{} is {} bytes; a {what} is at most {max}",
                echo(s),
                s.len()
            ),
        ));
    }
    Ok(s.to_owned())
}

/// A reason in the shop's words, shown to the customer; empty = none given.
fn reason(s: &str) -> Result<String, Bad> {
    let n = s.chars().count();
    if n > MAX_REASON_CHARS {
        return Err(bad(
            "reason",
            format!(
                "{} is {n} characters; a reason is at most {MAX_REASON_CHARS}: shorten it (the \
                 customer reads it in a message)",
                echo(s)
            ),
        ));
    }
    Ok(s.to_owned())
}

fn line(l: &pb::OrderLine, at: Millis) -> Result<OrderLine, Bad> {
    let line_id = line_id(&l.line_id).map_err(|why| bad("line_id", why))?;
    let sku = check_sku(&l.sku).map_err(|why| bad("sku", why))?;
    let q = l.quantity;
    if !(1..=MAX_UNITS).contains(&q) {
        return Err(bad(
            "quantity",
            format!("quantity {q} must be between 1 and {MAX_UNITS}"),
        ));
    }
    let p = l.unit_price_minor;
    if !(0..=MAX_MINOR).contains(&p) {
        return Err(bad(
            "unit_price_minor",
            format!(
                "unit_price_minor {p} must be between 0 and {MAX_MINOR}, in the currency's \
                 minor unit (e.g. 1980 for ¥1,980)"
            ),
        ));
    }
    if i128::from(q) * i128::from(p) > i128::from(MAX_MINOR) {
        return Err(bad(
            "unit_price_minor",
            format!(
                "quantity {q} × unit_price_minor {p} is above {MAX_MINOR}, the most one line \
                 may amount to; send the price of one unit in the currency's minor unit"
            ),
        ));
    }
    let backorder = match pb::BackorderMark::try_from(l.backorder) {
        Ok(pb::BackorderMark::Unspecified) => BackorderMark::Unspecified,
        Ok(pb::BackorderMark::Backorder) => BackorderMark::Backorder,
        Ok(pb::BackorderMark::InStock) => BackorderMark::InStock,
        Err(_) => {
            return Err(bad(
                "backorder",
                format!(
                    "{} is not a backorder mark; send BACKORDER, IN_STOCK, or UNSPECIFIED to \
                     let the product's stock decide",
                    l.backorder
                ),
            ))
        }
    };
    let promise = match &l.promise {
        None => None,
        Some(w) => Some(ship_window(w, at).map_err(|why| bad("promise", why))?),
    };
    Ok(OrderLine {
        line_id,
        sku,
        quantity: q,
        unit_price_minor: p,
        backorder,
        promise,
    })
}

fn placed(p: &pb::OrderPlaced, at: Millis) -> Result<OrderPlaced, Bad> {
    let head = head(&p.order_id, &p.customer_id)?;
    let currency = check_currency(&p.currency).map_err(|why| bad("currency", why))?;
    let coupon_code = short("coupon_code", "coupon code", &p.coupon_code, MAX_COUPON)?;
    if p.lines.is_empty() || p.lines.len() > MAX_ORDER_LINES {
        return Err(bad(
            "lines",
            format!(
                "{} lines; an order has 1 to {MAX_ORDER_LINES}",
                p.lines.len()
            ),
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(p.lines.len());
    let mut lines = Vec::with_capacity(p.lines.len());
    for (i, l) in p.lines.iter().enumerate() {
        lines.push(line(l, at).map_err(|b| b.in_line(i))?);
        if let Some(first) = seen.insert(&l.line_id, i) {
            return Err(bad("line_id", duplicate(&l.line_id, first)).in_line(i));
        }
    }
    Ok(OrderPlaced {
        order_id: head.order_id,
        customer_id: head.customer_id,
        currency,
        coupon_code,
        lines,
    })
}

/// Empty, or an http(s) URL with a host and no spaces, of at most [`MAX_URL`] bytes.
fn tracking_url(s: &str) -> Result<String, Bad> {
    if s.is_empty() {
        return Ok(String::new());
    }
    if s.len() > MAX_URL {
        return Err(bad(
            "tracking_url",
            format!(
                "{} is {} bytes; a tracking URL is at most {MAX_URL}",
                echo(s),
                s.len()
            ),
        ));
    }
    let scheme = |p: &str| {
        s.get(..p.len())
            .filter(|head| head.eq_ignore_ascii_case(p))
            .map(|_| &s[p.len()..])
    };
    let rest = scheme("https://").or_else(|| scheme("http://"));
    let host = rest.and_then(|r| r.split(['/', '?', '#']).next());
    let clean = !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if !(clean && host.is_some_and(|h| !h.is_empty())) {
        return Err(bad(
            "tracking_url",
            format!(
                "{} is not an http:// or https:// URL; send the carrier's tracking page, e.g. \
                 \"https://track.example/123\", or leave it empty",
                echo(s)
            ),
        ));
    }
    Ok(s.to_owned())
}

fn shipped(s: &pb::OrderShipped) -> Result<OrderShipped, Bad> {
    let head = head(&s.order_id, &s.customer_id)?;
    Ok(OrderShipped {
        lines: named_lines(&s.lines)?,
        carrier: short("carrier", "carrier name", &s.carrier, MAX_CARRIER)?,
        tracking_number: short(
            "tracking_number",
            "tracking number",
            &s.tracking_number,
            MAX_TRACKING_NUMBER,
        )?,
        tracking_url: tracking_url(&s.tracking_url)?,
        order_id: head.order_id,
        customer_id: head.customer_id,
    })
}

fn delivered(d: &pb::OrderDelivered) -> Result<OrderDelivered, Bad> {
    let head = head(&d.order_id, &d.customer_id)?;
    Ok(OrderDelivered {
        lines: named_lines(&d.lines)?,
        order_id: head.order_id,
        customer_id: head.customer_id,
    })
}

fn delayed(d: &pb::OrderDelayed, at: Millis) -> Result<OrderDelayed, Bad> {
    let head = head(&d.order_id, &d.customer_id)?;
    let lines = named_lines(&d.lines)?;
    let promise = match (&d.new_window, d.unknown_window) {
        (Some(_), true) => {
            return Err(bad(
                "unknown_window",
                "both a new_window and unknown_window = true; send the new window, or \
                 unknown_window = true without one when the shop does not know yet",
            ))
        }
        (None, false) => {
            return Err(bad(
                "new_window",
                "no new window; send the new promised ship window, or unknown_window = true \
                 when the shop does not know yet",
            ))
        }
        (None, true) => Promise::Unknown,
        (Some(w), false) => {
            Promise::Window(ship_window(w, at).map_err(|why| bad("new_window", why))?)
        }
    };
    Ok(OrderDelayed {
        order_id: head.order_id,
        customer_id: head.customer_id,
        lines,
        promise,
        reason: reason(&d.reason)?,
    })
}

fn cancelled(c: &pb::OrderCancelled) -> Result<OrderCancelled, Bad> {
    let head = head(&c.order_id, &c.customer_id)?;
    Ok(OrderCancelled {
        lines: named_lines(&c.lines)?,
        reason: reason(&c.reason)?,
        order_id: head.order_id,
        customer_id: head.customer_id,
    })
}

fn refunded(r: &pb::OrderRefunded) -> Result<OrderRefunded, Bad> {
    let head = head(&r.order_id, &r.customer_id)?;
    let lines = named_lines(&r.lines)?;
    let a = r.amount_minor;
    if !(0..=MAX_MINOR).contains(&a) {
        return Err(bad(
            "amount_minor",
            format!(
                "amount_minor {a} must be between 0 and {MAX_MINOR}, in the order's currency's \
                 minor unit"
            ),
        ));
    }
    Ok(OrderRefunded {
        order_id: head.order_id,
        customer_id: head.customer_id,
        lines,
        amount_minor: a,
    })
}

#[cfg(test)]
#[path = "convert_order_tests.rs"]
mod tests;
