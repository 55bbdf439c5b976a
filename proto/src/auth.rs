//! The bearer token a stockbell client sends: [`Bearer`] adds `authorization: Bearer TOKEN`
//! to every request (a tonic interceptor), and [`AdminClient`] / [`IngestClient`] are the
//! generated clients with it in place. The one copy for the console, the tests and the
//! load generator; the daemon checks the header against `auth.admin_tokens` and
//! `auth.ingest_tokens`.

use std::fmt;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::v1::{admin_client, ingest_client};

/// An Admin client that sends a [`Bearer`] token (or none) with every call.
pub type AdminClient = admin_client::AdminClient<InterceptedService<Channel, Bearer>>;
/// An Ingest client that sends a [`Bearer`] token (or none) with every call.
pub type IngestClient = ingest_client::IngestClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer TOKEN` to every request when it holds a token; the default
/// holds none (for a daemon without tokens).
#[derive(Debug, Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// A token to send, or none: `None` and `Some("")` (an empty `--token` or environment
    /// variable) both mean "send no header". Fails when the token could not be sent as a
    /// header value or could never match a daemon token: it must be printable ASCII
    /// without spaces.
    pub fn new(token: Option<&str>) -> Result<Self, InvalidToken> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(Self(None));
        };
        if let Some((at, found)) = token
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_graphic())
        {
            return Err(InvalidToken { at, found });
        }
        format!("Bearer {token}")
            .parse::<MetadataValue<Ascii>>()
            .map(|v| Self(Some(v)))
            // Unreachable after the check above; kept as an error rather than a panic.
            .map_err(|_| InvalidToken {
                at: 0,
                found: token.chars().next().unwrap_or(' '),
            })
    }

    /// Whether a token is sent.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A token with a character that cannot be sent in an `authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidToken {
    /// Position of the first bad character (0-based, in characters).
    pub at: usize,
    pub found: char,
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.found {
            ' ' => "a space".to_string(),
            c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
            c => format!("{c:?}"),
        };
        write!(
            f,
            "the bearer token has {what} at character {}: a token must be printable ASCII \
             without spaces; pass it exactly as listed in the daemon's auth.admin_tokens or \
             auth.ingest_tokens",
            self.at + 1
        )
    }
}

impl std::error::Error for InvalidToken {}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bearer: &mut Bearer) -> Option<String> {
        let req = bearer
            .call(Request::new(()))
            .expect("the interceptor never refuses");
        req.metadata()
            .get("authorization")
            .map(|v| v.to_str().expect("ascii").to_string())
    }

    #[test]
    fn a_token_is_sent_as_a_bearer_header() {
        let mut b = Bearer::new(Some("s3cret-token-0123456")).expect("valid token");
        assert!(b.is_set());
        assert_eq!(
            header(&mut b).as_deref(),
            Some("Bearer s3cret-token-0123456")
        );
    }

    #[test]
    fn no_token_sends_no_header() {
        for token in [None, Some("")] {
            let mut b = Bearer::new(token).expect("no token is fine");
            assert!(!b.is_set(), "{token:?}");
            assert_eq!(header(&mut b), None, "{token:?}");
        }
        assert_eq!(header(&mut Bearer::default()), None);
    }

    #[test]
    fn tokens_that_cannot_be_sent_are_refused_with_the_place_and_the_fix() {
        for (token, at, found, says) in [
            ("two words", 3, ' ', "a space at character 4"),
            ("トークン", 0, 'ト', "'ト' at character 1"),
            ("tab\there", 3, '\t', "U+0009 at character 4"),
            ("line\n", 4, '\n', "U+000A at character 5"),
        ] {
            let e = Bearer::new(Some(token)).expect_err(token);
            assert_eq!((e.at, e.found), (at, found), "{token:?}");
            let text = e.to_string();
            assert!(text.contains(says), "{token:?}: {text}");
            assert!(
                text.contains("printable ASCII without spaces") && text.contains("auth."),
                "{text}"
            );
        }
    }
}
