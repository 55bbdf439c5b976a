//! Admin latency with a large answer: without TCP_NODELAY on the accepted connection,
//! Nagle's algorithm holds the tail of a multi-segment HTTP/2 response until the client's
//! delayed ACK (~40 ms on Linux). A ~4 KB GetProduct answer must come back in well under
//! that: the median of 20 calls over one connection is under 20 ms.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use prost::Message;
use stockbell_tests::pb::ProductUpsert;
use stockbell_tests::{
    catalog, price_set, product, publish_ok, stock_set, upsert, Daemon, DaemonOptions, EventExt,
    Sequencer,
};

const SKU: &str = "fat-answer";
const CALLS: usize = 20;
/// A Nagle/delayed-ACK stall is ~40 ms; a loaded 2-core machine answers in a few ms.
const MEDIAN_LIMIT: Duration = Duration::from_millis(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_product_with_a_4kb_answer_does_not_stall() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("latency");

    let categories = (0..40)
        .map(|i| format!("category-{i:02}-outerwear-and-accessories"))
        .collect();
    let upsert = upsert(ProductUpsert {
        title: format!(
            "Linen shirt with a very long descriptive title {}",
            "x".repeat(900)
        ),
        url: format!("https://shop.example/p/{SKU}?{}", "ref=abc&".repeat(60)),
        image_url: format!(
            "https://cdn.shop.example/img/{SKU}/{}.jpg",
            "large".repeat(60)
        ),
        category_ids: categories,
        ..catalog(SKU, 10_000)
    });
    publish_ok(&mut ingest, seq.batch(vec![upsert, stock_set(SKU, 50)])).await?;
    // A price history: one change per second of event time, each a different price.
    let start = stockbell_tests::now_ms() - 3_600_000;
    let prices = (0..32)
        .map(|i| price_set(SKU, 10_000 + 37 * i).at(start + i * 1_000))
        .collect();
    publish_ok(&mut ingest, seq.batch(prices)).await?;

    // One channel: every call below goes over the same TCP connection.
    let mut admin = daemon.admin_client().await?;
    let answer = product(&mut admin, SKU).await?;
    let size = answer.encoded_len();
    ensure!(
        (3_500..=6_000).contains(&size),
        "the GetProduct answer is {size} bytes, not ~4 KB ({} price points)",
        answer.price_history.len()
    );

    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        product(&mut admin, SKU).await?;
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[CALLS / 2];
    eprintln!(
        "GetProduct, {size}-byte answer: median {median:?}, max {:?}",
        times[CALLS - 1]
    );
    ensure!(
        median < MEDIAN_LIMIT,
        "median GetProduct time {median:?} for a {size}-byte answer (limit {MEDIAN_LIMIT:?}; \
         a Nagle/delayed-ACK stall is ~40 ms); all: {times:?}"
    );
    Ok(())
}
