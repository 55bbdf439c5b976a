//! Events of the delivery and order benchmarks: products, customers who can be emailed,
//! their interest (notify-me or favourite), stock changes, orders (the integration tests'
//! builders); cut into `EventBatch`es lazily so that millions of events never sit in
//! memory at once.

use std::time::Instant;

use anyhow::{bail, Context};
use stockbell_proto::v1::{
    event::Kind, CustomerUpsert, Event, EventBatch, Favourite, NotifyMe, ProductUpsert, StockSet,
};

use crate::driver::{self, Client};
use crate::report::PhaseStats;

/// How a customer says they want to hear about a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Interest {
    /// `notify_me` (score 1.0 until it expires).
    NotifyMe,
    /// `favourite` (score 0.5, decaying; above the default back-in-stock threshold 0.4).
    Favourite,
    /// Alternate: even customers notify-me, odd ones favourite.
    Mixed,
}

pub fn customer_id(i: usize) -> String {
    format!("cust-{i:07}")
}

pub fn sku(i: usize) -> String {
    format!("bench-{i:06}")
}

/// A product that existed before stockbell (no new-arrival trigger), always visible.
pub fn product(i: usize) -> Kind {
    Kind::ProductUpsert(product_upsert(i))
}

/// [`product`], taking orders while it has no stock (order lines wait for it).
pub fn backorderable_product(i: usize) -> Kind {
    Kind::ProductUpsert(ProductUpsert {
        backorderable: true,
        ..product_upsert(i)
    })
}

fn product_upsert(i: usize) -> ProductUpsert {
    let sku = sku(i);
    ProductUpsert {
        title: format!("Handmade Tea Set {}", i + 1),
        url: format!("https://shop.example.jp/products/{sku}"),
        image_url: format!("https://img.example.jp/products/{sku}.jpg"),
        category_ids: vec![format!("cat-{:02}", i % 50 + 1)],
        price_minor: 1980 + (i as i64 % 100) * 100,
        currency: "JPY".into(),
        sku,
        imported: true,
        ..Default::default()
    }
}

pub fn stock(i: usize, quantity: i64) -> Kind {
    Kind::StockSet(StockSet {
        sku: sku(i),
        quantity,
    })
}

/// A Japanese customer with an email address and email consent.
pub fn customer(i: usize) -> Kind {
    named_customer(customer_id(i))
}

/// [`customer`] with the id `id` and the address `{id}@example.com`.
pub fn named_customer(id: String) -> Kind {
    Kind::CustomerUpsert(CustomerUpsert {
        email: format!("{id}@example.com"),
        locale: "ja".into(),
        time_zone: "Asia/Tokyo".into(),
        consent_email: true,
        customer_id: id,
        ..Default::default()
    })
}

pub fn order_id(i: usize) -> String {
    format!("order-{i:07}")
}

/// Customer `c`'s order [`order_id`]`(c)`: one line ("1") of one unit of product `p`,
/// unmarked, so it waits when the product is backorderable and out of stock.
pub fn order(c: usize, p: usize) -> Event {
    stockbell_tests::order_placed(&order_id(c), &customer_id(c), &[("1", &sku(p), 1)])
}

/// Customers `0..n` (as [`customer`]), each placing [`order`]`(c, p)` after its upsert.
pub fn buyers(n: usize, p: usize) -> impl Iterator<Item = Event> + Send {
    (0..n).flat_map(move |c| [event(customer(c)), order(c, p)])
}

pub fn interest(kind: Interest, customer: usize, product: usize) -> Kind {
    let (customer_id, sku) = (customer_id(customer), sku(product));
    let notify = match kind {
        Interest::NotifyMe => true,
        Interest::Favourite => false,
        Interest::Mixed => customer.is_multiple_of(2),
    };
    if notify {
        Kind::NotifyMe(NotifyMe {
            customer_id,
            sku,
            expires_ms: 0,
        })
    } else {
        Kind::Favourite(Favourite { customer_id, sku })
    }
}

/// What a batch is made of: an event, or an event kind (sent with the daemon's clock as
/// its time).
pub trait IntoEvent {
    fn into_event(self) -> Event;
}

impl IntoEvent for Kind {
    fn into_event(self) -> Event {
        event(self)
    }
}

impl IntoEvent for Event {
    fn into_event(self) -> Event {
        self
    }
}

/// Producer id and the next sequence number of a benchmark's batches.
pub struct Producer {
    pub id: String,
    pub next: u64,
}

impl Producer {
    pub fn new(id: impl Into<String>) -> Producer {
        Producer {
            id: id.into(),
            next: 1,
        }
    }

    /// One batch of `events` with the next sequence.
    pub fn batch<E: IntoEvent>(&mut self, events: Vec<E>) -> EventBatch {
        let b = EventBatch {
            producer_id: self.id.clone(),
            sequence: self.next,
            events: events.into_iter().map(IntoEvent::into_event).collect(),
        };
        self.next += 1;
        b
    }

