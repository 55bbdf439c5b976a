//! Validation and idempotency: each bad event is rejected by index with the offending field
//! while the valid events of its batch apply; batch-level problems are refused whole and
//! change nothing; a re-sent (or older) batch is acked as a duplicate and not re-applied.

use std::collections::BTreeMap;

use anyhow::{anyhow, ensure, Result};
use stockbell_tests::pb::{AdjustReason, Event, ProductUpsert};
use stockbell_tests::{
    batch, catalog, expect_code, last_sequence, next_ack, price_set, product, product_error,
    publish, publish_ok, sale, stock_adjust, stock_set, upsert, window, Daemon, DaemonOptions,
    Sequencer,
};
use tonic::Code;

/// Whether a rejection's `field` names `expected` (e.g. "sale.quantity"). An unknown-SKU
/// rejection may name just "sku"; a window may be named down to its start or end.
fn names_field(actual: &str, expected: &str) -> bool {
    actual == expected
        || (expected.ends_with(".sku") && actual == "sku")
        || actual.starts_with(&format!("{expected}."))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_are_rejected_by_field_and_the_rest_apply() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    let mut seq = Sequencer::new("validation");
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            upsert(catalog("v-a", 1000)),
            stock_set("v-a", 5),
            upsert(catalog("v-b", 1000)),
            stock_set("v-b", 5),
        ]),
    )
    .await?;

    // (event, None = applies | Some(field) = rejected naming that field)
    let cases: Vec<(Event, Option<&str>)> = vec![
        (stock_set("v-nope", 3), Some("stock_set.sku")),
        (
            stock_adjust("v-nope", 1, AdjustReason::Restock),
            Some("stock_adjust.sku"),
        ),
        (sale("v-nope", 1), Some("sale.sku")),
        (price_set("v-nope", 900), Some("price_set.sku")),
        (stock_adjust("v-a", 2, AdjustReason::Restock), None), // v-a: 7
        (
            stock_adjust("v-a", -10, AdjustReason::Correction),
            Some("stock_adjust.delta"),
        ),
        (sale("v-a", 8), Some("sale.quantity")),
        (sale("v-a", 2), None), // v-a: 5
        (price_set("v-a", 0), Some("price_set.price_minor")),
        (price_set("v-a", -5), Some("price_set.price_minor")),
        (
            upsert(catalog("v-c", 0)),
            Some("product_upsert.price_minor"),
        ),
        (
            upsert(ProductUpsert {
                sale_window: window(2_000, 1_000),
                ..catalog("v-d", 100)
            }),
            Some("product_upsert.sale_window"),
        ),
        (
            upsert(ProductUpsert {
                display_window: window(1_000, 1_000),
                ..catalog("v-e", 100)
            }),
            Some("product_upsert.display_window"),
        ),
        (upsert(catalog("", 100)), Some("product_upsert.sku")),
        (price_set("v-a", 950), None),
        (
            upsert(ProductUpsert {
                display_window: window(1_000, 0), // open end: not inverted
                ..catalog("v-f", 300)
            }),
            None,
        ),
        (stock_set("v-b", 9), None),
    ];
    let (events, expected): (Vec<Event>, Vec<Option<&str>>) = cases.into_iter().unzip();
    let ack = publish(&mut ingest, seq.batch(events)).await?;

    let valid = expected.iter().filter(|e| e.is_none()).count();
    ensure!(!ack.duplicate, "{ack:?}");
    ensure!(
        ack.applied as usize == valid,
        "applied {} of {valid} valid: {ack:?}",
        ack.applied
    );
    let got: BTreeMap<u32, (&str, &str)> = ack
        .rejected
        .iter()
        .map(|r| (r.index, (r.field.as_str(), r.reason.as_str())))
        .collect();
    ensure!(
        got.len() == ack.rejected.len(),
        "an index rejected twice: {ack:?}"
    );
    for (i, want) in expected.iter().enumerate() {
        match (want, got.get(&(i as u32))) {
            (None, None) => {}
            (None, Some(r)) => return Err(anyhow!("valid event {i} rejected: {r:?}")),
            (Some(f), None) => return Err(anyhow!("event {i} ({f}) not rejected: {ack:?}")),
            (Some(f), Some((field, reason))) => {
                ensure!(
                    names_field(field, f),
                    "event {i}: field {field:?}, want {f:?}"
                );
                ensure!(
                    !reason.trim().is_empty(),
                    "event {i}: rejection without a reason"
                );
            }
        }
    }
    ensure!(
        got.keys().all(|&i| (i as usize) < expected.len()),
        "{ack:?}"
    );

    let a = product(&mut admin, "v-a").await?;
    ensure!(a.stock == 5 && a.price_minor == 950, "v-a: {a:?}");
    ensure!(
        a.price_history.iter().all(|p| p.price_minor > 0),
        "a refused price got into the history: {:?}",
        a.price_history
    );
    ensure!(product(&mut admin, "v-b").await?.stock == 9, "v-b stock");
    ensure!(product(&mut admin, "v-f").await?.price_minor == 300, "v-f");
    for sku in ["v-nope", "v-c", "v-d", "v-e"] {
        let code = product_error(&mut admin, sku).await;
        ensure!(
            code == Some(Code::NotFound),
            "{sku}: {code:?}, want NOT_FOUND"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_level_errors_change_nothing() -> Result<()> {
    let opts = DaemonOptions::new().set("server", "max_batch_events", 10);
    let daemon = Daemon::start(opts).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    const P: &str = "batch-level";
    publish_ok(
        &mut ingest,
        batch(
            P,
            1,
            vec![upsert(catalog("bl-a", 500)), stock_set("bl-a", 5)],
        ),
    )
    .await?;

    let refused = [
        (
            "empty producer_id",
            batch("", 2, vec![stock_set("bl-a", 99)]),
        ),
        ("sequence 0", batch(P, 0, vec![stock_set("bl-a", 99)])),
        (
            "too many events",
            batch(P, 2, vec![stock_set("bl-a", 99); 11]),
        ),
    ];
    for (what, b) in refused {
        let status = expect_code(ingest.publish(b).await, &[Code::InvalidArgument])
            .map_err(|e| anyhow!("{what}: {e}"))?;
        ensure!(
            !status.message().is_empty(),
            "{what}: status without a message"
        );
    }
    ensure!(
        product(&mut admin, "bl-a").await?.stock == 5,
        "a refused batch applied"
    );
    ensure!(
        last_sequence(&mut admin, P).await? == 1,
        "a refused batch moved the sequence"
    );

    // Sequence 2 was never consumed by the refused batches.
    let ack = publish_ok(&mut ingest, batch(P, 2, vec![stock_set("bl-a", 6)])).await?;
    ensure!(!ack.duplicate, "{ack:?}");
    ensure!(
        product(&mut admin, "bl-a").await?.stock == 6,
        "batch 2 not applied"
    );

    // On a stream a refused batch is reported in its Ack and the stream goes on.
    let stream = vec![
        batch(P, 0, vec![stock_set("bl-a", 99)]),
        batch(P, 3, vec![stock_set("bl-a", 7)]),
    ];
    let mut acks = ingest
        .stream(tokio_stream::iter(stream))
        .await
        .map_err(|s| anyhow!("Ingest.Stream: {} {}", s.code(), s.message()))?
        .into_inner();
    let first = next_ack(&mut acks).await?;
    ensure!(
        !first.batch_error.is_empty() && first.applied == 0,
        "{first:?}"
    );
    let second = next_ack(&mut acks).await?;
    ensure!(
        second.batch_error.is_empty() && second.applied == 1,
        "{second:?}"
    );
    ensure!(
        product(&mut admin, "bl-a").await?.stock == 7,
        "stream batch 3"
    );
    ensure!(
        last_sequence(&mut admin, P).await? == 3,
        "sequence after the stream"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_acked_and_not_reapplied() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    const P: &str = "dup";
    let b1 = batch(
        P,
        1,
        vec![upsert(catalog("d-a", 500)), stock_set("d-a", 10)],
    );
    let b2 = batch(P, 2, vec![stock_adjust("d-a", 5, AdjustReason::Restock)]);
    publish_ok(&mut ingest, b1.clone()).await?;
    publish_ok(&mut ingest, b2.clone()).await?;
    ensure!(product(&mut admin, "d-a").await?.stock == 15);

    for (what, b) in [("same batch again", b2), ("first batch again", b1)] {
        let ack = publish(&mut ingest, b).await?;
        ensure!(ack.duplicate, "{what}: {ack:?}");
        let stock = product(&mut admin, "d-a").await?.stock;
        ensure!(stock == 15, "{what} was re-applied: stock {stock}");
    }

    // Gaps are allowed; anything at or below the last applied sequence is a duplicate.
    let ack = publish_ok(
        &mut ingest,
        batch(P, 5, vec![stock_adjust("d-a", 1, AdjustReason::Return)]),
    )
    .await?;
    ensure!(!ack.duplicate, "{ack:?}");
    let late = batch(P, 4, vec![stock_adjust("d-a", 100, AdjustReason::Restock)]);
    let ack = publish(&mut ingest, late).await?;
    ensure!(
        ack.duplicate,
        "an older, never-seen sequence must count as applied: {ack:?}"
    );
    ensure!(
        product(&mut admin, "d-a").await?.stock == 16,
        "stock after the gap"
    );
    ensure!(last_sequence(&mut admin, P).await? == 5);

    // Sequences are per producer.
    let ack = publish_ok(
        &mut ingest,
        batch("dup-other", 1, vec![stock_set("d-a", 3)]),
    )
    .await?;
    ensure!(!ack.duplicate, "{ack:?}");
    ensure!(product(&mut admin, "d-a").await?.stock == 3);
    Ok(())
}
