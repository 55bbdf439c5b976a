//! `POST /complaint`: feedback-loop (FBL) reports from mailbox providers, or the shop's
//! own word, that a customer marked a message as spam. Marketing to the customer stops at
//! once (the customer's actor records the complaint; queued marketing is cancelled);
//! order updates still go.
//!
//! Protected by a bearer token (`Authorization: Bearer T`, one of
//! `[hygiene] complaint_tokens`; none configured = the endpoint answers 404). The body is
//! either an ARF report (RFC 5965, `multipart/report; report-type=feedback-report`; the
//! returned message's headers must be in the first 8 KiB) — the daemon finds its own
//! Message-ID (`<stockbell-SEQ@domain>`) in it — or JSON: `{"message_id": "<…>"}`,
//! `{"outbox_seq": 12}` or `{"customer_id": "c-1", "channel": "email"}`.
//!
//! Answers: 200 JSON `{"customer_id", "entry_seq", "new"}` (`new` = false for a repeat);
//! 400 a body that names no message or customer; 401 a missing or wrong token; 404 the
//! endpoint is off, or the message / customer is unknown; 503 try again later.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::AUTHORIZATION;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use super::auth::constant_time_eq;
use super::http::{plain, HttpState};
use crate::actors::customer::CustomerItem;
use crate::actors::IngestItem;
use crate::clock::now_ms;
use crate::delivery::email::mime::seq_of_message_id;
use crate::domain::customer::Channel;
use crate::domain::profile::CustomerEvent;
use crate::store::outbox::Outbox;

/// The JSON form of a report.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct JsonReport {
    message_id: Option<String>,
    outbox_seq: Option<u64>,
    customer_id: Option<String>,
    channel: Option<String>,
}

/// Whom a report is about, before the outbox is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum About {
    Entry(u64),
    Customer(String, Channel),
}

pub(super) async fn handle(state: &HttpState, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    if state.complaint_tokens.is_empty() {
        return plain(StatusCode::NOT_FOUND, "not found\n".into());
    }
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = given.is_some_and(|t| {
        state
            .complaint_tokens
            .iter()
            .any(|ok| constant_time_eq(ok.as_bytes(), t.as_bytes()))
    });
    if !allowed {
        return plain(
            StatusCode::UNAUTHORIZED,
            "send \"Authorization: Bearer <token>\" with one of hygiene.complaint_tokens\n".into(),
        );
    }
    // A Full body is in memory already: collecting it cannot fail.
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(never) => match never {},
    };
    let about = match parse(&body) {
        Ok(a) => a,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let (customer_id, channel, entry_seq) = match about {
        About::Customer(id, channel) => (id, channel, None),
        About::Entry(seq) => match state.store.read(move |s| s.get::<Outbox>(seq)).await {
            Ok(Some(e)) => (e.customer_id, e.channel, Some(seq)),
            Ok(None) => {
                return plain(
                    StatusCode::NOT_FOUND,
                    format!("no outbox entry {seq}: the report is not about a message of this daemon (or it was purged)\n"),
                )
            }
            Err(e) => {
                tracing::warn!(seq, error = %e, "Cannot read the outbox entry of a complaint.");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "try again later\n".into());
            }
        },
    };
    record(state, customer_id, channel, entry_seq).await
}

