//! Keys read from each accepted PEM form (public halves checked against openssl's and
//! RFC 8463's), refusals naming their key, and the signature header on built messages.

use std::path::Path;

use super::*;
use crate::delivery::email::{EmailConfig, EmailSender};
use crate::delivery::test_support::{sample_entry, sample_rendered};
use crate::domain::customer::Channel;

const RSA_PKCS1: &str = include_str!("dkim_testdata/rsa1024-pkcs1.pem");
const RSA_PKCS8: &str = include_str!("dkim_testdata/rsa1024-pkcs8.pem");
const RSA_512: &str = include_str!("dkim_testdata/rsa512.pem");
const ENCRYPTED: &str = include_str!("dkim_testdata/encrypted.pem");
/// The RFC 8032 test 1 seed as PKCS#8 v1 (what `openssl genpkey -algorithm ed25519` writes).
const ED25519_RFC: &str = include_str!("dkim_testdata/ed25519-rfc8032.pem");

/// `openssl pkey -in rsa1024-pkcs1.pem -pubout -outform DER | base64 -w0`.
const RSA_PUBLIC_SPKI: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDBZxxYW2i60/SiLbXjm0O5sQptWm4kboMPecGC6JPq5xOH9PNzJTiw8nPJ4321hV5+y5btGPNegXfZOBIX25Xp3d8OwtuNxScG8YMvbRK23zCCSR2Reqfhbt0s3E9+NM9dvH7E5C42g56Hw5JbgxI8QROa0zpPdr26ssV1gAZWswIDAQAB";
/// RFC 8463 appendix A: the public key of the RFC 8032 test 1 seed.
const ED25519_PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn from(addr: &str) -> Mailbox {
    addr.parse().expect("mailbox")
}

fn settings(dir: &Path, pem: &str) -> DkimSettings {
    let key_file = dir.join("key.pem");
    std::fs::write(&key_file, pem).expect("write key");
    DkimSettings {
        selector: "sb2026".into(),
        domain: "shop.example".into(),
        key_file,
        algorithm: None,
    }
}

fn refusal(s: &DkimSettings, from_addr: &str) -> ChannelConfigError {
    DkimSigner::load(s, &from(from_addr)).expect_err("refused")
}

#[test]
fn rsa_pkcs1_and_pkcs8_are_the_same_key() {
    for pem in [RSA_PKCS1, RSA_PKCS8] {
        let key = parse_key(pem).expect("parses");
        assert_eq!(key.algorithm, DkimAlgorithm::RsaSha256);
        assert_eq!(key.rsa_bits, Some(1024));
        assert_eq!(b64(&key.public), RSA_PUBLIC_SPKI);
        assert!(key
            .lettre_text
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    }
}

#[test]
fn ed25519_pkcs8_gives_the_rfc_8463_public_key() {
    let key = parse_key(ED25519_RFC).expect("parses");
    assert_eq!(key.algorithm, DkimAlgorithm::Ed25519Sha256);
    assert_eq!(key.rsa_bits, None);
    assert_eq!(b64(&key.public), ED25519_PUBLIC);
    // lettre's form: base64 of the 32-byte seed (RFC 8463 appendix A's private key).
    assert_eq!(
        key.lettre_text,
        "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
    );
}

#[test]
fn ed25519_pkcs8_v2_with_its_public_key_parses_and_a_wrong_one_is_refused() {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
    let key = parse_key(&pair.serialize_pem()).expect("rcgen's PKCS#8 v2 parses");
    assert_eq!(key.algorithm, DkimAlgorithm::Ed25519Sha256);
    assert_eq!(key.public, pair.public_key_raw());
    // The same v2 document with the last byte of its public key changed.
    let mut der = pair.serialize_der();
    let last = der.len() - 1;
    der[last] ^= 1;
    let pem = rsa::pkcs8::der::pem::encode_string("PRIVATE KEY", rsa::pkcs8::LineEnding::LF, &der)
        .expect("pem");
    let e = parse_key(&pem).expect_err("mismatched public key");
    assert!(e.contains("does not belong"), "{e}");
}

#[test]
fn unusable_keys_say_why() {
    for (pem, why) in [
        ("", "not a PEM private key"),
        ("hello", "not a PEM private key"),
        (RSA_512, "512 bits"),
        (ENCRYPTED, "encrypted"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "not a private key",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "not a valid PKCS#8 key",
        ),
    ] {
        let e = parse_key(pem).expect_err(why);
        assert!(e.contains(why), "{why}: {e}");
    }
}

#[test]
fn names() {
    for ok in ["s1", "sb2026", "mail.2026-a", "A-b"] {
        assert!(valid_selector(ok), "{ok}");
    }
    for bad in ["", "a_b", "-a", "a-", "a..b", "a.", "a b", "ü"] {
        assert!(!valid_selector(bad), "{bad}");
    }
    for ok in ["shop.example", "mail.shop.example", "xn--eckwd4c7c.jp"] {
        assert!(valid_domain(ok), "{ok}");
    }
    for bad in [
        "",
        "shop",
        "shop.example.",
        ".shop.example",
        "10.0.0.1",
        "shop_x.example",
    ] {
        assert!(!valid_domain(bad), "{bad}");
    }
    assert!(aligned("shop.example", "shop.example"));
    assert!(aligned("Mail.Shop.example", "shop.EXAMPLE"));
    assert!(!aligned("badshop.example", "shop.example"));
    assert!(!aligned("shop.example", "mail.shop.example"));
}

#[test]
fn refusals_name_the_key_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = settings(dir.path(), ED25519_RFC);
    DkimSigner::load(&good, &from("news@shop.example")).expect("valid");
    DkimSigner::load(&good, &from("news@mail.shop.example")).expect("subdomain is aligned");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "garbage").expect("write");

    let cases: Vec<(DkimSettings, &str, &str, &str)> = vec![
        (
            DkimSettings {
                key_file: dir.path().join("missing.pem"),
                ..good.clone()
            },
            "news@shop.example",
            "email.dkim.key_file",
            "cannot read",
        ),
        (
            DkimSettings {
                key_file: garbage.clone(),
                ..good.clone()
            },
            "news@shop.example",
            "email.dkim.key_file",
            "not a PEM private key",
        ),
        (
            DkimSettings {
                algorithm: Some(DkimAlgorithm::RsaSha256),
                ..good.clone()
            },
            "news@shop.example",
            "email.dkim.algorithm",
            "ed25519 key",
        ),
        (
            DkimSettings {
                selector: String::new(),
                ..good.clone()
            },
            "news@shop.example",
            "email.dkim.selector",
            "not a selector",
        ),
        (
            DkimSettings {
                selector: "my_selector".into(),
                ..good.clone()
            },
            "news@shop.example",
            "email.dkim.selector",
            "not a selector",
        ),
        (
            DkimSettings {
                domain: " ".into(),
                ..good.clone()
            },
            "news@shop.example",
            "email.dkim.domain",
            "not a domain name",
        ),
        (
            good.clone(),
            "news@other.example",
            "email.dkim.domain",
            "does not cover the From domain \"other.example\"",
        ),
        (
            good.clone(),
            "news@badshop.example",
            "email.dkim.domain",
            "does not cover",
        ),
    ];
    for (s, from_addr, key, why) in cases {
        let e = refusal(&s, from_addr);
        assert_eq!(e.key, key, "{s:?}: {}", e.message);
        assert!(e.message.contains(why), "{s:?}: {}", e.message);
    }
    // The key file that was refused for its contents is left as it was.
    assert_eq!(std::fs::read_to_string(&garbage).expect("read"), "garbage");
}

