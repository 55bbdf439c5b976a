//! The click redirector: `GET /c/<token>` (and `HEAD`) answers 302 to the link the token
//! names — link `i` of outbox entry `seq`, looked up in the entry as the daemon stored it
//! (`click_link::SentMessage`: remembered since the dispatcher rendered it, or read from
//! the store), never a URL from the request — and records the click.
//!
//! Answers: 302 to the message's link; 400 a damaged or foreign token, or an index the
//! message has no link at (no redirect either way); 410 with the shop's home link
//! (`[engagement] home_url`) when the message is no longer stored; 503 when the store
//! cannot be read. HEAD redirects but records nothing (link scanners and previews use it).
//!
//! Recording does not hold the redirect up: clicks go to one recorder task over a bounded
//! queue (a full queue makes redirects wait, it drops nothing), which sends them to the
//! customers' actors through the Router's `internal` path, many per write. A click is in
//! the customer's engagement a moment after its redirect (lost only in a crash in between).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

use super::http::{escape, html, unavailable, HttpState};
use crate::actors::customer::CustomerItem;
use crate::actors::{IngestItem, RouterHandle};
use crate::clock::now_ms;
use crate::config::engagement::EngagementSettings;
use crate::delivery::click_link::{ClickLinks, SentMessage};
use crate::delivery::link_token::TokenError;
use crate::delivery::outbox::reads;
use crate::domain::lifecycle::engagement::{Click, ClickReport};
use crate::domain::profile::CustomerEvent;
use crate::store::Store;

/// Clicks waiting for the recorder; past it redirects wait for room.
const QUEUE: usize = 4096;
/// Most clicks sent to the Router in one `internal` call (one write).
const PER_WRITE: usize = 256;

/// What the redirector needs: the links, the store to find a link in, the settings and
/// the recorder's queue.
#[derive(Clone)]
pub struct ClickRoute {
    pub links: ClickLinks,
    pub store: Store,
    pub settings: EngagementSettings,
    recorder: mpsc::Sender<(String, ClickReport)>,
}

impl ClickRoute {
    /// The route and its recorder task (it ends once every `ClickRoute` is dropped and
    /// the queue is drained).
    pub fn start(
        links: ClickLinks,
        store: Store,
        settings: EngagementSettings,
        router: RouterHandle,
    ) -> (ClickRoute, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(record(rx, router));
        let route = ClickRoute {
            links,
            store,
            settings,
            recorder: tx,
        };
        (route, task)
    }
}

/// `GET` / `HEAD /c/<token>`.
pub(super) async fn redirect(state: &HttpState, token: &str, head: bool) -> Response<Full<Bytes>> {
    let Some(route) = &state.clicks else {
        return html(StatusCode::NOT_FOUND, "Not found", "<p>Not found.</p>");
    };
    let t = match route.links.verify(token) {
        Ok(t) => t,
        Err(e) => return bad_link(&e.to_string()),
    };
    let seq = t.seq;
    let message = match route.links.recall(seq) {
        Some(m) => m,
        None => match route.store.read(move |s| reads::load(s, seq)).await {
            Ok(Some(entry)) => match route.links.sent(&entry) {
                Some(m) => {
                    route.links.remember(m.clone());
                    std::sync::Arc::new(m)
                }
                // An order update's seq: it has no tracked links.
                None => return bad_link(&TokenError::BadSignature.to_string()),
            },
            Ok(None) => return gone(&route.settings.home_url),
            Err(e) => {
                tracing::warn!(seq, error = %e, "The click redirector could not read the message.");
                return unavailable();
            }
        },
    };
    let Some(url) = message.link(t.link) else {
        // Only a token we signed gets here, for a link index the message does not have:
        // there is nothing to redirect to.
        return bad_link(&TokenError::BadSignature.to_string());
    };
    let Ok(location) = HeaderValue::from_str(url) else {
        return bad_link("the link in the message is not a valid URL");
    };
    if !head {
        let report = report(&message, t.link, &route.settings);
        if route
            .recorder
            .send((message.customer_id.clone(), report))
            .await
            .is_err()
        {
            tracing::debug!(seq, "The click recorder has stopped; click not recorded.");
        }
    }
    found(location)
}

/// What the customer's actor is told about a click on link `link` of message `m`.
fn report(m: &SentMessage, link: u16, settings: &EngagementSettings) -> ClickReport {
    let now = now_ms();
    ClickReport {
        click: Click {
            at_ms: now,
            entry_seq: m.seq,
            link,
            scenario: m.scenario,
            channel: m.channel,
            skus: m.skus.clone(),
        },
        delivered_ms: m.delivered_ms.unwrap_or(now),
        links: m.link_count(),
        scanner_window_ms: settings.scanner_window_ms,
        keep_ms: settings.keep_ms,
    }
}

/// The recorder: takes what is queued (up to `PER_WRITE`) and records it in one call.
async fn record(mut rx: mpsc::Receiver<(String, ClickReport)>, router: RouterHandle) {
    let mut batch = Vec::with_capacity(PER_WRITE);
    while rx.recv_many(&mut batch, PER_WRITE).await > 0 {
        let items: Vec<IngestItem> = batch
            .drain(..)
            .enumerate()
            .map(|(index, (id, report))| IngestItem::Customer {
                id,
                item: CustomerItem {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    at_ms: report.click.at_ms,
                    event: CustomerEvent::Click(report),
                },
            })
            .collect();
        let n = items.len();
        match router.internal(items).await {
            Ok(ack) if !ack.rejections.is_empty() => {
                // The customer was removed since the message: nobody to record it for.
                tracing::debug!(rejections = ?ack.rejections, "Clicks of unknown customers.");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(clicks = n, error = %e, "Clicks could not be recorded."),
        }
    }
}

/// `GET /bench/static-redirect`, served only with `[engagement] bench_static_redirect`:
/// the same HTTP stack's 302 with no lookup and no record, the benchmark's baseline.
pub(super) fn static_redirect(state: &HttpState) -> Response<Full<Bytes>> {
    match &state.clicks {
        Some(route) if route.settings.bench_static_redirect => {
            found(HeaderValue::from_static("https://shop.example/"))
        }
        _ => html(StatusCode::NOT_FOUND, "Not found", "<p>Not found.</p>"),
    }
}

fn found(location: HeaderValue) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FOUND;
    let h = resp.headers_mut();
    h.insert(LOCATION, location);
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    // The token is in the URL: never send it on as a Referer.
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

fn bad_link(why: &str) -> Response<Full<Bytes>> {
    let body = format!("<p>このリンクは使用できません。</p><p>{}</p>", escape(why));
    html(
        StatusCode::BAD_REQUEST,
        "無効なリンク / Invalid link",
        &body,
    )
}

fn gone(home_url: &str) -> Response<Full<Bytes>> {
    let home = if home_url.is_empty() {
        String::new()
    } else {
        let h = escape(home_url);
        format!("<p><a href=\"{h}\">ショップへ / Go to the shop</a></p>")
    };
    let body = format!(
        "<p>このメッセージのリンクは期限が切れました。</p>\
         <p>This message's link has expired.</p>{home}"
    );
    html(StatusCode::GONE, "期限切れのリンク / Expired link", &body)
}
