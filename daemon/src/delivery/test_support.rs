//! Test fixtures for the channels: a sample outbox entry, an in-process HTTP server on
//! 127.0.0.1:0 that records requests and answers with a scripted list of statuses, and a
//! scripted SMTP server that answers each command verb from a script.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::Rendered;
use crate::domain::customer::{Channel, Locale, Scenario};
use crate::domain::message::{
    ItemContext, MessageContext, OrderContext, OrderLineContext, OutboxEntry, OutboxStatus,
    ShipmentContext,
};
use crate::domain::order::{Promise, ShipWindow};
use crate::store::Batch;

/// A pending entry: a low-stock message (marketing), or a shipped notice with its order
/// (transactional). Both carry an unsubscribe URL, so tests show that only marketing
/// uses it.
pub fn sample_entry(seq: u64, channel: Channel, marketing: bool) -> OutboxEntry {
    let item = ItemContext {
        sku: "SKU-1".into(),
        title: "Linen Shirt".into(),
        url: "https://shop.example/p/1".into(),
        image_url: String::new(),
        currency: "JPY".into(),
        price_minor: 1_980,
        old_price_minor: None,
        stock_left: Some(2),
    };
    let (scenario, items, order) = if marketing {
        (Scenario::LowStock, vec![item], None)
    } else {
        (Scenario::Shipped, Vec::new(), Some(sample_order()))
    };
    OutboxEntry {
        seq,
        customer_id: "cust-42".into(),
        channel,
        address: match channel {
            Channel::Email => "taro@example.jp".into(),
            Channel::Line => "U4af4980629".into(),
            Channel::Webhook => "cust-42".into(),
        },
        scenario,
        context: MessageContext {
            scenario,
            locale: Locale::Ja,
            customer_id: "cust-42".into(),
            items,
            unsubscribe_url: "https://shop.example/unsubscribe/tok-abc".into(),
            order,
        },
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_ms: 0,
        created_ms: 1_700_000_000_000,
        delivered_ms: None,
        last_error: None,
    }
}

/// Order 1001: one backordered line that shipped with a tracking link.
pub fn sample_order() -> OrderContext {
    OrderContext {
        order_id: "1001".into(),
        time_zone: "Asia/Tokyo".into(),
        lines: vec![OrderLineContext {
            line_id: "1".into(),
            sku: "SKU-1".into(),
            title: "Linen Shirt".into(),
            quantity: 2,
            url: "https://shop.example/p/1".into(),
            image_url: "https://shop.example/i/1.jpg".into(),
            promise: Promise::Window(ShipWindow {
                earliest_ms: 1_702_339_200_000,
                latest_ms: 1_702_944_000_000,
            }),
            waited: true,
        }],
        delay_reason: String::new(),
        shipment: Some(ShipmentContext {
            carrier: "Yamato".into(),
            tracking_number: "1234-5678-9012".into(),
            tracking_url: "https://track.example/1234".into(),
        }),
        cancel_url: String::new(),
        review_url: String::new(),
        coupon_code: String::new(),
    }
}

/// A rendered message to send `sample_entry` with.
pub fn sample_rendered() -> Rendered {
    Rendered {
        subject: "【残り2点】Linen Shirtの在庫が残りわずかです".into(),
        text: "残り2点です。\nhttps://shop.example/p/1\n".into(),
        html: "<p>残り2点です。</p>".into(),
    }
}

#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Answers each request with the next scripted status (200 once the script runs out).
pub struct TestServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Captured>>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(statuses: &[u16]) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let (tx, mut rx) = oneshot::channel();
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = &mut rx => return,
                };
                let (recorded, script) = (recorded.clone(), script.clone());
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (recorded, script) = (recorded.clone(), script.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes().to_vec();
                        recorded.lock().unwrap().push(Captured {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_string(),
                            headers: parts.headers,
                            body,
                        });
                        let status = script.lock().unwrap().pop_front().unwrap_or(200);
                        let mut resp = Response::new(Full::new(Bytes::from(format!(
                            "{{\"message\":\"status {status}\"}}"
                        ))));
                        *resp.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(resp)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            requests,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An address nothing listens on (bound, then released).
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A server that accepts connections and never answers, for deadline tests.
pub async fn silent_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, task)
}

/// The write that creates `e` with all three keys, as the Router does.
pub fn create_batch(e: &OutboxEntry) -> Batch {
    let mut batch = Batch::default();
    crate::store::outbox::create(&mut batch, e);
    batch
}

/// A minimal SMTP server on 127.0.0.1:0: greets with its greeting, answers each command
/// with the next scripted reply for its verb (`250 ok` once the script runs out, `354`
/// for DATA) and records the messages it accepts. No PIPELINING, no TLS.
pub struct ScriptedSmtp {
    pub addr: SocketAddr,
    script: Arc<Mutex<HashMap<String, VecDeque<String>>>>,
    messages: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedSmtp {
    pub async fn start(greeting: &str) -> ScriptedSmtp {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script: Arc<Mutex<HashMap<String, VecDeque<String>>>> = Arc::default();
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let (scripted, recorded) = (script.clone(), messages.clone());
        let greeting = format!("{greeting}\r\n");
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (script, recorded) = (scripted.clone(), recorded.clone());
                let greeting = greeting.clone();
                tokio::spawn(async move {
                    let (r, mut w) = socket.into_split();
                    let mut lines = BufReader::new(r).lines();
                    if w.write_all(greeting.as_bytes()).await.is_err() {
                        return;
                    }
                    let (mut in_data, mut body) = (false, String::new());
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                recorded.lock().unwrap().push(std::mem::take(&mut body));
                                let _ = w.write_all(b"250 queued\r\n").await;
                            } else {
                                body.push_str(&line);
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let next = script
                            .lock()
                            .unwrap()
                            .get_mut(&verb)
                            .and_then(|q| q.pop_front());
                        let reply = match (next, verb.as_str()) {
                            (Some(r), _) => format!("{r}\r\n"),
                            (None, "EHLO") => "250-scripted\r\n250 8BITMIME\r\n".into(),
                            (None, "DATA") => "354 go on\r\n".into(),
                            (None, "QUIT") => "221 bye\r\n".into(),
                            (None, _) => "250 ok\r\n".into(),
                        };
                        in_data = verb == "DATA" && reply.starts_with("354");
                        if w.write_all(reply.as_bytes()).await.is_err() || reply.starts_with("421")
                        {
                            return;
                        }
                    }
                });
            }
        });
        ScriptedSmtp {
            addr,
            script,
            messages,
            task,
        }
    }

    /// The next replies to `verb` (e.g. `"RCPT"`, `["450 4.2.1 busy"]`), in order.
    pub fn script(&self, verb: &str, replies: &[&str]) {
        let mut script = self.script.lock().unwrap();
        let queue = script.entry(verb.to_ascii_uppercase()).or_default();
        queue.extend(replies.iter().map(|r| r.to_string()));
    }

    /// The messages accepted so far (their DATA).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

impl Drop for ScriptedSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}
