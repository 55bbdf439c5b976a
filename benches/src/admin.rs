//! The few `Admin` calls the delivery and order benchmarks poll: per-scenario counters,
//! outbox listings, a product. Calls take `&self` (each on a clone of the client) so that a
//! `poll_every` check can make them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context};
use stockbell_proto::auth::AdminClient;
use stockbell_proto::v1::{
    admin_client, GetProductRequest, GetScenarioStatsRequest, ListOutboxRequest, OutboxEntry,
    Product, ScenarioStats,
};
use stockbell_tests::poll::{give_up, poll_every};

use crate::driver::{self, MAX_MESSAGE_BYTES};

/// Most entries one `ListOutbox` call returns.
const PAGE: u32 = 1000;

pub struct Admin {
    client: AdminClient,
}

fn status(call: &str) -> impl Fn(tonic::Status) -> anyhow::Error + '_ {
    move |s| anyhow!("Admin.{call} failed: {:?}: {}", s.code(), s.message())
}

/// One scenario's counters, flattened.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub triggered: u64,
    pub audience: u64,
    pub queued: u64,
    /// Delivered by the channel / failed for good, since the daemon started.
    pub sent: u64,
    pub failed: u64,
    /// Suppressed by reason (below_threshold not included: the fan-out does not count it).
    pub suppressed: BTreeMap<String, u64>,
}

impl Counters {
    pub fn suppressed_total(&self) -> u64 {
        self.suppressed.values().sum()
    }

    /// Queued and neither delivered nor failed yet (cancelled ones count as queued).
    pub fn pending(&self) -> u64 {
        self.queued.saturating_sub(self.sent + self.failed)
    }

    fn from(s: &ScenarioStats) -> Counters {
        Counters {
            triggered: s.triggered,
            audience: s.audience,
            queued: s.queued,
            sent: s.sent,
            failed: s.failed,
            suppressed: s
                .suppressed
                .iter()
                .map(|c| (c.reason.clone(), c.count))
                .collect(),
        }
    }
}

impl Admin {
    pub async fn connect(addr: &str) -> anyhow::Result<Admin> {
        let channel = driver::channel(addr, Some(Duration::from_secs(120))).await?;
        let client = admin_client::AdminClient::with_interceptor(channel, Default::default())
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Admin { client })
    }

    /// Connects sending `token` (if any), over TLS when `tls` holds flags.
    pub async fn connect_with(
        addr: &str,
        token: Option<&str>,
        tls: &stockbell_proto::tls::TlsFlags,
    ) -> anyhow::Result<Admin> {
        let channel = driver::channel_with(addr, Some(Duration::from_secs(120)), tls).await?;
        let client = admin_client::AdminClient::with_interceptor(channel, driver::bearer(token)?)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        Ok(Admin { client })
    }

    /// The Admin client itself, for calls this module does not wrap.
    pub fn client(&self) -> AdminClient {
        self.client.clone()
    }

    /// The counters of `scenario` ("back_in_stock", …).
    pub async fn counters(&self, scenario: &str) -> anyhow::Result<Counters> {
        let stats = self
            .client
            .clone()
            .get_scenario_stats(GetScenarioStatsRequest {})
            .await
            .map_err(status("GetScenarioStats"))?
            .into_inner();
        stats
            .scenarios
            .iter()
            .find(|s| s.scenario == scenario)
            .map(Counters::from)
            .with_context(|| format!("GetScenarioStats has no scenario {scenario:?}"))
    }

    /// The highest outbox seq (0 when the outbox is empty).
    pub async fn newest_outbox_seq(&self) -> anyhow::Result<u64> {
        let page = self
            .client
            .clone()
            .list_outbox(ListOutboxRequest {
                status: String::new(),
                customer_id: String::new(),
                limit: 1,
                before_seq: 0,
            })
            .await
            .map_err(status("ListOutbox"))?
            .into_inner();
        Ok(page.entries.first().map_or(0, |e| e.seq))
    }

    /// One product as `GetProduct` shows it (with its backorder lines).
    pub async fn product(&self, sku: &str) -> anyhow::Result<Product> {
        let product = self
            .client
            .clone()
            .get_product(GetProductRequest { sku: sku.into() })
            .await
            .map_err(status("GetProduct"))?
            .into_inner();
        Ok(product)
    }

    /// One customer's newest outbox entries (at most 1000), newest first.
    pub async fn outbox_of(&self, customer_id: &str) -> anyhow::Result<Vec<OutboxEntry>> {
        let page = self
            .client
            .clone()
            .list_outbox(ListOutboxRequest {
                status: String::new(),
                customer_id: customer_id.into(),
                limit: PAGE,
                before_seq: 0,
            })
            .await
            .map_err(status("ListOutbox"))?
            .into_inner();
        Ok(page.entries)
    }

    /// Entries by status ("pending", "delivered", …) over the whole outbox, read in pages
    /// of 1000 newest first.
    pub async fn outbox_statuses(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        let mut before = 0;
        loop {
            let page = self
                .client
                .clone()
                .list_outbox(ListOutboxRequest {
                    status: String::new(),
                    customer_id: String::new(),
                    limit: PAGE,
                    before_seq: before,
                })
                .await
                .map_err(status("ListOutbox"))?
                .into_inner();
            for e in &page.entries {
                *counts.entry(e.status.clone()).or_insert(0) += 1;
            }
            match page.entries.last() {
                Some(last) if page.entries.len() == PAGE as usize && last.seq > 1 => {
                    before = last.seq;
                }
                _ => return Ok(counts),
            }
        }
    }

    /// Polls `scenario`'s counters every `every` until `done` holds; returns the counters
    /// and when `done` first held. Fails after `timeout`, showing the last counters.
    pub async fn wait_counters(
        &self,
        scenario: &str,
        every: Duration,
        timeout: Duration,
        done: impl FnMut(&Counters) -> bool,
    ) -> anyhow::Result<(Counters, Instant)> {
        let done = RefCell::new(done);
        let done = &done;
        poll_every(every, timeout, || async move {
            let c = self.counters(scenario).await.map_err(give_up)?;
            let now = Instant::now();
            ensure!((done.borrow_mut())(&c), "counters: {c:?}");
            Ok((c, now))
        })
        .await
        .with_context(|| format!("waiting for {scenario} decisions"))
    }
}
