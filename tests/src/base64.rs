//! Base64 as the tests meet it, written here rather than taken from the daemon (the
//! harness only talks to the daemon over the wire, and a token forged with the daemon's
//! own encoder would not check the documented format): [`encode_url`] for the unpadded
//! base64url of link tokens, [`decode`] for mail bodies and RFC 2047 words (either
//! alphabet, padding ignored).

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url (RFC 4648 §5), the encoding of stockbell's link tokens.
pub fn encode_url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(URL_SAFE[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Decodes base64 in either alphabet (`+/` or `-_`), trailing `=` ignored; `None` on any
/// other character.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        acc = acc << 6 | u32::from(val(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_vectors_and_round_trips() {
        for (plain, url) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode_url(plain.as_bytes()), url);
            assert_eq!(decode(url), Some(plain.as_bytes().to_vec()));
        }
        let bytes = [0xfb, 0xff, 0xbf, 0x00];
        assert_eq!(encode_url(&bytes), "-_-_AA");
        assert_eq!(decode("+/+/AA=="), Some(bytes.to_vec()));
        assert_eq!(decode("a b"), None);
    }
}
