//! The MIME message for an outbox entry: a deterministic Message-ID, the entry's creation
//! time as its Date, text and HTML alternatives (base64 for non-ASCII), and for marketing
//! the RFC 8058 one-click `List-Unsubscribe` headers.

use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::delivery::{Rendered, SendError};
use crate::domain::message::OutboxEntry;

pub fn message_id(seq: u64, domain: &str) -> String {
    format!("<stockbell-{seq}@{domain}>")
}

/// The outbox seq in a Message-ID [`message_id`] made (angle brackets optional; the
/// domain is not checked: a feedback loop may report it rewritten).
pub fn seq_of_message_id(id: &str) -> Option<u64> {
    let id = id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let rest = id.strip_prefix("stockbell-")?;
    let (digits, domain) = rest.split_once('@')?;
    if domain.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&s| s > 0)
}

/// Builds the message. The Date is the entry's creation time, so a resend is the same
/// message apart from the MIME boundary.
pub fn build_message(
    from: &Mailbox,
    domain: &str,
    entry: &OutboxEntry,
    rendered: &Rendered,
) -> Result<Message, SendError> {
    let to: Mailbox = entry.address.parse().map_err(|e| {
        SendError::Permanent(format!("{:?} is not an email address: {e}", entry.address))
    })?;
    let created = UNIX_EPOCH + Duration::from_millis(u64::try_from(entry.created_ms).unwrap_or(0));
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .date(created)
        .message_id(Some(message_id(entry.seq, domain)));
    if entry.is_marketing() {
        let url = header_safe(&entry.context.unsubscribe_url);
        let mailto = url
            .and_then(unsubscribe_token)
            .map(|token| format!("<mailto:unsubscribe@{domain}?subject=unsubscribe-{token}>"));
        let targets: Vec<String> = url
            .map(|u| format!("<{u}>"))
            .into_iter()
            .chain(mailto)
            .collect();
        if !targets.is_empty() {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                targets.join(", "),
            ));
        }
        // RFC 8058: one-click needs an HTTP(S) target that takes the POST.
        if url.is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")) {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
        }
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(part_body(&rendered.text)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(part_body(&rendered.html)),
                ),
        )
        .map_err(|e| SendError::Permanent(format!("cannot build email: {e}")))
}

/// A text part's body: ASCII as lettre sees fit (7bit, or quoted-printable for long
/// lines), anything else (Japanese) base64, which is smaller for it than quoted-printable
/// and several times cheaper to encode.
fn part_body(text: &str) -> Body {
    if text.is_ascii() {
        return Body::new(text.to_owned());
    }
    Body::new_with_encoding(text.to_owned(), ContentTransferEncoding::Base64)
        .unwrap_or_else(Body::new)
}

/// A URL that can go inside `<…>` in a header as is: printable ASCII, no brackets,
/// commas or spaces. Anything else is left out rather than mangled.
fn header_safe(url: &str) -> Option<&str> {
    let ok = !url.is_empty()
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b','));
    ok.then_some(url)
}

/// The customer's unsubscribe token: the `token` query parameter if there is one, else
/// the URL's last path segment. Only unreserved characters, so the mailto needs no escaping.
pub fn unsubscribe_token(url: &str) -> Option<&str> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let from_query = query
        .split(['&', '#'])
        .find_map(|pair| pair.strip_prefix("token="));
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    let from_path = after_scheme
        .split_once('/')
        .and_then(|(_, p)| p.split('#').next())
        .and_then(|p| p.rsplit('/').find(|s| !s.is_empty()));
    let token = from_query.or(from_path)?;
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    (!token.is_empty() && token.chars().all(unreserved)).then_some(token)
}
