//! Tests for `webhook.rs`; HTTP channels run against `test_support::TestServer`.

use std::time::Duration;

use super::*;
use crate::delivery::test_support::{
    dead_addr, sample_entry, sample_rendered, silent_server, TestServer,
};
use crate::domain::customer::Channel;

fn config(url: String) -> WebhookConfig {
    WebhookConfig {
        url,
        secret: "s3cret".into(),
        timeout: Dur(Duration::from_secs(5)),
    }
}

#[test]
fn signature_matches_a_known_vector() {
    // RFC 4231 test case 2.
    assert_eq!(
        sign(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert!(verify(
        b"Jefe",
        b"what do ya want for nothing?",
        &sign(b"Jefe", b"what do ya want for nothing?")
    ));
    assert!(!verify(
        b"Jefe",
        b"what do ya want for something?",
        &sign(b"Jefe", b"what do ya want for nothing?")
    ));
    assert!(!verify(b"Jefe", b"x", "sha256=zz"));
    assert!(!verify(b"Jefe", b"x", "md5=00"));
}

#[test]
fn config_errors_name_the_key() {
    let mut c = config("http://127.0.0.1:1/hook".into());
    c.secret = String::new();
    assert!(WebhookSender::new(&c)
        .unwrap_err()
        .to_string()
        .starts_with("webhook.secret:"));
    let c = config("mailto:x@y".into());
    assert!(WebhookSender::new(&c)
        .unwrap_err()
        .to_string()
        .starts_with("webhook.url:"));
    let c: WebhookConfig = toml::from_str("url = \"https://h.example/x\"\nsecret = \"k\"").unwrap();
    assert_eq!(c.timeout.0, Duration::from_secs(10));
    assert!(!format!("{c:?}").contains("\"k\""));
}

#[tokio::test]
async fn posts_signed_json() {
    let server = TestServer::start(&[204]).await;
    let sender = WebhookSender::new(&config(format!("{}/hooks/stockbell", server.url()))).unwrap();
    let entry = sample_entry(99, Channel::Webhook, true);
    sender.send(&entry, &sample_rendered()).await.unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hooks/stockbell");
    assert_eq!(req.header("content-type"), "application/json");
    assert_eq!(req.header(DELIVERY_HEADER), "99");
    assert!(verify(b"s3cret", &req.body, req.header(SIGNATURE_HEADER)));
    assert!(!verify(b"other", &req.body, req.header(SIGNATURE_HEADER)));

    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["id"], 99);
    assert_eq!(body["customer_id"], "cust-42");
    assert_eq!(body["scenario"], "low_stock");
    assert_eq!(body["subject"], sample_rendered().subject.as_str());
    assert_eq!(body["text"], sample_rendered().text.as_str());
    assert_eq!(body["created_ms"], 1_700_000_000_000_i64);
    let items: Vec<ItemContext> = serde_json::from_value(body["items"].clone()).unwrap();
    assert_eq!(items, entry.context.items);
    assert_eq!(body["class"], "marketing");
    assert!(body.get("order").is_none(), "{body}");
}

/// An order update carries its class and its order, with promises a receiver can read
/// without knowing Rust's enum layout.
#[tokio::test]
async fn an_order_update_carries_its_order() {
    let server = TestServer::start(&[204]).await;
    let sender = WebhookSender::new(&config(server.url())).unwrap();
    let entry = sample_entry(7, Channel::Webhook, false);
    sender.send(&entry, &sample_rendered()).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(body["scenario"], "shipped");
    assert_eq!(body["class"], "transactional");
    let order = &body["order"];
    assert_eq!(order["order_id"], "1001");
    assert_eq!(order["shipment"]["tracking_number"], "1234-5678-9012");
    let line = &order["lines"][0];
    assert_eq!(
        (line["sku"].as_str(), line["quantity"].as_i64()),
        (Some("SKU-1"), Some(2))
    );
    assert_eq!(
        line["promise"],
        serde_json::json!({"kind": "window", "earliest_ms": 1_702_339_200_000_i64, "latest_ms": 1_702_944_000_000_i64})
    );
    assert_eq!(line["waited"], true);
}

#[tokio::test]
async fn maps_statuses() {
    let server = TestServer::start(&[200, 409, 429, 400, 500]).await;
    let sender = WebhookSender::new(&config(server.url())).unwrap();
    let entry = sample_entry(1, Channel::Webhook, false);
    assert_eq!(sender.send(&entry, &sample_rendered()).await, Ok(()));
    // Unlike LINE, a webhook conflict is just another client error; 429 and 5xx say the
    // receiver cannot take messages now.
    for expect_permanent in [true, false, true, false] {
        let err = sender.send(&entry, &sample_rendered()).await.unwrap_err();
        assert_eq!(err.is_permanent(), expect_permanent, "{err}");
        assert_eq!(err.channel_down(), !expect_permanent, "{err}");
    }
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn network_failures_mean_the_channel_is_down() {
    let addr = dead_addr().await;
    let sender = WebhookSender::new(&config(format!("http://{addr}/"))).unwrap();
    let err = sender
        .send(
            &sample_entry(1, Channel::Webhook, false),
            &sample_rendered(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::ChannelDown(_)), "{err}");

    let (addr, task) = silent_server().await;
    let mut c = config(format!("http://{addr}/"));
    c.timeout = Dur(Duration::from_millis(200));
    let sender = WebhookSender::new(&c).unwrap();
    let err = sender
        .send(
            &sample_entry(1, Channel::Webhook, false),
            &sample_rendered(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::ChannelDown(_)), "{err}");
    assert!(err.reason().contains("no response within"), "{err}");
    task.abort();
}
