//! Signed link tokens: `base64url(payload) "." base64url(HMAC-SHA256)`, unpadded, for
//! the links stockbell puts in messages (one-click unsubscribe, one-click cancel). One
//! secret signs every kind of link; each kind is a [`LinkPurpose`] whose domain tag is
//! part of what the MAC covers, so a token made for one purpose never opens as another.
//!
//! The unsubscribe purpose has the empty tag: its tokens were signed that way before
//! there were other purposes, and links already in mailboxes must keep working. Every
//! other tag starts with the byte 0xFF, which no UTF-8 text has, and every payload is
//! UTF-8 text: an unsubscribe MAC (over a payload) can therefore never equal another
//! purpose's MAC (over 0xFF · tag · payload), nor the other way round.
//!
//! Click links ([`LinkPurpose::Click`], tag 0xFF 0x03 …) are in every marketing message
//! many times over, so they use a short binary form instead ([`seal_short`]):
//! `base64url(payload · MAC[..12])`, the payload a few bytes of plain numbers. The MAC
//! still covers the purpose's tag, so a click token never opens as another kind either.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a link does; each has its own domain tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    Unsubscribe,
    CancelOrder,
    /// A tracked link in a marketing message (`/c/<token>`): outbox seq · link index.
    Click,
}

impl LinkPurpose {
    fn domain(self) -> &'static [u8] {
        match self {
            LinkPurpose::Unsubscribe => b"",
            LinkPurpose::CancelOrder => b"\xffstockbell/cancel-order/v1\x00",
            LinkPurpose::Click => b"\xff\x03stockbell/click/v1\x00",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is incomplete or damaged; open the link from the message again")]
    Malformed,
    #[error(
        "the link was not issued by this shop or was altered; open the link from the message again"
    )]
    BadSignature,
    #[error("the link has expired; use the link in a more recent message")]
    Expired,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], purpose: LinkPurpose) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 accepts every key length"),
    };
    m.update(purpose.domain());
    m
}

/// The token for `payload` (UTF-8 text) signed for `purpose`.
pub fn seal(secret: &[u8], purpose: LinkPurpose, payload: &str) -> String {
    let mut m = mac(secret, purpose);
    m.update(payload.as_bytes());
    let sig = m.finalize().into_bytes();
    format!("{}.{}", b64_encode(payload.as_bytes()), b64_encode(&sig))
}

/// The payload of a token signed for `purpose` with `secret` (the signature checked in
/// constant time). Expiry is the payload's business: the caller checks it.
pub fn open(secret: &[u8], purpose: LinkPurpose, token: &str) -> Result<String, TokenError> {
    let (payload_b64, sig_b64) = token.trim().split_once('.').ok_or(TokenError::Malformed)?;
    let payload = b64_decode(payload_b64).ok_or(TokenError::Malformed)?;
    let sig = b64_decode(sig_b64).ok_or(TokenError::Malformed)?;
    let mut m = mac(secret, purpose);
    m.update(&payload);
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    String::from_utf8(payload).map_err(|_| TokenError::Malformed)
}

/// Bytes of the MAC a short token keeps: 96 bits, far beyond guessing over HTTP.
pub const SHORT_MAC_LEN: usize = 12;

/// The short token for a binary `payload`: `base64url(payload · MAC[..SHORT_MAC_LEN])`.
pub fn seal_short(secret: &[u8], purpose: LinkPurpose, payload: &[u8]) -> String {
    let mut m = mac(secret, purpose);
    m.update(payload);
    let sig = m.finalize().into_bytes();
    let mut bytes = Vec::with_capacity(payload.len() + SHORT_MAC_LEN);
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&sig[..SHORT_MAC_LEN]);
    b64_encode(&bytes)
}

