//! Builders for ingest events and batches, a per-producer sequence counter, the wall clock
//! in Unix milliseconds and a small seeded random number generator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use stockbell_proto::v1::{
    event::Kind, AdjustReason, Event, EventBatch, PriceSet, ProductUpsert, Sale, StockAdjust,
    StockSet, Window,
};

/// Now, Unix milliseconds.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Catalogue data for `sku` at `price_minor` JPY; not backorderable, always visible and on
/// sale. Change fields with struct update syntax:
/// `ProductUpsert { backorderable: true, ..catalog("a", 100) }`.
pub fn catalog(sku: &str, price_minor: i64) -> ProductUpsert {
    ProductUpsert {
        sku: sku.into(),
        title: format!("Product {sku}"),
        url: format!("https://shop.example/p/{sku}"),
        image_url: format!("https://shop.example/img/{sku}.jpg"),
        category_ids: vec!["test".into()],
        price_minor,
        currency: "JPY".into(),
        ..Default::default()
    }
}

/// A window `[start_ms, end_ms)`; 0 leaves that side open.
pub fn window(start_ms: i64, end_ms: i64) -> Option<Window> {
    Some(Window { start_ms, end_ms })
}

fn event(kind: Kind) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(kind),
    }
}

pub fn upsert(p: ProductUpsert) -> Event {
    event(Kind::ProductUpsert(p))
}

pub fn stock_set(sku: &str, quantity: i64) -> Event {
    event(Kind::StockSet(StockSet {
        sku: sku.into(),
        quantity,
    }))
}

pub fn stock_adjust(sku: &str, delta: i64, reason: AdjustReason) -> Event {
    event(Kind::StockAdjust(StockAdjust {
        sku: sku.into(),
        delta,
        reason: reason as i32,
    }))
}

/// A sale with a unique order id.
pub fn sale(sku: &str, quantity: i64) -> Event {
    static ORDER: AtomicU64 = AtomicU64::new(1);
    let n = ORDER.fetch_add(1, Ordering::Relaxed);
    event(Kind::Sale(Sale {
        sku: sku.into(),
        quantity,
        order_id: format!("order-{n}"),
    }))
}

pub fn price_set(sku: &str, price_minor: i64) -> Event {
    event(Kind::PriceSet(PriceSet {
        sku: sku.into(),
        price_minor,
    }))
}

/// Sets an event's time.
pub trait EventExt {
    /// The event happened at `ms` (Unix milliseconds).
    fn at(self, ms: i64) -> Event;
}

impl EventExt for Event {
    fn at(mut self, ms: i64) -> Event {
        self.event_time_ms = ms;
        self
    }
}

pub fn batch(producer_id: &str, sequence: u64, events: Vec<Event>) -> EventBatch {
    EventBatch {
        producer_id: producer_id.into(),
        sequence,
        events,
    }
}

/// Hands out batches of one producer with sequences 1, 2, 3, ...
#[derive(Debug, Clone)]
pub struct Sequencer {
    producer_id: String,
    last: u64,
}

impl Sequencer {
    pub fn new(producer_id: &str) -> Self {
        Self {
            producer_id: producer_id.into(),
            last: 0,
        }
    }

    pub fn producer_id(&self) -> &str {
        &self.producer_id
    }

    /// The sequence of the last batch handed out (0 before the first).
    pub fn last(&self) -> u64 {
        self.last
    }

    pub fn batch(&mut self, events: Vec<Event>) -> EventBatch {
        self.last += 1;
        batch(&self.producer_id, self.last, events)
    }
}

