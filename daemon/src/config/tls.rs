//! `[server.tls]`: the gRPC server's certificate, key and optional client CA (mTLS), read
//! and checked here so that `check-config` and start-up refuse the same files.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::settings::{invalid, ConfigError};

/// Whether a client must present a certificate when `client_ca` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// A client may connect without a certificate (and use a bearer token).
    Optional,
    /// The handshake fails without a certificate that chains to `client_ca`.
    Required,
}

/// `[server.tls]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain of the server (end-entity first).
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// PEM file of the CA(s) client certificates must chain to; enables mTLS.
    pub client_ca: Option<PathBuf>,
    /// `"optional"` (the default with `client_ca`) or `"required"`.
    pub client_auth: Option<ClientAuth>,
}

/// The files of a valid `[server.tls]`, read once, as PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// PEM of the client CA, with whether a client certificate is required.
    pub client_ca: Option<(Vec<u8>, ClientAuth)>,
}

impl TlsConfig {
    /// Whether client certificates are required (the handshake refuses clients without).
    pub fn requires_client_certs(&self) -> bool {
        self.client_ca.is_some() && self.client_auth == Some(ClientAuth::Required)
    }

    /// Reads and checks the files: the certificate parses, the key parses and matches it,
    /// the client CA parses. The error names the key and the fix.
    pub fn load(&self) -> Result<TlsFiles, ConfigError> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => (c, k),
            (None, _) if self.client_ca.is_some() => {
                return Err(invalid(
                    "server.tls.client_ca",
                    "client certificates need TLS: set server.tls.cert and server.tls.key too",
                ))
            }
            (None, _) => {
                return Err(invalid(
                    "server.tls.cert",
                    "set the server's PEM certificate chain (and server.tls.key), or remove [server.tls]",
                ))
            }
            (Some(_), None) => {
                return Err(invalid(
                    "server.tls.key",
                    "set the PEM private key of server.tls.cert",
                ))
            }
        };
        if self.client_auth.is_some() && self.client_ca.is_none() {
            return Err(invalid(
                "server.tls.client_auth",
                "only applies with client certificates: set server.tls.client_ca (the CA client certificates chain to) or remove client_auth",
            ));
        }
        let cert_pem = read("server.tls.cert", cert)?;
        let key_pem = read("server.tls.key", key)?;
        let chain = certs("server.tls.cert", cert, &cert_pem)?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            invalid(
                "server.tls.key",
                format!(
                    "{}: no PEM private key ({e}); write the key as PEM (BEGIN PRIVATE KEY)",
                    key.display()
                ),
            )
        })?;
        check_pair(cert, key, chain, key_der)?;
        let client_ca = match &self.client_ca {
            None => None,
            Some(path) => {
                let pem = read("server.tls.client_ca", path)?;
                let mut roots = rustls::RootCertStore::empty();
                for der in certs("server.tls.client_ca", path, &pem)? {
                    roots.add(der).map_err(|e| {
                        invalid(
                            "server.tls.client_ca",
                            format!("{}: a certificate does not parse ({e}); give the PEM of the client CA", path.display()),
                        )
                    })?;
                }
                Some((pem, self.client_auth.unwrap_or(ClientAuth::Optional)))
            }
        };
        Ok(TlsFiles {
            cert_pem,
            key_pem,
            client_ca,
        })
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| {
        invalid(
            key,
            format!(
                "cannot read {}: {e}; give a PEM file readable by the daemon's user",
                path.display()
            ),
        )
    })
}

