//! The public HTTP server (one-click unsubscribe, `/healthz`) against slow clients: 300
//! connections that never finish their request headers must not delay anyone else
//! (`/healthz` answers within 1 s), and the daemon closes them once they have had their
//! time (the header timeout, or sooner when newer connections need their slot).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::{poll_until, Daemon, DaemonOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SLOW_CLIENTS: usize = 300;
const HEALTHZ_LIMIT: Duration = Duration::from_secs(1);
/// The daemon's header timeout is 10 s; the slow connections must be gone well before this.
const CLOSED_WITHIN: Duration = Duration::from_secs(30);

/// Connects and sends the start of a request whose headers never end.
async fn slow_client(addr: SocketAddr, i: usize) -> Result<TcpStream> {
    let mut s = TcpStream::connect(addr)
        .await
        .with_context(|| format!("slow client {i}: connect"))?;
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: shop.example\r\nX-Slow-{i}: ").as_bytes())
        .await
        .with_context(|| format!("slow client {i}: send"))?;
    Ok(s)
}

/// A whole `GET /healthz` on a new connection: the status line, and how long it took.
async fn healthz(addr: SocketAddr) -> Result<(String, Duration)> {
    let t = Instant::now();
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.context("connect")?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
            .await
            .context("send")?;
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).await.context("read")?;
        anyhow::Ok(String::from_utf8_lossy(&reply).into_owned())
    };
    // Far beyond the limit, so that a failure reports how long it really took.
    let reply = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .context("/healthz did not answer within 30 s")??;
    let status = reply.lines().next().unwrap_or_default().to_owned();
    Ok((status, t.elapsed()))
}

/// Whether the daemon has closed `s` (EOF or reset), without waiting.
fn closed_by_peer(s: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match s.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_do_not_stall_healthz() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let addr = daemon.http_addr()?;

    let mut slow = Vec::with_capacity(SLOW_CLIENTS);
    for i in 0..SLOW_CLIENTS {
        slow.push(slow_client(addr, i).await?);
    }
    for round in 0..3 {
        let (status, took) = healthz(addr).await?;
        ensure!(
            status.starts_with("HTTP/1.1 200"),
            "/healthz (round {round}) answered {status:?} with {SLOW_CLIENTS} slow clients connected"
        );
        ensure!(
            took < HEALTHZ_LIMIT,
            "/healthz (round {round}) took {took:?} with {SLOW_CLIENTS} slow clients connected \
             (limit {HEALTHZ_LIMIT:?})"
        );
    }

    // Every slow connection is closed in the end: none holds a slot for ever.
    poll_until(CLOSED_WITHIN, || {
        slow.retain(|s| !closed_by_peer(s));
        let open = slow.len();
        async move {
            ensure!(
                open == 0,
                "{open} of {SLOW_CLIENTS} slow connections still open"
            );
            Ok(())
        }
    })
    .await?;
    let (status, _) = healthz(addr).await?;
    if !status.starts_with("HTTP/1.1 200") {
        bail!("/healthz after the slow clients answered {status:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_clients_do_not_stall_healthz() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let addr = daemon.http_addr()?;

    let mut slow = Vec::with_capacity(SLOW_CLIENTS);
    for i in 0..SLOW_CLIENTS {
        let mut s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("slow client {i}: connect"))?;
        // Complete headers, then 10 of the 1000 body bytes announced.
        let head = format!(
            "POST /unsubscribe?token=t{i} HTTP/1.1\r\nHost: shop.example\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n\
             List-Unsu"
        );
        s.write_all(head.as_bytes())
            .await
            .with_context(|| format!("slow client {i}: send"))?;
        slow.push(s);
    }
    let (status, took) = healthz(addr).await?;
    ensure!(
        status.starts_with("HTTP/1.1 200") && took < HEALTHZ_LIMIT,
        "/healthz answered {status:?} after {took:?} with {SLOW_CLIENTS} slow bodies connected \
         (limit {HEALTHZ_LIMIT:?})"
    );
    poll_until(CLOSED_WITHIN, || {
        slow.retain(|s| !closed_by_peer(s));
        let open = slow.len();
        async move {
            ensure!(
                open == 0,
                "{open} of {SLOW_CLIENTS} slow-body connections still open"
            );
            Ok(())
        }
    })
    .await
}
