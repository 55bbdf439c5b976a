//! Tests for `line.rs`; HTTP channels run against `test_support::TestServer`.

use super::*;
use crate::delivery::test_support::{dead_addr, sample_entry, sample_rendered, TestServer};
use crate::domain::customer::Channel;

fn config(base_url: String) -> LineConfig {
    LineConfig {
        base_url,
        channel_token: "tok-secret".into(),
        timeout: Dur(std::time::Duration::from_secs(5)),
    }
}

#[test]
fn retry_key_is_a_stable_uuid() {
    let a = retry_key(7);
    assert_eq!(a, retry_key(7));
    assert_ne!(a, retry_key(8));
    let groups: Vec<&str> = a.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{a}"
    );
    assert!(a
        .chars()
        .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert!(groups[2].starts_with('4'), "version nibble: {a}");
    assert!(
        matches!(&groups[3][..1], "8" | "9" | "a" | "b"),
        "variant: {a}"
    );
}

#[test]
fn truncates_on_char_boundaries() {
    let long = "あ".repeat(MAX_TEXT_CHARS + 5);
    assert_eq!(
        truncate_chars(&long, MAX_TEXT_CHARS).chars().count(),
        MAX_TEXT_CHARS
    );
    assert_eq!(truncate_chars("short", MAX_TEXT_CHARS), "short");
}

#[test]
fn config_errors_name_the_key() {
    let mut c = config("https://api.line.me".into());
    c.channel_token = " ".into();
    assert!(LineSender::new(&c)
        .unwrap_err()
        .to_string()
        .starts_with("line.channel_token:"));
    c.channel_token = "a\nb".into();
    assert!(LineSender::new(&c)
        .unwrap_err()
        .to_string()
        .starts_with("line.channel_token:"));
    let c = config("api.line.me".into());
    assert!(LineSender::new(&c)
        .unwrap_err()
        .to_string()
        .starts_with("line.base_url:"));
}

#[test]
fn config_parses_with_defaults() {
    let c: LineConfig = toml::from_str("channel_token = \"abc\"").unwrap();
    assert_eq!(c.base_url, "https://api.line.me");
    assert_eq!(c.timeout.0, std::time::Duration::from_secs(10));
    assert!(!format!("{c:?}").contains("abc"));
    assert!(toml::from_str::<LineConfig>("channel_token = \"a\"\nbogus = 1").is_err());
}

#[tokio::test]
async fn pushes_with_auth_and_a_stable_retry_key() {
    let server = TestServer::start(&[200, 200]).await;
    // A trailing slash on the base URL must not double up in the path.
    let sender = LineSender::new(&config(format!("{}/", server.url()))).unwrap();
    let entry = sample_entry(41, Channel::Line, true);
    let mut long = sample_rendered();
    long.text = "x".repeat(MAX_TEXT_CHARS + 100);
    sender.send(&entry, &long).await.unwrap();
    sender.send(&entry, &long).await.unwrap();
    sender
        .send(&sample_entry(42, Channel::Line, true), &sample_rendered())
        .await
        .unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let first = &reqs[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v2/bot/message/push");
    assert_eq!(first.header("authorization"), "Bearer tok-secret");
    assert_eq!(first.header("content-type"), "application/json");
    assert_eq!(first.header("x-line-retry-key"), retry_key(41));
    assert_eq!(reqs[1].header("x-line-retry-key"), retry_key(41));
    assert_ne!(reqs[2].header("x-line-retry-key"), retry_key(41));

    let body: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["to"], "U4af4980629");
    assert_eq!(body["messages"][0]["type"], "text");
    let text = body["messages"][0]["text"].as_str().unwrap();
    assert_eq!(text.chars().count(), MAX_TEXT_CHARS);
}

#[tokio::test]
async fn maps_statuses() {
    let server = TestServer::start(&[200, 409, 429, 400, 500, 401]).await;
    let sender = LineSender::new(&config(server.url())).unwrap();
    let entry = sample_entry(1, Channel::Line, false);
    assert_eq!(sender.send(&entry, &sample_rendered()).await, Ok(()));
    // The retry key was already accepted: the message was delivered.
    assert_eq!(sender.send(&entry, &sample_rendered()).await, Ok(()));
    let err = sender.send(&entry, &sample_rendered()).await.unwrap_err();
    assert!(matches!(err, SendError::ChannelDown(_)), "429: {err}");
    let err = sender.send(&entry, &sample_rendered()).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "400: {err}");
    assert!(
        err.reason().contains("400") && err.reason().contains("status 400"),
        "{err}"
    );
    let err = sender.send(&entry, &sample_rendered()).await.unwrap_err();
    assert!(matches!(err, SendError::ChannelDown(_)), "500: {err}");
    let err = sender.send(&entry, &sample_rendered()).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "401: {err}");
}

#[tokio::test]
async fn connection_refused_means_the_channel_is_down() {
    let addr = dead_addr().await;
    let sender = LineSender::new(&config(format!("http://{addr}"))).unwrap();
    let err = sender
        .send(&sample_entry(1, Channel::Line, false), &sample_rendered())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::ChannelDown(_)), "{err}");
    assert!(err.reason().contains(&addr.to_string()), "{err}");
}
