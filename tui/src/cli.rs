//! Command line: where the daemon is (and its TLS), the admin token, where to log.

use std::path::PathBuf;

use clap::Parser;
use stockbell_proto::auth::Bearer;
use stockbell_proto::tls::TlsFlags;
use tonic::transport::ClientTlsConfig;

/// The daemon's default `server.listen` (daemon/src/config.rs).
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

#[derive(Debug, Parser)]
#[command(
    name = "stockbell-console",
    version,
    about = "stockbell operator console: watch and steer a running stockbelld"
)]
pub struct Args {
    /// The daemon's gRPC address (`host:port`, `http://host:port`, or `https://host:port`
    /// with --tls-ca).
    #[arg(long, env = "STOCKBELL_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: String,

    /// TLS: PEM file of the CA that signed the daemon's certificate (`[server.tls]`).
    #[arg(long, env = "STOCKBELL_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// mTLS: PEM client certificate (its CN or a DNS name in the daemon's
    /// `auth.admin_client_names`), with --tls-key.
    #[arg(long, env = "STOCKBELL_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// mTLS: PEM private key of --tls-cert.
    #[arg(long, env = "STOCKBELL_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Admin bearer token (one of the daemon's `auth.admin_tokens`).
    #[arg(long, env = "STOCKBELL_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Log file (the terminal is the UI, so logs never go there). Default:
    /// $XDG_STATE_HOME/stockbell/stockbell-console.log, else ./stockbell-console.log.
    #[arg(long)]
    pub log_file: Option<PathBuf>,

    /// Log filter, e.g. `info` or `stockbell_console=debug`.
    #[arg(long, env = "STOCKBELL_CONSOLE_LOG", default_value = "info")]
    pub log_level: String,

    /// Overview update interval asked of the daemon, in milliseconds (at least 200).
    #[arg(long, default_value_t = 1000, hide = true)]
    pub interval_ms: u32,

    /// Diagnostics: log how many frames were drawn each second (target `frames`).
    #[arg(long, hide = true)]
    pub frames_log: bool,

    /// Diagnostics: panic on the UI thread after this many milliseconds, to check that
    /// the terminal is restored on a panic.
    #[arg(long, hide = true)]
    pub panic_after_ms: Option<u64>,
}

impl Args {
    /// The TLS flags as given.
    pub fn tls_flags(&self) -> TlsFlags {
        TlsFlags {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
        }
    }

    /// The address as a URI tonic accepts: without a scheme, `https://` is added with
    /// TLS flags and `http://` without; an `http://` address with TLS flags (or `https://`
    /// without --tls-ca) is an error.
    pub fn uri(&self) -> anyhow::Result<String> {
        let addr = if self.addr == DEFAULT_ADDR && self.tls_flags().any() {
            "127.0.0.1:50051"
        } else {
            &self.addr
        };
        self.tls_flags()
            .uri(addr)
            .map_err(|e| anyhow::anyhow!("--addr {e}"))
    }

    /// The client TLS config, when TLS flags are given; reads the files now so that a
    /// bad path fails at start, naming the flag.
    pub fn tls(&self) -> anyhow::Result<Option<ClientTlsConfig>> {
        self.tls_flags()
            .client_config()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The bearer token to send; an error names the flag and says what a token may hold.
    pub fn bearer(&self) -> anyhow::Result<Bearer> {
        Bearer::new(self.token.as_deref())
            .map_err(|e| anyhow::anyhow!("--token (or STOCKBELL_ADMIN_TOKEN): {e}"))
    }

    /// The log file to write.
    pub fn log_path(&self) -> PathBuf {
        if let Some(p) = &self.log_file {
            return p.clone();
        }
        match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir)
                .join("stockbell")
                .join("stockbell-console.log"),
            None => PathBuf::from("stockbell-console.log"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_address_forms() {
        let a = Args::try_parse_from(["stockbell-console"]).expect("parses");
        assert_eq!(a.uri().ok().as_deref(), Some(DEFAULT_ADDR));
        assert!(!a.frames_log);
        let a = Args::try_parse_from([
            "stockbell-console",
            "--addr",
            "10.0.0.1:7000",
            "--frames-log",
        ])
        .expect("parses");
        assert_eq!(a.uri().ok().as_deref(), Some("http://10.0.0.1:7000"));
        assert!(a.frames_log);
        let a = Args::try_parse_from(["stockbell-console", "--tls-ca", "/ca.pem"]).expect("parses");
        assert_eq!(a.uri().ok().as_deref(), Some("https://127.0.0.1:50051"));
        let a = Args::try_parse_from([
            "stockbell-console",
            "--addr",
            "http://h:1",
            "--tls-ca",
            "/ca.pem",
        ])
        .expect("parses");
        assert!(a
            .uri()
            .is_err_and(|e| e.to_string().starts_with("--addr http://h:1")));
        let a =
            Args::try_parse_from(["stockbell-console", "--tls-cert", "/c.pem"]).expect("parses");
        assert!(a
            .tls()
            .is_err_and(|e| e.to_string().starts_with("--tls-ca is required")));
        let a = Args::try_parse_from(["stockbell-console", "--log-file", "/tmp/x.log"])
            .expect("parses");
        assert_eq!(a.log_path(), PathBuf::from("/tmp/x.log"));
    }

    #[test]
    fn a_token_that_cannot_be_sent_names_the_flag() {
        let parse = |token: &str| {
            Args::try_parse_from(["stockbell-console", "--token", token]).expect("parses")
        };
        assert!(parse("ok-token-0123456789")
            .bearer()
            .is_ok_and(|b| b.is_set()));
        assert!(parse("").bearer().is_ok_and(|b| !b.is_set()));
        for bad in ["トークン", "two words"] {
            let e = parse(bad).bearer().expect_err(bad).to_string();
            assert!(
                e.starts_with("--token (or STOCKBELL_ADMIN_TOKEN): ")
                    && e.contains("printable ASCII without spaces"),
                "{e}"
            );
        }
    }
}
