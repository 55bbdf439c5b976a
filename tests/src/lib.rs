//! Harness for stockbell's integration tests: each test runs the real `stockbelld` binary
//! in its own temp dir and talks to it over gRPC, like a producer and an operator would.
//!
//! - [`Daemon`]: start (waiting for the ready file), SIGTERM, SIGKILL, restart on the same
//!   data, clients (with the configured bearer tokens).
//! - [`DaemonOptions`]: config sections and keys on top of the harness's base config.
//! - [`process`]: the one process harness — a child [`Process`] killed on drop, waited for
//!   with deadlines — and [`launch`]: starting `stockbelld` with it (the load generator in
//!   `benches/` starts its daemons and sinks the same way).
//! - [`poll_until`] / [`next_matching`]: wait for a condition or a stream item instead of
//!   sleeping; [`give_up`] ends such a wait at once.
//! - [`events`]: event, batch and sequence builders.
//! - [`check_config`]: `stockbelld check-config FILE`.
//! - [`client`]: helpers over Publish, GetProduct, ListTriggers and GetProducer; the
//!   clients and their bearer token are `stockbell_proto::auth`'s.
//! - [`SmtpServer`]: a real SMTP server (aiosmtpd) that records what it receives.
//! - [`HttpPeer`]: a local HTTP server playing LINE's push API, a webhook receiver and
//!   the shop's receiver of the shop webhook.
//! - [`web`]: one HTTP request to the daemon's public server; the cancel and tracked
//!   links in a mail.
//! - [`base64`]: base64url for link tokens, base64 for mail bodies.
//! - [`tls`]: a CA, server and client certificates made at test time (rcgen).
//!
//! The binary comes from `$STOCKBELLD_BIN` or the test binary's target profile dir, so run
//! `cargo build --release --bins` before `cargo test --release -p stockbell-tests`.

pub mod base64;
pub mod client;
pub mod daemon;
pub mod events;
pub mod http_peer;
pub mod launch;
pub mod options;
pub mod poll;
pub mod process;
pub mod smtp;
pub mod tls;
pub mod tmux;
pub mod web;

pub use client::{
    customer_view, expect_code, fanned_out, last_sequence, next_ack, overview_until, product,
    product_error, publish, publish_ok, scenario_stats, triggers, watch_overview, AdminClient,
    Bearer, IngestClient,
};
pub use daemon::{Daemon, StartRefused};
pub use events::{
    batch, cart_add, cart_add_priced, catalog, checkout_started, customer, customer_upsert,
    favourite, line_customer, notify_me, now_ms, order_placed, order_shipped, price_set, purchase,
    sale, shopper, sold_out_with_waiter, stock_adjust, stock_set, unsubscribe, upsert, view,
    window, EventExt, Sequencer, TestRng,
};
pub use http_peer::{HttpPeer, PeerRequest};
pub use launch::{check_config, stockbelld_bin, CliOutput};
pub use options::DaemonOptions;
pub use poll::{give_up, next_matching, poll_until};
pub use process::Process;
pub use smtp::{Headers, ReceivedMail, SmtpServer};
/// The generated stockbell.v1 API.
pub use stockbell_proto::v1 as pb;

/// The tests crate's directory at run time (`cargo test` sets `CARGO_MANIFEST_DIR` for the
/// test process), so a test binary reused from another checkout of the same build cache
/// still finds this checkout's files; the compile-time path is the fallback.
pub fn crate_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
