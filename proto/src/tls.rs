//! Client-side TLS for every stockbell client (console, load generator, tests, the
//! daemon's own CLI): `--tls-ca` (the CA that signed the daemon's certificate),
//! `--tls-cert` / `--tls-key` (a client certificate for mTLS), and the `https://` URI that
//! makes tonic use them.

use std::fmt;
use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// The TLS flags of a client, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFlags {
    /// `--tls-ca`: PEM file of the CA(s) trusted for the daemon's certificate.
    pub ca: Option<PathBuf>,
    /// `--tls-cert`: PEM client certificate (chain) for mTLS.
    pub cert: Option<PathBuf>,
    /// `--tls-key`: PEM private key of `--tls-cert`.
    pub key: Option<PathBuf>,
}

/// A TLS flag that cannot be used; the message names the flag and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFlagError(pub String);

impl fmt::Display for TlsFlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsFlagError {}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, TlsFlagError> {
    let bytes = std::fs::read(path)
        .map_err(|e| TlsFlagError(format!("{flag} {}: cannot read it: {e}", path.display())))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(TlsFlagError(format!(
            "{flag} {}: not a PEM file (no \"-----BEGIN\" line)",
            path.display()
        )));
    }
    Ok(bytes)
}

impl TlsFlags {
    /// Whether any TLS flag was given.
    pub fn any(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// The tonic TLS config, or `None` when no flag was given. `--tls-ca` is required with
    /// TLS (the daemon's certificate is checked against it, not the system roots);
    /// `--tls-cert` and `--tls-key` go together.
    pub fn client_config(&self) -> Result<Option<ClientTlsConfig>, TlsFlagError> {
        if !self.any() {
            return Ok(None);
        }
        let Some(ca) = &self.ca else {
            return Err(TlsFlagError(
                "--tls-ca is required with --tls-cert / --tls-key: the PEM file of the CA that signed the daemon's certificate".into(),
            ));
        };
        let mut cfg =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read("--tls-ca", ca)?));
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let cert = read("--tls-cert", cert)?;
                let key = read("--tls-key", key)?;
                cfg = cfg.identity(Identity::from_pem(cert, key));
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(TlsFlagError(
                    "--tls-cert needs --tls-key (the certificate's private key)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(TlsFlagError(
                    "--tls-key needs --tls-cert (the client certificate)".into(),
                ))
            }
        }
        Ok(Some(cfg))
    }

    /// The URI to connect to: `addr` as given when it has a scheme, else `https://addr`
    /// with TLS flags and `http://addr` without. `http://` with TLS flags, or `https://`
    /// without `--tls-ca`, is an error.
    pub fn uri(&self, addr: &str) -> Result<String, TlsFlagError> {
        let uri = if addr.contains("://") {
            addr.to_string()
        } else if self.any() {
            format!("https://{addr}")
        } else {
            format!("http://{addr}")
        };
        if self.any() && uri.starts_with("http://") {
            return Err(TlsFlagError(format!(
                "{addr}: the TLS flags need an https:// address (or host:port)"
            )));
        }
        if !self.any() && uri.starts_with("https://") {
            return Err(TlsFlagError(format!(
                "{addr}: an https:// address needs --tls-ca (the CA that signed the daemon's certificate)"
            )));
        }
        Ok(uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_follows_the_flags() {
        let none = TlsFlags::default();
        assert_eq!(none.uri("127.0.0.1:1").as_deref(), Ok("http://127.0.0.1:1"));
        assert!(none.uri("https://h:1").is_err());
        let tls = TlsFlags {
            ca: Some("/ca.pem".into()),
            ..TlsFlags::default()
        };
        assert_eq!(tls.uri("127.0.0.1:1").as_deref(), Ok("https://127.0.0.1:1"));
        assert_eq!(tls.uri("https://h:1").as_deref(), Ok("https://h:1"));
        assert!(tls.uri("http://h:1").is_err());
    }

    #[test]
    fn flags_name_what_is_missing() {
        assert!(matches!(TlsFlags::default().client_config(), Ok(None)));
        let no_ca = TlsFlags {
            cert: Some("/c.pem".into()),
            key: Some("/k.pem".into()),
            ..TlsFlags::default()
        };
        let e = no_ca.client_config().expect_err("needs a CA").0;
        assert!(e.starts_with("--tls-ca is required"), "{e}");
        let missing = TlsFlags {
            ca: Some("/nonexistent/ca.pem".into()),
            ..TlsFlags::default()
        };
        let e = missing.client_config().expect_err("unreadable").0;
        assert!(
            e.starts_with("--tls-ca /nonexistent/ca.pem: cannot read it"),
            "{e}"
        );
    }
}
