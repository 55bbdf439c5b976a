//! The HTTP client the LINE and webhook channels share: pooled hyper client over rustls
//! (ring, webpki roots), one JSON POST with a deadline, and status → `SendError` mapping:
//! no connection, no answer in time, 5xx, 408 and 429 mean the service is down (or
//! refusing everyone for now); any other 4xx means this message is wrong.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{ChannelConfigError, SendError};

/// Response bodies are only read for error messages; a larger one is cut off.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const ERROR_BODY_CHARS: usize = 300;

/// What came back from a POST that reached the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: StatusCode,
    /// The start of the response body, for error messages.
    pub body: String,
}

#[derive(Clone)]
pub struct HttpPoster {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpPoster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPoster")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpPoster {
    /// `key` names the config section for the error message (e.g. `"line"`).
    pub fn new(timeout: Duration, key: &'static str) -> Result<Self, ChannelConfigError> {
        // An explicit provider, so enabling another rustls provider elsewhere in the
        // dependency tree can never make the process-default lookup panic.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| ChannelConfigError::new(key, format!("cannot set up TLS: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(HttpPoster { client, timeout })
    }

    /// POSTs `body` as JSON. Connection errors and the deadline are `ChannelDown`; any
    /// HTTP status is returned for the caller to classify.
    pub async fn post_json(
        &self,
        uri: &Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> Result<HttpReply, SendError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("stockbell/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Permanent(format!("cannot build request to {uri}: {e}")))?;
        let exchange = async {
            let resp =
                self.client.request(req).await.map_err(|e| {
                    SendError::ChannelDown(format!("POST {uri}: {}", error_chain(&e)))
                })?;
            let status = resp.status();
            // A body we cannot read does not change what the status says.
            let body = match Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
            {
                Ok(collected) => snippet(&collected.to_bytes()),
                Err(_) => String::new(),
            };
            Ok(HttpReply { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(SendError::ChannelDown(format!(
                "POST {uri}: no response within {:?}",
                self.timeout
            ))),
        }
    }
}

/// 2xx is delivered; 429, 5xx and 408 say the service cannot take messages now (the
/// channel is down, not this message); any other status means the request itself is
/// wrong and will not get better. `conflict_is_delivered` treats 409
/// as success (LINE: the retry key was already accepted).
pub fn classify(reply: &HttpReply, conflict_is_delivered: bool) -> Result<(), SendError> {
    let status = reply.status;
    if status.is_success() || (conflict_is_delivered && status == StatusCode::CONFLICT) {
        return Ok(());
    }
    let message = if reply.body.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", reply.body)
    };
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        Err(SendError::ChannelDown(message))
    } else {
        Err(SendError::Permanent(message))
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(ERROR_BODY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// hyper-util's client error says only "client error (Connect)"; the cause is below it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Lowercase hex, for signatures.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Parses a configured URL, naming the key when it is not a usable http(s) URL.
pub fn parse_url(key: &'static str, url: &str) -> Result<Uri, ChannelConfigError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| ChannelConfigError::new(key, format!("{url:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(ChannelConfigError::new(
            key,
            format!("{url:?} must be an http:// or https:// URL with a host"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16) -> HttpReply {
        HttpReply {
            status: StatusCode::from_u16(code).unwrap(),
            body: "nope".into(),
        }
    }

    #[test]
    fn status_mapping() {
        for code in [200, 202, 204] {
            assert_eq!(classify(&reply(code), false), Ok(()));
        }
        assert_eq!(classify(&reply(409), true), Ok(()));
        assert!(classify(&reply(409), false).unwrap_err().is_permanent());
        for code in [400, 401, 403, 404, 413] {
            let err = classify(&reply(code), true).unwrap_err();
            assert!(err.is_permanent() && !err.channel_down(), "{code}");
        }
        for code in [408, 429, 500, 502, 503] {
            let err = classify(&reply(code), true).unwrap_err();
            assert!(err.channel_down() && !err.is_permanent(), "{code}");
            assert!(err.reason().contains(&code.to_string()) && err.reason().contains("nope"));
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("x.url", "https://api.line.me/v2").is_ok());
        assert!(parse_url("x.url", "http://127.0.0.1:8080/hook").is_ok());
        let err = parse_url("x.url", "ftp://host/").unwrap_err();
        assert!(err.to_string().starts_with("x.url: "), "{err}");
        assert!(parse_url("x.url", "not a url").is_err());
        assert!(parse_url("x.url", "/relative").is_err());
    }

    #[test]
    fn hex_and_snippet() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let long = "あ".repeat(ERROR_BODY_CHARS + 10);
        assert_eq!(
            snippet(long.as_bytes()).chars().count(),
            ERROR_BODY_CHARS + 1
        );
    }
}
