//! One-click unsubscribe links: the signed, expiring token naming a customer and channel
//! (signed by `link_token`), the URL templates put in messages, and the signing secret
//! every link shares (configured, or generated once and kept in the `meta` column family).

use std::io::Read;

use crate::domain::customer::Channel;
use crate::domain::Millis;
use crate::store::meta::UnsubscribeSecret;
use crate::store::writer::Writer;
use crate::store::{Batch, Store, StoreError};

pub use super::link_token::{b64_decode, b64_encode, TokenError};
use super::link_token::{open, seal, LinkPurpose};

const SECRET_LEN: usize = 32;
/// The channel field of a token that unsubscribes from every channel.
const ALL_CHANNELS: &str = "all";

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
    seal(secret, LinkPurpose::Unsubscribe, &payload)
}

/// The customer and channel (`None` = every channel) a token names, if the signature
/// matches (checked in constant time) and it has not expired at `now_ms`.
pub fn verify_token(
    secret: &[u8],
    token: &str,
    now_ms: Millis,
) -> Result<(String, Option<Channel>), TokenError> {
    let payload = open(secret, LinkPurpose::Unsubscribe, token)?;
    // Signed by us, so the layout is ours; a customer id may itself contain '|'.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
