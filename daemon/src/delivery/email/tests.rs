//! Tests for `email.rs`: headers parsed from the formatted bytes, .eml files, config.

use super::smtp::dot_stuffed;
use super::*;
use crate::delivery::test_support::{sample_entry, sample_rendered};
use crate::domain::customer::Channel;
use std::net::SocketAddr;
use std::sync::Arc;

fn eml_sender(dir: &Path) -> EmailSender {
    EmailSender::new(&EmailConfig {
        from: "Shop <news@shop.example>".into(),
        smtp: None,
        eml_dir: dir.to_path_buf(),
    })
    .unwrap()
}

/// The header block of a formatted message, unfolded, as (lowercase name, value) pairs.
fn headers(message: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .split("\r\n")
        .filter_map(|line| line.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect()
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter()
        .find(|(n, _)| n == &name.to_ascii_lowercase())
        .map(|(_, v)| v.as_str())
}

#[test]
fn marketing_mail_has_one_click_unsubscribe() {
    let dir = tempfile::tempdir().unwrap();
    let sender = eml_sender(dir.path());
    let msg = sender
        .build_message(&sample_entry(7, Channel::Email, true), &sample_rendered())
        .unwrap();
    let hs = headers(&msg.formatted());
    assert_eq!(
        header(&hs, "Message-ID"),
        Some("<stockbell-7@shop.example>")
    );
    assert_eq!(
        header(&hs, "List-Unsubscribe"),
        Some(
            "<https://shop.example/unsubscribe/tok-abc>, \
             <mailto:unsubscribe@shop.example?subject=unsubscribe-tok-abc>"
        )
    );
    assert_eq!(
        header(&hs, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(header(&hs, "To"), Some("taro@example.jp"));
    assert!(header(&hs, "From").unwrap().contains("<news@shop.example>"));
    assert!(
        header(&hs, "Subject").unwrap().starts_with("=?utf-8?"),
        "{hs:?}"
    );
    assert_eq!(header(&hs, "Date"), Some("Tue, 14 Nov 2023 22:13:20 +0000"));
    assert!(header(&hs, "Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));
    let body = String::from_utf8_lossy(&msg.formatted()).into_owned();
    assert!(body.contains("Content-Type: text/plain; charset=utf-8"));
    assert!(body.contains("Content-Type: text/html; charset=utf-8"));
}

#[test]
fn transactional_mail_has_no_unsubscribe_headers() {
    let dir = tempfile::tempdir().unwrap();
    let sender = eml_sender(dir.path());
    let msg = sender
        .build_message(&sample_entry(8, Channel::Email, false), &sample_rendered())
        .unwrap();
    let hs = headers(&msg.formatted());
    assert_eq!(
        header(&hs, "Message-ID"),
        Some("<stockbell-8@shop.example>")
    );
    assert_eq!(header(&hs, "List-Unsubscribe"), None);
    assert_eq!(header(&hs, "List-Unsubscribe-Post"), None);
}

/// As sent: an order update (rendered from the built-in templates) has neither the
/// one-click headers nor an unsubscribe footer, even with an unsubscribe URL in its
/// context; a marketing message has both.
#[test]
fn only_marketing_mail_carries_unsubscribe_headers_and_footer() {
    let dir = tempfile::tempdir().unwrap();
    let sender = eml_sender(dir.path());
    let templates = crate::delivery::templates::Templates::new(None).unwrap();
    for marketing in [false, true] {
        let mut entry = sample_entry(11, Channel::Email, marketing);
        entry.context.locale = crate::domain::customer::Locale::En;
        let rendered = templates.render(&entry.context).unwrap();
        let hs = headers(&sender.build_message(&entry, &rendered).unwrap().formatted());
        let what = entry.scenario.as_str();
        assert_eq!(
            header(&hs, "List-Unsubscribe").is_some(),
            marketing,
            "{what}"
        );
        assert_eq!(
            header(&hs, "List-Unsubscribe-Post").is_some(),
            marketing,
            "{what}"
        );
        let url = &entry.context.unsubscribe_url;
        assert_eq!(
            rendered.text.contains(url.as_str()),
            marketing,
            "{what}: {}",
            rendered.text
        );
        assert_eq!(rendered.html.contains(url.as_str()), marketing, "{what}");
        assert_eq!(rendered.text.contains("Unsubscribe"), marketing, "{what}");
    }
}

#[test]
fn unusable_unsubscribe_url_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let sender = eml_sender(dir.path());
    let mut entry = sample_entry(9, Channel::Email, true);
    entry.context.unsubscribe_url = "https://shop.example/u/a b\r\nBcc: x@y".into();
    let hs = headers(
        &sender
            .build_message(&entry, &sample_rendered())
            .unwrap()
            .formatted(),
    );
    assert_eq!(header(&hs, "List-Unsubscribe"), None);
    assert_eq!(header(&hs, "List-Unsubscribe-Post"), None);
    assert_eq!(header(&hs, "Bcc"), None);
}

#[test]
fn tokens_come_from_query_or_path() {
    assert_eq!(
        unsubscribe_token("https://s.example/u/abc123"),
        Some("abc123")
    );
    assert_eq!(
        unsubscribe_token("https://s.example/u/abc123/"),
        Some("abc123")
    );
    assert_eq!(
        unsubscribe_token("https://s.example/u?c=1&token=t-9#x"),
        Some("t-9")
    );
    assert_eq!(unsubscribe_token("https://s.example/u/a%20b"), None);
    assert_eq!(unsubscribe_token("https://s.example"), None);
}

#[test]
fn bad_address_is_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let mut entry = sample_entry(1, Channel::Email, false);
    entry.address = "not an address".into();
    let err = eml_sender(dir.path())
        .build_message(&entry, &sample_rendered())
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
}

#[tokio::test]
async fn eml_resend_overwrites_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let sender = eml_sender(&dir.path().join("nested/eml"));
    let entry = sample_entry(7, Channel::Email, true);
    sender.send(&entry, &sample_rendered()).await.unwrap();
    sender.send(&entry, &sample_rendered()).await.unwrap();
    sender
        .send(&sample_entry(8, Channel::Email, true), &sample_rendered())
        .await
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("nested/eml"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["00000000000000000007.eml", "00000000000000000008.eml"]
    );
    let path = sender.eml_path(7).unwrap();
    let hs = headers(&std::fs::read(path).unwrap());
    assert_eq!(
        header(&hs, "Message-ID"),
        Some("<stockbell-7@shop.example>")
    );
}

#[test]
fn config_parses_and_checks() {
    let c: EmailConfig = toml::from_str(
        r#"
        from = "Shop <news@shop.example>"
        [smtp]
        host = "smtp.shop.example"
        tls = "implicit"
        username = "u"
        password = "p4ss"
        pool_size = 2
        timeout = "5s"
        "#,
    )
    .unwrap();
    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!(smtp.tls, SmtpTls::Implicit);
    assert_eq!(smtp.timeout.0, Duration::from_secs(5));
    assert!(!format!("{c:?}").contains("p4ss"));

    let d: EmailConfig = toml::from_str("").unwrap();
    assert!(d.smtp.is_none());
    let s: SmtpConfig = toml::from_str("host = \"h\"").unwrap();
    assert_eq!((s.tls, s.port, s.pool_size), (SmtpTls::StartTls, None, 4));
    assert!(toml::from_str::<EmailConfig>("frm = \"x\"").is_err());
    assert!(toml::from_str::<SmtpConfig>("host = \"h\"\ntls = \"ssl\"").is_err());

    let bad = EmailConfig {
        from: "nobody".into(),
        ..EmailConfig::default()
    };
    assert!(EmailSender::new(&bad)
        .unwrap_err()
        .to_string()
        .starts_with("email.from:"));
}

#[tokio::test]
async fn smtp_transport_builds_for_every_tls_mode() {
    for tls in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Implicit] {
        let sender = EmailSender::new(&EmailConfig {
            from: "Shop <news@shop.example>".into(),
            smtp: Some(SmtpConfig {
                host: "smtp.shop.example".into(),
                port: None,
                tls,
                username: Some("u".into()),
                password: Some("p".into()),
                pool_size: 2,
                timeout: Dur(Duration::from_secs(1)),
                ca_file: None,
            }),
            eml_dir: PathBuf::from("/nonexistent/never-created"),
        })
        .unwrap();
        assert_eq!(sender.eml_path(1), None);
    }
    let half = SmtpConfig {
        host: "h".into(),
        port: None,
        tls: SmtpTls::None,
        username: Some("u".into()),
        password: None,
        pool_size: 1,
        timeout: Dur(Duration::from_secs(1)),
        ca_file: None,
    };
    let err = smtp_transport(&half).unwrap_err();
    assert_eq!(err.key, "email.smtp.username");
}

#[tokio::test]
async fn smtp_refused_connection_means_the_channel_is_down() {
    let addr = crate::delivery::test_support::dead_addr().await;
    let sender = EmailSender::new(&EmailConfig {
        from: "Shop <news@shop.example>".into(),
        smtp: Some(SmtpConfig {
            host: addr.ip().to_string(),
            port: Some(addr.port()),
            tls: SmtpTls::None,
            username: None,
            password: None,
            pool_size: 1,
            timeout: Dur(Duration::from_secs(2)),
            ca_file: None,
        }),
        eml_dir: PathBuf::new(),
    })
    .unwrap();
    let err = sender
        .send(&sample_entry(1, Channel::Email, false), &sample_rendered())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::ChannelDown(_)), "{err}");
}

