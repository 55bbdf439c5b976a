//! The few `Admin` calls the delivery benchmarks poll: per-scenario counters and outbox
//! listings.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use stockbell_proto::v1::{
    admin_client::AdminClient, GetScenarioStatsRequest, ListOutboxRequest, ScenarioStats,
};
use tonic::transport::{Channel, Endpoint};

use crate::driver::MAX_MESSAGE_BYTES;

/// Most entries one `ListOutbox` call returns.
const PAGE: u32 = 1000;

pub struct Admin {
    client: AdminClient<Channel>,
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
    /// Suppressed by reason (below_threshold not included: the fan-out does not count it).
    pub suppressed: BTreeMap<String, u64>,
}

impl Counters {
    pub fn suppressed_total(&self) -> u64 {
        self.suppressed.values().sum()
    }

    fn from(s: &ScenarioStats) -> Counters {
        Counters {
            triggered: s.triggered,
            audience: s.audience,
            queued: s.queued,
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
        let uri = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{addr}")
        };
        let channel = Endpoint::from_shared(uri.clone())
            .with_context(|| format!("bad server address {uri:?}"))?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .connect()
            .await
            .with_context(|| format!("cannot connect to {uri}"))?;
        Ok(Admin {
            client: AdminClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES),
        })
    }

    /// The counters of `scenario` ("back_in_stock", …).
    pub async fn counters(&mut self, scenario: &str) -> anyhow::Result<Counters> {
        let stats = self
            .client
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
    pub async fn newest_outbox_seq(&mut self) -> anyhow::Result<u64> {
        let page = self
            .client
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

    /// Entries by status ("pending", "delivered", …) over the whole outbox, read in pages
    /// of 1000 newest first.
    pub async fn outbox_statuses(&mut self) -> anyhow::Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        let mut before = 0;
        loop {
            let page = self
                .client
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
        &mut self,
        scenario: &str,
        every: Duration,
        timeout: Duration,
        mut done: impl FnMut(&Counters) -> bool,
    ) -> anyhow::Result<(Counters, Instant)> {
        let started = Instant::now();
        loop {
            let c = self.counters(scenario).await?;
            let now = Instant::now();
            if done(&c) {
                return Ok((c, now));
            }
            if started.elapsed() > timeout {
                bail!(
                    "gave up after {} s waiting for {scenario} decisions; counters: {c:?}",
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(every).await;
        }
    }
}
