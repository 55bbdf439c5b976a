//! `stockbell-load stream`: a deterministic, paced stream of stock events to a running
//! daemon, so that the state at any acknowledged sequence can be computed (the backup
//! test takes a backup while it runs).
//!
//! Batch 1 upserts products `p-0` .. `p-(P-1)`; then event k = 1..=N sets the stock of
//! `p-(k mod P)` to k, `batch` events per batch, batch sequences 2, 3, .... So after
//! batch s is applied, product `p-i` has the stock of the largest k <= (s-1) * batch
//! with k mod P = i (0 when there is none yet; `stock_at` in the tests). Each batch goes with
//! `Ingest.Publish` and must be acknowledged, applied whole, before the next is sent.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use stockbell_proto::v1::{event::Kind, Event, EventBatch, ProductUpsert, StockSet};

use crate::driver;

#[derive(clap::Args)]
pub struct StreamArgs {
    /// Server address, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    addr: String,
    /// Ingest bearer token.
    #[arg(long)]
    token: Option<String>,
    /// Producer id of every batch.
    #[arg(long)]
    producer: String,
    /// Number of products (`p-0` ..).
    #[arg(long, default_value_t = 10)]
    products: u64,
    /// Stock events after the catalogue batch.
    #[arg(long, default_value_t = 1000)]
    events: u64,
    /// Events per batch.
    #[arg(long, default_value_t = 10)]
    batch: u64,
    /// Pause after each acknowledged batch, ms.
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
}

/// The sku of product `i`.
pub fn sku(i: u64) -> String {
    format!("p-{i}")
}

/// The stock of product `i` once batch `seq` (and every one before it) is applied.
#[cfg(test)]
fn stock_at(i: u64, seq: u64, products: u64, events: u64, batch: u64) -> i64 {
    let applied = seq.saturating_sub(1).saturating_mul(batch).min(events);
    if applied < i || products == 0 {
        return 0;
    }
    // The largest k <= applied with k mod products == i (k >= 1).
    let k = applied - (applied + products - i % products) % products;
    if k == 0 {
        0
    } else {
        i64::try_from(k).unwrap_or(i64::MAX)
    }
}

/// Batch `seq` of the stream (1 = the catalogue), or `None` past the end.
pub fn batch_at(
    producer: &str,
    seq: u64,
    products: u64,
    events: u64,
    batch: u64,
) -> Option<EventBatch> {
    let kinds: Vec<Kind> = if seq == 1 {
        (0..products)
            .map(|i| {
                Kind::ProductUpsert(ProductUpsert {
                    sku: sku(i),
                    title: format!("Stream product {i}"),
                    url: format!("https://shop.example.jp/products/{}", sku(i)),
                    price_minor: 1000,
                    currency: "JPY".into(),
                    imported: true,
                    ..Default::default()
                })
            })
            .collect()
    } else {
        let first = (seq - 2) * batch + 1;
        if first > events {
            return None;
        }
        let last = (first + batch - 1).min(events);
        (first..=last)
            .map(|k| {
                Kind::StockSet(StockSet {
                    sku: sku(k % products),
                    quantity: i64::try_from(k).unwrap_or(i64::MAX),
                })
            })
            .collect()
    };
    Some(EventBatch {
        producer_id: producer.to_string(),
        sequence: seq,
        events: kinds
            .into_iter()
            .map(|kind| Event {
                event_time_ms: 0,
                kind: Some(kind),
            })
            .collect(),
    })
}

pub async fn run(args: StreamArgs) -> anyhow::Result<()> {
    ensure!(args.products >= 1, "--products must be at least 1");
    ensure!(args.batch >= 1, "--batch must be at least 1");
    ensure!(!args.producer.is_empty(), "--producer must not be empty");
    let mut client = driver::connect(&args.addr, args.token.as_deref()).await?;
    let start = Instant::now();
    let mut seq = 1;
    while let Some(b) = batch_at(&args.producer, seq, args.products, args.events, args.batch) {
        let n = b.events.len();
        let ack = client
            .publish(b)
            .await
            .with_context(|| format!("batch {seq}"))?
            .into_inner();
        if ack.sequence != seq || ack.duplicate || ack.applied as usize != n {
            bail!(
                "batch {seq} of {n} events: ack sequence {} duplicate {} applied {} \
                 rejected {:?}",
                ack.sequence,
                ack.duplicate,
                ack.applied,
                ack.rejected
            );
        }
        seq += 1;
        if args.pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
        }
    }
    println!(
        "stream: producer {} last sequence {} ({} events) in {:.2} s",
        args.producer,
        seq - 1,
        args.events,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_at_follows_the_events() {
        // 3 products, 10 events in batches of 4: seq 2 = k 1..4, seq 3 = 5..8, seq 4 = 9..10.
        assert_eq!(stock_at(0, 1, 3, 10, 4), 0);
        // After seq 2 (k 1..4): p-1 = 4 (k 1, 4), p-2 = 2, p-0 = 3.
        assert_eq!([0, 1, 2].map(|i| stock_at(i, 2, 3, 10, 4)), [3, 4, 2]);
        // After seq 3 (k ..8): p-0 = 6, p-1 = 7, p-2 = 8.
        assert_eq!([0, 1, 2].map(|i| stock_at(i, 3, 3, 10, 4)), [6, 7, 8]);
        // The end (k ..10), also for any later seq: p-0 = 9, p-1 = 10, p-2 = 8.
        assert_eq!([0, 1, 2].map(|i| stock_at(i, 4, 3, 10, 4)), [9, 10, 8]);
        assert_eq!([0, 1, 2].map(|i| stock_at(i, 99, 3, 10, 4)), [9, 10, 8]);
    }

    #[test]
    fn batches_match_stock_at() {
        let (p, n, b) = (3, 10, 4);
        let mut stock = [0i64; 3];
        let mut seq = 1;
        while let Some(batch) = batch_at("x", seq, p, n, b) {
            assert_eq!(batch.sequence, seq);
            for e in batch.events {
                if let Some(Kind::StockSet(s)) = e.kind {
                    let i: usize = s.sku[2..].parse().expect("index");
                    stock[i] = s.quantity;
                }
            }
            for (i, st) in stock.iter().enumerate() {
                assert_eq!(*st, stock_at(i as u64, seq, p, n, b), "p-{i} at {seq}");
            }
            seq += 1;
        }
        assert_eq!(seq, 5);
    }
}