#[test]
fn dot_stuffing_matches_rfc5321() {
    assert_eq!(
        dot_stuffed(b"a\r\n.b\r\n..c").unwrap(),
        "a\r\n..b\r\n...c\r\n.\r\n"
    );
    assert_eq!(dot_stuffed(b".x").unwrap(), "..x\r\n.\r\n");
    // Only a dot right after CRLF starts a line; "\r\r\n" still ends one.
    assert_eq!(
        dot_stuffed(b"a.\n.b\r\r\n.c").unwrap(),
        "a.\n.b\r\r\n..c\r\n.\r\n"
    );
    assert!(dot_stuffed(&[0xff, 0xfe]).is_none());
}

/// A minimal SMTP server: answers every command, counts connections and messages, and
/// closes each connection after `per_connection` messages without a word. With
/// `pipelining` it offers PIPELINING and holds its replies to MAIL and RCPT until DATA
/// arrives (so a client that waits for each reply stalls), and refuses recipients whose
/// address contains "reject".
async fn tiny_smtp(
    per_connection: usize,
    pipelining: bool,
) -> (SocketAddr, Arc<std::sync::Mutex<(usize, Vec<String>)>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new((0usize, Vec::new())));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            log.lock().unwrap().0 += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let (r, mut w) = socket.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 tiny ESMTP\r\n").await.unwrap();
                let (mut in_data, mut body, mut sent) = (false, String::new(), 0);
                let mut held: Vec<u8> = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            log.lock().unwrap().1.push(std::mem::take(&mut body));
                            w.write_all(b"250 queued\r\n").await.unwrap();
                            sent += 1;
                            if sent == per_connection {
                                return;
                            }
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).map(|c| c.to_ascii_uppercase());
                    let reply: &[u8] = match verb.as_deref() {
                        Some("EHLO") if pipelining => {
                            b"250-tiny\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                        }
                        Some("EHLO") => b"250-tiny\r\n250 8BITMIME\r\n",
                        Some("RCPT") if pipelining && line.contains("reject") => {
                            b"550 no such user\r\n"
                        }
                        Some("DATA") => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        Some("QUIT") => b"221 bye\r\n",
                        _ => b"250 ok\r\n",
                    };
                    if pipelining && matches!(verb.as_deref(), Some("MAIL" | "RCPT")) {
                        held.extend_from_slice(reply);
                        continue;
                    }
                    held.extend_from_slice(reply);
                    w.write_all(&held).await.unwrap();
                    held.clear();
                }
            });
        }
    });
    (addr, seen)
}

