//! Command line: where the daemon is, the admin token, where to log.

use std::path::PathBuf;

use clap::Parser;
use stockbell_proto::auth::Bearer;

/// The daemon's default `server.listen` (daemon/src/config.rs).
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

#[derive(Debug, Parser)]
#[command(
    name = "stockbell-console",
    version,
    about = "stockbell operator console: watch and steer a running stockbelld"
)]
pub struct Args {
    /// The daemon's gRPC address (`host:port` or `http://host:port`).
    #[arg(long, env = "STOCKBELL_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: String,

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
    /// The address as a URI tonic accepts: `http://` is added when no scheme is given.
    pub fn uri(&self) -> String {
        if self.addr.contains("://") {
            self.addr.clone()
        } else {
            format!("http://{}", self.addr)
        }
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
        assert_eq!(a.uri(), DEFAULT_ADDR);
        assert!(!a.frames_log);
        let a = Args::try_parse_from([
            "stockbell-console",
            "--addr",
            "10.0.0.1:7000",
            "--frames-log",
        ])
        .expect("parses");
        assert_eq!(a.uri(), "http://10.0.0.1:7000");
        assert!(a.frames_log);
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
