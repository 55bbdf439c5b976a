//! Validation and conversion of customer and interest events. Interest events go to the
//! product's actor (it knows the price the customer saw and the categories); customer
//! upserts and unsubscribes go to the customer's actor.

use stockbell_proto::v1 as pb;
use stockbell_proto::v1::event::Kind;

use super::convert::{check_currency, check_id, reject, sku, text};
use super::limits::{echo, MAX_DWELL_MS, MAX_MINOR, MAX_NOTIFY_ME_MS, MAX_UNITS};
use crate::actors::customer::CustomerItem;
use crate::actors::product::Item;
use crate::actors::IngestItem;
use crate::config::CustomerDefaults;
use crate::domain::customer::{Channel, Consent, Locale};
use crate::domain::lifecycle::aggregates::PurchaseLine;
use crate::domain::lifecycle::attribution::OrderFacts;
use crate::domain::lifecycle::journey::{CartChange, NewLine, MAX_LINES};
use crate::domain::lifecycle::lapse::MonthDay;
use crate::domain::profile::{CustomerEvent, ProfileData};
use crate::domain::{Millis, ProductEvent, Rejection, Signal};

const MAX_ITEMS: usize = 500;
/// The longest IANA time zone name is 32 bytes ("America/Argentina/ComodRivadavia").
const MAX_TZ: usize = 64;

/// The customer id rule (the shop's id rule), as a reason.
pub(super) fn check_customer_id(id: &str) -> Result<String, String> {
    check_id("customer_id", "set the shop's id for this customer", id)
}

fn customer_id(field: &'static str, id: &str) -> Result<String, Rejection> {
    check_customer_id(id).map_err(|why| reject(field, why))
}

/// What a purchase of `skus` by `customer_id` is for interest: one item per sku for its
/// product's actor, which takes the sku out of the customer's stock-trigger audiences.
/// An order placed yields the same items.
pub(super) fn purchase_items(
    customer_id: &str,
    skus: impl IntoIterator<Item = String>,
    index: u32,
    at: Millis,
    out: &mut Vec<IngestItem>,
) {
    out.extend(skus.into_iter().map(|sku| IngestItem::Product {
        sku,
        item: Item {
            index,
            at_ms: at,
            event: ProductEvent::Interest {
                customer_id: customer_id.to_owned(),
                signal: Signal::Purchase,
            },
        },
    }));
}

/// A purchase with an order id counts as an order: its id (1 to 256 bytes) and, for its
/// revenue, its currency (an ISO 4217 code; empty = the order counts without revenue).
fn purchase_order(
    p: &pb::Purchase,
    skus: &[String],
    total_minor: i64,
    at: Millis,
) -> Result<Option<OrderFacts>, Rejection> {
    if p.order_id.is_empty() {
        return Ok(None);
    }
    let order_id = check_id("order_id", "send the shop's order id, or none", &p.order_id)
        .map_err(|why| reject("purchase.order_id", why))?;
    let currency = match p.currency.trim() {
        "" => String::new(),
        c => check_currency(c).map_err(|why| reject("purchase.currency", why))?,
    };
    Ok(Some(OrderFacts {
        order_id,
        at_ms: at,
        currency,
        total_minor,
        skus: skus.to_vec(),
    }))
}

fn email(field: &'static str, e: &str) -> Result<Option<String>, Rejection> {
    let e = e.trim();
    if e.is_empty() {
        return Ok(None);
    }
    let valid = e.len() <= 254
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        });
    if !valid {
        return Err(reject(
            field,
            format!(
                "{} is not an email address; send e.g. \"hanako@example.jp\" or leave it empty",
                echo(e)
            ),
        ));
    }
    Ok(Some(e.to_owned()))
}

