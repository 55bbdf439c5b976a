//! Customer and interest events end to end: edges record signals and the price the
//! customer saw, scores rank explicit interest first, a purchase drops the edge's score
//! to 0, unsubscribe withdraws consent, bad events name their field, and everything
//! survives a restart (the edges are RocksDB merges).

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{GetCustomerRequest, UnsubscribeChannel};
use stockbell_tests::{
    cart_add, catalog, customer, favourite, notify_me, price_set, publish, publish_ok, purchase,
    stock_set, unsubscribe, upsert, view, AdminClient, Daemon, DaemonOptions, Sequencer,
};

async fn get(admin: &mut AdminClient, id: &str) -> Result<stockbell_tests::pb::Customer> {
    let c = admin
        .get_customer(GetCustomerRequest {
            customer_id: id.into(),
            ..Default::default()
        })
        .await
        .with_context(|| format!("GetCustomer {id}"))?;
    Ok(c.into_inner())
}

#[tokio::test]
async fn interests_scores_purchase_and_unsubscribe() -> Result<()> {
    let mut daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let mut events = Vec::new();
    for (sku, price) in [("tee", 1980), ("cap", 2980), ("bag", 9800)] {
        events.push(upsert(catalog(sku, price)));
        events.push(stock_set(sku, 10));
    }
    events.push(customer("c1", "hanako@example.jp"));
    publish_ok(&mut ingest, seq.batch(events)).await?;

    let signals = vec![
        view("c1", "bag", 40_000),
        favourite("c1", "cap"),
        notify_me("c1", "tee"),
        cart_add("c1", "bag"),
    ];
    publish_ok(&mut ingest, seq.batch(signals)).await?;
    // The price moves after the views: the edge keeps the price the customer saw.
    publish_ok(&mut ingest, seq.batch(vec![price_set("tee", 1500)])).await?;

    let mut admin = daemon.admin_client().await?;
    let c = get(&mut admin, "c1").await?;
    ensure!(
        c.email == "hanako@example.jp" && c.consent_email && c.time_zone == "Asia/Tokyo",
        "{c:?}"
    );
    let skus: Vec<&str> = c.interests.iter().map(|i| i.sku.as_str()).collect();
    ensure!(
        skus == ["tee", "bag", "cap"],
        "ranked by score: notify-me, cart+view, favourite; got {skus:?}"
    );
    let tee = &c.interests[0];
    ensure!(
        tee.notify_me_until_ms > 0 && tee.seen_price_minor == 1980,
        "{tee:?}"
    );
    let bag = &c.interests[1];
    ensure!(
        bag.in_cart && bag.views == 1 && bag.dwell_ms == 40_000,
        "{bag:?}"
    );

    publish_ok(
        &mut ingest,
        seq.batch(vec![
            purchase("c1", "o-1", &["bag"]),
            unsubscribe("c1", UnsubscribeChannel::Email),
        ]),
    )
    .await?;
    let c = get(&mut admin, "c1").await?;
    let bag = c
        .interests
        .iter()
        .find(|i| i.sku == "bag")
        .context("bag edge")?;
    ensure!(
        bag.score == 0.0 && bag.purchased_ms > 0 && !bag.in_cart,
        "{bag:?}"
    );
    ensure!(
        !c.consent_email,
        "unsubscribe withdrew email consent: {c:?}"
    );

    daemon.terminate().await?;
    daemon.restart().await?;
    let mut admin = daemon.admin_client().await?;
    let after = get(&mut admin, "c1").await?;
    ensure!(
        after.interests.len() == 3 && !after.consent_email && !after.active,
        "after restart: {after:?}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_customer_events_name_their_field_and_change_nothing() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    publish_ok(&mut ingest, seq.batch(vec![upsert(catalog("tee", 1000))])).await?;
    let ack = publish(
        &mut ingest,
        seq.batch(vec![
            customer("c1", "not an address"),
            favourite("c1", "no-such-sku"),
            purchase("c1", "o-1", &["tee", ""]),
            unsubscribe("nobody", UnsubscribeChannel::All),
            favourite("c2", "tee"),
        ]),
    )
    .await?;
    let fields: Vec<(u32, &str)> = ack
        .rejected
        .iter()
        .map(|r| (r.index, r.field.as_str()))
        .collect();
    ensure!(
        fields
            == [
                (0, "customer_upsert.email"),
                (1, "sku"),
                (2, "purchase.items.sku"),
                (3, "unsubscribe.customer_id")
            ],
        "{:?}",
        ack.rejected
    );
    ensure!(ack.applied == 1, "{ack:?}");
    let mut admin = daemon.admin_client().await?;
    let c2 = get(&mut admin, "c2").await?;
    ensure!(c2.interests.len() == 1 && c2.email.is_empty(), "{c2:?}");
    let missing = admin
        .get_customer(GetCustomerRequest {
            customer_id: "c1".into(),
            ..Default::default()
        })
        .await;
    ensure!(
        missing.is_err_and(|s| s.code() == tonic::Code::NotFound),
        "c1 must not exist"
    );
    Ok(())
}
