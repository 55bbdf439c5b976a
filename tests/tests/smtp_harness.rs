//! The SMTP harness itself: a raw SMTP dialogue is received and parsed, a refused
//! recipient gets its code, and a stopped server refuses connections until restarted on
//! the same port.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::SmtpServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Reads one (possibly multi-line) SMTP reply and returns its code.
async fn reply(r: &mut BufReader<TcpStream>) -> Result<u16> {
    loop {
        let mut line = String::new();
        ensure!(
            r.read_line(&mut line).await? > 0,
            "server closed the connection"
        );
        let code = line.get(..3).and_then(|c| c.parse().ok());
        match (code, line.as_bytes().get(3)) {
            (Some(code), Some(b' ') | Some(b'\r') | None) => return Ok(code),
            (Some(_), Some(b'-')) => continue,
            _ => bail!("unexpected SMTP reply {line:?}"),
        }
    }
}

async fn command(r: &mut BufReader<TcpStream>, line: &str) -> Result<u16> {
    r.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await?;
    reply(r).await
}

/// One message over plain SMTP; returns the RCPT reply code (the rest must be 2xx/3xx).
async fn send(port: u16, to: &str, subject: &str) -> Result<u16> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    let mut r = BufReader::new(stream);
    ensure!(reply(&mut r).await? == 220, "no greeting");
    ensure!(command(&mut r, "HELO test.local").await? == 250, "HELO");
    ensure!(
        command(&mut r, "MAIL FROM:<shop@example.jp>").await? == 250,
        "MAIL"
    );
    let rcpt = command(&mut r, &format!("RCPT TO:<{to}>")).await?;
    if rcpt != 250 {
        command(&mut r, "QUIT").await?;
        return Ok(rcpt);
    }
    ensure!(command(&mut r, "DATA").await? == 354, "DATA");
    let body = format!(
        "From: Shop <shop@example.jp>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         List-Unsubscribe: <https://shop.example/unsubscribe?token=abc>,\r\n <mailto:u@shop.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         44GC44KK44GM44Go44GG\r\n.\r\n"
    );
    r.get_mut().write_all(body.as_bytes()).await?;
    ensure!(reply(&mut r).await? == 250, "message not accepted");
    command(&mut r, "QUIT").await?;
    Ok(rcpt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_refuses_and_survives_an_outage() -> Result<()> {
    let mut smtp = SmtpServer::start(None).await?;
    let port = smtp.port();
    ensure!(send(port, "taro@example.jp", "=?utf-8?b?44GC?= hello").await? == 250);
    let msgs = smtp.wait_for(1, Duration::from_secs(10)).await?;
    let m = &msgs[0];
    ensure!(m.to == ["taro@example.jp"], "{:?}", m.to);
    ensure!(m.subject == "あ hello", "{:?}", m.subject);
    ensure!(
        m.headers.get("list-unsubscribe")
            == Some("<https://shop.example/unsubscribe?token=abc>, <mailto:u@shop.example>"),
        "{:?}",
        m.headers
    );
    ensure!(m.text().contains("ありがとう"), "{:?}", m.text());

    smtp.refuse_rcpt("bounce@example.jp", 550, "5.1.1 no such user")?;
    ensure!(send(port, "bounce@example.jp", "x").await? == 550);
    smtp.refuse_rcpt("busy@example.jp", 451, "4.3.0 try later")?;
    ensure!(send(port, "busy@example.jp", "x").await? == 451);
    smtp.accept_all()?;
    ensure!(send(port, "bounce@example.jp", "again").await? == 250);

    smtp.stop().await?;
    match TcpStream::connect(("127.0.0.1", port)).await {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        other => bail!("expected connection refused while stopped, got {other:?}"),
    }
    smtp.restart().await?;
    ensure!(smtp.port() == port, "restart moved the port");
    ensure!(send(port, "hanako@example.jp", "after the outage").await? == 250);
    let msgs = smtp.wait_for(3, Duration::from_secs(10)).await?;
    let subjects: Vec<&str> = msgs.iter().map(|m| m.subject.as_str()).collect();
    ensure!(
        subjects == ["あ hello", "again", "after the outage"],
        "{subjects:?}"
    );
    Ok(())
}
