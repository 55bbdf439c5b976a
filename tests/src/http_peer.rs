//! A local HTTP server on 127.0.0.1 that plays the LINE Messaging API (push) and a
//! webhook receiver for the daemon's LINE and webhook channels, checking each request
//! the way the real peers do and recording it with the status it was answered with.
//!
//! - `POST /v2/bot/message/push`: needs `Authorization: Bearer <channel token>`,
//!   `Content-Type: application/json`, an `X-Line-Retry-Key` that is a UUID, and a body
//!   `{"to": "<user id>", "messages": [1 to 5 messages of {"type": "text", "text": ...}]}`.
//!   Answers 200, or 409 when the retry key was already accepted (as LINE does), or the
//!   next status scripted for that user id with [`HttpPeer::line_answers`].
//! - `POST /webhook`: needs `Content-Type: application/json`, a numeric
//!   `X-Stockbell-Delivery` and `X-Stockbell-Signature: sha256=<hex HMAC-SHA256 of the
//!   exact body with the secret>`; answers 200.
//! - `POST /shop`: the shop webhook's receiver: needs `Content-Type: application/json`,
//!   `X-Stockbell-Signature` as above, and `X-Stockbell-Event` / `X-Stockbell-Event-Id`
//!   equal to the body's `type` / `event_id`; answers 200, or the next status scripted
//!   with [`HttpPeer::shop_answers`].
//!
//! A request failing a check is answered 400/401/415 and recorded with the
//! [`PeerRequest::problem`]; tests assert there is none.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The LINE push endpoint's path.
pub const LINE_PUSH_PATH: &str = "/v2/bot/message/push";
/// Where the webhook receiver listens.
pub const WEBHOOK_PATH: &str = "/webhook";
/// Where the shop webhook's receiver listens.
pub const SHOP_PATH: &str = "/shop";

/// One request as received, and what it was answered.
#[derive(Debug, Clone)]
pub struct PeerRequest {
    pub method: String,
    pub path: String,
    /// Header fields in order, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
    /// Why a check refused it; `None` when it passed every check.
    pub problem: Option<String>,
}

impl PeerRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "{} {} body is not JSON: {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<PeerRequest>,
    /// Statuses to answer, per LINE user id, before the normal behaviour.
    line_script: HashMap<String, VecDeque<u16>>,
    /// Retry keys of pushes answered 2xx.
    accepted_keys: HashSet<String>,
    /// Statuses to answer shop webhook events before the normal 200.
    shop_script: VecDeque<u16>,
}

struct Peer {
    line_auth: String,
    webhook_secret: Vec<u8>,
    state: Mutex<State>,
}

impl Peer {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the records usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running server; dropping it stops it (and its open connections).
pub struct HttpPeer {
    addr: SocketAddr,
    line_token: String,
    webhook_secret: String,
    peer: Arc<Peer>,
    task: JoinHandle<()>,
}

impl HttpPeer {
    /// Listens on 127.0.0.1 (a free port) as LINE, accepting `line_token`, and as a
    /// webhook receiver verifying signatures with `webhook_secret`.
    pub async fn start(line_token: &str, webhook_secret: &str) -> Result<HttpPeer> {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self::start_at(any, line_token, webhook_secret, &[]).await
    }