#[test]
fn the_record_is_the_public_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let ed = DkimSigner::load(
        &settings(dir.path(), ED25519_RFC),
        &from("news@shop.example"),
    )
    .expect("ed25519");
    assert_eq!(ed.record_name(), "sb2026._domainkey.shop.example");
    assert_eq!(
        ed.record_value(),
        format!("v=DKIM1; k=ed25519; p={ED25519_PUBLIC}")
    );
    let s = DkimSettings {
        algorithm: Some(DkimAlgorithm::RsaSha256),
        ..settings(dir.path(), RSA_PKCS8)
    };
    let rsa = DkimSigner::load(&s, &from("news@shop.example")).expect("rsa");
    assert_eq!(rsa.algorithm(), DkimAlgorithm::RsaSha256);
    assert_eq!(rsa.rsa_bits(), Some(1024));
    assert_eq!(
        rsa.record_value(),
        format!("v=DKIM1; k=rsa; p={RSA_PUBLIC_SPKI}")
    );
}

/// The DKIM-Signature field of formatted bytes, unfolded, whitespace removed.
fn signature_tags(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next()?.replace("\r\n ", " ");
    let line = head
        .split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with("dkim-signature:"))?;
    Some(line.split_once(':')?.1.split_whitespace().collect())
}

#[test]
fn every_built_message_is_signed_with_the_full_header_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let signer = DkimSigner::load(
        &settings(dir.path(), ED25519_RFC),
        &from("news@shop.example"),
    )
    .expect("signer");
    let eml = dir.path().join("eml");
    let sender = EmailSender::new(&EmailConfig {
        from: "Shop <news@shop.example>".into(),
        smtp: None,
        eml_dir: eml.clone(),
    })
    .expect("sender");
    let unsigned = sender
        .build_message(&sample_entry(7, Channel::Email, true), &sample_rendered())
        .expect("built");
    assert_eq!(signature_tags(&unsigned.formatted()), None);

    let sender = sender.with_dkim(Some(std::sync::Arc::new(signer)));
    for marketing in [true, false] {
        let msg = sender
            .build_message(
                &sample_entry(7, Channel::Email, marketing),
                &sample_rendered(),
            )
            .expect("built");
        let tags = signature_tags(&msg.formatted()).expect("signed");
        for tag in [
            "v=1;",
            "a=ed25519-sha256;",
            "d=shop.example;",
            "s=sb2026;",
            "c=relaxed/relaxed;",
            "h=from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post;",
        ] {
            assert!(tags.contains(tag), "{marketing}: {tag} not in {tags}");
        }
    }

    // The .eml file gets the signed message too (the same single build point).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(sender.send(&sample_entry(9, Channel::Email, true), &sample_rendered()))
        .expect("written");
    let path = sender.eml_path(9).expect("eml path");
    let bytes = std::fs::read(path).expect("eml");
    assert!(signature_tags(&bytes).is_some_and(|t| t.contains("a=ed25519-sha256;")));
}
