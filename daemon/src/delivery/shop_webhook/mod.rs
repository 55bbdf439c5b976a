//! The signed webhook to the shop (`[shop_webhook]`): customers' cancellation requests,
//! allocations of arrived stock to waiting order lines, and customers entering and
//! leaving segments with `webhook = true` (`delivery::segment_sync`), each POSTed as JSON signed
//! like the customer webhook (`X-Stockbell-Signature`), one event per request.
//!
//! It follows the cancellation-request log, the order-notice log and the segment-change
//! log from its own durable cursors (`meta` `ShopCancelCursor` / `ShopNoticeCursor` /
//! `ShopSegmentCursor`), written after the shop
//! answered 2xx: at least once, in log order, with a stable `event_id` for the receiver
//! to dedupe a re-delivery (a crash between the answer and the cursor write). Its own
//! task, reading the store and writing only its cursors: a shop that is down delays
//! nothing but these events, which wait (retried with backoff) and are never skipped.

mod payload;

pub use payload::{next_round, AllocatedLine, Cursors, Outgoing, ShopEvent};

use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue};
use hyper::Uri;
use serde::Deserialize;
use tokio::sync::watch;

use super::http::{classify, parse_url, HttpPoster};
use super::webhook::{sign, SIGNATURE_HEADER};
use super::{ChannelConfigError, SendError};
use crate::settings::Dur;
use crate::store::meta::{ShopCancelCursor, ShopNoticeCursor, ShopSegmentCursor};
use crate::store::writer::Writer;
use crate::store::{Batch, Store, StoreError};

pub const EVENT_HEADER: &str = "x-stockbell-event";
pub const EVENT_ID_HEADER: &str = "x-stockbell-event-id";

/// Records read from each log per round.
const ROUND: usize = 256;
/// How often an idle follower looks for new records.
const IDLE_POLL: Duration = Duration::from_millis(250);

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShopWebhookConfig {
    /// Where the events are POSTed; empty = no shop webhook.
    pub url: String,
    /// Shared secret for the `X-Stockbell-Signature` HMAC; the shop must verify it.
    pub secret: String,
    /// Deadline for one POST, connection included.
    pub timeout: Dur,
}

impl Default for ShopWebhookConfig {
    fn default() -> Self {
        ShopWebhookConfig {
            url: String::new(),
            secret: String::new(),
            timeout: Dur(Duration::from_secs(10)),
        }
    }
}

impl std::fmt::Debug for ShopWebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopWebhookConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// POSTs one event to the shop.
#[derive(Clone)]
pub struct ShopSender {
    http: HttpPoster,
    uri: Uri,
    secret: Arc<[u8]>,
}

impl ShopSender {
    /// `None` when no URL is configured; an error names the key that is wrong.
    pub fn new(cfg: &ShopWebhookConfig) -> Result<Option<ShopSender>, ChannelConfigError> {
        if cfg.url.trim().is_empty() {
            return Ok(None);
        }
        let uri = parse_url("shop_webhook.url", cfg.url.trim())?;
        if cfg.secret.len() < 16 {
            return Err(ChannelConfigError::new(
                "shop_webhook.secret",
                "must be at least 16 characters: the shop verifies X-Stockbell-Signature with it",
            ));
        }
        if cfg.timeout.0 < Duration::from_millis(100) {
            return Err(ChannelConfigError::new(
                "shop_webhook.timeout",
                "must be at least \"100ms\"",
            ));
        }
        Ok(Some(ShopSender {
            http: HttpPoster::new(cfg.timeout.0, "shop_webhook")?,
            uri,
            secret: cfg.secret.as_bytes().into(),
        }))
    }

    pub async fn send(&self, event: &ShopEvent) -> Result<(), SendError> {
        let body = serde_json::to_vec(event)
            .map_err(|e| SendError::Permanent(format!("cannot encode the event: {e}")))?;
        let header = |v: &str| {
            HeaderValue::from_str(v)
                .map_err(|e| SendError::Permanent(format!("bad header value {v:?}: {e}")))
        };
        let headers = [
            (
                HeaderName::from_static(SIGNATURE_HEADER),
                header(&sign(&self.secret, &body))?,
            ),
            (HeaderName::from_static(EVENT_HEADER), header(event.kind())?),
            (
                HeaderName::from_static(EVENT_ID_HEADER),
                header(event.event_id())?,
            ),
        ];
        let reply = self.http.post_json(&self.uri, &headers, body).await?;
        classify(&reply, false)
    }
}

