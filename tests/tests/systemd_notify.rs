//! `Type=notify` readiness: with `NOTIFY_SOCKET` set, stockbelld sends READY=1 only once
//! the store is open and the port bound (the ready file exists by then), and STOPPING=1
//! on SIGTERM before it exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::{stockbelld_bin, Process};
use tokio::net::UnixDatagram;

/// Waits up to `timeout` for a notification with the line `want`; returns the whole
/// notification.
async fn recv_state(sock: &UnixDatagram, want: &str, timeout: Duration) -> Result<String> {
    let mut buf = [0u8; 512];
    let wait = async {
        loop {
            let n = sock.recv(&mut buf).await?;
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().any(|l| l == want) {
                return Ok::<_, std::io::Error>(msg);
            }
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .with_context(|| format!("no {want} within {timeout:?}"))?
        .context("reading the notify socket")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_after_bind_and_stopping_on_sigterm() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path)?;
    let ready = dir.path().join("ready");
    // Defaults otherwise; the HTTP port too is any free one (8080 may be taken here).
    let config = dir.path().join("stockbelld.toml");
    std::fs::write(&config, "[http]\nlisten = \"127.0.0.1:0\"\n")?;
    let mut daemon = Process::spawn(
        "stockbelld",
        Command::new(stockbelld_bin()?)
            .args(["run", "--listen", "127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("NOTIFY_SOCKET", &sock_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;

    recv_state(&sock, "READY=1", Duration::from_secs(30)).await?;
    ensure!(
        ready.exists(),
        "READY=1 came before the port was bound and the ready file written"
    );

    daemon.signal(libc::SIGTERM)?;
    recv_state(&sock, "STOPPING=1", Duration::from_secs(20)).await?;
    let status = daemon
        .wait_exit(Duration::from_secs(20))
        .await?
        .context("stockbelld did not exit within 20 s of SIGTERM")?;
    ensure!(status.success(), "exit status {status}");
    Ok(())
}