fn smtp_sender(addr: SocketAddr) -> EmailSender {
    EmailSender::new(&EmailConfig {
        from: "Shop <news@shop.example>".into(),
        smtp: Some(SmtpConfig {
            host: addr.ip().to_string(),
            port: Some(addr.port()),
            tls: SmtpTls::None,
            username: None,
            password: None,
            pool_size: 1,
            timeout: Dur(Duration::from_secs(5)),
            ca_file: None,
        }),
        eml_dir: PathBuf::new(),
    })
    .unwrap()
}

#[tokio::test]
async fn smtp_connection_is_reused() {
    let (addr, seen) = tiny_smtp(usize::MAX, false).await;
    let sender = smtp_sender(addr);
    for seq in 1..=3 {
        sender
            .send(&sample_entry(seq, Channel::Email, true), &sample_rendered())
            .await
            .unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!((seen.0, seen.1.len()), (1, 3));
    assert!(
        seen.1[2].contains("Message-ID: <stockbell-3@shop.example>"),
        "{}",
        seen.1[2]
    );
}

#[tokio::test]
async fn smtp_closed_pooled_connection_is_replaced() {
    // The server hangs up after every message: the parked connection is dead when the
    // next message comes, and that message goes out on a new one.
    let (addr, seen) = tiny_smtp(1, false).await;
    let sender = smtp_sender(addr);
    for seq in 1..=3 {
        sender
            .send(&sample_entry(seq, Channel::Email, true), &sample_rendered())
            .await
            .unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!((seen.0, seen.1.len()), (3, 3));
}

/// Japanese parts go out base64 (decoding gives the rendered text back); ASCII parts stay
/// readable 7bit.
#[test]
fn japanese_parts_are_base64_and_ascii_parts_7bit() {
    let sender = eml_sender(Path::new("/nonexistent"));
    let entry = sample_entry(3, Channel::Email, false);
    let rendered = sample_rendered();
    let bytes = sender.build_message(&entry, &rendered).unwrap().formatted();
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        text.matches("Content-Transfer-Encoding: base64").count(),
        2,
        "{text}"
    );
    let plain = text
        .split(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        )
        .nth(1)
        .and_then(|rest| rest.split("\r\n--").next())
        .expect("a base64 text/plain part");
    let joined: String = plain.split("\r\n").collect();
    // Standard base64 read with the unsubscribe tokens' base64url decoder.
    let url_safe: String = joined
        .chars()
        .filter(|c| *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let raw = crate::delivery::unsubscribe::b64_decode(&url_safe).expect("base64 body");
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        rendered.text.replace('\n', "\r\n")
    );

    let ascii = Rendered {
        subject: "Back in stock".into(),
        text: "Linen Shirt is back.\n".into(),
        html: "<p>Linen Shirt is back.</p>".into(),
    };
    let bytes = sender.build_message(&entry, &ascii).unwrap().formatted();
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        text.matches("Content-Transfer-Encoding: 7bit").count(),
        2,
        "{text}"
    );
    assert!(text.contains("Linen Shirt is back."));
}