    /// [`HttpPeer::start`] on a given loopback address (e.g. one a daemon was told about
    /// while nothing listened there yet), answering the first shop webhook events with
    /// `shop_answers` (see [`HttpPeer::shop_answers`]) from the first request on.
    pub async fn start_at(
        addr: SocketAddr,
        line_token: &str,
        webhook_secret: &str,
        shop_answers: &[u16],
    ) -> Result<HttpPeer> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the HTTP peer to {addr}"))?;
        let addr = listener.local_addr()?;
        let peer = Arc::new(Peer {
            line_auth: format!("Bearer {line_token}"),
            webhook_secret: webhook_secret.as_bytes().to_vec(),
            state: Mutex::new(State {
                shop_script: shop_answers.iter().copied().collect(),
                ..State::default()
            }),
        });
        let task = tokio::spawn(serve(listener, peer.clone()));
        Ok(HttpPeer {
            addr,
            line_token: line_token.into(),
            webhook_secret: webhook_secret.into(),
            peer,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `[line]` section for a daemon pushing to this server.
    pub fn line_toml(&self) -> String {
        format!(
            "[line]\nbase_url = \"{}\"\nchannel_token = \"{}\"\ntimeout = \"5s\"\n",
            self.url(),
            self.line_token
        )
    }

    /// The `[webhook]` section for a daemon posting to this server.
    pub fn webhook_toml(&self) -> String {
        format!(
            "[webhook]\nurl = \"{}{WEBHOOK_PATH}\"\nsecret = \"{}\"\ntimeout = \"5s\"\n",
            self.url(),
            self.webhook_secret
        )
    }

    /// The `[shop_webhook]` section for a daemon posting its shop events to this server.
    pub fn shop_toml(&self) -> String {
        shop_toml(&self.url(), &self.webhook_secret)
    }

    /// The next shop webhook events that pass the checks are answered with `statuses`,
    /// in order; then 200.
    pub fn shop_answers(&self, statuses: &[u16]) {
        self.peer.state().shop_script.extend(statuses);
    }

    /// Requests to the shop webhook's receiver, oldest first.
    pub fn shop_events(&self) -> Vec<PeerRequest> {
        self.requests_to(SHOP_PATH)
    }

    /// The next pushes to LINE user `to` that pass the checks are answered with
    /// `statuses`, in order (a response body like LINE's error JSON); then as usual.
    pub fn line_answers(&self, to: &str, statuses: &[u16]) {
        self.peer
            .state()
            .line_script
            .entry(to.into())
            .or_default()
            .extend(statuses);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<PeerRequest> {
        self.peer.state().requests.clone()
    }

    /// Requests to the LINE push endpoint, oldest first.
    pub fn line_pushes(&self) -> Vec<PeerRequest> {
        self.requests_to(LINE_PUSH_PATH)
    }

    /// Requests to the webhook receiver, oldest first.
    pub fn webhooks(&self) -> Vec<PeerRequest> {
        self.requests_to(WEBHOOK_PATH)
    }

    fn requests_to(&self, path: &str) -> Vec<PeerRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for HttpPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, peer: Arc<Peer>) {
    // Owned here, so aborting this task closes every connection too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let peer = peer.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(peer.clone(), req));
                        // A connection the client drops mid-request just ends.
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(e) => {
                    eprintln!("http peer: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn handle(
    peer: Arc<Peer>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => {
            eprintln!("http peer: cannot read a request body: {e}");
            Vec::new()
        }
    };
    let mut record = PeerRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        status: 200,
        problem: None,
    };
    let (status, reply) = match (record.method.as_str(), record.path.as_str()) {
        ("POST", LINE_PUSH_PATH) => line_push(&peer, &record),
        ("POST", WEBHOOK_PATH) => webhook(&peer, &record),
        ("POST", SHOP_PATH) => shop(&peer, &record),
        _ => Err((404, "no such endpoint".to_string())),
    }
    .unwrap_or_else(|(status, problem)| {
        let reply = serde_json::json!({ "message": problem }).to_string();
        record.problem = Some(problem);
        (status, reply)
    });
    record.status = status;
    peer.state().requests.push(record);
    let response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply)));
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// A check that failed: the status to answer and why.
type Refusal = (u16, String);

fn json_content_type(req: &PeerRequest) -> Result<(), Refusal> {
    let ctype = req.header("content-type").unwrap_or("");
    let media = ctype.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err((
            415,
            format!("Content-Type is {ctype:?}, not application/json"),
        ))
    }
}

fn line_push(peer: &Peer, req: &PeerRequest) -> Result<(u16, String), Refusal> {
    if req.header("authorization") != Some(peer.line_auth.as_str()) {
        return Err((
            401,
            format!(
                "Authorization is {:?}, not the channel token",
                req.header("authorization")
            ),
        ));
    }
    json_content_type(req)?;
    let key = req
        .header("x-line-retry-key")
        .ok_or((400, "no X-Line-Retry-Key".to_string()))?
        .to_string();
    if !is_uuid(&key) {
        return Err((400, format!("X-Line-Retry-Key {key:?} is not a UUID")));
    }
    let body: serde_json::Value = serde_json::from_slice(&req.body)
        .map_err(|e| (400, format!("the body is not JSON: {e}")))?;
    let to = body
        .get("to")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or((400, "\"to\" is missing or empty".to_string()))?
        .to_string();
    let messages = body
        .get("messages")
        .and_then(|m| m.as_array())
        .filter(|m| (1..=5).contains(&m.len()))
        .ok_or((400, "\"messages\" must hold 1 to 5 messages".to_string()))?;
    for m in messages {
        let text = m.get("text").and_then(|t| t.as_str()).unwrap_or("");
        let ok = m.get("type").and_then(|t| t.as_str()) == Some("text")
            && !text.is_empty()
            && text.chars().count() <= 5000;
        if !ok {
            return Err((400, format!("not a text message of 1 to 5000 chars: {m}")));
        }
    }
    let mut state = peer.state();
    let scripted = state.line_script.get_mut(&to).and_then(VecDeque::pop_front);
    let status = match scripted {
        Some(s) => s,
        None if state.accepted_keys.contains(&key) => 409,
        None => 200,
    };
    if (200..300).contains(&status) {
        state.accepted_keys.insert(key);
    }
    let reply = match status {
        200..=299 => "{}".to_string(),
        409 => r#"{"message":"The retry key is already accepted"}"#.to_string(),
        _ => format!(r#"{{"message":"scripted failure {status}"}}"#),
    };
    Ok((status, reply))
}

fn webhook(peer: &Peer, req: &PeerRequest) -> Result<(u16, String), Refusal> {
    json_content_type(req)?;
    let delivery = req.header("x-stockbell-delivery").unwrap_or("");
    if delivery.parse::<u64>().is_err() {
        return Err((
            400,
            format!("X-Stockbell-Delivery {delivery:?} is not a number"),
        ));
    }
    let signature = req.header("x-stockbell-signature").unwrap_or("");
    if !verify_signature(&peer.webhook_secret, &req.body, signature) {
        return Err((
            401,
            format!("X-Stockbell-Signature {signature:?} does not match the body"),
        ));
    }
    Ok((200, "{}".to_string()))
}

/// The `[shop_webhook]` section for a receiver at `base_url` (`http://127.0.0.1:PORT`).
pub fn shop_toml(base_url: &str, secret: &str) -> String {
    format!("[shop_webhook]\nurl = \"{base_url}{SHOP_PATH}\"\nsecret = \"{secret}\"\ntimeout = \"2s\"\n")
}

fn shop(peer: &Peer, req: &PeerRequest) -> Result<(u16, String), Refusal> {
    json_content_type(req)?;
    let signature = req.header("x-stockbell-signature").unwrap_or("");
    if !verify_signature(&peer.webhook_secret, &req.body, signature) {
        return Err((
            401,
            format!("X-Stockbell-Signature {signature:?} does not match the body"),
        ));
    }
    let body: serde_json::Value = serde_json::from_slice(&req.body)
        .map_err(|e| (400, format!("the body is not JSON: {e}")))?;
    for (header, field) in [
        ("x-stockbell-event", "type"),
        ("x-stockbell-event-id", "event_id"),
    ] {
        let want = body.get(field).and_then(|v| v.as_str());
        if want.is_none() || req.header(header) != want {
            return Err((
                400,
                format!(
                    "{header} {:?} is not the body's {field} {want:?}",
                    req.header(header)
                ),
            ));
        }
    }
    let status = peer.state().shop_script.pop_front().unwrap_or(200);
    Ok((status, "{}".to_string()))
}

/// Whether `header` is `sha256=` and the hex HMAC-SHA256 of `body` under `secret`
/// (checked in constant time).
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(sig) = header.strip_prefix("sha256=").and_then(decode_hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_uuids() {
        // RFC 4231 test case 2.
        let sig = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(verify_signature(
            b"Jefe",
            b"what do ya want for nothing?",
            sig
        ));
        assert!(!verify_signature(
            b"Jeff",
            b"what do ya want for nothing?",
            sig
        ));
        assert!(!verify_signature(
            b"Jefe",
            b"what do ya want for nothing!",
            sig
        ));
        assert!(!verify_signature(
            b"Jefe",
            b"what do ya want for nothing?",
            &sig[7..]
        ));
        assert!(is_uuid("123e4567-e89b-42d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b42d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-42d3-a456-42661417400g"));
    }
}
