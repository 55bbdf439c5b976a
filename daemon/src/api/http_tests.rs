//! The HTTP routes against a real store and router, in process and over TCP.

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::actors::test_stack::{customer, Stack};
use crate::delivery::outbox::reads::load;
use crate::delivery::outbox::{OutboxOwner, RetryPolicy};
use crate::delivery::test_support::{create_batch, sample_entry};
use crate::domain::message::OutboxStatus;

const SECRET: &[u8] = b"an unsubscribe secret for tests!";

struct Fixture {
    stack: Stack,
    state: HttpState,
}

impl Fixture {
    async fn new() -> Fixture {
        let stack = Stack::new().await;
        let policy = RetryPolicy {
            base_ms: 1_000,
            max_ms: 60_000,
            max_attempts: 3,
        };
        let (outbox, _) =
            OutboxOwner::start(stack.db.store().clone(), stack.db.writer.clone(), policy);
        let state = HttpState {
            outbox,
            router: stack.router.clone(),
            links: UnsubscribeLinks::new(SECRET.to_vec(), "http://127.0.0.1:8080", 60_000),
            cancel: crate::delivery::cancel_link::CancelLinks::new(
                SECRET.to_vec(),
                "http://127.0.0.1:8080",
                60_000,
            ),
            metrics: std::sync::Arc::new(crate::metrics::Metrics::default()),
            clicks: None,
            store: stack.db.store().clone(),
            complaint_tokens: std::sync::Arc::new(Vec::new()),
            prometheus: None,
        };
        Fixture { stack, state }
    }

    async fn close(self) {
        drop(self.state);
        self.stack.close().await;
    }

