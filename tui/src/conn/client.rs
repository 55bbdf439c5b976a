//! Connecting the Admin client (with the shared bearer-token interceptor of
//! `stockbell_proto::auth`), and gRPC statuses in words.

use std::error::Error as StdError;
use std::time::Duration;

use stockbell_proto::auth::AdminClient;
use stockbell_proto::v1::admin_client;
use tonic::transport::Endpoint;
use tonic::{Code, Status};

use super::ConnConfig;

/// An error and its sources, joined: "transport error: tcp connect error: Connection refused".
pub fn error_chain(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

/// The gRPC name of a status code, as operators see it in docs and grpcurl.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A status in words, with the fix for the ones an operator can fix.
pub fn describe_status(s: &Status) -> String {
    let mut text = format!("{}: {}", code_name(s.code()), s.message());
    // The innermost cause ("Connection refused (os error 111)") is the useful part.
    let mut cause = s.source();
    while let Some(next) = cause.and_then(|c| c.source()) {
        cause = Some(next);
    }
    if let Some(c) = cause {
        let c = c.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    match s.code() {
        Code::Unauthenticated | Code::PermissionDenied => {
            text.push_str(" (pass an admin token with --token or STOCKBELL_ADMIN_TOKEN)")
        }
        _ => {}
    }
    text
}

/// Opens a channel to the daemon (fails fast when nothing listens).
pub(super) async fn connect(cfg: &ConnConfig) -> Result<AdminClient, String> {
    let mut endpoint = Endpoint::from_shared(cfg.addr.clone())
        .map_err(|e| format!("--addr {:?}: {}", cfg.addr, error_chain(&e)))?;
    if let Some(tls) = &cfg.tls {
        endpoint = endpoint
            .tls_config(tls.clone())
            .map_err(|e| format!("TLS: {}", error_chain(&e)))?;
    }
    let endpoint = endpoint
        .connect_timeout(cfg.connect_timeout)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(|e| error_chain(&e))?;
    Ok(admin_client::AdminClient::with_interceptor(
        channel,
        cfg.bearer.clone(),
    ))
}
