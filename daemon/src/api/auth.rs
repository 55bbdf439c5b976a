//! Per-role authentication, run on every RPC of a service: a bearer token from
//! `auth.<role>_tokens`, or a client certificate (verified by the TLS handshake against
//! `server.tls.client_ca`) whose subject CN or a DNS SAN is in `auth.<role>_client_names`.
//! Either one suffices.

use std::sync::Arc;

use tonic::{Request, Status};

use super::cert_names;

/// Accepts a request whose `authorization` is `Bearer <one of tokens>`, or whose peer
/// presented a verified certificate with one of `client_names`; with neither tokens nor
/// names configured every request passes (loopback-only deployments).
#[derive(Clone)]
pub struct BearerAuth {
    role: &'static str,
    tokens: Arc<Vec<String>>,
    client_names: Arc<Vec<String>>,
}

impl BearerAuth {
    /// Tokens only (no client-certificate names).
    pub fn new(role: &'static str, tokens: &[String]) -> BearerAuth {
        BearerAuth {
            role,
            tokens: Arc::new(tokens.to_vec()),
            client_names: Arc::new(Vec::new()),
        }
    }

    /// Also accepts client certificates with one of `names` (subject CN or DNS SAN).
    pub fn with_client_names(mut self, names: &[String]) -> BearerAuth {
        self.client_names = Arc::new(names.to_vec());
        self
    }

    /// Passes `req` on, or refuses it with UNAUTHENTICATED (no or a wrong token) or
    /// PERMISSION_DENIED (a certificate whose names are not in this role's list).
    pub fn check(&self, req: Request<()>) -> Result<Request<()>, Status> {
        let peer_names = req
            .peer_certs()
            .and_then(|chain| chain.first().map(|der| cert_names::names(der)));
        self.decide(req, peer_names)
    }

    /// [`BearerAuth::check`] with the peer certificate's names given.
    fn decide(
        &self,
        req: Request<()>,
        peer_names: Option<Vec<String>>,
    ) -> Result<Request<()>, Status> {
        if self.tokens.is_empty() && self.client_names.is_empty() {
            return Ok(req);
        }
        if let Some(names) = &peer_names {
            if names.iter().any(|n| self.client_names.contains(n)) {
                return Ok(req);
            }
        }
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let role = self.role;
        match (given, &peer_names) {
            (Some(t), _)
                if self
                    .tokens
                    .iter()
                    .any(|ok| constant_time_eq(ok.as_bytes(), t.as_bytes())) =>
            {
                Ok(req)
            }
            (Some(_), _) => Err(Status::unauthenticated(format!(
                "the bearer token is not one of the {role} tokens (auth.{role}_tokens)"
            ))),
            (None, Some(names)) => Err(Status::permission_denied(format!(
                "the client certificate (names: {}) is not allowed to use {role}: add one of its names to auth.{role}_client_names, or send an {role} token",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))),
            (None, None) if self.tokens.is_empty() => Err(Status::unauthenticated(format!(
                "present a client certificate named in auth.{role}_client_names"
            ))),
            (None, None) => Err(Status::unauthenticated(format!(
                "send \"authorization: Bearer <token>\" with an {role} token"
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

    fn code(r: Result<Request<()>, Status>) -> Result<(), (tonic::Code, String)> {
        r.map(drop).map_err(|s| (s.code(), s.message().to_string()))
    }

    #[test]
    fn a_certificate_name_or_a_token_suffices() {
        let names = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let admin = BearerAuth::new("admin", &["admin-token-0123456".into()])
            .with_client_names(&["ops-console".into()]);
        assert_eq!(
            code(admin.decide(req(None), names(&["ops-console"]))),
            Ok(())
        );
        assert_eq!(
            code(admin.decide(req(Some("admin-token-0123456")), names(&["shop-ingest"]))),
            Ok(())
        );
        let (c, m) = code(admin.decide(req(None), names(&["shop-ingest", "a.example"])))
            .expect_err("not listed");
        assert_eq!(c, tonic::Code::PermissionDenied);
        assert!(
            m.contains("(names: shop-ingest, a.example)") && m.contains("auth.admin_client_names"),
            "{m}"
        );
        // No certificate, no token: the token message.
        assert_eq!(
            code(admin.decide(req(None), None)).map_err(|e| e.0),
            Err(tonic::Code::Unauthenticated)
        );
        // Names only (no tokens): a request without a certificate is refused.
        let certs_only = BearerAuth::new("admin", &[]).with_client_names(&["ops".into()]);
        let (c, m) = code(certs_only.decide(req(None), None)).expect_err("no cert");
        assert_eq!(c, tonic::Code::Unauthenticated);
        assert!(m.contains("auth.admin_client_names"), "{m}");
        assert_eq!(code(certs_only.decide(req(None), names(&["ops"]))), Ok(()));
    }
}