fn upsert(
    u: &pb::CustomerUpsert,
    defaults: &CustomerDefaults,
) -> Result<(String, CustomerEvent), Rejection> {
    let id = customer_id("customer_upsert.customer_id", &u.customer_id)?;
    let locale = match u.locale.trim().to_ascii_lowercase().as_str() {
        "" => defaults.locale,
        "ja" | "ja-jp" => Locale::Ja,
        "en" | "en-us" | "en-gb" => Locale::En,
        other => {
            return Err(reject(
                "customer_upsert.locale",
                format!("{} is not supported; send \"ja\" or \"en\"", echo(other)),
            ))
        }
    };
    let time_zone = if u.time_zone.trim().is_empty() {
        defaults.time_zone.clone()
    } else {
        u.time_zone.trim().to_owned()
    };
    if time_zone.len() > MAX_TZ {
        return Err(reject(
            "customer_upsert.time_zone",
            format!(
                "{} is not an IANA time zone name; send e.g. \"Asia/Tokyo\"",
                echo(&time_zone)
            ),
        ));
    }
    crate::domain::rules::quiet::parse_tz(&time_zone)
        .map_err(|e| reject("customer_upsert.time_zone", e))?;
    let line = u.line_user_id.trim();
    if !line.is_empty() && (line.len() > 64 || !line.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(reject("customer_upsert.line_user_id", "a LINE user id is up to 64 letters and digits (e.g. \"U4af4980629…\"); leave it empty if unknown"));
    }
    let data = ProfileData {
        email: email("customer_upsert.email", &u.email)?,
        line_user_id: (!line.is_empty()).then(|| line.to_owned()),
        locale,
        time_zone,
        consent: Consent {
            email: u.consent_email,
            line: u.consent_line,
            webhook: u.consent_webhook,
        },
        tags: u
            .tags
            .iter()
            .map(|t| text("customer_upsert.tags", t))
            .collect::<Result<_, _>>()?,
        birthday: birthday(&u.birthday)?,
        subscribed: u.subscribed,
    };
    Ok((id, CustomerEvent::Upsert(data)))
}

/// `customer_upsert.birthday`: empty = none, else `"MM-DD"` or `"--MM-DD"`.
fn birthday(b: &str) -> Result<Option<MonthDay>, Rejection> {
    if b.trim().is_empty() {
        return Ok(None);
    }
    if b.len() > 16 {
        return Err(reject(
            "customer_upsert.birthday",
            format!(
                "{} is not a month-day; send \"MM-DD\" (e.g. \"12-24\") or leave it empty for none",
                echo(b)
            ),
        ));
    }
    MonthDay::parse(b)
        .map(Some)
        .map_err(|e| reject("customer_upsert.birthday", e))
}

fn unsubscribe(u: &pb::Unsubscribe) -> Result<(String, CustomerEvent), Rejection> {
    let id = customer_id("unsubscribe.customer_id", &u.customer_id)?;
    let channel = match pb::UnsubscribeChannel::try_from(u.channel) {
        Ok(pb::UnsubscribeChannel::All) => None,
        Ok(pb::UnsubscribeChannel::Email) => Some(Channel::Email),
        Ok(pb::UnsubscribeChannel::Line) => Some(Channel::Line),
        Ok(pb::UnsubscribeChannel::Webhook) => Some(Channel::Webhook),
        _ => {
            return Err(reject(
                "unsubscribe.channel",
                "set a channel: ALL, EMAIL, LINE or WEBHOOK",
            ))
        }
    };
    Ok((id, CustomerEvent::Unsubscribe { channel }))
}

/// A cart quantity: `min` to 10^9.
fn cart_units(field: &'static str, q: i64, min: i64) -> Result<i64, Rejection> {
    if (min..=MAX_UNITS).contains(&q) {
        Ok(q)
    } else {
        Err(reject(
            field,
            format!("quantity {q} must be between {min} and {MAX_UNITS}"),
        ))
    }
}

fn unit_price(field: &'static str, p: Option<i64>) -> Result<Option<i64>, Rejection> {
    match p {
        Some(p) if !(0..=MAX_MINOR).contains(&p) => Err(reject(
            field,
            format!(
                "unit_price_minor {p} must be between 0 and {MAX_MINOR}, in the currency's \
                 minor unit; leave it unset for the product's price"
            ),
        )),
        p => Ok(p),
    }
}

fn checkout_started(c: &pb::CheckoutStarted) -> Result<(String, CustomerEvent), Rejection> {
    let id = customer_id("checkout_started.customer_id", &c.customer_id)?;
    if c.lines.len() > MAX_LINES {
        return Err(reject(
            "checkout_started.lines",
            format!(
                "{} lines; send at most {MAX_LINES}, or none for the cart as it is",
                c.lines.len()
            ),
        ));
    }
    let mut lines = Vec::with_capacity(c.lines.len());
    for l in &c.lines {
        lines.push(NewLine {
            sku: sku("checkout_started.lines.sku", &l.sku)?,
            quantity: cart_units("checkout_started.lines.quantity", l.quantity, 1)?,
            unit_price_minor: unit_price(
                "checkout_started.lines.unit_price_minor",
                l.unit_price_minor,
            )?,
        });
    }
    let change = CartChange::CheckoutStarted { lines };
    Ok((id, CustomerEvent::Cart(change)))
}

