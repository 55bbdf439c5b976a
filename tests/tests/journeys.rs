//! The abandoned cart journey end to end against a real SMTP server: two steps; a line
//! that sells out between them is left out of the second (named with a notify-me link),
//! and a line whose price was cut shows as cheaper than when it was added.

use std::time::Duration;

use anyhow::{ensure, Result};
use stockbell_tests::pb::{Event, ProductUpsert};
use stockbell_tests::{
    cart_add_priced, catalog, price_set, publish_ok, shopper, stock_set, upsert, Daemon,
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
