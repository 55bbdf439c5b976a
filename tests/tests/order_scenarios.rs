//! The order scenarios in the admin API, against a real daemon: every scenario is listed
//! with its class, quiet-hours mode and timing from the config; an order update takes
//! enable / disable and a channels change (kept across a restart) and refuses priority,
//! threshold and reach with an error naming the field.

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::{
    ChannelList, EstimateReachRequest, ListScenariosRequest, ScenarioSettings,
    UpdateScenarioRequest,
};
use stockbell_tests::{AdminClient, Daemon, DaemonOptions};
use tonic::Code;

async fn listed(admin: &AdminClient) -> Result<Vec<ScenarioSettings>> {
    Ok(admin
        .clone()
        .list_scenarios(ListScenariosRequest {})
        .await?
        .into_inner()
        .scenarios)
}

fn find<'a>(all: &'a [ScenarioSettings], name: &str) -> Result<&'a ScenarioSettings> {
    all.iter()
        .find(|s| s.scenario == name)
        .with_context(|| format!("{name} listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_scenarios_are_listed_and_take_only_the_changes_that_apply() -> Result<()> {
    let opts = DaemonOptions::new().toml(
        "[scenarios.backorder_update]\nupdate_every = \"14d\"\n\
         [scenarios.shipped]\nquiet = \"wait\"\n\
         [scenarios.cross_sell_delivery]\ncoupon_code = \"THANKS10\"\n",
    );
    let mut daemon = Daemon::start(opts).await?;
    let admin = daemon.admin_client().await?;

    let all = listed(&admin).await?;
    // The stock and order scenarios, the cart journeys, last_chance (list hygiene),
    // win_back and birthday.
    ensure!(all.len() == 17, "{} scenarios listed", all.len());
    let update = find(&all, "backorder_update")?;
    ensure!(
        update.class == "transactional"
            && update.quiet == "wait"
            && update.timing == "every 14d while a line waits"
            && !update.has_threshold,
        "{update:?}"
    );
    let shipped = find(&all, "shipped")?;
    ensure!(shipped.quiet == "wait" && shipped.enabled, "{shipped:?}");
    ensure!(
        find(&all, "arrived")?.quiet == "send",
        "arrived goes at once"
    );
    let offer = find(&all, "cross_sell_delivery")?;
    ensure!(
        offer.class == "marketing"
            && offer.priority == 15
            && offer.timing == "7d after delivery, up to 4 products, coupon THANKS10",
        "{offer:?}"
    );
    let win_back = find(&all, "win_back")?;
    ensure!(
        win_back.class == "marketing"
            && win_back.priority == 12
            && win_back.timing.contains("median repurchase interval")
            && !win_back.has_threshold,
        "{win_back:?}"
    );
    let birthday = find(&all, "birthday")?;
    ensure!(
        birthday.class == "marketing" && birthday.timing.contains("09:00 local"),
        "{birthday:?}"
    );
    let bis = find(&all, "back_in_stock")?;
    ensure!(
        bis.class == "marketing" && bis.has_threshold && bis.timing.is_empty(),
        "{bis:?}"
    );

    // An order update refuses what it does not have, naming the field; nothing changes.
    for (req, field) in [
        (
            UpdateScenarioRequest {
                priority: Some(3),
                ..Default::default()
            },
            "priority",
        ),
        (
            UpdateScenarioRequest {
                threshold: Some(0.5),
                ..Default::default()
            },
            "threshold",
        ),
        (
            UpdateScenarioRequest {
                channels: Some(ChannelList {
                    channels: vec!["line".into(), "fax".into()],
                }),
                ..Default::default()
            },
            "fax",
        ),
    ] {
        let refused = admin
            .clone()
            .update_scenario(UpdateScenarioRequest {
                scenario: "shipped".into(),
                ..req
            })
            .await;
        ensure!(
            matches!(&refused, Err(s) if s.code() == Code::InvalidArgument && s.message().contains(field)),
            "{field}: {refused:?}"
        );
    }
    let reach = admin
        .clone()
        .estimate_reach(EstimateReachRequest {
            scenario: "shipped".into(),
            threshold: 0.4,
            sku: String::new(),
        })
        .await;
    ensure!(
        matches!(&reach, Err(s) if s.code() == Code::InvalidArgument && s.message().contains("stock scenarios")),
        "{reach:?}"
    );

    // Channels and the switch change, and outlive a restart.
    let changed = admin
        .clone()
        .update_scenario(UpdateScenarioRequest {
            scenario: "shipped".into(),
            enabled: Some(false),
            channels: Some(ChannelList {
                channels: vec!["webhook".into(), "email".into()],
            }),
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(
        changed.channels == ["webhook", "email"]
            && !changed.enabled
            && changed.overridden == ["enabled", "channels"],
        "{changed:?}"
    );
    daemon.terminate().await?;
    daemon.restart().await?;
    let admin = daemon.admin_client().await?;
    let all = listed(&admin).await?;
    let shipped = find(&all, "shipped")?;
    ensure!(
        shipped.channels == ["webhook", "email"] && !shipped.enabled,
        "after a restart: {shipped:?}"
    );
    ensure!(
        find(&all, "arrived")?.channels == ["email", "line"],
        "other scenarios keep theirs"
    );
    Ok(())
}
