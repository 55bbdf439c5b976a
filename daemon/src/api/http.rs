//! The small public HTTP/1 server: `GET /healthz`, the one-click unsubscribe page
//! (`GET /unsubscribe?token=T` shows a confirmation form, `POST` — RFC 8058 one-click or
//! that form — unsubscribes and cancels the customer's queued marketing), and the
//! one-click cancel page (`/cancel`, in `http_cancel.rs`), the click redirector
//! (`/c/<token>`, in `http_click.rs`) and the feedback-loop complaint endpoint
//! (`POST /complaint`, in `http_complaint.rs`), and `GET /metrics` (`http_metrics.rs`).
//!
//! It faces the public internet, so no client may hold it up: each request's headers and
//! body must be in within their timeouts, and at the connection cap a new connection takes
//! the slot of the oldest one still waiting on its client (`http_slots`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use crate::delivery::unsubscribe::{
    sign_token, unsubscribe_url, verify_token, TokenError, UnsubscribeLinks,
};

use super::http_slots::{Admitted, Slot, Slots};
use crate::actors::customer::CustomerItem;
use crate::actors::{IngestItem, RouterHandle};
use crate::clock::now_ms;
use crate::delivery::outbox::OutboxOwner;
use crate::domain::customer::Channel;
use crate::domain::profile::CustomerEvent;

/// A POST body is only read to keep the connection usable; a larger one is refused.
const MAX_BODY: usize = 8 * 1024;
/// Most connections open at once (see `http_slots`: at the cap a new connection closes
/// the oldest one still waiting on its client).
const MAX_CONNECTIONS: usize = 256;
/// A request's headers must be in within this of the connection opening (or of the
/// previous response, on a kept-alive connection).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A request's body must be in within this of its headers.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one warning about a full server per this long.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// What the handlers use.
#[derive(Clone)]
pub struct HttpState {
    /// Cancels a customer's queued marketing when they unsubscribe.
    pub outbox: OutboxOwner,
    pub router: RouterHandle,
    pub links: UnsubscribeLinks,
    /// Checks the signed cancel links of order updates.
    pub cancel: crate::delivery::cancel_link::CancelLinks,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The click redirector; `None` = click tracking off (`/c/…` answers 404).
    pub clicks: Option<super::http_click::ClickRoute>,
    /// Reads the outbox entry a complaint names.
    pub store: crate::store::Store,
    /// Bearer tokens of `POST /complaint` (`[hygiene] complaint_tokens`; empty = off).
    pub complaint_tokens: Arc<Vec<String>>,
    /// `GET /metrics`; `None` = `[metrics] enabled = false` (404).
    pub prometheus: Option<Arc<super::http_metrics::MetricsEndpoint>>,
}

