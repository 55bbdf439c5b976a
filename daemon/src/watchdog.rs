//! The systemd watchdog: with `WatchdogSec=` set (systemd passes `WATCHDOG_USEC`), sends
//! WATCHDOG=1 every half of that interval, but only while the daemon makes progress.
//! Progress is a probe that must round-trip through the Router's queue and the writer's
//! queue (`RouterHandle::ping`); a writer that answers with an error (a full disk) is
//! answering, so it counts. One probe is out at a time. [`Liveness`] decides, purely:
//! a probe still out at the next tick withholds the ping; its late answer pings at once.
//! So systemd restarts the daemon when one probe has waited a whole `WatchdogSec`.

use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use tokio::sync::watch;

use crate::actors::RouterHandle;

/// What to do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    /// Send WATCHDOG=1 now.
    pub ping: bool,
    /// Send a new probe now.
    pub probe: bool,
    /// Worth a log line: the daemon stopped or resumed making progress.
    pub change: Option<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The probe sent `waiting` ago has not come back: pings are withheld from now.
    Stalled { waiting: Duration },
    /// The probe came back after `took`: pings resume.
    Resumed { took: Duration },
}

/// The watchdog's decision state: when the probe still out was sent, and whether pings
/// are being withheld. Time is a parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Liveness {
    probe_sent: Option<Instant>,
    withholding: bool,
}

impl Liveness {
    /// At each tick (every half of the watchdog interval).
    pub fn on_tick(&mut self, now: Instant) -> Step {
        match self.probe_sent {
            None => {
                self.probe_sent = Some(now);
                Step {
                    ping: true,
                    probe: true,
                    change: None,
                }
            }
            Some(sent) => {
                let change = (!self.withholding).then(|| Change::Stalled {
                    waiting: now.saturating_duration_since(sent),
                });
                self.withholding = true;
                Step {
                    change,
                    ..Step::default()
                }
            }
        }
    }

    /// When the probe comes back (the Router and the writer both answered).
    pub fn on_answer(&mut self, now: Instant) -> Step {
        let Some(sent) = self.probe_sent.take() else {
            return Step::default();
        };
        if !std::mem::take(&mut self.withholding) {
            return Step::default();
        }
        Step {
            ping: true,
            probe: false,
            change: Some(Change::Resumed {
                took: now.saturating_duration_since(sent),
            }),
        }
    }
}

/// Starts pinging if systemd asked for a watchdog (`WATCHDOG_USEC`, and `WATCHDOG_PID`
/// unset or ours); `None` otherwise. Stops when `stop` turns true.
pub fn start(
    router: RouterHandle,
    stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled().filter(|d| !d.is_zero())?;
    let every = (interval / 2).max(Duration::from_millis(1));
    tracing::info!(interval = ?interval, ping_every = ?every, "systemd watchdog enabled.");
    Some(tokio::spawn(run(router, every, stop)))
}

async fn run(router: RouterHandle, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut live = Liveness::default();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probe: Option<BoxFuture<'static, bool>> = None;
    loop {
        let step = tokio::select! {
            _ = async { drop(stop.wait_for(|s| *s).await) } => break,
            _ = tick.tick() => live.on_tick(Instant::now()),
            answered = async {
                match probe.as_mut() {
                    Some(p) => p.await,
                    None => std::future::pending().await,
                }
            } => {
                probe = None;
                if answered {
                    live.on_answer(Instant::now())
                } else {
                    // The Router is gone: no answer will come, and the pings stay off.
                    tracing::error!("The watchdog probe cannot reach the router; withholding watchdog pings.");
                    probe = Some(std::future::pending().boxed());
                    Step::default()
                }
            }
        };
        if step.probe {
            let router = router.clone();
            probe = Some(async move { router.ping().await.is_ok() }.boxed());
        }
        match step.change {
            Some(Change::Stalled { waiting }) => tracing::error!(
                waiting = ?waiting,
                "The daemon is not making progress (a probe through the router and the writer has not come back); withholding watchdog pings, so systemd restarts it if this lasts WatchdogSec."
            ),
            Some(Change::Resumed { took }) => tracing::warn!(
                took = ?took,
                "The daemon is making progress again; watchdog pings resume."
            ),
            None => {}
        }
        if step.ping {
            if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]) {
                tracing::warn!(error = %e, "Could not ping the systemd watchdog.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn answered_probes_ping_at_every_tick() {
        let t = Instant::now();
        let mut live = Liveness::default();
        for i in 0..5 {
            let step = live.on_tick(at(t, i * 500));
            assert_eq!(
                step,
                Step {
                    ping: true,
                    probe: true,
                    change: None
                },
                "tick {i}"
            );
            assert_eq!(live.on_answer(at(t, i * 500 + 3)), Step::default());
        }
    }

    #[test]
    fn a_probe_still_out_at_the_next_tick_withholds_the_ping() {
        let t = Instant::now();
        let mut live = Liveness::default();
        assert!(live.on_tick(t).ping);
        let step = live.on_tick(at(t, 500));
        assert!(!step.ping && !step.probe, "{step:?}");
        assert_eq!(
            step.change,
            Some(Change::Stalled {
                waiting: Duration::from_millis(500)
            })
        );
        // Still out: no ping, no second probe, and the stall is reported once.
        for i in 2..6 {
            assert_eq!(live.on_tick(at(t, i * 500)), Step::default(), "tick {i}");
        }
    }

    #[test]
    fn a_late_answer_pings_at_once_and_the_next_tick_probes_again() {
        let t = Instant::now();
        let mut live = Liveness::default();
        live.on_tick(t);
        live.on_tick(at(t, 500));
        let step = live.on_answer(at(t, 700));
        assert_eq!(
            step,
            Step {
                ping: true,
                probe: false,
                change: Some(Change::Resumed {
                    took: Duration::from_millis(700)
                })
            }
        );
        assert_eq!(
            live.on_tick(at(t, 1000)),
            Step {
                ping: true,
                probe: true,
                change: None
            }
        );
    }

    #[test]
    fn an_answer_without_a_probe_changes_nothing() {
        let mut live = Liveness::default();
        assert_eq!(live.on_answer(Instant::now()), Step::default());
        assert_eq!(live, Liveness::default());
    }

    /// The property systemd relies on: with ticks every `half`, pings are never more than
    /// one tick plus the probe's round trip apart, and a probe that never answers stops
    /// them for good.
    #[test]
    fn the_gap_between_pings_is_bounded_by_the_probe_round_trip() {
        let t = Instant::now();
        let half = 500;
        for round_trip in [1u64, 200, 499, 501, 900, 1400] {
            let mut live = Liveness::default();
            let mut pings = Vec::new();
            let mut answer_at = None;
            for ms in 0..20_000u64 {
                let now = at(t, ms);
                if answer_at == Some(ms) {
                    answer_at = None;
                    if live.on_answer(now).ping {
                        pings.push(ms);
                    }
                }
                if ms % half == 0 {
                    let step = live.on_tick(now);
                    if step.ping {
                        pings.push(ms);
                    }
                    if step.probe {
                        answer_at = Some(ms + round_trip);
                    }
                }
            }
            let max_gap = pings.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
            assert!(
                max_gap <= half + round_trip,
                "round trip {round_trip} ms: pings {max_gap} ms apart"
            );
            assert!(pings.len() > 10, "round trip {round_trip} ms: {pings:?}");
        }
        let mut live = Liveness::default();
        assert!(live.on_tick(t).ping);
        assert!((1..100).all(|i| !live.on_tick(at(t, i * half)).ping));
    }
}
