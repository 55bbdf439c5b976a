//! Which SMTP failures mean "the channel is down" (connection, TLS, greeting, AUTH,
//! timeouts, 421) and which are about one message (a 4xx or 5xx to its transaction),
//! against a scripted server.

use std::time::Duration;

use super::*;
use crate::delivery::test_support::{
    dead_addr, sample_entry, sample_rendered, silent_server, ScriptedSmtp,
};
use crate::domain::customer::Channel;

fn sender(addr: std::net::SocketAddr, timeout: Duration) -> EmailSender {
    EmailSender::new(&EmailConfig {
        from: "Shop <news@shop.example>".into(),
        smtp: Some(SmtpConfig {
            host: addr.ip().to_string(),
            port: Some(addr.port()),
            tls: SmtpTls::None,
            username: None,
            password: None,
            pool_size: 1,
            timeout: Dur(timeout),
            ca_file: None,
        }),
        eml_dir: PathBuf::new(),
    })
    .expect("sender")
}

async fn send(s: &EmailSender) -> Result<(), SendError> {
    s.send(&sample_entry(1, Channel::Email, true), &sample_rendered())
        .await
}

#[tokio::test]
async fn no_connection_or_no_answer_means_the_channel_is_down() {
    let refused = sender(dead_addr().await, Duration::from_secs(2));
    assert!(send(&refused).await.unwrap_err().channel_down());
    let (addr, task) = silent_server().await;
    let err = send(&sender(addr, Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert!(err.channel_down(), "{err}");
    assert!(err.reason().contains("within"), "{err}");
    task.abort();
}

#[tokio::test]
async fn a_refusal_before_the_transaction_means_the_channel_is_down() {
    // Even a permanent greeting refusal says nothing about the recipient.
    let busy = ScriptedSmtp::start("554 5.3.2 not accepting mail").await;
    let err = send(&sender(busy.addr, Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(err.channel_down() && !err.blames_address(), "{err}");
    let ehlo = ScriptedSmtp::start("220 scripted").await;
    ehlo.script("EHLO", &["421 4.3.2 shutting down"]);
    let err = send(&sender(ehlo.addr, Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(err.channel_down(), "{err}");
}

#[tokio::test]
async fn a_421_in_the_transaction_means_the_channel_is_down() {
    let smtp = ScriptedSmtp::start("220 scripted").await;
    smtp.script("MAIL", &["421 4.7.0 too many errors, closing"]);
    let s = sender(smtp.addr, Duration::from_secs(2));
    let err = send(&s).await.unwrap_err();
    assert!(err.channel_down(), "{err}");
    assert!(err.reason().contains("421"), "{err}");
    // The next message goes out on a new connection.
    assert_eq!(send(&s).await, Ok(()));
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn a_4xx_or_5xx_for_the_recipient_is_about_this_message() {
    let smtp = ScriptedSmtp::start("220 scripted").await;
    smtp.script(
        "RCPT",
        &["450 4.2.1 mailbox busy", "550 5.1.1 no such user"],
    );
    let s = sender(smtp.addr, Duration::from_secs(2));
    let err = send(&s).await.unwrap_err();
    assert!(matches!(err, SendError::Transient(_)), "{err}");
    assert!(err.reason().contains("450"), "{err}");
    let err = send(&s).await.unwrap_err();
    assert!(
        matches!(err, SendError::Permanent(_)) && err.blames_address(),
        "{err}"
    );
    assert_eq!(send(&s).await, Ok(()));
}

#[tokio::test]
async fn an_eml_directory_that_cannot_be_written_means_the_channel_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = EmailSender::new(&EmailConfig {
        from: "Shop <news@shop.example>".into(),
        smtp: None,
        eml_dir: dir.path().join("eml"),
    })
    .expect("sender");
    std::fs::remove_dir(dir.path().join("eml")).expect("remove the directory");
    let err = send(&s).await.unwrap_err();
    assert!(err.channel_down(), "{err}");
}
