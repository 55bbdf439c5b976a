//! Certificates made at test time with `rcgen`: a CA, a server certificate for
//! 127.0.0.1 / localhost signed by it, client certificates (CN = a name) from that CA
//! and from another CA, written as PEM files into a temp dir; and the TLS configs a
//! test's clients use with them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use stockbell_proto::tls::TlsFlags;
use tempfile::TempDir;
use tonic::transport::ClientTlsConfig;

/// A test PKI in its own temp dir.
pub struct TestPki {
    dir: TempDir,
}

/// A CA's certificate (PEM) and its issuer.
fn ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// A leaf certificate with `cn` and `sans`, signed by `issuer`: (cert PEM, key PEM).
fn leaf(issuer: &Issuer<'_, KeyPair>, cn: &str, sans: &[&str]) -> Result<(String, String)> {
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl TestPki {
    /// A CA (`ca.pem`), the server's `server.pem` / `server-key.pem` (SANs 127.0.0.1 and
    /// localhost), for each of `clients` a `client-NAME.pem` / `client-NAME-key.pem`
    /// from the CA and a `rogue-NAME.pem` / `rogue-NAME-key.pem` from another CA, and
    /// the other CA's `other-ca.pem`.
    pub fn new(clients: &[&str]) -> Result<TestPki> {
        let dir = tempfile::Builder::new()
            .prefix("stockbell-pki-")
            .tempdir()
            .context("creating the PKI's temp dir")?;
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).with_context(|| format!("writing {name}"))
        };
        let (ca_pem, issuer) = ca("stockbell test CA")?;
        let (other_pem, other) = ca("another CA")?;
        write("ca.pem", &ca_pem)?;
        write("other-ca.pem", &other_pem)?;
        let (cert, key) = leaf(&issuer, "stockbelld", &["127.0.0.1", "localhost"])?;
        write("server.pem", &cert)?;
        write("server-key.pem", &key)?;
        for name in clients {
            let (cert, key) = leaf(&issuer, name, &[])?;
            write(&format!("client-{name}.pem"), &cert)?;
            write(&format!("client-{name}-key.pem"), &key)?;
            let (cert, key) = leaf(&other, name, &[])?;
            write(&format!("rogue-{name}.pem"), &cert)?;
            write(&format!("rogue-{name}-key.pem"), &key)?;
        }
        Ok(TestPki { dir })
    }

    /// A file of the PKI.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The PKI's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `[server.tls]` fragment: the server's certificate and key, and with
    /// `client_auth` ("optional" / "required") the CA as `client_ca`.
    pub fn server_toml(&self, client_auth: Option<&str>) -> String {
        let q = |name: &str| format!("{:?}", self.path(name).display().to_string());
        let mut t = format!(
            "[server.tls]\ncert = {}\nkey = {}\n",
            q("server.pem"),
            q("server-key.pem")
        );
        if let Some(mode) = client_auth {
            t.push_str(&format!(
                "client_ca = {}\nclient_auth = \"{mode}\"\n",
                q("ca.pem")
            ));
        }
        t
    }

    /// The flags of a client trusting the CA, with `client`'s certificate if given.
    pub fn flags(&self, client: Option<&str>) -> TlsFlags {
        TlsFlags {
            ca: Some(self.path("ca.pem")),
            cert: client.map(|n| self.path(&format!("client-{n}.pem"))),
            key: client.map(|n| self.path(&format!("client-{n}-key.pem"))),
        }
    }

    /// A client TLS config trusting the CA, with `client`'s certificate if given.
    pub fn client(&self, client: Option<&str>) -> Result<ClientTlsConfig> {
        self.flags(client)
            .client_config()?
            .context("TLS flags give a config")
    }

    /// A client TLS config trusting the CA, presenting `name`'s certificate from the
    /// other CA.
    pub fn rogue(&self, name: &str) -> Result<ClientTlsConfig> {
        TlsFlags {
            ca: Some(self.path("ca.pem")),
            cert: Some(self.path(&format!("rogue-{name}.pem"))),
            key: Some(self.path(&format!("rogue-{name}-key.pem"))),
        }
        .client_config()?
        .context("TLS flags give a config")
    }
}