fn complaint(c: &pb::Complaint) -> Result<(String, CustomerEvent), Rejection> {
    let id = customer_id("complaint.customer_id", &c.customer_id)?;
    let channel = match pb::UnsubscribeChannel::try_from(c.channel) {
        Ok(pb::UnsubscribeChannel::Unspecified | pb::UnsubscribeChannel::Email) => Channel::Email,
        Ok(pb::UnsubscribeChannel::Line) => Channel::Line,
        Ok(pb::UnsubscribeChannel::Webhook) => Channel::Webhook,
        _ => {
            return Err(reject(
                "complaint.channel",
                "set the channel the message came on: EMAIL, LINE or WEBHOOK",
            ))
        }
    };
    let from_id = match c.message_id.trim() {
        "" => None,
        m => Some(crate::delivery::email::mime::seq_of_message_id(m).ok_or_else(|| {
            reject(
                "complaint.message_id",
                format!(
                    "{} is not a Message-ID this daemon gave (\"<stockbell-SEQ@domain>\"); send it as the mail had it, or leave it empty",
                    echo(m)
                ),
            )
        })?),
    };
    let entry_seq = match (c.outbox_seq, from_id) {
        (0, id) => id,
        (seq, Some(id)) if id != seq => {
            return Err(reject(
                "complaint.outbox_seq",
                format!("outbox_seq {seq} and message_id (seq {id}) disagree; send one of them"),
            ))
        }
        (seq, _) => Some(seq),
    };
    Ok((id, CustomerEvent::Complaint { channel, entry_seq }))
}

/// (customer field, sku field, customer id, sku) of the simple interest events.
fn pair<'a>(
    fields: (&'static str, &'static str),
    c: &'a str,
    s: &'a str,
) -> Result<(String, String), Rejection> {
    Ok((customer_id(fields.0, c)?, sku(fields.1, s)?))
}

