//! Scheduler actor: fires durable timers. Every tick it scans the `timers` column family
//! up to the wall clock and hands due timers to the Router, which applies them to their
//! products and deletes them in the same write. Timers survive restarts because they
//! live in RocksDB until that write; a timer is never handed out twice while in flight.

use std::collections::HashSet;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::RouterHandle;
use crate::store::records::{TimerKey, Timers};
use crate::store::{Seek, Store};

/// Most timers handed to the router at once.
const MAX_DUE: usize = 1000;

pub enum SchedulerMsg {
    Tick,
    Done(Vec<TimerKey>),
}

pub struct Scheduler;

pub struct SchedulerArgs {
    pub store: Store,
    pub router: RouterHandle,
    pub tick: Duration,
}

pub struct SchedulerState {
    args: SchedulerArgs,
    in_flight: HashSet<TimerKey>,
}

fn now_ms() -> i64 {
    crate::clock::now_ms()
}

impl Actor for Scheduler {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    type Arguments = SchedulerArgs;

    async fn pre_start(
        &self,
        me: ActorRef<SchedulerMsg>,
        args: SchedulerArgs,
    ) -> Result<SchedulerState, ActorProcessingErr> {
        me.send_interval(args.tick, || SchedulerMsg::Tick);
        Ok(SchedulerState {
            args,
            in_flight: HashSet::new(),
        })
    }

    async fn handle(
        &self,
        me: ActorRef<SchedulerMsg>,
        msg: SchedulerMsg,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SchedulerMsg::Tick => {
                let now = now_ms();
                let busy = st.in_flight.clone();
                let scanned = st
                    .args
                    .store
                    .read(move |s| {
                        let mut due = Vec::new();
                        for row in s.iter::<Timers>(Seek::First)? {
                            let t = match row {
                                Ok((t, ())) => t,
                                Err(e) => {
                                    tracing::error!(error = %e, "Skipping an unreadable timer.");
                                    continue;
                                }
                            };
                            if t.due_ms > now || due.len() >= MAX_DUE {
                                break;
                            }
                            if !busy.contains(&t) {
                                due.push(t);
                            }
                        }
                        Ok(due)
                    })
                    .await;
                let due: Vec<TimerKey> = match scanned {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "Could not read due timers; retrying on the next tick.");
                        return Ok(());
                    }
                };
                if due.is_empty() {
                    return Ok(());
                }
                st.in_flight.extend(due.iter().cloned());
                let router = st.args.router.clone();
                tokio::spawn(async move {
                    let keys = due.clone();
                    if let Err(e) = router.fire_timers(due).await {
                        tracing::debug!(error = %e, "Timers not fired now; they stay stored and are retried.");
                    }
                    let _ = me.cast(SchedulerMsg::Done(keys));
                });
            }
            SchedulerMsg::Done(keys) => {
                for k in &keys {
                    st.in_flight.remove(k);
                }
            }
        }
        Ok(())
    }
}