/// The payload of a short token signed for `purpose` (the truncated MAC checked in
/// constant time).
pub fn open_short(secret: &[u8], purpose: LinkPurpose, token: &str) -> Result<Vec<u8>, TokenError> {
    let bytes = b64_decode(token.trim()).ok_or(TokenError::Malformed)?;
    let split = bytes
        .len()
        .checked_sub(SHORT_MAC_LEN)
        .filter(|n| *n > 0)
        .ok_or(TokenError::Malformed)?;
    let (payload, sig) = bytes.split_at(split);
    let mut m = mac(secret, purpose);
    m.update(payload);
    m.verify_truncated_left(sig)
        .map_err(|_| TokenError::BadSignature)?;
    Ok(payload.to_vec())
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

/// Decodes unpadded base64url; `None` on any other character, an impossible length, or
/// unused trailing bits that are not zero (each byte string has one encoding).
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
        // The bits past the last whole byte must be zero: otherwise two strings would
        // decode to the same bytes, and an altered token would still open.
        if bytes[chunk.len()..].iter().any(|b| *b != 0) {
            return None;
        }
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
    fn a_token_opens_only_for_its_purpose() {
        for (made, other) in [
            (LinkPurpose::Unsubscribe, LinkPurpose::CancelOrder),
            (LinkPurpose::CancelOrder, LinkPurpose::Unsubscribe),
        ] {
            let t = seal(SECRET, made, "c1|o1|1000");
            assert_eq!(open(SECRET, made, &t).as_deref(), Ok("c1|o1|1000"));
            assert_eq!(open(SECRET, other, &t), Err(TokenError::BadSignature));
        }
    }

    #[test]
    fn a_cancel_mac_cannot_pass_as_an_unsubscribe_payload() {
        // The one way across: present the cancel MAC with the tag glued to the payload.
        // The tag is not UTF-8, so the unsubscribe side refuses it as malformed.
        let t = seal(SECRET, LinkPurpose::CancelOrder, "c1|email|1000");
        let (_, sig) = t.split_once('.').expect("dot");
        let mut glued = LinkPurpose::CancelOrder.domain().to_vec();
        glued.extend_from_slice(b"c1|email|1000");
        let forged = format!("{}.{sig}", b64_encode(&glued));
        assert_eq!(
            open(SECRET, LinkPurpose::Unsubscribe, &forged),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_short_token_opens_only_for_its_purpose_and_payload() {
        let t = seal_short(SECRET, LinkPurpose::Click, &[1, 2, 3]);
        assert_eq!(
            t.len(),
            20,
            "3 payload bytes + 12 MAC bytes = 20 base64url chars"
        );
        assert_eq!(
            open_short(SECRET, LinkPurpose::Click, &t),
            Ok(vec![1, 2, 3])
        );
        assert_eq!(
            open_short(SECRET, LinkPurpose::CancelOrder, &t),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            open_short(b"another secret", LinkPurpose::Click, &t),
            Err(TokenError::BadSignature)
        );
        // Another payload under the same MAC: refused.
        let mut bytes = b64_decode(&t).expect("b64");
        bytes[0] ^= 1;
        assert_eq!(
            open_short(SECRET, LinkPurpose::Click, &b64_encode(&bytes)),
            Err(TokenError::BadSignature)
        );
        // Too short to hold a payload and a MAC; not base64url.
        assert_eq!(
            open_short(SECRET, LinkPurpose::Click, &b64_encode(&[0; SHORT_MAC_LEN])),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            open_short(SECRET, LinkPurpose::Click, "a.b"),
            Err(TokenError::Malformed)
        );
    }

    /// Regression: the last character's unused bits were ignored, so a token with its
    /// last character changed ("…A" → "…B") still opened.
    #[test]
    fn a_token_with_its_last_character_changed_does_not_open() {
        for purpose in [LinkPurpose::Click, LinkPurpose::CancelOrder] {
            let t = if purpose == LinkPurpose::Click {
                seal_short(SECRET, purpose, &[7, 0])
            } else {
                seal(SECRET, purpose, "c1|o1|1000")
            };
            // The character one step along the alphabet differs only in unused bits.
            let mut bytes = t.clone().into_bytes();
            let last = bytes.len() - 1;
            let index = B64
                .iter()
                .position(|b| *b == bytes[last])
                .expect("base64url");
            bytes[last] = B64[index ^ 1];
            let altered = String::from_utf8(bytes).expect("ascii");
            let opened = if purpose == LinkPurpose::Click {
                open_short(SECRET, purpose, &altered).map(|_| ())
            } else {
                open(SECRET, purpose, &altered).map(|_| ())
            };
            assert!(opened.is_err(), "{t} altered to {altered} still opens");
        }
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
