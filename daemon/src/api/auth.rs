//! Bearer-token check per role, run on every RPC of a service when tokens are configured.

use std::sync::Arc;

use tonic::{Request, Status};

/// Accepts a request whose `authorization` is `Bearer <one of tokens>`; with no tokens
/// configured every request passes (loopback-only deployments).
#[derive(Clone)]
pub struct BearerAuth {
    role: &'static str,
    tokens: Arc<Vec<String>>,
}

impl BearerAuth {
    pub fn new(role: &'static str, tokens: &[String]) -> BearerAuth {
        BearerAuth {
            role,
            tokens: Arc::new(tokens.to_vec()),
        }
    }

    pub fn check(&self, req: Request<()>) -> Result<Request<()>, Status> {
        if self.tokens.is_empty() {
            return Ok(req);
        }
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(t)
                if self
                    .tokens
                    .iter()
                    .any(|ok| constant_time_eq(ok.as_bytes(), t.as_bytes())) =>
            {
                Ok(req)
            }
            Some(_) => Err(Status::unauthenticated(format!(
                "the bearer token is not one of the {} tokens (auth.{}_tokens)",
                self.role, self.role
            ))),
            None => Err(Status::unauthenticated(format!(
                "send \"authorization: Bearer <token>\" with an {} token",
                self.role
            ))),
        }
    }
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    use stockbell_proto::auth::Bearer;
    use tonic::service::Interceptor;

    /// A request as a client sends it, through the clients' own interceptor.
    fn req(token: Option<&str>) -> Request<()> {
        let mut bearer = Bearer::new(token).expect("a valid token");
        bearer
            .call(Request::new(()))
            .expect("the interceptor adds the header")
    }

    #[test]
    fn tokens_are_checked_only_when_configured() {
        let open = BearerAuth::new("ingest", &[]);
        assert!(open.check(req(None)).is_ok());
        let auth = BearerAuth::new("ingest", &["s3cret-token-0123456".into()]);
        assert!(auth.check(req(Some("s3cret-token-0123456"))).is_ok());
        assert_eq!(
            auth.check(req(Some("wrong")))
                .map(|_| ())
                .map_err(|s| s.code()),
            Err(tonic::Code::Unauthenticated)
        );
        assert_eq!(
            auth.check(req(None)).map(|_| ()).map_err(|s| s.code()),
            Err(tonic::Code::Unauthenticated)
        );
    }
}
