//! One-click cancel links: the signed, expiring token naming a customer and one of their
//! orders (`link_token`, purpose `CancelOrder`: the unsubscribe links' secret, another
//! domain, so neither kind of token opens as the other), and the URL the order updates
//! carry. Following the link only shows a page; the request is made by its form's POST.

use std::sync::Arc;

use super::link_token::{open, seal, LinkPurpose, TokenError};
use crate::domain::Millis;

/// What a valid cancel token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelToken {
    pub customer_id: String,
    pub order_id: String,
    pub expires_ms: Millis,
}

/// Payload: `expires_ms "|" len(customer_id) "|" customer_id order_id`. Both ids may hold
/// any character (a `|` too), so the first is length-prefixed.
fn payload(customer_id: &str, order_id: &str, expires_ms: Millis) -> String {
    format!("{expires_ms}|{}|{customer_id}{order_id}", customer_id.len())
}

fn parse(payload: &str) -> Option<CancelToken> {
    let (expires, rest) = payload.split_once('|')?;
    let (len, ids) = rest.split_once('|')?;
    let len: usize = len.parse().ok()?;
    let (customer_id, order_id) = (ids.get(..len)?, ids.get(len..)?);
    if customer_id.is_empty() || order_id.is_empty() {
        return None;
    }
    Some(CancelToken {
        customer_id: customer_id.to_owned(),
        order_id: order_id.to_owned(),
        expires_ms: expires.parse().ok()?,
    })
}

pub fn sign_cancel_token(
    secret: &[u8],
    customer_id: &str,
    order_id: &str,
    expires_ms: Millis,
) -> String {
    seal(
        secret,
        LinkPurpose::CancelOrder,
        &payload(customer_id, order_id, expires_ms),
    )
}

/// The customer and order a token names, if it was signed with `secret` for cancelling
/// and has not expired at `now_ms`.
pub fn verify_cancel_token(
    secret: &[u8],
    token: &str,
    now_ms: Millis,
) -> Result<CancelToken, TokenError> {
    let payload = open(secret, LinkPurpose::CancelOrder, token)?;
    let t = parse(&payload).ok_or(TokenError::Malformed)?;
    if now_ms >= t.expires_ms {
        return Err(TokenError::Expired);
    }
    Ok(t)
}

/// Makes and checks cancel links: the secret, the daemon's public base URL and how long
/// a link stays valid (`orders.cancel_link_valid_for`).
#[derive(Clone)]
pub struct CancelLinks {
    secret: Arc<[u8]>,
    public_url: String,
    ttl_ms: i64,
}

impl std::fmt::Debug for CancelLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelLinks")
            .field("public_url", &self.public_url)
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

impl CancelLinks {
    pub fn new(secret: Vec<u8>, public_url: &str, ttl_ms: i64) -> Self {
        CancelLinks {
            secret: secret.into(),
            public_url: public_url.trim().trim_end_matches('/').to_string(),
            ttl_ms,
        }
    }

    /// The link for the customer's order, valid from `now_ms` for the configured time;
    /// empty when no public URL is configured (messages then show no cancel link).
    pub fn url(&self, customer_id: &str, order_id: &str, now_ms: Millis) -> String {
        if self.public_url.is_empty() {
            return String::new();
        }
        let token = sign_cancel_token(
            &self.secret,
            customer_id,
            order_id,
            now_ms.saturating_add(self.ttl_ms),
        );
        format!("{}/cancel?token={token}", self.public_url)
    }

    pub fn verify(&self, token: &str, now_ms: Millis) -> Result<CancelToken, TokenError> {
        verify_cancel_token(&self.secret, token, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::link_token::b64_encode;
    use crate::delivery::unsubscribe::{sign_token, verify_token};
    use crate::domain::customer::Channel;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_with_any_ids() {
        for (c, o) in [
            ("c1", "o1"),
            ("c|1", "o|1|x"),
            ("顧客", "注文-9"),
            ("1", "2"),
        ] {
            let t = sign_cancel_token(SECRET, c, o, 1_000);
            let got = verify_cancel_token(SECRET, &t, 999).expect("valid");
            assert_eq!((got.customer_id.as_str(), got.order_id.as_str()), (c, o));
            assert!(t
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)));
        }
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let t = sign_cancel_token(SECRET, "c1", "o1", 1_000);
        assert_eq!(
            verify_cancel_token(SECRET, &t, 1_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify_cancel_token(b"another secret, 32 bytes long!!!", &t, 0),
            Err(TokenError::BadSignature)
        );
        let (_, sig) = t.split_once('.').expect("dot");
        // Another order, another customer, a later expiry: each with the old signature.
        for forged in ["1000|2|c1o2", "1000|2|c2o1", "99999999|2|c1o1"] {
            let forged = format!("{}.{sig}", b64_encode(forged.as_bytes()));
            assert_eq!(
                verify_cancel_token(SECRET, &forged, 0),
                Err(TokenError::BadSignature),
                "{forged}"
            );
        }
        // One character flipped anywhere.
        let mut flipped = t.clone().into_bytes();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert!(verify_cancel_token(SECRET, &flipped, 0).is_err());
        for bad in ["", "abc", "a.b.c", "!!!.???", &t[1..]] {
            assert!(verify_cancel_token(SECRET, bad, 0).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cancel_and_unsubscribe_tokens_never_cross() {
        // An unsubscribe token whose payload even parses as a cancel payload.
        let unsub = sign_token(SECRET, "1000|2|c1o1", Some(Channel::Email), 5_000);
        assert_eq!(
            verify_cancel_token(SECRET, &unsub, 0),
            Err(TokenError::BadSignature)
        );
        let unsub = sign_token(SECRET, "c1", None, 5_000);
        assert_eq!(
            verify_cancel_token(SECRET, &unsub, 0),
            Err(TokenError::BadSignature)
        );
        // A cancel token whose ids make its payload read like an unsubscribe payload.
        let cancel = sign_cancel_token(SECRET, "c1", "x|email", 5_000);
        assert!(verify_token(SECRET, &cancel, 0).is_err());
        let cancel = sign_cancel_token(SECRET, "c1", "o1", 5_000);
        assert_eq!(
            verify_token(SECRET, &cancel, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn urls() {
        let links = CancelLinks::new(SECRET.to_vec(), "https://shop.example/sb/", 60_000);
        let url = links.url("c9", "o9", 5);
        let token = url
            .strip_prefix("https://shop.example/sb/cancel?token=")
            .expect("the cancel path under the public URL");
        let got = links.verify(token, 60_004).expect("valid until its expiry");
        assert_eq!(
            (got.customer_id.as_str(), got.order_id.as_str()),
            ("c9", "o9")
        );
        assert_eq!(links.verify(token, 60_005), Err(TokenError::Expired));
        let none = CancelLinks::new(SECRET.to_vec(), "", 60_000);
        assert_eq!(none.url("c9", "o9", 5), "");
    }
}
