//! The admin API the console is built on, against a real daemon: reach estimates, product
//! search and interest counts, customer lookup by email, scenario control (kept across a
//! restart; a disabled scenario sends nothing and its queued messages are cancelled),
//! and the live overview stream.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    EstimateReachRequest, GetCustomerRequest, GetProductRequest, ListOutboxRequest,
    ListScenariosRequest, OutboxEntry, SearchProductsRequest, UpdateScenarioRequest,
};
use stockbell_tests::{
    cart_add, catalog, customer, fanned_out, favourite, notify_me, overview_until, poll_until,
    publish_ok, purchase, sale, scenario_stats, stock_set, upsert, view, watch_overview,
    AdminClient, Daemon, DaemonOptions, Sequencer, SmtpServer,
};
use tonic::Code;

fn eml_options(eml: &Path) -> DaemonOptions {
    DaemonOptions::new()
        .set("email", "eml_dir", eml.display().to_string())
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

fn imported(sku: &str, title: &str) -> stockbell_tests::pb::Event {
    upsert(stockbell_tests::pb::ProductUpsert {
        imported: true,
        title: title.into(),
        ..catalog(sku, 1980)
    })
}

/// "tee" sold out with four interested customers (scores: notify-me 1.0, favourite 0.5,
/// one view ≈ 0.10, and a buyer who no longer counts); "n1" also likes "cap".
async fn shop(daemon: &Daemon, seq: &mut Sequencer) -> Result<()> {
    let mut ingest = daemon.ingest_client().await?;
    let mut events = vec![
        imported("tee", "Linen tee navy"),
        imported("cap", "Canvas cap"),
        stock_set("tee", 1),
        sale("tee", 1),
    ];
    for id in ["n1", "f1", "v1", "b1"] {
        events.push(customer(id, &format!("{id}@example.jp")));
    }
    events.extend([
        notify_me("n1", "tee"),
        favourite("n1", "cap"),
        favourite("f1", "tee"),
        view("v1", "tee", 0),
        cart_add("b1", "tee"),
    ]);
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![purchase("b1", "o-1", &["tee"])]),
    )
    .await?;
    Ok(())
}