/// The running server.
pub struct HttpServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Serves on `listener` (bound by the caller, so a taken port fails early) until
    /// `shutdown` turns true.
    pub fn start(
        listener: TcpListener,
        state: HttpState,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<HttpServer> {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, Arc::new(state), shutdown));
        Ok(HttpServer { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// After shutdown was signalled: waits up to `grace` for open requests, then closes.
    pub async fn join(mut self, grace: Duration) {
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
            let _ = self.task.await;
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<HttpState>, mut shutdown: watch::Receiver<bool>) {
    let slots = Slots::new(MAX_CONNECTIONS);
    let mut full = FullLog::default();
    let mut conns = JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "HTTP accept failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Small answers written whole: Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        let slot = match slots.admit() {
            Some((slot, Admitted::Free)) => slot,
            Some((slot, Admitted::Evicted)) => {
                full.evicted += 1;
                full.maybe_warn();
                slot
            }
            None => {
                full.refused += 1;
                full.maybe_warn();
                continue;
            }
        };
        conns.spawn(serve_connection(
            stream,
            slot,
            state.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Serves one connection until it ends, is evicted from its slot or the server stops.
async fn serve_connection(
    stream: TcpStream,
    slot: Slot,
    state: Arc<HttpState>,
    mut stop: watch::Receiver<bool>,
) {
    let conn_slot = slot.handle();
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        let conn_slot = conn_slot.clone();
        async move {
            // Reading the request keeps the connection evictable; serving it does not.
            let req = match read_whole(req).await {
                Ok(req) => req,
                Err(resp) => return Ok::<_, Infallible>(resp),
            };
            let Some(_serving) = conn_slot.serving() else {
                return Ok(unavailable());
            };
            Ok(handle(&state, req).await)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        // Dropping the connection closes the socket.
        () = slot.evicted() => {}
        _ = async { drop(stop.wait_for(|s| *s).await) } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The request with its whole body (at most `MAX_BODY`, in by `BODY_TIMEOUT`), or the
/// answer for a body that is too large or too slow.
async fn read_whole(
    req: Request<hyper::body::Incoming>,
) -> Result<Request<Full<Bytes>>, Response<Full<Bytes>>> {
    let (head, body) = req.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(body)) => Ok(Request::from_parts(head, Full::new(body.to_bytes()))),
        Ok(Err(_)) => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        )),
        Err(_) => Err(text(StatusCode::REQUEST_TIMEOUT, "request body too slow\n")),
    }
}

/// Counts connections closed or refused at the cap, and warns about them at most once per
/// `FULL_WARNING_EVERY`.
#[derive(Default)]
struct FullLog {
    evicted: u64,
    refused: u64,
    last: Option<std::time::Instant>,
}

impl FullLog {
    fn maybe_warn(&mut self) {
        if self.last.is_some_and(|t| t.elapsed() < FULL_WARNING_EVERY) {
            return;
        }
        tracing::warn!(
            max_connections = MAX_CONNECTIONS,
            closed_waiting = self.evicted,
            refused = self.refused,
            "The HTTP server is at its connection limit (slow or idle clients, or a flood): \
             the oldest connections still waiting for a request were closed to make room, \
             and new ones refused while every connection was being served."
        );
        self.evicted = 0;
        self.refused = 0;
        self.last = Some(std::time::Instant::now());
    }
}

/// Routes one request (its body, if any, has been read by the server already).
pub async fn handle(state: &HttpState, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let token = req.uri().query().and_then(query_token);
    match (path.as_str(), req.method()) {
        ("/healthz", &Method::GET | &Method::HEAD) => text(StatusCode::OK, "ok\n"),
        ("/unsubscribe", &Method::GET | &Method::HEAD) => confirm_page(state, token.as_deref()),
        ("/unsubscribe", &Method::POST) => unsubscribe(state, token.as_deref()).await,
        ("/cancel", &Method::GET | &Method::HEAD) => {
            super::http_cancel::page(state, token.as_deref()).await
        }
        ("/cancel", &Method::POST) => {
            // A Full body is in memory already: collecting it cannot fail.
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(never) => match never {},
            };
            let token = super::http_cancel::form_token(&body, token);
            super::http_cancel::request(state, token.as_deref()).await
        }
        (p, m) if p.starts_with("/c/") => match *m {
            Method::GET => super::http_click::redirect(state, &p[3..], false).await,
            Method::HEAD => super::http_click::redirect(state, &p[3..], true).await,
            _ => not_allowed("GET, HEAD"),
        },
        ("/bench/static-redirect", &Method::GET) => super::http_click::static_redirect(state),
        ("/complaint", &Method::POST) => super::http_complaint::handle(state, req).await,
        ("/metrics", _) => super::http_metrics::handle(state.prometheus.clone(), &req).await,
        ("/complaint", _) => not_allowed("POST"),
        ("/healthz", _) => not_allowed("GET, HEAD"),
        ("/unsubscribe" | "/cancel", _) => not_allowed("GET, HEAD, POST"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The `token` parameter of a query or a form body, percent-decoded (tokens are
/// base64url: no `+` that a form would mean as a space).
pub(super) fn query_token(query: &str) -> Option<String> {
    let raw = query.split('&').find_map(|p| p.strip_prefix("token="))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| {
            bytes
                .get(j)
                .and_then(|b| char::from(*b).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn verify(state: &HttpState, token: Option<&str>) -> Result<(String, Option<Channel>), TokenError> {
    state
        .links
        .verify(token.ok_or(TokenError::Malformed)?, now_ms())
}

fn confirm_page(state: &HttpState, token: Option<&str>) -> Response<Full<Bytes>> {
    match verify(state, token) {
        Err(e) => bad_token(&e),
        Ok((_, channel)) => {
            let (ja, en) = channel_words(channel);
            // No action attribute: the form posts back to this URL, token included, so
            // it works behind a proxy that serves the daemon under a path prefix.
            let body = format!(
                "<p>{ja}のお知らせの配信を停止します。</p>\
                 <p>Stop {en} notifications from this shop.</p>\
                 <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\">配信を停止する / Unsubscribe</button></form>"
            );
            html(StatusCode::OK, "配信停止 / Unsubscribe", &body)
        }
    }
}

async fn unsubscribe(state: &HttpState, token: Option<&str>) -> Response<Full<Bytes>> {
    let (customer_id, channel) = match verify(state, token) {
        Ok(v) => v,
        Err(e) => return bad_token(&e),
    };
    let item = IngestItem::Customer {
        id: customer_id.clone(),
        item: CustomerItem {
            index: 0,
            at_ms: now_ms(),
            event: CustomerEvent::Unsubscribe { channel },
        },
    };
    match state.router.internal(vec![item]).await {
        // Rejected = the customer no longer exists: nothing left to send them.
        Ok(ack) if !ack.rejections.is_empty() => {
            tracing::info!(customer_id, rejections = ?ack.rejections, "One-click unsubscribe for an unknown customer.");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(customer_id, error = %e, "One-click unsubscribe could not be applied.");
            return unavailable();
        }
    }
    match state
        .outbox
        .cancel_marketing(customer_id.clone(), channel)
        .await
    {
        Ok(n) => {
            state
                .metrics
                .outbox_cancelled
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(
                customer_id,
                channel = channel.map_or("all", Channel::as_str),
                cancelled = n,
                "Customer unsubscribed one-click."
            );
        }
        Err(e) => {
            tracing::error!(customer_id, error = %e, "Unsubscribed, but queued marketing could not be cancelled.");
            return unavailable();
        }
    }
    let (ja, en) = channel_words(channel);
    let body = format!(
        "<p>{ja}のお知らせの配信を停止しました。</p><p>You will no longer receive {en} notifications.</p>"
    );
    html(StatusCode::OK, "配信を停止しました / Unsubscribed", &body)
}

fn channel_words(channel: Option<Channel>) -> (&'static str, &'static str) {
    match channel {
        Some(Channel::Email) => ("メール", "email"),
        Some(Channel::Line) => ("LINE", "LINE"),
        Some(Channel::Webhook) => ("Webhook", "webhook"),
        None => ("すべて", "any"),
    }
}

fn bad_token(e: &TokenError) -> Response<Full<Bytes>> {
    let body = format!(
        "<p>このリンクは使用できません。</p><p>{}</p>",
        escape(&e.to_string())
    );
    html(
        StatusCode::BAD_REQUEST,
        "無効なリンク / Invalid link",
        &body,
    )
}

pub(super) fn unavailable() -> Response<Full<Bytes>> {
    let body = "<p>ただいま処理できません。しばらくしてからもう一度お試しください。</p>\
                <p>We cannot process this right now; please try again in a few minutes.</p>";
    html(StatusCode::SERVICE_UNAVAILABLE, "Try again later", body)
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

/// A plain-text answer built at run time.
pub(super) fn plain(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", Bytes::from(body))
}

pub(super) fn html(status: StatusCode, title: &str, body: &str) -> Response<Full<Bytes>> {
    let page = format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:34rem;\
         margin:3rem auto;padding:0 1rem;line-height:1.6}}button{{font-size:1rem;\
         padding:.5rem 1.2rem}}</style></head><body><h1>{title}</h1>{body}</body></html>\n"
    );
    respond(status, "text/html; charset=utf-8", Bytes::from(page))
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The token is in the URL: never send it on as a Referer.
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    resp
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