    /// Cuts `total` events from `events` into batches of `per_batch`, generated as they
    /// are sent; returns them and how many there are.
    pub fn batches<I>(&mut self, events: I, total: usize, per_batch: usize) -> (Lazy<I>, usize)
    where
        I: Iterator,
        I::Item: IntoEvent,
    {
        let per_batch = per_batch.max(1);
        let n = total.div_ceil(per_batch);
        let lazy = Lazy {
            events,
            producer: self.id.clone(),
            next: self.next,
            per_batch,
        };
        self.next += n as u64;
        (lazy, n)
    }
}

fn event(kind: Kind) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(kind),
    }
}

/// Batches made on demand from an event iterator.
pub struct Lazy<I> {
    events: I,
    producer: String,
    next: u64,
    per_batch: usize,
}

impl<I> Iterator for Lazy<I>
where
    I: Iterator,
    I::Item: IntoEvent,
{
    type Item = EventBatch;

    fn next(&mut self) -> Option<EventBatch> {
        let events: Vec<Event> = self
            .events
            .by_ref()
            .take(self.per_batch)
            .map(IntoEvent::into_event)
            .collect();
        if events.is_empty() {
            return None;
        }
        let b = EventBatch {
            producer_id: self.producer.clone(),
            sequence: self.next,
            events,
        };
        self.next += 1;
        Some(b)
    }
}

/// Streams `total` events in batches of `per_batch`; fails if any event is rejected.
pub async fn stream<I>(
    client: &mut Client,
    producer: &mut Producer,
    what: &str,
    events: I,
    total: usize,
    per_batch: usize,
    inflight: usize,
) -> anyhow::Result<PhaseStats>
where
    I: Iterator + Send + 'static,
    I::Item: IntoEvent,
{
    let (batches, n) = producer.batches(events, total, per_batch);
    let stats = driver::run_iter(client, &producer.id.clone(), batches, n, inflight)
        .await
        .with_context(|| format!("loading {what}"))?;
    if stats.rejected > 0 || stats.events != total {
        bail!(
            "loading {what}: {} of {total} events acknowledged, {} rejected",
            stats.events,
            stats.rejected
        );
    }
    eprintln!(
        "stockbell-load: {what}: {total} events in {:.2} s ({:.0} events/s)",
        stats.elapsed.as_secs_f64(),
        stats.eps()
    );
    Ok(stats)
}

/// Publishes one batch and checks that every event applied; returns when it was acked.
pub async fn publish<E: IntoEvent>(
    client: &mut Client,
    producer: &mut Producer,
    what: &str,
    events: Vec<E>,
) -> anyhow::Result<Instant> {
    let n = events.len();
    let ack = client
        .publish(producer.batch(events))
        .await
        .map_err(|s| anyhow::anyhow!("{what}: Publish failed: {:?}: {}", s.code(), s.message()))?
        .into_inner();
    let acked = Instant::now();
    if !ack.rejected.is_empty() || ack.applied as usize != n {
        bail!(
            "{what}: {} of {n} events applied; rejected: {:?}",
            ack.applied,
            ack.rejected
        );
    }
    Ok(acked)
}

/// Puts product `i` into the catalogue, sold out with back in stock armed: stock 5 and
/// then 0 (back in stock arms when stock goes from above zero to zero).
pub async fn sold_out_product(
    client: &mut Client,
    producer: &mut Producer,
    i: usize,
) -> anyhow::Result<()> {
    publish(
        client,
        producer,
        "sold-out product",
        vec![product(i), stock(i, 5), stock(i, 0)],
    )
    .await
    .map(drop)
}

/// Customers `0..n`, each followed by its interest in product `p`.
pub fn audience(n: usize, p: usize, kind: Interest) -> impl Iterator<Item = Kind> + Send {
    (0..n).flat_map(move |c| [customer(c), interest(kind, c, p)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_batches_are_sequenced_and_complete() {
        let mut p = Producer::new("p");
        p.batch(vec![product(0)]);
        let (lazy, n) = p.batches(audience(5, 0, Interest::Mixed), 10, 4);
        let batches: Vec<EventBatch> = lazy.collect();
        assert_eq!(n, 3);
        assert_eq!(batches.len(), 3);
        assert_eq!(
            batches.iter().map(|b| b.sequence).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(batches.iter().map(|b| b.events.len()).sum::<usize>(), 10);
        assert_eq!(p.next, 5);
        let kinds: Vec<bool> = batches
            .iter()
            .flat_map(|b| &b.events)
            .filter_map(|e| match &e.kind {
                Some(Kind::NotifyMe(_)) => Some(true),
                Some(Kind::Favourite(_)) => Some(false),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, [true, false, true, false, true]);
    }
}
