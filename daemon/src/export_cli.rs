//! `stockbelld export-segment`: writes a segment's members (`Admin.ExportSegment`) to a
//! CSV file, atomically (a temporary file next to it, synced, then renamed), and prints
//! the rows and bytes written.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use stockbell_proto::auth::{AdminClient, Bearer};
use stockbell_proto::v1::{admin_client, ExportSegmentRequest};
use tonic::transport::Endpoint;

/// The daemon's default `server.listen`.
const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The segment to export (empty = every customer).
    #[arg(long, default_value = "")]
    pub segment: String,
    /// The CSV file to write (replaced atomically when it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// The daemon's gRPC address (`host:port` or `http://host:port`).
    #[arg(long, env = "STOCKBELL_ADDR", default_value = DEFAULT_ADDR)]
    pub admin: String,
    /// Admin bearer token (one of the daemon's `auth.admin_tokens`).
    #[arg(long, env = "STOCKBELL_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// TLS: PEM CA that signed the daemon's certificate (`host:port` then means https).
    #[arg(long, env = "STOCKBELL_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// mTLS: PEM client certificate (named in `auth.admin_client_names`), with --tls-key.
    #[arg(long, env = "STOCKBELL_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// mTLS: PEM private key of --tls-cert.
    #[arg(long, env = "STOCKBELL_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Records after the header.
    pub rows: u64,
    pub bytes: u64,
}

/// Counts CSV records ending in CRLF outside quotes (a quoted cell may hold line ends).
#[derive(Debug, Default)]
struct RecordCounter {
    in_quotes: bool,
    records: u64,
}

impl RecordCounter {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.records += 1,
                _ => {}
            }
        }
    }
}

async fn connect(args: &ExportArgs) -> Result<AdminClient> {
    let bearer = Bearer::new(args.token.as_deref())
        .map_err(|e| anyhow!("--token (or STOCKBELL_ADMIN_TOKEN): {e}"))?;
    let tls = stockbell_proto::tls::TlsFlags {
        ca: args.tls_ca.clone(),
        cert: args.tls_cert.clone(),
        key: args.tls_key.clone(),
    };
    let admin = if args.admin == DEFAULT_ADDR && tls.any() {
        "127.0.0.1:50051"
    } else {
        &args.admin
    };
    let uri = tls.uri(admin).map_err(|e| anyhow!("--admin {e}"))?;
    let mut endpoint = Endpoint::from_shared(uri.clone()).map_err(|_| {
        anyhow!(
            "--admin: {:?} is not an address; write e.g. http://127.0.0.1:50051",
            args.admin
        )
    })?;
    if let Some(cfg) = tls.client_config().map_err(|e| anyhow!("{e}"))? {
        endpoint = endpoint.tls_config(cfg).context("TLS config")?;
    }
    let channel = endpoint
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("--admin: cannot connect to {uri}"))?;
    Ok(admin_client::AdminClient::with_interceptor(channel, bearer))
}

/// The temporary file next to `out`.
fn temp_path(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| anyhow!("--out: {} names no file", out.display()))?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{}", std::process::id()));
    Ok(out.with_file_name(tmp))
}

/// Streams the export into a temporary file and renames it over `args.out`; on any
/// error the temporary file is removed and `args.out` is left as it was.
pub async fn run(args: &ExportArgs) -> Result<Written> {
    let tmp = temp_path(&args.out)?;
    let res = write_to(args, &tmp).await;
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

async fn write_to(args: &ExportArgs, tmp: &Path) -> Result<Written> {
    let mut admin = connect(args).await?;
    let mut stream = admin
        .export_segment(ExportSegmentRequest {
            segment: args.segment.clone(),
        })
        .await
        .map_err(|s| anyhow!("Admin.ExportSegment: {}", s.message()))?
        .into_inner();
    let file = std::fs::File::create(tmp)
        .with_context(|| format!("--out: cannot create {}", tmp.display()))?;
    let mut file = std::io::BufWriter::new(file);
    let mut counter = RecordCounter::default();
    let mut bytes = 0u64;
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|s| anyhow!("Admin.ExportSegment: {}", s.message()))?
    {
        counter.feed(&chunk.data);
        bytes += chunk.data.len() as u64;
        file.write_all(&chunk.data)
            .with_context(|| format!("--out: cannot write {}", tmp.display()))?;
    }
    let file = file
        .into_inner()
        .map_err(|e| anyhow!("--out: cannot write {}: {}", tmp.display(), e.error()))?;
    file.sync_all()
        .with_context(|| format!("--out: cannot sync {}", tmp.display()))?;
    drop(file);
    std::fs::rename(tmp, &args.out)
        .with_context(|| format!("--out: cannot rename onto {}", args.out.display()))?;
    Ok(Written {
        rows: counter.records.saturating_sub(1),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_counted_outside_quotes() {
        let mut c = RecordCounter::default();
        c.feed(b"a,b\r\n\"x\r\ny\",1\r");
        c.feed(b"\n\"q\"\"\"\r\n");
        assert_eq!(c.records, 3);
    }

    #[test]
    fn the_temporary_file_sits_next_to_the_output() {
        let t = temp_path(Path::new("/tmp/out/vip.csv")).expect("path");
        assert_eq!(t.parent(), Some(Path::new("/tmp/out")));
        let name = t.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(name.starts_with(".vip.csv.tmp-"), "{name}");
        assert!(temp_path(Path::new("/")).is_err());
    }
}