async fn reach(admin: &AdminClient, sku: &str, threshold: f64) -> Result<(u64, u64, u64)> {
    let r = admin
        .clone()
        .estimate_reach(EstimateReachRequest {
            scenario: "back_in_stock".into(),
            threshold,
            sku: sku.into(),
        })
        .await?
        .into_inner();
    ensure!(!r.sampled && !r.curve.is_empty(), "{r:?}");
    Ok((
        r.customers,
        r.customers_at_current,
        r.customers_with_interest,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reach_search_and_lookups() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let daemon = Daemon::start(eml_options(&tmp.path().join("eml"))).await?;
    let mut seq = Sequencer::new("shop");
    shop(&daemon, &mut seq).await?;
    let admin = daemon.admin_client().await?;

    // One product: n1 and f1 at the default 0.4; v1 only at 0; b1 bought it.
    ensure!(reach(&admin, "tee", 0.4).await? == (2, 2, 3));
    ensure!(reach(&admin, "tee", 0.6).await?.0 == 1);
    ensure!(reach(&admin, "tee", 0.0).await?.0 == 3);
    // The whole catalogue: n1 counts once although they like two products.
    ensure!(reach(&admin, "", 0.4).await? == (2, 2, 3));

    let p = admin
        .clone()
        .get_product(GetProductRequest { sku: "tee".into() })
        .await?
        .into_inner();
    ensure!(
        p.interested_customers == 3 && p.interested_above_threshold == 2,
        "{p:?}"
    );

    let found = admin
        .clone()
        .search_products(SearchProductsRequest {
            query: "LINEN".into(),
            limit: 0,
        })
        .await?
        .into_inner();
    let skus: Vec<&str> = found.products.iter().map(|p| p.sku.as_str()).collect();
    ensure!(skus == ["tee"], "{found:?}");
    let all = admin
        .clone()
        .search_products(SearchProductsRequest::default())
        .await?
        .into_inner();
    ensure!(all.products.len() == 2, "{all:?}");

    let c = admin
        .clone()
        .get_customer(GetCustomerRequest {
            email: "F1@example.jp".into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(c.customer_id == "f1", "{c:?}");
    let missing = admin
        .clone()
        .get_customer(GetCustomerRequest {
            email: "nobody@example.jp".into(),
            ..Default::default()
        })
        .await;
    ensure!(
        matches!(&missing, Err(s) if s.code() == Code::NotFound),
        "{missing:?}"
    );

    // Bad requests name the field.
    let bad = admin
        .clone()
        .estimate_reach(EstimateReachRequest {
            scenario: "back_in_stock".into(),
            threshold: 101.0,
            sku: String::new(),
        })
        .await;
    ensure!(
        matches!(&bad, Err(s) if s.code() == Code::InvalidArgument && s.message().contains("threshold")),
        "{bad:?}"
    );
    let bad = admin
        .clone()
        .estimate_reach(EstimateReachRequest {
            scenario: "flash_sale".into(),
            threshold: 0.4,
            sku: String::new(),
        })
        .await;
    ensure!(
        matches!(&bad, Err(s) if s.code() == Code::InvalidArgument && s.message().contains("scenario")),
        "{bad:?}"
    );
    Ok(())
}

async fn update(admin: &AdminClient, r: UpdateScenarioRequest) -> Result<Vec<String>> {
    Ok(admin
        .clone()
        .update_scenario(r)
        .await?
        .into_inner()
        .overridden)
}

/// Turns a scenario on or off; returns the settings the operator has overridden.
async fn set_enabled(admin: &AdminClient, scenario: &str, on: bool) -> Result<Vec<String>> {
    let req = UpdateScenarioRequest {
        scenario: scenario.into(),
        enabled: Some(on),
        ..Default::default()
    };
    update(admin, req).await
}

fn eml_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_scenario_sends_nothing_and_the_change_survives_a_restart() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let eml = tmp.path().join("eml");
    let mut daemon = Daemon::start(eml_options(&eml)).await?;
    let mut seq = Sequencer::new("shop");
    shop(&daemon, &mut seq).await?;
    let admin = daemon.admin_client().await?;

    let overridden = set_enabled(&admin, "back_in_stock", false).await?;
    ensure!(overridden == ["enabled"], "{overridden:?}");
    // A bad change is refused and changes nothing.
    let bad = admin
        .clone()
        .update_scenario(UpdateScenarioRequest {
            scenario: "back_in_stock".into(),
            threshold: Some(-1.0),
            ..Default::default()
        })
        .await;
    ensure!(
        matches!(&bad, Err(s) if s.code() == Code::InvalidArgument && s.message().contains("threshold")),
        "{bad:?}"
    );

    daemon.terminate().await?;
    daemon.restart().await?;
    let admin = daemon.admin_client().await?;
    let listed = admin
        .clone()
        .list_scenarios(ListScenariosRequest {})
        .await?
        .into_inner();
    let bis = listed
        .scenarios
        .iter()
        .find(|s| s.scenario == "back_in_stock")
        .context("back_in_stock")?;
    ensure!(
        !bis.enabled && bis.overridden == ["enabled"] && bis.threshold == 0.4,
        "{bis:?}"
    );

    // Restock while disabled: the trigger fires, nobody is offered it.
    let mut ingest = daemon.ingest_client().await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;
    poll_until(Duration::from_secs(10), || async {
        let s = scenario_stats(&admin, "back_in_stock").await?;
        ensure!(s.triggered == 1 && !s.enabled, "{s:?}");
        Ok(())
    })
    .await?;
    fanned_out(&admin, 1, Duration::from_secs(10)).await?;
    let s = scenario_stats(&admin, "back_in_stock").await?;
    ensure!(s.audience == 0 && s.queued == 0, "{s:?}");

    // Back to the config's settings, then a second sell-out and restock.
    let overridden = update(
        &admin,
        UpdateScenarioRequest {
            scenario: "back_in_stock".into(),
            reset: true,
            ..Default::default()
        },
    )
    .await?;
    ensure!(overridden.is_empty(), "{overridden:?}");
    publish_ok(&mut ingest, seq.batch(vec![sale("tee", 20)])).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;
    poll_until(Duration::from_secs(20), || async {
        ensure!(eml_count(&eml) == 2, "{} messages", eml_count(&eml));
        Ok(())
    })
    .await?;
    // The first restock was passed over (nothing to dedupe now); the second reached n1
    // and f1, and left out only the buyer.
    let s = scenario_stats(&admin, "back_in_stock").await?;
    let reasons: Vec<(&str, u64)> = s
        .suppressed
        .iter()
        .map(|c| (c.reason.as_str(), c.count))
        .collect();
    ensure!(
        s.triggered == 2 && s.audience == 2 && s.queued == 2 && reasons == [("purchased", 1)],
        "{s:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_of_a_disabled_scenario_are_cancelled_and_the_overview_shows_it(
) -> Result<()> {
    // The mail server is down: messages wait in the outbox.
    let mut smtp = SmtpServer::start(None).await?;
    smtp.stop().await?;
    let daemon = Daemon::start(
        DaemonOptions::new()
            .toml(&smtp.email_toml())
            .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"\nmax_attempts = 100")
            .set("rules", "arbitration_window", "0s")
            .set("rules", "quiet_start", "00:00")
            .set("rules", "quiet_end", "00:00"),
    )
    .await?;
    let admin = daemon.admin_client().await?;
    let mut overview = watch_overview(&admin, 250).await?;
    let mut seq = Sequencer::new("shop");
    shop(&daemon, &mut seq).await?;
    let mut ingest = daemon.ingest_client().await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;

    // The live overview sees the events and the two waiting messages.
    let mut saw_rate = false;
    let what = "overview with two pending messages";
    overview_until(&mut overview, Duration::from_secs(20), what, |o| {
        saw_rate |= o.rates.unwrap_or_default().events > 0.0;
        let depth = o.outbox.unwrap_or_default();
        let totals = o.totals.unwrap_or_default();
        ensure!(o.health == "ok", "{o:?}");
        let done = saw_rate && depth.pending == 2 && totals.queued == 2;
        ensure!(!done || (totals.events >= 12 && totals.sent == 0), "{o:?}");
        Ok(done)
    })
    .await?;

    set_enabled(&admin, "back_in_stock", false).await?;
    let cancelled = poll_until(Duration::from_secs(20), || async {
        let cancelled = outbox(&admin, "cancelled").await?;
        ensure!(cancelled.len() == 2, "{cancelled:?}");
        ensure!(
            cancelled.iter().all(|e| e.last_error.contains("disabled")),
            "{cancelled:?}"
        );
        Ok(cancelled)
    })
    .await?;
    let what = "overview showing the cancellations";
    overview_until(&mut overview, Duration::from_secs(10), what, |o| {
        let depth = o.outbox.unwrap_or_default();
        Ok(depth.cancelled == 2 && depth.pending == 0)
    })
    .await?;

    // Nothing reaches the mail server once it is back. The marker that it would have by
    // now: a later message (the scenario on again, a new customer told about the restock
    // of a new product) is delivered, and the cancelled ones were due long before it.
    smtp.restart().await?;
    set_enabled(&admin, "back_in_stock", true).await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            imported("mug", "Stoneware mug"),
            stock_set("mug", 1),
            sale("mug", 1),
            customer("late", "late@example.jp"),
            notify_me("late", "mug"),
        ]),
    )
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("mug", 5)])).await?;
    poll_until(Duration::from_secs(30), || async {
        let delivered = outbox(&admin, "delivered").await?;
        ensure!(
            delivered.len() == 1 && delivered[0].customer_id == "late",
            "delivered: {delivered:?}"
        );
        let pending = outbox(&admin, "pending").await?;
        ensure!(pending.is_empty(), "pending: {pending:?}");
        Ok(())
    })
    .await?;
    let to: Vec<Vec<String>> = smtp.messages().into_iter().map(|m| m.to).collect();
    ensure!(
        to == [vec!["late@example.jp".to_string()]],
        "received {to:?}"
    );
    let still = outbox(&admin, "cancelled").await?;
    ensure!(
        still.len() == 2
            && still
                .iter()
                .zip(&cancelled)
                .all(|(a, b)| a.seq == b.seq && a.attempts == b.attempts),
        "cancelled entries changed: {cancelled:?} -> {still:?}"
    );
    Ok(())
}

/// The outbox entries with `status`, newest first.
async fn outbox(admin: &AdminClient, status: &str) -> Result<Vec<OutboxEntry>> {
    let req = ListOutboxRequest {
        status: status.into(),
        ..Default::default()
    };
    Ok(admin.clone().list_outbox(req).await?.into_inner().entries)
}
