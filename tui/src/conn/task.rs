//! The connection task: connect, follow the overview stream (or poll), and on any loss
//! report why, wait out the backoff and start again.

use stockbell_proto::v1 as pb;
use tokio::sync::mpsc;
use tonic::Code;

use super::client::{connect, describe_status};
use super::{now_ms, AdminClient, ConnConfig, ConnEvent, ConnState, Feed, Machine};

/// Runs the connection until the UI hangs up (its receiver is dropped).
pub async fn run(cfg: ConnConfig, tx: mpsc::Sender<ConnEvent>) {
    let mut machine = Machine::default();
    while !tx.is_closed() {
        let _ = tx.send(ConnEvent::State(machine.connecting())).await;
        let why = match connect(&cfg).await {
            Ok(client) => {
                tracing::info!(addr = %cfg.addr, "connected to the daemon");
                let _ = tx.send(ConnEvent::Client(client.clone())).await;
                follow(client, &cfg, &tx, &mut machine).await
            }
            Err(e) => e,
        };
        let state = machine.lost(why, now_ms());
        if let ConnState::Disconnected { error, backoff, .. } = &state {
            tracing::warn!(addr = %cfg.addr, %error, retry_in_ms = backoff.as_millis() as u64, "not connected to the daemon");
            let delay = *backoff;
            let _ = tx.send(ConnEvent::State(state)).await;
            tokio::time::sleep(delay).await;
        }
    }
}

/// Follows the daemon's numbers until the connection is lost; returns why.
async fn follow(
    mut client: AdminClient,
    cfg: &ConnConfig,
    tx: &mpsc::Sender<ConnEvent>,
    machine: &mut Machine,
) -> String {
    let interval_ms = u32::try_from(cfg.interval.as_millis()).unwrap_or(1000);
    let req = pb::WatchOverviewRequest { interval_ms };
    let mut stream = match client.watch_overview(req).await {
        Ok(resp) => resp.into_inner(),
        Err(s) if s.code() == Code::Unimplemented => {
            let why =
                "WatchOverview is not implemented by this daemon yet; polling scenario counters";
            return poll(client, cfg, tx, machine, why.into()).await;
        }
        Err(s) => return describe_status(&s),
    };
    let _ = tx
        .send(ConnEvent::State(machine.connected(now_ms(), Feed::Stream)))
        .await;
    loop {
        match tokio::time::timeout(cfg.stall, stream.message()).await {
            Err(_) => {
                return format!(
                    "no overview for {} s; the connection looks stalled",
                    cfg.stall.as_secs()
                )
            }
            Ok(Ok(Some(ov))) => {
                if tx.send(ConnEvent::Overview(Box::new(ov))).await.is_err() {
                    return "console closing".into();
                }
            }
            Ok(Ok(None)) => return "the daemon ended the overview stream".into(),
            Ok(Err(s)) => return describe_status(&s),
        }
    }
}

/// Polls `GetScenarioStats` on a daemon without `WatchOverview`.
async fn poll(
    mut client: AdminClient,
    cfg: &ConnConfig,
    tx: &mpsc::Sender<ConnEvent>,
    machine: &mut Machine,
    why: String,
) -> String {
    let _ = tx
        .send(ConnEvent::State(
            machine.connected(now_ms(), Feed::Polling { why }),
        ))
        .await;
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let call = client.get_scenario_stats(pb::GetScenarioStatsRequest {});
        match tokio::time::timeout(cfg.stall, call).await {
            Err(_) => return "GetScenarioStats got no reply; the connection looks stalled".into(),
            Ok(Ok(resp)) => {
                let stats = resp.into_inner().scenarios;
                if tx.send(ConnEvent::Stats(stats)).await.is_err() {
                    return "console closing".into();
                }
            }
            Ok(Err(s)) if s.code() == Code::Unimplemented => {}
            Ok(Err(s)) => return describe_status(&s),
        }
    }
}