fn certs(
    key: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(key, format!("{}: not valid PEM ({e})", path.display())))?;
    if certs.is_empty() {
        return Err(invalid(
            key,
            format!(
                "{}: no PEM certificate (BEGIN CERTIFICATE) in it",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// The certificate parses and the key is the certificate's.
fn check_pair(
    cert: &Path,
    key: &Path,
    chain: Vec<CertificateDer<'static>>,
    key_der: PrivateKeyDer<'static>,
) -> Result<(), ConfigError> {
    use rustls::crypto::ring::default_provider;
    use rustls::sign::CertifiedKey;
    use rustls::{Error, InconsistentKeys};
    let signing = default_provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| {
            invalid(
                "server.tls.key",
                format!(
                    "{}: unsupported private key ({e}); use an RSA, ECDSA P-256/P-384 or Ed25519 key",
                    key.display()
                ),
            )
        })?;
    match CertifiedKey::new(chain, signing).keys_match() {
        Ok(()) | Err(Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Err(invalid(
            "server.tls.key",
            format!(
                "{} is not the private key of the certificate in {}; give the key the certificate was issued for",
                key.display(),
                cert.display()
            ),
        )),
        Err(e) => Err(invalid(
            "server.tls.cert",
            format!(
                "{}: the certificate does not parse ({e}); give a PEM X.509 certificate chain",
                cert.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    /// A CA, a server certificate (127.0.0.1 / localhost) signed by it and its key, a
    /// key of another certificate, and junk, written into `dir`.
    fn files(dir: &Path) {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("params");
        let cert = params.signed_by(&key, &issuer).expect("cert");
        let other = rcgen::KeyPair::generate().expect("key");
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
        write("ca.pem", &ca_cert.pem());
        write("cert.pem", &cert.pem());
        write("key.pem", &key.serialize_pem());
        write("other-key.pem", &other.serialize_pem());
        write("junk.pem", "not a certificate\n");
        write(
            "bad-der.pem",
            "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
        );
    }

    fn check(dir: &Path, text: &str) -> Result<(), String> {
        let text = text.replace("DIR", &dir.display().to_string());
        Config::parse(&text)
            .expect("parses")
            .validate()
            .map_err(|e| e.to_string())
    }

    const GOOD: &str = "[server.tls]\ncert = \"DIR/cert.pem\"\nkey = \"DIR/key.pem\"\n";

    #[test]
    fn a_good_tls_config_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        files(dir.path());
        assert_eq!(check(dir.path(), GOOD), Ok(()));
        let mtls =
            format!("{GOOD}client_ca = \"DIR/ca.pem\"\n[auth]\nadmin_client_names = [\"ops\"]\n");
        assert_eq!(check(dir.path(), &mtls), Ok(()));
    }

    #[test]
    fn every_refusal_names_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        files(dir.path());
        let cases = [
            (
                "[server.tls]\ncert = \"DIR/cert.pem\"\n",
                "server.tls.key: set the PEM private key",
            ),
            ("[server.tls]\nkey = \"DIR/key.pem\"\n", "server.tls.cert: set the server's"),
            (
                "[server.tls]\nclient_ca = \"DIR/ca.pem\"\n",
                "server.tls.client_ca: client certificates need TLS",
            ),
            (
                &format!("{GOOD}client_auth = \"required\"\n"),
                "server.tls.client_auth: only applies with client certificates",
            ),
            (
                "[server.tls]\ncert = \"DIR/missing.pem\"\nkey = \"DIR/key.pem\"\n",
                "server.tls.cert: cannot read DIR/missing.pem",
            ),
            (
                "[server.tls]\ncert = \"DIR/cert.pem\"\nkey = \"DIR/missing.pem\"\n",
                "server.tls.key: cannot read DIR/missing.pem",
            ),
            (
                "[server.tls]\ncert = \"DIR/junk.pem\"\nkey = \"DIR/key.pem\"\n",
                "server.tls.cert: DIR/junk.pem: no PEM certificate",
            ),
            (
                "[server.tls]\ncert = \"DIR/bad-der.pem\"\nkey = \"DIR/key.pem\"\n",
                "server.tls.cert: DIR/bad-der.pem: the certificate does not parse",
            ),
            (
                "[server.tls]\ncert = \"DIR/cert.pem\"\nkey = \"DIR/junk.pem\"\n",
                "server.tls.key: DIR/junk.pem: no PEM private key",
            ),
            (
                "[server.tls]\ncert = \"DIR/cert.pem\"\nkey = \"DIR/other-key.pem\"\n",
                "server.tls.key: DIR/other-key.pem is not the private key of the certificate in DIR/cert.pem",
            ),
            (
                &format!("{GOOD}client_ca = \"DIR/junk.pem\"\n"),
                "server.tls.client_ca: DIR/junk.pem: no PEM certificate",
            ),
            (
                &format!("{GOOD}client_ca = \"DIR/bad-der.pem\"\n"),
                "server.tls.client_ca: DIR/bad-der.pem: a certificate does not parse",
            ),
            (
                &format!("{GOOD}client_ca = \"DIR/ca.pem\"\nclient_auth = \"sometimes\"\n"),
                "",
            ),
            (
                "[auth]\ningest_client_names = [\"shop\"]\n",
                "auth.ingest_client_names: client-certificate names need client certificates",
            ),
            (
                &format!("{GOOD}client_ca = \"DIR/ca.pem\"\n[auth]\nadmin_client_names = [\" ops\"]\n"),
                "auth.admin_client_names: names must be non-empty",
            ),
            (
                "[email.smtp]\nhost = \"mx\"\nca_file = \"DIR/missing.pem\"\n",
                "email.smtp.ca_file: cannot read DIR/missing.pem",
            ),
            (
                "[email.smtp]\nhost = \"mx\"\nca_file = \"DIR/junk.pem\"\n",
                "email.smtp.ca_file: DIR/junk.pem: no PEM certificate",
            ),
            (
                "[email.smtp]\nhost = \"mx\"\nca_file = \"DIR/bad-der.pem\"\n",
                "email.smtp.ca_file: DIR/bad-der.pem: a certificate does not parse",
            ),
        ];
        let d = dir.path().display().to_string();
        for (text, want) in cases {
            if want.is_empty() {
                // A value serde refuses: a parse error naming the field.
                let err = Config::parse(&text.replace("DIR", &d)).expect_err(text);
                assert!(
                    err.contains("client_auth") || err.contains("sometimes"),
                    "{err}"
                );
                continue;
            }
            let err = check(dir.path(), text).expect_err(text);
            assert!(
                err.starts_with(&want.replace("DIR", &d)),
                "{text}\n=> {err}"
            );
        }
    }

    #[test]
    fn a_public_address_may_use_required_client_certificates_instead_of_tokens() {
        let dir = tempfile::tempdir().expect("tempdir");
        files(dir.path());
        let names = "[auth]\ningest_client_names = [\"shop\"]\nadmin_client_names = [\"ops\"]\n";
        let listen = "[server]\nlisten = \"0.0.0.0:50051\"\n";
        let mtls = |auth: &str| {
            format!("{listen}{GOOD}client_ca = \"DIR/ca.pem\"\nclient_auth = \"{auth}\"\n{names}")
        };
        assert_eq!(check(dir.path(), &mtls("required")), Ok(()));
        // Optional client certificates do not guard the address.
        let err = check(dir.path(), &mtls("optional")).expect_err("optional");
        assert!(
            err.starts_with("server.listen: 0.0.0.0:50051 is not a loopback address; set both auth.ingest_tokens and auth.admin_tokens to listen there, or require client certificates"),
            "{err}"
        );
        // Required certificates but Admin guarded by nothing.
        let half = format!(
            "{listen}{GOOD}client_ca = \"DIR/ca.pem\"\nclient_auth = \"required\"\n[auth]\ningest_client_names = [\"shop\"]\n"
        );
        assert!(check(dir.path(), &half).is_err_and(|e| e.starts_with("server.listen")));
        // Tokens for one service, names for the other.
        let mixed = format!(
            "{listen}{GOOD}client_ca = \"DIR/ca.pem\"\nclient_auth = \"required\"\n[auth]\ningest_tokens = [\"ingest-token-0123456\"]\nadmin_client_names = [\"ops\"]\n"
        );
        assert_eq!(check(dir.path(), &mixed), Ok(()));
    }
}
