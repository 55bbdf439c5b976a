//! The demo's customers reading their mail: every [`POLL`] the reader asks the daemon
//! for its newest messages (`Admin.ListOutbox`, over the same loopback gRPC as the shop)
//! and picks the email ones a customer will read ([`READ_SHARE`], 2 s to 1 min later).
//! Once the message has arrived (its `.eml` file is written) the customer opens it, finds
//! the tracked links in it as a mail client shows them ([`super::mailbox`]) and follows
//! one now and then ([`CLICK_SHARE`]): a real `GET /c/<token>` on the daemon's HTTP
//! server. The 302's `Location` (the product's page) goes to the shop ([`Click`]), whose
//! customer may then order ([`super::Shop::clicked`]). Only the messages' links are
//! used, never a URL made up by the reader.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use stockbell_proto::v1::{admin_client::AdminClient, ListOutboxRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tonic::transport::Endpoint;

use super::mailbox;
use super::rng::Rng;

/// How often the reader looks for new messages.
const POLL: Duration = Duration::from_secs(2);
/// Share of the email messages that their customer reads.
const READ_SHARE: f64 = 0.4;
/// Share of the read messages with tracked links in which the customer follows one.
const CLICK_SHARE: f64 = 0.5;
/// Messages waiting to be read at most (the oldest are forgotten).
const MAX_WAITING: usize = 5_000;
/// A message not written within this long (held for quiet hours, or cancelled) is
/// forgotten.
const GIVE_UP_MS: i64 = 30 * 60_000;
/// Time for one click (connect, request, response head).
const CLICK_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the demo's mail goes and how its links reach the daemon.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// The `.eml` files (`<seq:020>.eml`).
    pub eml_dir: PathBuf,
    /// `templates.public_url`: tracked links start with it.
    pub public_url: String,
    /// The daemon's HTTP server (the links' host).
    pub http: SocketAddr,
}

/// A customer followed a tracked link: the redirect's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Click {
    pub customer_id: String,
    pub location: String,
}

#[derive(Debug)]
struct Waiting {
    seq: u64,
    customer_id: String,
    read_at_ms: i64,
    give_up_ms: i64,
}

struct Reader {
    rng: Rng,
    mailbox: Mailbox,
    /// The newest message seen; `None` until the first look (a restarted demo's
    /// customers do not read what came before).
    cursor: Option<u64>,
    waiting: VecDeque<Waiting>,
}

/// Runs the readers until `stop` turns true; reconnects after an error.
pub async fn read_mail(
    addr: SocketAddr,
    mailbox: Mailbox,
    seed: u64,
    clicks: mpsc::UnboundedSender<Click>,
    mut stop: watch::Receiver<bool>,
) {
    let mut reader = Reader {
        rng: Rng::derive(seed, 0x7265_6164, 0),
        mailbox,
        cursor: None,
        waiting: VecDeque::new(),
    };
    loop {
        let result = tokio::select! {
            r = reader.run(addr, &clicks) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        if let Err(e) = result {
            tracing::warn!(error = %format!("{e:#}"), "The demo's mail readers lost the daemon; retrying in 2 s.");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

impl Reader {
    async fn run(&mut self, addr: SocketAddr, clicks: &mpsc::UnboundedSender<Click>) -> Result<()> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .context("the daemon's address is not a URI")?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .connect()
            .await
            .with_context(|| format!("cannot connect to the daemon at {addr}"))?;
        let mut admin = AdminClient::new(channel).max_decoding_message_size(64 << 20);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let req = ListOutboxRequest {
                limit: 1000,
                ..Default::default()
            };
            let entries = admin
                .list_outbox(req)
                .await
                .map_err(|s| anyhow!("Admin.ListOutbox: {}", s.message()))?
                .into_inner()
                .entries;
            let now = stockbelld::clock::now_ms();
            let newest = entries.iter().map(|e| e.seq).max().unwrap_or(0);
            let Some(cursor) = self.cursor else {
                self.cursor = Some(newest);
                continue;
            };
            for e in entries.iter().filter(|e| e.seq > cursor) {
                if e.channel == "email" && self.rng.chance(READ_SHARE) {
                    let read_at_ms = now + self.rng.log_uniform(2_000.0, 60_000.0) as i64;
                    self.waiting.push_back(Waiting {
                        seq: e.seq,
                        customer_id: e.customer_id.clone(),
                        read_at_ms,
                        give_up_ms: now + GIVE_UP_MS,
                    });
                }
            }
            while self.waiting.len() > MAX_WAITING {
                self.waiting.pop_front();
            }
            self.cursor = Some(cursor.max(newest));
            self.read_due(now, clicks).await?;
        }
    }

    /// Opens the messages due to be read that have arrived; follows a link in some.
    async fn read_due(&mut self, now: i64, clicks: &mpsc::UnboundedSender<Click>) -> Result<()> {
        let mut keep = VecDeque::with_capacity(self.waiting.len());
        let mut due = Vec::new();
        for w in self.waiting.drain(..) {
            if w.read_at_ms > now {
                keep.push_back(w);
                continue;
            }
            let path = self.mailbox.eml_dir.join(format!("{:020}.eml", w.seq));
            match tokio::fs::read_to_string(&path).await {
                Ok(raw) => due.push((w, raw)),
                Err(_) if w.give_up_ms > now => keep.push_back(w),
                Err(_) => {}
            }
        }
        self.waiting = keep;
        for (w, raw) in due {
            let text = mailbox::decoded_text(&raw);
            let links = mailbox::tracked_links(&text, &self.mailbox.public_url);
            if links.is_empty() || !self.rng.chance(CLICK_SHARE) {
                continue;
            }
            let link = &links[self.rng.below(links.len())];
            match follow(self.mailbox.http, link).await {
                Ok(location) => {
                    let click = Click {
                        customer_id: w.customer_id,
                        location,
                    };
                    if clicks.send(click).is_err() {
                        bail!("the shop stopped");
                    }
                }
                Err(e) => {
                    tracing::warn!(seq = w.seq, error = %format!("{e:#}"), "A demo customer's click failed.")
                }
            }
        }
        Ok(())
    }
}

/// `GET path` on the daemon's HTTP server, as a browser would: the 302's `Location`.
pub async fn follow(http: SocketAddr, path: &str) -> Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(http).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(head)
    };
    let head = tokio::time::timeout(CLICK_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("GET {path}: no answer within {CLICK_TIMEOUT:?}"))?
        .with_context(|| format!("GET {path} on {http}"))?;
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("302") {
        bail!("GET {path}: {status:?}, not a redirect");
    }
    lines
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .ok_or_else(|| anyhow!("GET {path}: a 302 without Location"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A one-request server answering `answer`; returns its address and the request.
    async fn server(answer: &'static str) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.expect("read");
            s.write_all(answer.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (addr, task)
    }

    #[tokio::test]
    async fn a_click_is_a_get_and_the_redirect_is_followed() {
        let (addr, req) = server(
            "HTTP/1.1 302 Found\r\nlocation: https://shop.example.jp/products/acc-00007\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let to = follow(addr, "/c/AbC").await.expect("a redirect");
        assert_eq!(to, "https://shop.example.jp/products/acc-00007");
        let req = req.await.expect("the request");
        assert!(req.starts_with("GET /c/AbC HTTP/1.1\r\n"), "{req}");
    }

    #[tokio::test]
    async fn anything_but_a_redirect_is_an_error() {
        let (addr, _req) = server("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
        let err = follow(addr, "/c/bad").await.expect_err("no redirect");
        assert!(format!("{err:#}").contains("400"), "{err:#}");
    }
}