/// SplitMix64: a tiny deterministic generator for seeded test data.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `lo..=hi` (test data, not statistics).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.abs_diff(lo) + 1;
        lo.wrapping_add((self.next_u64() % span) as i64)
    }

    /// A uniform index below `n` (n > 0).
    pub fn index(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A customer with an email address, consenting to email, in Asia/Tokyo.
pub fn customer(id: &str, email: &str) -> Event {
    event(Kind::CustomerUpsert(stockbell_proto::v1::CustomerUpsert {
        customer_id: id.into(),
        email: email.into(),
        locale: "ja".into(),
        time_zone: "Asia/Tokyo".into(),
        consent_email: true,
        ..Default::default()
    }))
}

/// A customer reading English, in UTC, consenting to email at `{id}@example.jp`.
pub fn shopper(id: &str) -> Event {
    event(Kind::CustomerUpsert(stockbell_proto::v1::CustomerUpsert {
        customer_id: id.into(),
        email: format!("{id}@example.jp"),
        locale: "en".into(),
        time_zone: "UTC".into(),
        consent_email: true,
        ..Default::default()
    }))
}

pub fn favourite(customer_id: &str, sku: &str) -> Event {
    event(Kind::Favourite(stockbell_proto::v1::Favourite {
        customer_id: customer_id.into(),
        sku: sku.into(),
    }))
}

pub fn view(customer_id: &str, sku: &str, dwell_ms: u32) -> Event {
    event(Kind::View(stockbell_proto::v1::View {
        customer_id: customer_id.into(),
        sku: sku.into(),
        dwell_ms,
    }))
}

pub fn cart_add(customer_id: &str, sku: &str) -> Event {
    event(Kind::CartAdd(stockbell_proto::v1::CartAdd {
        customer_id: customer_id.into(),
        sku: sku.into(),
        ..Default::default()
    }))
}

/// A cart add with the unit price the shop showed.
pub fn cart_add_priced(customer_id: &str, sku: &str, unit_price_minor: i64) -> Event {
    event(Kind::CartAdd(stockbell_proto::v1::CartAdd {
        customer_id: customer_id.into(),
        sku: sku.into(),
        unit_price_minor: Some(unit_price_minor),
        quantity: 1,
    }))
}

/// A checkout started of the cart as it is.
pub fn checkout_started(customer_id: &str) -> Event {
    event(Kind::CheckoutStarted(
        stockbell_proto::v1::CheckoutStarted {
            customer_id: customer_id.into(),
            lines: Vec::new(),
        },
    ))
}

/// A sold-out product (one sold) and a customer waiting for it by "notify me": a later
/// `stock_set(sku, n)` restocks it and mails the customer.
pub fn sold_out_with_waiter(
    sku: &str,
    price_minor: i64,
    customer_id: &str,
    email: &str,
) -> Vec<Event> {
    vec![
        upsert(catalog(sku, price_minor)),
        stock_set(sku, 1),
        sale(sku, 1),
        customer(customer_id, email),
        notify_me(customer_id, sku),
    ]
}

pub fn notify_me(customer_id: &str, sku: &str) -> Event {
    event(Kind::NotifyMe(stockbell_proto::v1::NotifyMe {
        customer_id: customer_id.into(),
        sku: sku.into(),
        expires_ms: 0,
    }))
}

pub fn purchase(customer_id: &str, order_id: &str, skus: &[&str]) -> Event {
    event(Kind::Purchase(stockbell_proto::v1::Purchase {
        customer_id: customer_id.into(),
        order_id: order_id.into(),
        items: skus
            .iter()
            .map(|s| stockbell_proto::v1::PurchaseItem {
                sku: (*s).into(),
                quantity: 1,
                amount_minor: 1000,
            })
            .collect(),
        currency: "JPY".into(),
    }))
}

/// An order placed by `customer_id`: lines `(line_id, sku, quantity)`, unmarked (a line
/// waits when its product is backorderable and short of stock), 1,000 yen a unit.
pub fn order_placed(order_id: &str, customer_id: &str, lines: &[(&str, &str, i64)]) -> Event {
    event(Kind::OrderPlaced(stockbell_proto::v1::OrderPlaced {
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        currency: "JPY".into(),
        coupon_code: String::new(),
        lines: lines
            .iter()
            .map(|(line_id, sku, quantity)| stockbell_proto::v1::OrderLine {
                line_id: (*line_id).into(),
                sku: (*sku).into(),
                quantity: *quantity,
                unit_price_minor: 1000,
                ..Default::default()
            })
            .collect(),
    }))
}

/// Every line of an order shipped, with a tracking number and page.
pub fn order_shipped(order_id: &str, customer_id: &str) -> Event {
    event(Kind::OrderShipped(stockbell_proto::v1::OrderShipped {
        order_id: order_id.into(),
        customer_id: customer_id.into(),
        lines: Vec::new(),
        carrier: "Yamato".into(),
        tracking_number: format!("TRK-{order_id}"),
        tracking_url: format!("https://track.example/{order_id}"),
    }))
}

pub fn unsubscribe(customer_id: &str, channel: stockbell_proto::v1::UnsubscribeChannel) -> Event {
    event(Kind::Unsubscribe(stockbell_proto::v1::Unsubscribe {
        customer_id: customer_id.into(),
        channel: channel as i32,
    }))
}

/// A customer upsert as given, e.g. with a LINE user id and consent per channel:
/// `customer_upsert(CustomerUpsert { consent_line: true, ..Default::default() })`.
pub fn customer_upsert(u: stockbell_proto::v1::CustomerUpsert) -> Event {
    event(Kind::CustomerUpsert(u))
}

/// A customer reachable on LINE only (user id, LINE consent), in Asia/Tokyo, locale "en".
pub fn line_customer(id: &str, line_user_id: &str) -> Event {
    customer_upsert(stockbell_proto::v1::CustomerUpsert {
        customer_id: id.into(),
        line_user_id: line_user_id.into(),
        locale: "en".into(),
        time_zone: "Asia/Tokyo".into(),
        consent_line: true,
        ..Default::default()
    })
}
