//! Test support: a store, writer and Router as the daemon builds them (default config),
//! with customer "cust-42". Call [`Stack::close`] at the end: it closes the database
//! before the test process exits (RocksDB aborts if a writer thread is still closing it).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::customer::CustomerItem;
use super::{IngestItem, Router, RouterConfig, RouterHandle};
use crate::domain::customer::Consent;
use crate::domain::profile::{CustomerEvent, CustomerState, ProfileData};
use crate::metrics::Metrics;
use crate::scenario_control::LiveRules;
use crate::store::test_db::TestStore;

pub(crate) struct Stack {
    pub db: TestStore,
    pub router: RouterHandle,
    router_task: tokio::task::JoinHandle<()>,
}

impl Stack {
    pub async fn new() -> Stack {
        let db = TestStore::new();
        let cfg = crate::config::Config::default();
        let rules = cfg.delivery_rules().expect("rules");
        let router_cfg = RouterConfig {
            triggers: Arc::new(cfg.trigger_config()),
            idle_timeout: Duration::from_secs(60),
            affinity_half_life_ms: cfg.interest.half_life.ms(),
            rules: LiveRules::new(rules),
            links: Arc::new(|_: &str, _| String::new()),
            cancel_links: Arc::new(|_: &str, _: &str, _| String::new()),
            outbox_notify: Arc::new(Notify::new()),
            fanout_notify: Arc::new(Notify::new()),
            max_active: 100_000,
            default_time_zone: cfg.customers.default_time_zone.clone(),
            related: crate::domain::order::related::RelatedConfig::default(),
            hygiene: Default::default(),
            board: Arc::new(crate::hygiene_board::HygieneBoard::new(
                Default::default(),
                "shop@shop.example",
            )),
            segments: Arc::new(crate::segment_board::SegmentBoard::new()),
            segment_defs: Arc::new(
                crate::scenario_control::segment_defs::SegmentDefs::load(
                    Vec::new(),
                    db.store().clone(),
                    db.writer.clone(),
                )
                .expect("segment definitions"),
            ),
        };
        let metrics = Arc::new(Metrics::default());
        let (router, router_task) =
            Router::start(db.store().clone(), db.writer.clone(), router_cfg, metrics)
                .await
                .expect("router");
        upsert_customer(&router, "cust-42").await;
        Stack {
            db,
            router,
            router_task,
        }
    }

    /// Every other clone of the writer and router must be gone.
    pub async fn close(self) {
        drop(self.router);
        self.router_task.await.expect("router task");
        self.db.close().await;
    }
}

/// Creates customer `id` with an email address, a LINE id and every consent.
pub(crate) async fn upsert_customer(router: &RouterHandle, id: &str) {
    let profile = ProfileData {
        email: Some("taro@example.jp".into()),
        line_user_id: Some("U4af4980629".into()),
        locale: Default::default(),
        time_zone: "Asia/Tokyo".into(),
        consent: Consent {
            email: true,
            line: true,
            webhook: true,
        },
        tags: Vec::new(),
        birthday: None,
        subscribed: false,
    };
    let item = IngestItem::Customer {
        id: id.into(),
        item: CustomerItem {
            index: 0,
            at_ms: 1,
            event: CustomerEvent::Upsert(profile),
        },
    };
    let ack = router.internal(vec![item]).await.expect("upsert");
    assert!(ack.rejections.is_empty(), "{ack:?}");
}

pub(crate) async fn customer(router: &RouterHandle, id: &str) -> CustomerState {
    router
        .get_customer(id.into())
        .await
        .expect("get")
        .expect("exists")
        .state
}