/// Converts a customer or interest event at `at` into items; all or nothing.
pub fn event(
    kind: &Kind,
    index: u32,
    at: Millis,
    defaults: &CustomerDefaults,
    out: &mut Vec<IngestItem>,
) -> Result<(), Rejection> {
    let product =
        |out: &mut Vec<IngestItem>, (customer_id, sku): (String, String), signal: Signal| {
            // Interest goes to the product only: the sunset reads the customer's latest
            // signal from the edges when it would pause them (`customer_hygiene`).
            out.push(IngestItem::Product {
                sku,
                item: Item {
                    index,
                    at_ms: at,
                    event: ProductEvent::Interest {
                        customer_id,
                        signal,
                    },
                },
            });
        };
    let customer = |out: &mut Vec<IngestItem>, (id, event): (String, CustomerEvent)| {
        out.push(IngestItem::Customer {
            id,
            item: CustomerItem {
                index,
                at_ms: at,
                event,
            },
        });
    };
    match kind {
        Kind::CustomerUpsert(u) => customer(out, upsert(u, defaults)?),
        Kind::Unsubscribe(u) => customer(out, unsubscribe(u)?),
        Kind::Complaint(c) => customer(out, complaint(c)?),
        Kind::Favourite(f) => product(
            out,
            pair(
                ("favourite.customer_id", "favourite.sku"),
                &f.customer_id,
                &f.sku,
            )?,
            Signal::Favourite,
        ),
        Kind::Unfavourite(f) => product(
            out,
            pair(
                ("unfavourite.customer_id", "unfavourite.sku"),
                &f.customer_id,
                &f.sku,
            )?,
            Signal::Unfavourite,
        ),
        Kind::View(v) => {
            let ids = pair(("view.customer_id", "view.sku"), &v.customer_id, &v.sku)?;
            if v.dwell_ms > MAX_DWELL_MS {
                return Err(reject(
                    "view.dwell_ms",
                    format!(
                        "dwell_ms {} is more than 24 h ({MAX_DWELL_MS}); send how long the \
                         page was looked at, or 0",
                        v.dwell_ms
                    ),
                ));
            }
            product(
                out,
                ids,
                Signal::View {
                    dwell_ms: v.dwell_ms,
                },
            );
        }
        Kind::CartAdd(c) => {
            let ids = pair(
                ("cart_add.customer_id", "cart_add.sku"),
                &c.customer_id,
                &c.sku,
            )?;
            let change = CartChange::Add {
                sku: ids.1.clone(),
                quantity: cart_units("cart_add.quantity", c.quantity, 0)?.max(1),
                unit_price_minor: unit_price("cart_add.unit_price_minor", c.unit_price_minor)?,
            };
            customer(out, (ids.0.clone(), CustomerEvent::Cart(change)));
            product(out, ids, Signal::CartAdd);
        }
        Kind::CartRemove(c) => {
            let ids = pair(
                ("cart_remove.customer_id", "cart_remove.sku"),
                &c.customer_id,
                &c.sku,
            )?;
            let change = CartChange::Remove { sku: ids.1.clone() };
            customer(out, (ids.0.clone(), CustomerEvent::Cart(change)));
            product(out, ids, Signal::CartRemove);
        }
        Kind::CheckoutStarted(c) => customer(out, checkout_started(c)?),
        Kind::NotifyMe(n) => {
            let ids = pair(
                ("notify_me.customer_id", "notify_me.sku"),
                &n.customer_id,
                &n.sku,
            )?;
            if n.expires_ms != 0 && n.expires_ms <= at {
                return Err(reject("notify_me.expires_ms", format!("expires_ms {} is not after the event time {at}; send a future time or 0 for 90 days", n.expires_ms)));
            }
            if n.expires_ms.saturating_sub(at) > MAX_NOTIFY_ME_MS {
                return Err(reject(
                    "notify_me.expires_ms",
                    format!(
                        "expires_ms {} is more than 2 years after the event time {at} (at most \
                         {}); send a nearer time or 0 for 90 days",
                        n.expires_ms,
                        at.saturating_add(MAX_NOTIFY_ME_MS)
                    ),
                ));
            }
            product(
                out,
                ids,
                Signal::NotifyMe {
                    until_ms: (n.expires_ms != 0).then_some(n.expires_ms),
                },
            );
        }
        Kind::Purchase(p) => {
            let id = customer_id("purchase.customer_id", &p.customer_id)?;
            if p.items.is_empty() || p.items.len() > MAX_ITEMS {
                return Err(reject(
                    "purchase.items",
                    format!("{} items; send 1 to {MAX_ITEMS}", p.items.len()),
                ));
            }
            let mut skus = Vec::with_capacity(p.items.len());
            let mut items = Vec::with_capacity(p.items.len());
            let mut total_minor = 0i64;
            for item in &p.items {
                if !(1..=MAX_UNITS).contains(&item.quantity) {
                    return Err(reject(
                        "purchase.items.quantity",
                        format!(
                            "sku {}: quantity {} must be between 1 and {MAX_UNITS}",
                            echo(&item.sku),
                            item.quantity
                        ),
                    ));
                }
                if !(0..=MAX_MINOR).contains(&item.amount_minor) {
                    return Err(reject(
                        "purchase.items.amount_minor",
                        format!(
                            "sku {}: amount_minor {} must be between 0 and {MAX_MINOR}, in the \
                             currency's minor unit",
                            echo(&item.sku),
                            item.amount_minor
                        ),
                    ));
                }
                let s = sku("purchase.items.sku", &item.sku)?;
                items.push(PurchaseLine {
                    sku: s.clone(),
                    quantity: item.quantity,
                    amount_minor: item.amount_minor,
                });
                skus.push(s);
                total_minor = total_minor.saturating_add(item.amount_minor);
            }
            let order = purchase_order(p, &skus, total_minor, at)?;
            // The customer's actor: the cart's journey ends; an order is counted.
            let event = CustomerEvent::Purchase {
                skus: skus.clone(),
                order,
                items,
            };
            customer(out, (id.clone(), event));
            purchase_items(&id, skus, index, at, out);
        }
        Kind::ProductUpsert(_)
        | Kind::StockSet(_)
        | Kind::StockAdjust(_)
        | Kind::Sale(_)
        | Kind::PriceSet(_)
        | Kind::OrderPlaced(_)
        | Kind::OrderShipped(_)
        | Kind::OrderDelivered(_)
        | Kind::OrderDelayed(_)
        | Kind::OrderCancelled(_)
        | Kind::OrderRefunded(_) => {
            return Err(reject(
                "kind",
                "internal: a product or order event reached the customer converter",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "convert_customer_tests.rs"]
mod tests;
