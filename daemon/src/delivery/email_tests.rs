//! Tests for `email.rs`: headers parsed from the formatted bytes, .eml files, config.

use super::*;
use crate::delivery::test_support::sample_entry;
use crate::domain::customer::Channel;

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
        .build_message(&sample_entry(7, Channel::Email, true))
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
        .build_message(&sample_entry(8, Channel::Email, false))
        .unwrap();
    let hs = headers(&msg.formatted());
    assert_eq!(
        header(&hs, "Message-ID"),
        Some("<stockbell-8@shop.example>")
    );
    assert_eq!(header(&hs, "List-Unsubscribe"), None);
    assert_eq!(header(&hs, "List-Unsubscribe-Post"), None);
}

#[test]
fn unusable_unsubscribe_url_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let sender = eml_sender(dir.path());
    let mut entry = sample_entry(9, Channel::Email, true);
    entry.context.unsubscribe_url = "https://shop.example/u/a b\r\nBcc: x@y".into();
    let hs = headers(&sender.build_message(&entry).unwrap().formatted());
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
    let err = eml_sender(dir.path()).build_message(&entry).unwrap_err();
    assert!(err.is_permanent(), "{err}");
}

#[tokio::test]
async fn eml_resend_overwrites_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let sender = eml_sender(&dir.path().join("nested/eml"));
    let entry = sample_entry(7, Channel::Email, true);
    sender.send(&entry).await.unwrap();
    sender.send(&entry).await.unwrap();
    sender
        .send(&sample_entry(8, Channel::Email, true))
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
    };
    let err = smtp_transport(&half).unwrap_err();
    assert_eq!(err.key, "email.smtp.username");
}

#[tokio::test]
async fn smtp_refused_connection_is_transient() {
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
        }),
        eml_dir: PathBuf::new(),
    })
    .unwrap();
    let err = sender
        .send(&sample_entry(1, Channel::Email, false))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err}");
}
