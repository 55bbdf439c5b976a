//! The abandoned cart journey end to end against a real SMTP server: two steps; a line
//! that sells out between them is left out of the second (named with a notify-me link),
//! and a line whose price was cut shows as cheaper than when it was added. A purchase
//! between the steps cancels the second, also across a kill -9 of the daemon: the marker
//! that the second step's time has passed is another customer's second step, due at the
//! same moment.

use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{Event, ProductUpsert};
use stockbell_tests::{
    cart_add_priced, catalog, price_set, publish_ok, purchase, shopper, stock_set, upsert, Daemon,
    DaemonOptions, Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"\nmax_attempts = 100")
        .toml(
            "[scenarios.cart_abandoned]\nafter = [\"2s\", \"6s\"]\ncooldown = \"1s\"\n\
             [journeys]\nidle = \"1s\"\n\
             [rules]\ncaps = [{ scope = \"marketing\", max = 10, window = \"16h\" }]\n",
        )
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

fn existing(sku: &str, price: i64) -> Event {
    upsert(ProductUpsert {
        imported: true,
        ..catalog(sku, price)
    })
}

#[tokio::test]
async fn two_steps_drop_a_sold_out_line_and_show_a_price_cut() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let setup = vec![
        existing("mug", 1_000),
        existing("tee", 2_000),
        stock_set("mug", 5),
        stock_set("tee", 5),
        shopper("c1"),
    ];
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    let cart = vec![
        cart_add_priced("c1", "mug", 1_000),
        cart_add_priced("c1", "tee", 2_000),
    ];
    publish_ok(&mut ingest, seq.batch(cart)).await?;
    let first = smtp.wait_for(1, WAIT).await?;
    let text = first[0].text();
    ensure!(first[0].to == ["c1@example.jp"], "{:?}", first[0].to);
    ensure!(
        text.contains("Product mug") && text.contains("Product tee"),
        "step 1 shows both lines: {text}"
    );
    ensure!(
        text.contains("https://shop.example/img/mug.jpg"),
        "with images: {text}"
    );
    // Between the steps: the tee sells out, the mug gets cheaper.
    publish_ok(
        &mut ingest,
        seq.batch(vec![stock_set("tee", 0), price_set("mug", 800)]),
    )
    .await?;
    let both = smtp.wait_for(2, WAIT).await?;
    let text = both[1].text();
    let shown = text
        .split("Sold out or no longer on sale")
        .next()
        .unwrap_or("");
    ensure!(
        shown.contains("Product mug"),
        "step 2 shows the mug: {text}"
    );
    ensure!(
        !shown.contains("Product tee"),
        "the sold-out tee is not offered in step 2: {text}"
    );
    ensure!(
        text.contains("cheaper than when you added it"),
        "the price cut is shown: {text}"
    );
    ensure!(
        text.contains("https://shop.example/p/tee"),
        "the tee keeps a link to ask for a restock notice: {text}"
    );
    Ok(())
}

#[tokio::test]
async fn a_purchase_between_the_steps_cancels_the_second_across_kill_9() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let mut daemon = Daemon::start(options(&smtp)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let setup = vec![
        existing("mug", 1_000),
        stock_set("mug", 50),
        shopper("buyer"),
        shopper("other"),
    ];
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    // One batch: both carts have the same clock, so their steps are due together.
    let carts = vec![
        cart_add_priced("buyer", "mug", 1_000),
        cart_add_priced("other", "mug", 1_000),
    ];
    publish_ok(&mut ingest, seq.batch(carts)).await?;
    smtp.wait_for(2, WAIT).await?;
    daemon.kill9().await?;
    daemon.restart().await?;
    let mut ingest = daemon.ingest_client().await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![purchase("buyer", "o-1", &["mug"])]),
    )
    .await?;
    // The other customer's second step is the marker that the buyer's came due.
    let all = smtp.wait_for(3, WAIT).await?;
    let to_buyer = all.iter().filter(|m| m.to == ["buyer@example.jp"]).count();
    let to_other = all.iter().filter(|m| m.to == ["other@example.jp"]).count();
    ensure!(
        (to_buyer, to_other) == (1, 2),
        "the buyer gets step 1 only, the other customer both: {:?}",
        all.iter().map(|m| &m.to).collect::<Vec<_>>()
    );
    Ok(())
}
