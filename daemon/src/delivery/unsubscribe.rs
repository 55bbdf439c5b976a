//! One-click unsubscribe links: the signed, expiring token naming a customer and channel,
//! the URL templates put in messages, and the signing secret (configured, or generated
//! once and kept in the `meta` column family).

use std::io::Read;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::customer::Channel;
use crate::domain::Millis;
use crate::store::meta::UnsubscribeSecret;
use crate::store::writer::Writer;
use crate::store::{Batch, Store, StoreError};

const SECRET_LEN: usize = 32;
/// The channel field of a token that unsubscribes from every channel.
const ALL_CHANNELS: &str = "all";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the unsubscribe link is incomplete or damaged; open the link from the message again")]
    Malformed,
    #[error("the unsubscribe link was not issued by this shop or was altered; open the link from the message again")]
    BadSignature,
    #[error("the unsubscribe link has expired; use the link in a more recent message")]
    Expired,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 accepts every key length"),
    }
}

fn channel_name(channel: Option<Channel>) -> &'static str {
    channel.map_or(ALL_CHANNELS, Channel::as_str)
}

fn parse_channel(s: &str) -> Option<Option<Channel>> {
    if s == ALL_CHANNELS {
        return Some(None);
    }
    Channel::ALL.into_iter().find(|c| c.as_str() == s).map(Some)
}

/// `base64url(customer_id|channel|expires_ms) "." base64url(HMAC-SHA256(secret, payload))`,
/// unpadded, so it needs no escaping in a URL or a mailto.
pub fn sign_token(
    secret: &[u8],
    customer_id: &str,
    channel: Option<Channel>,
    expires_ms: Millis,
) -> String {
    let payload = format!("{customer_id}|{}|{expires_ms}", channel_name(channel));
    let mut m = mac(secret);
    m.update(payload.as_bytes());
    let sig = m.finalize().into_bytes();
    format!("{}.{}", b64_encode(payload.as_bytes()), b64_encode(&sig))
}

/// The customer and channel (`None` = every channel) a token names, if the signature
/// matches (checked in constant time) and it has not expired at `now_ms`.
pub fn verify_token(
    secret: &[u8],
    token: &str,
    now_ms: Millis,
) -> Result<(String, Option<Channel>), TokenError> {
    let (payload_b64, sig_b64) = token.trim().split_once('.').ok_or(TokenError::Malformed)?;
    let payload = b64_decode(payload_b64).ok_or(TokenError::Malformed)?;
    let sig = b64_decode(sig_b64).ok_or(TokenError::Malformed)?;
    let mut m = mac(secret);
    m.update(&payload);
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    // Signed by us, so the layout is ours; a customer id may itself contain '|'.
    let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
    let mut parts = payload.rsplitn(3, '|');
    let expires = parts.next().and_then(|s| s.parse::<Millis>().ok());
    let channel = parts.next().and_then(parse_channel);
    let customer = parts.next().filter(|c| !c.is_empty());
    let (Some(expires), Some(channel), Some(customer)) = (expires, channel, customer) else {
        return Err(TokenError::Malformed);
    };
    if now_ms >= expires {
        return Err(TokenError::Expired);
    }
    Ok((customer.to_string(), channel))
}

/// The one-click page for `token` under the daemon's public base URL.
pub fn unsubscribe_url(public_base_url: &str, token: &str) -> String {
    format!(
        "{}/unsubscribe?token={token}",
        public_base_url.trim_end_matches('/')
    )
}

/// What message rendering needs to put an unsubscribe link in a message.
#[derive(Clone)]
pub struct UnsubscribeLinks {
    secret: std::sync::Arc<[u8]>,
    public_url: String,
    ttl_ms: i64,
}

impl std::fmt::Debug for UnsubscribeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsubscribeLinks")
            .field("public_url", &self.public_url)
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

impl UnsubscribeLinks {
    pub fn new(secret: Vec<u8>, public_url: &str, ttl_ms: i64) -> Self {
        UnsubscribeLinks {
            secret: secret.into(),
            public_url: public_url.trim_end_matches('/').to_string(),
            ttl_ms,
        }
    }

    /// A link valid from `now_ms` for the configured lifetime.
    pub fn url(&self, customer_id: &str, channel: Option<Channel>, now_ms: Millis) -> String {
        let expires = now_ms.saturating_add(self.ttl_ms);
        unsubscribe_url(
            &self.public_url,
            &sign_token(&self.secret, customer_id, channel, expires),
        )
    }

