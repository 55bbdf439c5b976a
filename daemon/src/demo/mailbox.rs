//! Reading a written message as a mail client would, for the demo's customers
//! ([`super::reader`]): the text of every part of an `.eml` file, decoded (base64 and
//! quoted-printable), and the tracked links in it (`<public_url>/c/<token>`).

/// The decoded text of every leaf part of a raw message, one after the other.
pub fn decoded_text(raw: &str) -> String {
    let mut out = String::new();
    let mut boundaries: Vec<String> = Vec::new();
    let mut in_headers = true;
    let mut encoding = String::new();
    let mut body: Vec<&str> = Vec::new();
    for line in raw.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-transfer-encoding:") {
                encoding = v.trim().to_owned();
            }
            if let Some(at) = lower.find("boundary=") {
                let v = &line[at + "boundary=".len()..];
                let v = v
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_matches('"');
                boundaries.push(v.to_owned());
            }
            continue;
        }
        let is_boundary = line.strip_prefix("--").is_some_and(|b| {
            let b = b.strip_suffix("--").unwrap_or(b);
            boundaries.iter().any(|x| x == b)
        });
        if is_boundary {
            flush(&mut out, &encoding, &body);
            body.clear();
            encoding.clear();
            in_headers = true;
        } else {
            body.push(line);
        }
    }
    flush(&mut out, &encoding, &body);
    out
}

fn flush(out: &mut String, encoding: &str, body: &[&str]) {
    let bytes = match encoding {
        "base64" => base64(&body.concat()),
        "quoted-printable" => quoted_printable(&body.join("\n")),
        _ => body.join("\n").into_bytes(),
    };
    out.push_str(&String::from_utf8_lossy(&bytes));
    out.push('\n');
}

fn base64(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn quoted_printable(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'=' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'\n') {
            // A soft line break.
            i += 2;
            continue;
        }
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// The paths (`/c/<token>`) of the distinct tracked links to `public_url` in `text`, in
/// order of appearance.
pub fn tracked_links(text: &str, public_url: &str) -> Vec<String> {
    let prefix = format!("{}/c/", public_url.trim_end_matches('/'));
    let mut links: Vec<String> = Vec::new();
    for (at, _) in text.match_indices(&prefix) {
        let token: String = text[at + prefix.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let path = format!("/c/{token}");
        if !token.is_empty() && !links.contains(&path) {
            links.push(path);
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:8080";

    #[test]
    fn links_are_found_in_base64_and_quoted_printable_parts() {
        // "Linen shirt — navy M: http://127.0.0.1:8080/c/AbC-12_x" in base64 (UTF-8).
        let b64 =
            "TGluZW4gc2hpcnQg4oCUIG5hdnkgTTogaHR0cDovLzEyNy4wLjAuMTo4MDgw\r\nL2MvQWJDLTEyX3g=";
        let raw = format!(
            "From: shop@example.jp\r\nContent-Type: multipart/alternative;\r\n boundary=\"XyZ\"\r\n\r\n\
             --XyZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             {b64}\r\n\
             --XyZ\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             <a href=3D\"http://127.0.0.1:8080/c/Zz9=\r\n-q\">x</a> <a href=3D\"{BASE}/unsubscribe?t=3Dq\">u</a>\r\n\
             --XyZ--\r\n"
        );
        let text = decoded_text(&raw);
        assert!(text.contains("Linen shirt — navy M"), "{text}");
        assert_eq!(tracked_links(&text, BASE), ["/c/AbC-12_x", "/c/Zz9-q"]);
    }

    #[test]
    fn a_plain_message_and_repeated_links() {
        let raw = "Subject: hi\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSee http://127.0.0.1:8080/c/T1 and\r\nhttp://127.0.0.1:8080/c/T1 again; not http://127.0.0.1:8081/c/T2\r\n";
        let text = decoded_text(raw);
        assert_eq!(tracked_links(&text, "http://127.0.0.1:8080/"), ["/c/T1"]);
        assert!(tracked_links("no links", BASE).is_empty());
    }
}
