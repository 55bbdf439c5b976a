//! `Type=notify` readiness: with `NOTIFY_SOCKET` set, stockbelld sends READY=1 only once
//! the store is open and the port bound (the ready file exists by then), and STOPPING=1
//! on SIGTERM before it exits 0.

use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use stockbell_tests::stockbelld_bin;

fn recv_state(sock: &UnixDatagram, want: &str, deadline: Duration) -> Result<String> {
    let end = Instant::now() + deadline;
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.lines().any(|l| l == want) {
                    return Ok(msg);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("no {want} within {deadline:?}")
}

#[test]
fn ready_after_bind_and_stopping_on_sigterm() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path)?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let ready = dir.path().join("ready");
    // Defaults otherwise; the HTTP port too is any free one (8080 may be taken here).
    let config = dir.path().join("stockbelld.toml");
    std::fs::write(&config, "[http]\nlisten = \"127.0.0.1:0\"\n")?;
    let mut child = std::process::Command::new(stockbelld_bin()?)
        .args(["run", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn stockbelld")?;

    let got = recv_state(&sock, "READY=1", Duration::from_secs(30));
    let ready_existed = ready.exists();
    if got.is_err() {
        let _ = child.kill();
    }
    got?;
    ensure!(
        ready_existed,
        "READY=1 came before the port was bound and the ready file written"
    );

    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    ensure!(rc == 0, "kill failed");
    recv_state(&sock, "STOPPING=1", Duration::from_secs(20))?;
    let status = child.wait()?;
    ensure!(status.success(), "exit status {status}");
    Ok(())
}