/// Retry timing while the shop does not take an event (`[delivery]` retry_base /
/// retry_max).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base_ms: i64,
    pub max_ms: i64,
}

/// Follows the logs until `shutdown` turns true.
pub struct ShopWebhook {
    pub store: Store,
    pub writer: Writer,
    pub sender: ShopSender,
    pub backoff: Backoff,
    pub shutdown: watch::Receiver<bool>,
}

impl ShopWebhook {
    pub fn start(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        let mut at = match self.cursors().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "The shop webhook cannot read its cursors; it sends nothing until the daemon restarts.");
                return;
            }
        };
        tracing::info!(
            url = %self.sender.uri,
            cancel_cursor = at.cancel,
            notice_cursor = at.notice,
            segment_cursor = at.segment,
            "The shop webhook follows cancellation requests and allocations."
        );
        while !*self.shutdown.borrow() {
            let from = at;
            let round = self.store.read(move |s| next_round(s, from, ROUND)).await;
            let (events, end) = match round {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "The shop webhook could not read its logs; trying again.");
                    if self.pause(Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            if end == at {
                if self.pause(IDLE_POLL).await {
                    return;
                }
                continue;
            }
            for out in events {
                if !self.deliver(&out.event).await {
                    return;
                }
                at = self.advance(at, out.after).await;
            }
            at = self.advance(at, end).await;
        }
    }

    async fn cursors(&self) -> Result<Cursors, StoreError> {
        self.store
            .read(|s| {
                Ok(Cursors {
                    cancel: s.get::<ShopCancelCursor>(())?.unwrap_or(0),
                    notice: s.get::<ShopNoticeCursor>(())?.unwrap_or(0),
                    segment: s.get::<ShopSegmentCursor>(())?.unwrap_or(0),
                })
            })
            .await
    }

    /// Stores the cursors (only what moved). A failed write leaves them where they
    /// were on disk: after a restart those events are sent again (at least once).
    async fn advance(&self, old: Cursors, new: Cursors) -> Cursors {
        if old == new {
            return old;
        }
        let mut batch = Batch::default();
        if new.cancel != old.cancel {
            batch.put::<ShopCancelCursor>((), &new.cancel);
        }
        if new.notice != old.notice {
            batch.put::<ShopNoticeCursor>((), &new.notice);
        }
        if new.segment != old.segment {
            batch.put::<ShopSegmentCursor>((), &new.segment);
        }
        if let Err(e) = self.writer.write(batch, 0).await {
            tracing::warn!(error = %e, "The shop webhook could not store its cursor; events after it may be sent again after a restart.");
        }
        new
    }

    /// Sends one event until the shop takes it; false if the daemon stops first.
    async fn deliver(&mut self, event: &ShopEvent) -> bool {
        let mut failures: u32 = 0;
        let mut down_since = None;
        loop {
            match self.sender.send(event).await {
                Ok(()) => {
                    if let Some(since) = down_since {
                        let down_for = std::time::Instant::now().duration_since(since);
                        tracing::info!(event_id = event.event_id(), down_for = ?down_for, failures, "The shop webhook takes events again.");
                    }
                    return true;
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        down_since = Some(std::time::Instant::now());
                        if e.is_permanent() {
                            tracing::error!(event_id = event.event_id(), error = %e.reason(), "The shop webhook refused an event; it is retried until the shop takes it (events are never skipped): check the receiver.");
                        } else {
                            tracing::warn!(event_id = event.event_id(), error = %e.reason(), "The shop webhook is down; its events wait and are retried with backoff.");
                        }
                    }
                    let now = crate::clock::now_ms();
                    let next = super::backoff::next_attempt(
                        failures,
                        now,
                        self.backoff.base_ms,
                        self.backoff.max_ms,
                        super::backoff::draw(),
                    );
                    let wait = Duration::from_millis(u64::try_from(next - now).unwrap_or(0));
                    if self.pause(wait).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Waits `d`; true if the daemon is stopping.
    async fn pause(&mut self, d: Duration) -> bool {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = self.shutdown.wait_for(|s| *s) => true,
        };
        stopping || *self.shutdown.borrow()
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
