//! The daemon's public HTTP server as a customer's browser meets it: one plain HTTP/1.1
//! request (status and body, or status, Location and body), the cancel link taken from an
//! order mail and the tracked (`/c/<token>`) links taken from a marketing mail.

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

/// The paths of the tracked links (`/c/<token>`) in a mail's decoded text
/// ([`crate::ReceivedMail::text`]), in order of appearance, each once.
pub fn click_paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (at, _) in text.match_indices("/c/") {
        let token: String = text[at + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
            .collect();
        let path = format!("/c/{token}");
        if !token.is_empty() && !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// One HTTP/1.1 request without a body, with `headers` (each ending in CRLF) added: the
/// status, the response head (status line and headers) and the body.
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> Result<(u16, String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP response: {reply}"))?;
    Ok((status, head.to_string(), body.to_string()))
}

/// One HTTP/1.1 request without a body (a browser following a link): the status, the
/// Location header (empty = none) and the body.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, String, String)> {
    let (status, head, body) = request_with(addr, method, path, "").await?;
    let location = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("location")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Ok((status, location, body))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_paths_are_found_in_order_once_each() {
        let text =
            "See https://d.example/c/AbC-_9 and\n<a href=\"https://d.example/c/XyZ\">x</a>\n\
                    again https://d.example/c/AbC-_9. /unsubscribe?token=q";
        assert_eq!(click_paths(text), ["/c/AbC-_9", "/c/XyZ"]);
        assert!(click_paths("no links").is_empty());
    }
}
