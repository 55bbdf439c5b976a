//! The daemon's public HTTP server as a customer's browser meets it: one plain HTTP/1.1
//! request (status and body), and the cancel link taken from an order mail.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The path and query of the cancel link in a mail (its text may be quoted-printable).
pub fn cancel_path(raw: &str) -> Option<String> {
    let text = raw.replace("=\r\n", "").replace("=3D", "=");
    let at = text.find("/cancel?token=")?;
    let path: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/?=-_.".contains(*c))
        .collect();
    Some(path)
}

/// One HTTP/1.1 request to the daemon's public server, `form` as an urlencoded body: the
/// status and the body.
pub async fn http(addr: SocketAddr, method: &str, path: &str, form: &str) -> Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP response: {reply}"))?;
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}
