//! DKIM against a real daemon and a real SMTP server (aiosmtpd), checked by an independent
//! verifier (Python dkimpy, the TXT record handed to it instead of DNS): a marketing mail
//! (with the one-click unsubscribe headers) and a transactional one (a backorder
//! confirmation), signed with an RSA 2048 key (openssl, PKCS#8) and with an Ed25519 key
//! (openssl, PKCS#8) made at test time. The record `stockbelld dkim-record` prints
//! equals the one openssl derives from the key. The received bytes verify; a changed
//! Subject, a changed List-Unsubscribe, or a List-Unsubscribe added to the transactional
//! mail (signed as absent) fails; `.eml` files (a From in a subdomain of `d=`) verify
//! too. check-config refuses a key of the wrong type and warns
//! about a plain-HTTP public URL.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::pb::ProductUpsert;
use stockbell_tests::web::cancel_path;
use stockbell_tests::{
    catalog, check_config, order_placed, poll_until, publish_ok, shopper, sold_out_with_waiter,
    stock_set, stockbelld_bin, upsert, Daemon, DaemonOptions, ReceivedMail, Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(30);
const SELECTOR: &str = "sb2026";
const DOMAIN: &str = "shop.example";

/// dkimpy's verdict on one message: argv = message file, selector, domain, TXT value.
/// Only `{selector}._domainkey.{domain}` resolves.
const VERIFY_PY: &str = r#"
import sys, dkim
msg = open(sys.argv[1], "rb").read()
name = ("%s._domainkey.%s" % (sys.argv[2], sys.argv[3])).encode()
record = sys.argv[4].encode()
def dnsfunc(qname, timeout=5):
    return record if qname.rstrip(b".") == name else None
print("pass" if dkim.verify(msg, dnsfunc=dnsfunc) else "fail")
"#;

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Standard padded base64 (the DNS record's alphabet), from the harness's base64url.
fn b64(bytes: &[u8]) -> String {
    let mut s: String = stockbell_tests::base64::encode_url(bytes)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

#[derive(Clone, Copy, Debug)]
enum Alg {
    Rsa,
    Ed25519,
}

/// Makes the key in `dir` and returns its path and the TXT value openssl derives.
fn make_key(dir: &Path, alg: Alg) -> Result<(PathBuf, String)> {
    let key = dir.join("dkim.pem");
    match alg {
        Alg::Rsa => {
            run(Command::new("openssl")
                .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
                .args(["rsa_keygen_bits:2048", "-out"])
                .arg(&key))?;
        }
        Alg::Ed25519 => {
            run(Command::new("openssl")
                .args(["genpkey", "-algorithm", "ed25519", "-out"])
                .arg(&key))?;
        }
    }
    let der = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()?;
    ensure!(der.status.success(), "openssl pkey -pubout failed");
    let record = match alg {
        Alg::Rsa => format!("v=DKIM1; k=rsa; p={}", b64(&der.stdout)),
        // RFC 8463: the raw 32-byte key, the end of the SubjectPublicKeyInfo.
        Alg::Ed25519 => {
            ensure!(der.stdout.len() == 44, "{:?}", der.stdout);
            format!("v=DKIM1; k=ed25519; p={}", b64(&der.stdout[12..]))
        }
    };
    Ok((key, record))
}

fn dkim_toml(key: &Path, algorithm: Option<&str>) -> String {
    let mut t = format!(
        "[email.dkim]\nselector = \"{SELECTOR}\"\ndomain = \"{DOMAIN}\"\nkey_file = {:?}\n",
        key.display().to_string()
    );
    if let Some(a) = algorithm {
        t.push_str(&format!("algorithm = \"{a}\"\n"));
    }
    t
}

fn options(email_toml: &str, key: &Path) -> DaemonOptions {
    DaemonOptions::new()
        .toml(email_toml)
        .toml(&dkim_toml(key, None))
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
        .toml("[delivery]\nretry_base = \"200ms\"\nretry_max = \"400ms\"")
}

/// "pass" or "fail" from dkimpy for these bytes.
fn verify(dir: &Path, name: &str, bytes: &[u8], record: &str) -> Result<String> {
    let file = dir.join(name);
    std::fs::write(&file, bytes)?;
    run(Command::new("python3")
        .arg("-c")
        .arg(VERIFY_PY)
        .arg(&file)
        .args([SELECTOR, DOMAIN, record]))
}

/// The raw message with the value of header `name` (first occurrence, one line) passed
/// through `change`.
fn with_header(raw: &str, name: &str, change: impl Fn(&str) -> String) -> Result<String> {
    let prefix = format!("\r\n{name}: ");
    let start = raw
        .to_ascii_lowercase()
        .find(&prefix.to_ascii_lowercase())
        .with_context(|| format!("no {name} in {raw}"))?
        + prefix.len();
    let end = start + raw[start..].find("\r\n").context("unterminated header")?;
    let changed = change(&raw[start..end]);
    ensure!(changed != raw[start..end], "{name} unchanged");
    Ok(format!("{}{}{}", &raw[..start], changed, &raw[end..]))
}

fn signature_tags(mail: &ReceivedMail) -> Result<String> {
    let sig = mail
        .headers
        .get("dkim-signature")
        .with_context(|| format!("unsigned: {}", mail.raw))?;
    Ok(sig.split_whitespace().collect())
}

async fn signed_and_verified(alg: Alg) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (key, record) = make_key(dir.path(), alg)?;
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp.email_toml(), &key)).await?;

    // The record the daemon prints is the one openssl derives from the key.
    let printed = run(Command::new(stockbelld_bin()?)
        .arg("dkim-record")
        .arg("--config")
        .arg(daemon.config_path()))?;
    ensure!(
        printed == record,
        "dkim-record {printed:?} != openssl {record:?}"
    );

    // A marketing mail (restock, with List-Unsubscribe) and a transactional one (the
    // backorder confirmation).
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let kettle = ProductUpsert {
        imported: true,
        backorderable: true,
        ..catalog("kettle", 4_800)
    };
    publish_ok(
        &mut ingest,
        seq.batch(
            [
                sold_out_with_waiter("tee", 1980, "fan", "fan@example.jp"),
                vec![upsert(kettle), stock_set("kettle", 0), shopper("buyer")],
            ]
            .concat(),
        ),
    )
    .await?;
    publish_ok(
        &mut ingest,
        seq.batch(vec![
            stock_set("tee", 20),
            order_placed("o1", "buyer", &[("1", "kettle", 2)]),
        ]),
    )
    .await?;
    // The restock to "fan" (marketing) and the backorder confirmation to "buyer" (the
    // one with the cancel link; "buyer" may get marketing too).
    let (marketing, transactional) = poll_until(WAIT, || async {
        let mails = smtp.messages();
        let to = |m: &ReceivedMail, who: &str| m.to.iter().any(|t| t == who);
        let marketing = mails
            .iter()
            .find(|m| to(m, "fan@example.jp"))
            .cloned()
            .context("no restock mail yet")?;
        let transactional = mails
            .iter()
            .find(|m| to(m, "buyer@example.jp") && cancel_path(&m.raw).is_some())
            .cloned()
            .with_context(|| format!("no backorder confirmation yet: {mails:?}"))?;
        Ok((marketing, transactional))
    })
    .await?;
    ensure!(marketing.headers.get("list-unsubscribe-post").is_some());
    ensure!(transactional.headers.get("list-unsubscribe").is_none());

    let a = match alg {
        Alg::Rsa => "a=rsa-sha256;",
        Alg::Ed25519 => "a=ed25519-sha256;",
    };
    for mail in [&marketing, &transactional] {
        let tags = signature_tags(mail)?;
        for tag in [
            a,
            "c=relaxed/relaxed;",
            "d=shop.example;",
            "s=sb2026;",
            "h=from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post;",
        ] {
            ensure!(tags.contains(tag), "{tag} not in {tags}");
        }
    }

    let d = dir.path();
    ensure!(verify(d, "m.eml", marketing.raw.as_bytes(), &record)? == "pass");
    ensure!(verify(d, "t.eml", transactional.raw.as_bytes(), &record)? == "pass");
    // The verifier is not a yes-sayer: another key's record fails.
    let other_dir = d.join("other");
    std::fs::create_dir_all(&other_dir)?;
    let (_, other) = make_key(&other_dir, alg)?;
    ensure!(verify(d, "m-other.eml", marketing.raw.as_bytes(), &other)? == "fail");

    let subject = with_header(&marketing.raw, "Subject", |v| format!("{v}!"))?;
    ensure!(verify(d, "m-subject.eml", subject.as_bytes(), &record)? == "fail");
    let list = with_header(&marketing.raw, "List-Unsubscribe", |v| {
        v.replacen("unsubscribe", "unsubscribx", 1)
    })?;
    ensure!(verify(d, "m-list.eml", list.as_bytes(), &record)? == "fail");
    let subject = with_header(&transactional.raw, "Subject", |v| format!("{v}!"))?;
    ensure!(verify(d, "t-subject.eml", subject.as_bytes(), &record)? == "fail");
    // List-Unsubscribe is signed as absent on transactional mail: adding one fails.
    let added = transactional.raw.replacen(
        "\r\nSubject: ",
        "\r\nList-Unsubscribe: <https://evil.example/u>\r\nSubject: ",
        1,
    );
    ensure!(added != transactional.raw, "no Subject line");
    ensure!(verify(d, "t-added.eml", added.as_bytes(), &record)? == "fail");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_signed_mail_verifies_and_a_changed_header_fails() -> Result<()> {
    signed_and_verified(Alg::Rsa).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_signed_mail_verifies_and_a_changed_header_fails() -> Result<()> {
    signed_and_verified(Alg::Ed25519).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eml_files_are_signed_too() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (key, record) = make_key(dir.path(), Alg::Ed25519)?;
    let eml = dir.path().join("eml");
    let email = format!(
        "[email]\nfrom = \"Shop <news@mail.shop.example>\"\neml_dir = {:?}\n",
        eml.display().to_string()
    );
    let daemon = Daemon::start(options(&email, &key)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    publish_ok(
        &mut ingest,
        seq.batch(sold_out_with_waiter("tee", 1980, "fan", "fan@example.jp")),
    )
    .await?;
    publish_ok(&mut ingest, seq.batch(vec![stock_set("tee", 20)])).await?;
    let bytes = poll_until(WAIT, || async {
        let file = std::fs::read_dir(&eml)?
            .filter_map(|e| Some(e.ok()?.path()))
            .find(|p| p.extension().is_some_and(|x| x == "eml"))
            .context("no .eml yet")?;
        Ok(std::fs::read(file)?)
    })
    .await?;
    let d = dir.path();
    ensure!(verify(d, "e.eml", &bytes, &record)? == "pass");
    let raw = String::from_utf8(bytes)?;
    let subject = with_header(&raw, "Subject", |v| format!("{v}!"))?;
    ensure!(verify(d, "e-subject.eml", subject.as_bytes(), &record)? == "fail");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_refuses_a_mismatched_key_and_warns_about_plain_http() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (key, _) = make_key(dir.path(), Alg::Ed25519)?;
    let file = dir.path().join("stockbelld.toml");
    let base = format!(
        "[storage]\npath = {:?}\n[email]\nfrom = \"Shop <news@shop.example>\"\n",
        dir.path().join("data").display().to_string()
    );
    std::fs::write(
        &file,
        format!("{base}{}", dkim_toml(&key, Some("rsa-sha256"))),
    )?;
    let out = check_config(&file)?;
    ensure!(!out.status.success(), "{}", out.text());
    ensure!(
        out.stderr.contains("email.dkim.algorithm") && out.stderr.contains("ed25519"),
        "{}",
        out.text()
    );

    std::fs::write(
        &file,
        format!(
            "{base}{}[templates]\npublic_url = \"http://shop.example\"\n",
            dkim_toml(&key, Some("ed25519-sha256"))
        ),
    )?;
    let out = check_config(&file)?;
    ensure!(out.status.success(), "{}", out.text());
    ensure!(out.stdout.trim() == "ok", "{}", out.text());
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    ensure!(
        warnings.len() == 1 && warnings[0].contains("templates.public_url"),
        "{}",
        out.text()
    );
    if !out.stderr.contains("https://") {
        bail!("the warning does not say what to do: {}", out.text());
    }
    Ok(())
}
