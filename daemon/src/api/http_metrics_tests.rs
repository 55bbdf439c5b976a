//! `/metrics` answers: off, auth, formats; and the constant-time compare.

use http_body_util::BodyExt;
use prometheus_client::metrics::counter::Counter;

use super::*;

const TOKEN: &str = "a-metrics-token-0123456789";

fn endpoint(token: &str) -> Arc<MetricsEndpoint> {
    let mut r = Registry::default();
    let c: Counter = Counter::default();
    c.inc_by(7);
    r.register("stockbell_test_things", "Things", c);
    Arc::new(MetricsEndpoint::new(r, token))
}

async fn get(
    ep: Option<Arc<MetricsEndpoint>>,
    method: Method,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::builder().method(method).uri("/metrics");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = handle(ep, &req.body(Full::new(Bytes::new())).expect("request")).await;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn disabled_is_404() {
    let (status, _, _) = get(None, Method::GET, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn open_endpoint_serves_prometheus_text() {
    let (status, h, body) = get(Some(endpoint("")), Method::GET, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[CONTENT_TYPE], PROMETHEUS_TEXT);
    assert!(
        body.contains("# TYPE stockbell_test_things_total counter\n"),
        "{body}"
    );
    assert!(body.contains("\nstockbell_test_things_total 7\n"), "{body}");
    assert!(!body.contains("# EOF"), "{body}");
}

#[tokio::test]
async fn openmetrics_when_asked() {
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (status, h, body) = get(Some(endpoint("")), Method::GET, &[("accept", accept)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[CONTENT_TYPE], OPENMETRICS_TEXT);
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("stockbell_test_things_total 7\n"), "{body}");
}

#[tokio::test]
async fn token_required_when_set() {
    let ep = endpoint(TOKEN);
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong-token-0123456789ab")],
        vec![("authorization", "Bearer ")],
        vec![("authorization", TOKEN)],
        vec![("authorization", "Basic YTpi")],
        // A prefix of the token is not the token.
        vec![("authorization", "Bearer a-metrics-token")],
    ] {
        let (status, h, body) = get(Some(ep.clone()), Method::GET, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert!(
            h[WWW_AUTHENTICATE]
                .to_str()
                .is_ok_and(|v| v.starts_with("Bearer")),
            "{h:?}"
        );
        assert!(!body.contains("stockbell_test_things"), "{body}");
    }
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = get(Some(ep), Method::GET, &[("authorization", &auth)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("stockbell_test_things_total 7"), "{body}");
}

#[tokio::test]
async fn head_has_no_body_and_other_methods_are_refused() {
    let (status, h, body) = get(Some(endpoint("")), Method::HEAD, &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert_eq!(h[CONTENT_TYPE], PROMETHEUS_TEXT);
    let (status, h, _) = get(Some(endpoint("")), Method::POST, &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[ALLOW], "GET, HEAD");
}

#[test]
fn secrets_compare_whole() {
    assert!(same_secret("abc", "abc"));
    assert!(!same_secret("abc", "abd"));
    assert!(!same_secret("ab", "abc"));
    assert!(!same_secret("abcd", "abc"));
    assert!(!same_secret("", "abc"));
}