    async fn call(&self, method: Method, uri: &str, body: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let resp = handle(&self.state, req).await;
        let status = resp.status();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn token(channel: Option<Channel>, expires_ms: i64) -> String {
    sign_token(SECRET, "cust-42", channel, expires_ms)
}

fn far() -> i64 {
    now_ms() + 3_600_000
}

#[tokio::test]
async fn healthz_and_unknown_routes() {
    let f = Fixture::new().await;
    assert_eq!(
        f.call(Method::GET, "/healthz", "").await,
        (StatusCode::OK, "ok\n".into())
    );
    assert_eq!(
        f.call(Method::GET, "/nope", "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.call(Method::POST, "/healthz", "").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        f.call(Method::DELETE, "/unsubscribe", "").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    f.close().await;
}

#[tokio::test]
async fn get_shows_a_form_and_changes_nothing() {
    let f = Fixture::new().await;
    let uri = format!("/unsubscribe?token={}", token(Some(Channel::Email), far()));
    let (status, page) = f.call(Method::GET, &uri, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<form method=\"post\">") && page.contains("One-Click"),
        "{page}"
    );
    assert!(page.contains("メール") && page.contains("email"), "{page}");
    assert!(customer(&f.state.router, "cust-42").await.consent.email);
    f.close().await;
}

#[tokio::test]
async fn bad_tokens_get_400_with_the_reason() {
    let f = Fixture::new().await;
    let expired = token(Some(Channel::Email), now_ms() - 1);
    let foreign = sign_token(b"some other secret of enough size", "cust-42", None, far());
    let mut tampered = token(Some(Channel::Email), far());
    tampered.insert(3, 'x');
    for (uri, says) in [
        (format!("/unsubscribe?token={expired}"), "expired"),
        (
            format!("/unsubscribe?token={foreign}"),
            "not issued by this shop",
        ),
        (format!("/unsubscribe?token={tampered}"), "link"),
        ("/unsubscribe".to_string(), "incomplete"),
    ] {
        for method in [Method::GET, Method::POST] {
            let (status, page) = f
                .call(method.clone(), &uri, "List-Unsubscribe=One-Click")
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}");
            assert!(page.contains(says), "{method} {uri}: {page}");
        }
    }
    assert!(customer(&f.state.router, "cust-42").await.consent.email);
    f.close().await;
}

#[tokio::test]
async fn one_click_post_unsubscribes_and_cancels_queued_marketing() {
    let f = Fixture::new().await;
    for (seq, channel, marketing) in [
        (1, Channel::Email, true),
        (2, Channel::Email, false),
        (3, Channel::Line, true),
    ] {
        let e = sample_entry(seq, channel, marketing);
        f.stack
            .db
            .writer
            .write(create_batch(&e), 0)
            .await
            .expect("write");
    }
    // Percent-encoding of the token is tolerated.
    let uri = format!(
        "/unsubscribe?token={}",
        token(Some(Channel::Email), far()).replace('.', "%2E")
    );
    let (status, page) = f
        .call(Method::POST, &uri, "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let c = customer(&f.state.router, "cust-42").await;
    assert!(!c.consent.email && c.consent.line, "{:?}", c.consent);
    assert!(c.suppressed.is_empty());
    let status = |seq| {
        load(f.stack.db.store(), seq)
            .expect("read")
            .expect("entry")
            .status
    };
    assert_eq!(
        [status(1), status(2), status(3)],
        [
            OutboxStatus::Cancelled,
            OutboxStatus::Pending,
            OutboxStatus::Pending
        ]
    );
    // Again (a second click): still fine.
    assert_eq!(f.call(Method::POST, &uri, "").await.0, StatusCode::OK);
    // Every channel.
    let uri = format!("/unsubscribe?token={}", token(None, far()));
    assert_eq!(f.call(Method::POST, &uri, "").await.0, StatusCode::OK);
    assert_eq!(status(3), OutboxStatus::Cancelled);
    let c = customer(&f.state.router, "cust-42").await;
    assert!(!c.consent.line && !c.consent.webhook);
    f.close().await;
}

#[tokio::test]
async fn unknown_customer_still_gets_a_page() {
    let f = Fixture::new().await;
    let t = sign_token(SECRET, "gone", Some(Channel::Email), far());
    let (status, _) = f
        .call(Method::POST, &format!("/unsubscribe?token={t}"), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    f.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_over_tcp_and_stops_on_shutdown() {
    let f = Fixture::new().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (stop, stop_rx) = watch::channel(false);
    let server = HttpServer::start(listener, f.state.clone(), stop_rx).expect("start");
    let addr = server.addr();
    let t = token(Some(Channel::Email), far());
    let request = format!(
        "POST /unsubscribe?token={t} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 26\r\nConnection: close\r\n\r\nList-Unsubscribe=One-Click"
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.expect("read");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply
        .to_ascii_lowercase()
        .contains("referrer-policy: no-referrer"));
    assert!(!customer(&f.state.router, "cust-42").await.consent.email);

    // An idle keep-alive connection must not hold up the shutdown.
    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let mut buf = [0u8; 256];
    let n = idle.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), server.join(Duration::from_secs(5)))
        .await
        .expect("stopped in time");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    f.close().await;
}

fn cancel_token(customer: &str, order: &str, expires_ms: i64) -> String {
    crate::delivery::cancel_link::sign_cancel_token(SECRET, customer, order, expires_ms)
}

async fn cancel_requests_logged(f: &Fixture) -> usize {
    f.stack
        .db
        .store()
        .read(|s| {
            Ok(
                s.iter::<crate::store::orders::CancelRequests>(crate::store::Seek::First)?
                    .count(),
            )
        })
        .await
        .expect("read")
}

#[tokio::test]
async fn bad_cancel_links_are_refused_and_record_nothing() {
    let f = Fixture::new().await;
    let expired = cancel_token("cust-42", "o1", now_ms() - 1);
    let mut tampered = cancel_token("cust-42", "o1", far());
    tampered.insert(3, 'x');
    // An unsubscribe link's token, for the same secret, is not a cancel token.
    let unsubscribe = token(None, far());
    for (uri, status, says) in [
        (
            format!("/cancel?token={expired}"),
            StatusCode::GONE,
            "expired",
        ),
        (
            format!("/cancel?token={tampered}"),
            StatusCode::BAD_REQUEST,
            "link",
        ),
        (
            format!("/cancel?token={unsubscribe}"),
            StatusCode::BAD_REQUEST,
            "not issued by this shop",
        ),
        ("/cancel".to_string(), StatusCode::BAD_REQUEST, "incomplete"),
    ] {
        for method in [Method::GET, Method::POST] {
            let (got, page) = f.call(method.clone(), &uri, "").await;
            assert_eq!(got, status, "{method} {uri}: {page}");
            assert!(page.contains(says), "{method} {uri}: {page}");
        }
    }
    // The token in a form body is read too (and checked the same way).
    let (got, _) = f
        .call(Method::POST, "/cancel", &format!("token={tampered}"))
        .await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    // A valid link for an order the customer does not have.
    let unknown = cancel_token("cust-42", "no-such-order", far());
    for method in [Method::GET, Method::POST] {
        let (got, page) = f
            .call(method.clone(), &format!("/cancel?token={unknown}"), "")
            .await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{method}: {page}");
    }
    assert_eq!(
        f.call(Method::DELETE, "/cancel", "").await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(cancel_requests_logged(&f).await, 0);
    f.close().await;
}
