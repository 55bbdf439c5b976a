//! `actors.max_active` bounds the actors in memory: a burst touching more customers than
//! the limit leaves at most the limit resident (the least recently used are passivated,
//! long before the idle timeout), and a passivated customer comes back intact.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::{
    customer, customer_view, overview_until, publish_ok, watch_overview, Daemon, DaemonOptions,
    Sequencer,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_limit_passivates_the_least_recently_used() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new().set("actors", "max_active", 100).set(
        "actors",
        "idle_timeout",
        "1h",
    ))
    .await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("crm");
    for b in 0..10 {
        let batch = (0..50)
            .map(|i| {
                let id = format!("c{}", b * 50 + i);
                customer(&id, &format!("{id}@example.jp"))
            })
            .collect();
        publish_ok(&mut ingest, seq.batch(batch)).await?;
    }
    let admin = daemon.admin_client().await?;
    let mut overview = watch_overview(&admin, 200).await?;
    let what = "overview with the actors over the limit passivated";
    overview_until(&mut overview, Duration::from_secs(10), what, |o| {
        let actors = o.actors.context("actors")?;
        Ok(actors.active_customers <= 100 && actors.passivated >= 400)
    })
    .await?;
    // The first customer was passivated; it is read back from the store.
    let c = customer_view(&admin, "c0").await?;
    ensure!(c.email == "c0@example.jp" && c.consent_email, "{c:?}");
    Ok(())
}