/// With PIPELINING offered, MAIL, RCPT and DATA go out together: this server answers
/// none of them before DATA, so a client waiting for each reply would time out.
#[tokio::test]
async fn smtp_pipelines_the_envelope_when_offered() {
    let (addr, seen) = tiny_smtp(usize::MAX, true).await;
    let sender = smtp_sender(addr);
    for seq in 1..=3 {
        tokio::time::timeout(
            Duration::from_secs(3),
            sender.send(&sample_entry(seq, Channel::Email, true), &sample_rendered()),
        )
        .await
        .expect("pipelined: no stall waiting for held replies")
        .unwrap();
    }
    {
        let seen = seen.lock().unwrap();
        assert_eq!((seen.0, seen.1.len()), (1, 3));
        assert!(seen.1[1].contains("Message-ID: <stockbell-2@shop.example>"));
    }
    // A refused recipient in a pipelined envelope is a permanent failure, and the next
    // message still goes out (on a new connection: the refused one is dropped).
    let mut refused = sample_entry(4, Channel::Email, true);
    refused.address = "reject@example.jp".into();
    let err = sender
        .send(&refused, &sample_rendered())
        .await
        .expect_err("550 to RCPT");
    assert!(err.is_permanent() && err.reason().contains("550"), "{err}");
    sender
        .send(&sample_entry(5, Channel::Email, true), &sample_rendered())
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!((seen.0, seen.1.len()), (2, 4));
}