async fn record(
    state: &HttpState,
    customer_id: String,
    channel: Channel,
    entry_seq: Option<u64>,
) -> Response<Full<Bytes>> {
    let before = state.router.get_customer(customer_id.clone()).await;
    let known_before = before
        .ok()
        .flatten()
        .map(|c| c.state.lifecycle.hygiene.complaint.is_some());
    let item = IngestItem::Customer {
        id: customer_id.clone(),
        item: CustomerItem {
            index: 0,
            at_ms: now_ms(),
            event: CustomerEvent::Complaint { channel, entry_seq },
        },
    };
    match state.router.internal(vec![item]).await {
        Ok(ack) if !ack.rejections.is_empty() => {
            return plain(
                StatusCode::NOT_FOUND,
                format!("unknown customer_id {customer_id:?}\n"),
            );
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(customer_id, error = %e, "A complaint could not be recorded.");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again later\n".into());
        }
    }
    let cancelled = match state
        .outbox
        .cancel_marketing(customer_id.clone(), None)
        .await
    {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(customer_id, error = %e, "Complaint recorded, but queued marketing could not be cancelled.");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again later\n".into());
        }
    };
    tracing::info!(
        customer_id,
        channel = channel.as_str(),
        entry_seq,
        cancelled,
        "Complaint received (feedback loop)."
    );
    let body = serde_json::json!({
        "customer_id": customer_id,
        "entry_seq": entry_seq,
        "new": known_before != Some(true),
        "cancelled": cancelled,
    });
    let mut resp = plain(StatusCode::OK, format!("{body}\n"));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Whom the report is about: JSON, or an ARF report (any text with the daemon's
/// Message-ID in a `Message-ID:` header).
fn parse(body: &[u8]) -> Result<About, String> {
    let text = std::str::from_utf8(body).map_err(|_| {
        "the body is not UTF-8 text; send an ARF report (message/feedback-report) or JSON"
            .to_string()
    })?;
    if text.trim_start().starts_with('{') {
        return parse_json(text);
    }
    arf_message_id(text).map(About::Entry).ok_or_else(|| {
        "no Message-ID of this daemon (\"<stockbell-SEQ@domain>\") in the report; send the ARF report with the original message or its headers, or JSON {\"message_id\": \"…\"}".to_string()
    })
}

fn parse_json(text: &str) -> Result<About, String> {
    let r: JsonReport = serde_json::from_str(text).map_err(|e| {
        format!("the JSON body is not a report ({e}); send {{\"message_id\": \"<stockbell-12@shop.example>\"}}, {{\"outbox_seq\": 12}} or {{\"customer_id\": \"c-1\", \"channel\": \"email\"}}")
    })?;
    if let Some(m) = r.message_id.as_deref().filter(|m| !m.trim().is_empty()) {
        return seq_of_message_id(m).map(About::Entry).ok_or_else(|| {
            format!("message_id {m:?} is not a Message-ID this daemon gave (\"<stockbell-SEQ@domain>\")")
        });
    }
    if let Some(seq) = r.outbox_seq.filter(|&s| s > 0) {
        return Ok(About::Entry(seq));
    }
    let id = r.customer_id.as_deref().map(str::trim).unwrap_or_default();
    if id.is_empty() {
        return Err(
            "name the message (message_id or outbox_seq) or the customer (customer_id)".into(),
        );
    }
    let channel = match r.channel.as_deref().unwrap_or("email") {
        "email" => Channel::Email,
        "line" => Channel::Line,
        "webhook" => Channel::Webhook,
        other => {
            return Err(format!(
                "channel {other:?}: use \"email\", \"line\" or \"webhook\""
            ))
        }
    };
    Ok(About::Customer(id.to_owned(), channel))
}

/// The first `Message-ID:` header (any part, a folded value included) that holds a
/// Message-ID this daemon gave.
fn arf_message_id(text: &str) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let value = match value.trim() {
            "" => lines.get(i + 1).map_or("", |l| l.trim()),
            v => v,
        };
        if let Some(seq) = seq_of_message_id(value) {
            return Some(seq);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARF: &str = "From: <abuse@mail.example>\r\n\
Message-ID: <report-1@mail.example>\r\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
This is an email abuse report.\r\n\
--b\r\n\
Content-Type: message/feedback-report\r\n\
\r\n\
Feedback-Type: abuse\r\n\
User-Agent: SomeFBL/1.0\r\n\
Version: 1\r\n\
\r\n\
--b\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: shop <shop@shop.example>\r\n\
Message-ID:\r\n\
 <stockbell-42@shop.example>\r\n\
Subject: back in stock\r\n\
--b--\r\n";

    #[test]
    fn an_arf_report_names_the_entry_by_its_message_id() {
        assert_eq!(parse(ARF.as_bytes()), Ok(About::Entry(42)));
        let none = ARF.replace("stockbell-42", "other-42");
        assert!(parse(none.as_bytes()).is_err_and(|e| e.contains("no Message-ID")));
    }

    #[test]
    fn json_reports_and_their_errors() {
        assert_eq!(
            parse(br#"{"message_id": "<stockbell-7@shop.example>"}"#),
            Ok(About::Entry(7))
        );
        assert_eq!(parse(br#"{"outbox_seq": 9}"#), Ok(About::Entry(9)));
        assert_eq!(
            parse(br#"{"customer_id": "c-1"}"#),
            Ok(About::Customer("c-1".into(), Channel::Email))
        );
        assert!(parse(br#"{"customer_id": "c-1", "channel": "fax"}"#)
            .is_err_and(|e| e.contains("channel")));
        assert!(parse(br#"{"message_id": "<x@y>"}"#).is_err_and(|e| e.contains("message_id")));
        assert!(parse(br#"{"mesage_id": "<x@y>"}"#).is_err_and(|e| e.contains("mesage_id")));
        assert!(parse(b"{}").is_err_and(|e| e.contains("customer_id")));
    }
}
