//! The connection to the daemon: a `Connecting` / `Connected` / `Disconnected { backoff,
//! error }` state machine run by one task ([`run`]). It follows `WatchOverview` (or, on a
//! daemon without it, polls `GetScenarioStats`), and when the daemon goes away it says why
//! and reconnects with exponential backoff. The UI learns everything through [`ConnEvent`]s.

mod client;
mod task;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stockbell_proto::v1 as pb;

pub use client::{code_name, describe_status, error_chain};
/// The Admin client every RPC goes through, and its bearer token.
pub use stockbell_proto::auth::{AdminClient, Bearer};
pub use task::run;

/// Exponential backoff: `base`, `2·base`, `4·base`, … capped at `max`; reset on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(250), Duration::from_secs(5))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.attempt = self.attempt.saturating_add(1);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Failed attempts since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Where the overview numbers come from while connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// `WatchOverview` is streaming.
    Stream,
    /// The daemon has no `WatchOverview`: scenario counters are polled instead.
    Polling { why: String },
}

/// What the console shows about its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    Connecting {
        attempt: u32,
    },
    Connected {
        since_ms: i64,
        feed: Feed,
    },
    Disconnected {
        error: String,
        backoff: Duration,
        retry_at_ms: i64,
        attempt: u32,
    },
}

impl ConnState {
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnState::Connected { .. })
    }
}

/// The pure part of the state machine: which state follows an event, and the backoff.
#[derive(Debug, Default)]
pub struct Machine {
    backoff: Backoff,
}

impl Machine {
    pub fn new(backoff: Backoff) -> Self {
        Self { backoff }
    }

    pub fn connecting(&self) -> ConnState {
        ConnState::Connecting {
            attempt: self.backoff.attempt() + 1,
        }
    }

    /// The daemon answered: the backoff starts over.
    pub fn connected(&mut self, now_ms: i64, feed: Feed) -> ConnState {
        self.backoff.reset();
        ConnState::Connected {
            since_ms: now_ms,
            feed,
        }
    }

    /// A connect failed or a working connection was lost.
    pub fn lost(&mut self, error: String, now_ms: i64) -> ConnState {
        let backoff = self.backoff.next_delay();
        ConnState::Disconnected {
            error,
            backoff,
            retry_at_ms: now_ms.saturating_add(i64::try_from(backoff.as_millis()).unwrap_or(0)),
            attempt: self.backoff.attempt(),
        }
    }
}

/// What the connection task tells the UI.
#[derive(Debug)]
pub enum ConnEvent {
    State(ConnState),
    /// A fresh client for RPCs (sent on every (re)connect).
    Client(AdminClient),
    Overview(Box<pb::Overview>),
    /// Scenario counters, when polling instead of streaming.
    Stats(Vec<pb::ScenarioStats>),
}

/// How to reach the daemon.
#[derive(Debug, Clone)]
pub struct ConnConfig {
    pub addr: String,
    pub bearer: Bearer,
    /// Overview interval asked of the daemon (and the polling interval).
    pub interval: Duration,
    /// No overview for this long means the connection is stalled.
    pub stall: Duration,
    pub connect_timeout: Duration,
    /// TLS (`--tls-ca`, `--tls-cert`, `--tls-key`); `None` = plain text.
    pub tls: Option<tonic::transport::ClientTlsConfig>,
}

impl ConnConfig {
    pub fn new(addr: String, bearer: Bearer) -> Self {
        Self {
            addr,
            bearer,
            interval: Duration::from_secs(1),
            stall: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            tls: None,
        }
    }
}

/// Wall clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        let delays: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(b.attempt(), 8);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(250));
    }

    #[test]
    fn backoff_never_overflows() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(60));
        }
    }

    #[test]
    fn machine_reconnects_with_growing_delays_and_says_why() {
        let mut m = Machine::default();
        assert_eq!(m.connecting(), ConnState::Connecting { attempt: 1 });
        let s = m.lost("connection refused".into(), 10_000);
        assert_eq!(
            s,
            ConnState::Disconnected {
                error: "connection refused".into(),
                backoff: Duration::from_millis(250),
                retry_at_ms: 10_250,
                attempt: 1,
            }
        );
        assert_eq!(m.connecting(), ConnState::Connecting { attempt: 2 });
        let ConnState::Disconnected { backoff, .. } = m.lost("again".into(), 0) else {
            panic!("expected disconnected");
        };
        assert_eq!(backoff, Duration::from_millis(500));
        // The daemon came back: connected, and the next loss starts from the base again.
        let s = m.connected(20_000, Feed::Stream);
        assert!(s.is_connected());
        let ConnState::Disconnected {
            backoff, attempt, ..
        } = m.lost("restart".into(), 0)
        else {
            panic!("expected disconnected");
        };
        assert_eq!((backoff, attempt), (Duration::from_millis(250), 1));
    }

    #[test]
    fn statuses_read_as_sentences() {
        let s = Status::unauthenticated("missing bearer token");
        assert_eq!(
            describe_status(&s),
            "UNAUTHENTICATED: missing bearer token (pass an admin token with --token or STOCKBELL_ADMIN_TOKEN)"
        );
        assert_eq!(
            describe_status(&Status::unimplemented("x")),
            "UNIMPLEMENTED: x"
        );
    }
}
