//! Segments as audiences against a real `stockbelld`: a segment created over the Admin
//! API (a bad one is refused naming `match` and the position), excluded from
//! back_in_stock with UpdateScenario; at the restock its members are suppressed as
//! `segment` and everyone else gets the message. ListSegments shows the definition,
//! its canonical text and the scenario using it; a used segment cannot be deleted.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::event::Kind;
use stockbell_tests::pb::{
    CustomerUpsert, DeleteSegmentRequest, Event, ListSegmentsRequest, ProductUpsert,
    SegmentDefinition, SegmentList, UpdateScenarioRequest,
};
use stockbell_tests::{
    catalog, notify_me, poll_until, publish_ok, sale, scenario_stats, stock_set, upsert,
    AdminClient, Daemon, DaemonOptions, Sequencer,
};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(60);

fn options(eml: &std::path::Path) -> DaemonOptions {
    DaemonOptions::new()
        .set("email", "eml_dir", eml.display().to_string())
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

fn tagged(id: &str, tags: &[&str]) -> Event {
    Event {
        event_time_ms: 0,
        kind: Some(Kind::CustomerUpsert(CustomerUpsert {
            customer_id: id.into(),
            email: format!("{id}@example.jp"),
            locale: "ja".into(),
            time_zone: "Asia/Tokyo".into(),
            consent_email: true,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        })),
    }
}

fn eml_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

async fn create(
    admin: &AdminClient,
    name: &str,
    m: &str,
) -> Result<stockbell_tests::pb::Segment, tonic::Status> {
    admin
        .clone()
        .create_segment(SegmentDefinition {
            name: name.into(),
            r#match: m.into(),
            description: "test".into(),
            webhook: false,
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_segment_members_are_suppressed_as_segment() -> Result<()> {
    let eml = tempfile::tempdir()?;
    let daemon = Daemon::start(options(eml.path())).await?;
    let admin = daemon.admin_client().await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");

    // A bad predicate: INVALID_ARGUMENT naming match and the byte position.
    let bad = create(&admin, "wholesale", "tag \"wholesale\" and orders >=")
        .await
        .expect_err("bad match");
    ensure!(bad.code() == Code::InvalidArgument, "{bad:?}");
    ensure!(
        bad.message().starts_with("match: at 29:"),
        "{}",
        bad.message()
    );
    let bad = create(&admin, "Wholesale", "coupon")
        .await
        .expect_err("bad name");
    ensure!(
        bad.code() == Code::InvalidArgument && bad.message().starts_with("name:"),
        "{bad:?}"
    );

    let seg = create(&admin, "wholesale", "tag   \"wholesale\"").await?;
    ensure!(
        seg.source == "api" && seg.canonical == "tag \"wholesale\"",
        "{seg:?}"
    );
    let dup = create(&admin, "wholesale", "coupon")
        .await
        .expect_err("dup");
    ensure!(dup.code() == Code::AlreadyExists, "{dup:?}");

    // Unknown segment in UpdateScenario: INVALID_ARGUMENT naming it.
    let unknown = admin
        .clone()
        .update_scenario(UpdateScenarioRequest {
            scenario: "back_in_stock".into(),
            exclude_segments: Some(SegmentList {
                segments: vec!["nope".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("unknown segment");
    ensure!(
        unknown.code() == Code::InvalidArgument && unknown.message().contains("\"nope\""),
        "{unknown:?}"
    );
    // A transactional scenario takes no audience.
    let order = admin
        .clone()
        .update_scenario(UpdateScenarioRequest {
            scenario: "shipped".into(),
            exclude_segments: Some(SegmentList {
                segments: vec!["wholesale".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("transactional");
    ensure!(order.code() == Code::InvalidArgument, "{order:?}");

    let settings = admin
        .clone()
        .update_scenario(UpdateScenarioRequest {
            scenario: "back_in_stock".into(),
            exclude_segments: Some(SegmentList {
                segments: vec!["wholesale".into()],
            }),
            ..Default::default()
        })
        .await?
        .into_inner();
    ensure!(settings.exclude_segments == ["wholesale"], "{settings:?}");

    // Three customers wait for a sold-out product; two are wholesale.
    let mut events = vec![
        tagged("w1", &["wholesale"]),
        tagged("w2", &["wholesale", "vip"]),
        tagged("r1", &["vip"]),
        upsert(ProductUpsert {
            imported: true,
            ..catalog("sku-1", 1980)
        }),
        stock_set("sku-1", 1),
        sale("sku-1", 1),
    ];
    for id in ["w1", "w2", "r1"] {
        events.push(notify_me(id, "sku-1"));
    }
    publish_ok(&mut ingest, seq.batch(events)).await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("sku-1", 50)])).await?;

    poll_until(WAIT, || async {
        let s = scenario_stats(&admin, "back_in_stock").await?;
        let segment = s
            .suppressed
            .iter()
            .find(|c| c.reason == "segment")
            .map_or(0, |c| c.count);
        ensure!(segment == 2, "waiting for 2 segment suppressions: {s:?}");
        ensure!(s.sent == 1, "waiting for 1 sent: {s:?}");
        Ok(())
    })
    .await?;
    ensure!(eml_count(eml.path()) == 1, "one message written");
    let body = std::fs::read_dir(eml.path())?
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    ensure!(body.contains("r1@example.jp"), "the non-member got it");

    // ListSegments: the definition, its source and the scenario using it.
    let list = admin
        .clone()
        .list_segments(ListSegmentsRequest {})
        .await?
        .into_inner();
    let w = list
        .segments
        .iter()
        .find(|s| s.definition.as_ref().is_some_and(|d| d.name == "wholesale"))
        .context("wholesale listed")?;
    ensure!(w.used_by == ["back_in_stock"], "{w:?}");
    let m = w.metrics.as_ref().context("metrics")?;
    ensure!(m.segment == "wholesale", "{m:?}");
    ensure!(
        list.segments
            .iter()
            .filter(|s| s.source == "builtin")
            .count()
            == 11,
        "{list:?}"
    );

    // In use: FAILED_PRECONDITION naming the scenario; free again, it goes.
    let used = admin
        .clone()
        .delete_segment(DeleteSegmentRequest {
            name: "wholesale".into(),
        })
        .await
        .expect_err("in use");
    ensure!(
        used.code() == Code::FailedPrecondition && used.message().contains("back_in_stock"),
        "{used:?}"
    );
    admin
        .clone()
        .update_scenario(UpdateScenarioRequest {
            scenario: "back_in_stock".into(),
            exclude_segments: Some(SegmentList { segments: vec![] }),
            ..Default::default()
        })
        .await?;
    admin
        .clone()
        .delete_segment(DeleteSegmentRequest {
            name: "wholesale".into(),
        })
        .await?;
    let builtin = admin
        .clone()
        .delete_segment(DeleteSegmentRequest {
            name: "rfm:lost".into(),
        })
        .await
        .expect_err("built-in");
    ensure!(builtin.code() == Code::FailedPrecondition, "{builtin:?}");
    Ok(())
}