    pub fn verify(
        &self,
        token: &str,
        now_ms: Millis,
    ) -> Result<(String, Option<Channel>), TokenError> {
        verify_token(&self.secret, token, now_ms)
    }
}

/// The signing secret: `configured` if set, else the one in `meta`, else 32 fresh random
/// bytes written there (so links stay valid across restarts).
pub async fn load_or_create_secret(
    store: &Store,
    writer: &Writer,
    configured: &str,
) -> Result<Vec<u8>, StoreError> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    let stored = store.read(|s| s.get::<UnsubscribeSecret>(())).await?;
    if let Some(s) = stored {
        if s.len() >= 16 {
            return Ok(s);
        }
    }
    let mut secret = vec![0u8; SECRET_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(|e| StoreError::Corrupt {
            cf: "meta",
            reason: format!("cannot read /dev/urandom for the unsubscribe secret: {e}"),
        })?;
    let mut batch = Batch::default();
    batch.put::<UnsubscribeSecret>((), &secret);
    writer.write(batch, 0).await?;
    Ok(secret)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url (RFC 4648 §5).
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Decodes unpadded base64url; `None` on any other character or an impossible length.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = B64.iter().position(|b| b == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_channels() {
        for ch in [None, Some(Channel::Email), Some(Channel::Line)] {
            let t = sign_token(SECRET, "cust|42", ch, 1_000);
            assert_eq!(
                verify_token(SECRET, &t, 999),
                Ok(("cust|42".to_string(), ch))
            );
            assert!(t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        }
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let t = sign_token(SECRET, "c1", Some(Channel::Email), 1_000);
        assert_eq!(verify_token(SECRET, &t, 1_000), Err(TokenError::Expired));
        assert_eq!(
            verify_token(b"another secret, 32 bytes long!!!", &t, 0),
            Err(TokenError::BadSignature)
        );
        // Another customer's payload with this signature.
        let (_, sig) = t.split_once('.').expect("dot");
        let forged = format!("{}.{sig}", b64_encode(b"c2|email|1000"));
        assert_eq!(
            verify_token(SECRET, &forged, 0),
            Err(TokenError::BadSignature)
        );
        // A later expiry with the old signature.
        let forged = format!("{}.{sig}", b64_encode(b"c1|email|99999999"));
        assert_eq!(
            verify_token(SECRET, &forged, 0),
            Err(TokenError::BadSignature)
        );
        for bad in ["", "abc", "a.b.c", "!!!.???", &t[1..]] {
            assert!(verify_token(SECRET, bad, 0).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            unsubscribe_url("https://shop.example/n/", "abc.def"),
            "https://shop.example/n/unsubscribe?token=abc.def"
        );
        let links = UnsubscribeLinks::new(SECRET.to_vec(), "http://127.0.0.1:8080", 60_000);
        let url = links.url("c9", Some(Channel::Email), 5);
        let token = crate::delivery::email::unsubscribe_token(&url).expect("token in url");
        assert_eq!(
            links.verify(token, 60_004),
            Ok(("c9".into(), Some(Channel::Email)))
        );
        assert_eq!(links.verify(token, 60_005), Err(TokenError::Expired));
    }

    #[tokio::test]
    async fn generated_secret_survives_a_restart() {
        let db = crate::store::test_db::TestDb::new();
        let (writer, thread) = Writer::start(db.store.clone(), false);
        let a = load_or_create_secret(&db.store, &writer, "")
            .await
            .expect("secret");
        let b = load_or_create_secret(&db.store, &writer, "")
            .await
            .expect("secret");
        assert_eq!(a.len(), SECRET_LEN);
        assert_eq!(a, b);
        let c = load_or_create_secret(&db.store, &writer, "configured-secret-value")
            .await
            .expect("secret");
        assert_eq!(c, b"configured-secret-value");
        drop(writer);
        thread.join().expect("writer");
    }

    proptest! {
        #[test]
        fn base64url_round_trips(bytes: Vec<u8>) {
            let s = b64_encode(&bytes);
            prop_assert!(!s.contains('='));
            prop_assert_eq!(b64_decode(&s), Some(bytes));
        }
    }
}
