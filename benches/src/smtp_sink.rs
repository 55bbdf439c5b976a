//! Postfix's `smtp-sink` for the SMTP benchmarks (`smtp-rate`, `shipping-latency`): on a
//! free port of 127.0.0.1, with its running message counter (`-c`) read from its stdout.
//! On demand it also dumps every transaction (`-D`) into a FIFO that a thread of ours
//! reads and scans for one envelope recipient, so the moment one message among a flood
//! arrives is known without keeping the flood on disk. smtp-sink writes each message to
//! a temporary file first (unlinked at once) and appends it to the dump at the end of
//! its DATA, before counting it and before its reply.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use stockbell_tests::poll::poll_every;
use stockbell_tests::Process;

use crate::daemon::{self, set};

/// A wait for the counter fails when it does not move for this long.
const STALL: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(2);

/// Fails with how to install Postfix's test tools unless `path` is a file.
pub fn need_tool(path: &Path) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!(
            "{} not found: install Postfix's test tools with \
             `DEBIAN_FRONTEND=noninteractive apt-get install -y postfix` (the postfix service \
             need not run), or pass --smtp-sink / --smtp-source",
            path.display()
        );
    }
    Ok(())
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot bind a port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// `smtp-sink` and its message counter.
pub struct Sink {
    proc: Process,
    pub port: u16,
    messages: Arc<AtomicU64>,
    watch: Option<Watch>,
}

/// The dump FIFO and what its reader found.
struct Watch {
    /// Holds the FIFO open for writing, so that its reader never sees end-of-file between
    /// smtp-sink's transactions (smtp-sink opens it once per transaction). Dropped after
    /// smtp-sink has stopped, which ends the reader thread.
    _keep_open: File,
    /// When the watched recipient's message was first seen.
    found: Arc<OnceLock<Instant>>,
    _dir: tempfile::TempDir,
}

/// Reads smtp-sink's `-c` counters ("sess=N quit=N mesg=N", separated by CR) and keeps
/// the last mesg value.
fn follow_counter(mut out: impl Read, messages: Arc<AtomicU64>) {
    let mut buf = [0u8; 4096];
    let mut line = Vec::new();
    while let Ok(n) = out.read(&mut buf) {
        if n == 0 {
            return;
        }
        for &b in &buf[..n] {
            if b == b'\r' || b == b'\n' {
                let text = String::from_utf8_lossy(&line);
                if let Some(v) = text
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix("mesg="))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    messages.fetch_max(v, Relaxed);
                }
                line.clear();
            } else {
                line.push(b);
            }
        }
    }
}

/// Reads smtp-sink's dump until end-of-file and notes when `needle` first appears (also
/// across two reads). smtp-sink starts each dumped transaction with its envelope
/// (`X-Rcpt-Args: <address>`), so the needle is in the transaction's first write.
fn scan_dump(mut dump: impl Read, needle: &[u8], found: &OnceLock<Instant>) {
    let finder = memchr::memmem::Finder::new(needle);
    let keep = needle.len().saturating_sub(1);
    let mut buf = vec![0u8; 1 << 16];
    let mut carried = 0;
    loop {
        let n = match dump.read(&mut buf[carried..]) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let filled = carried + n;
        if found.get().is_none() && finder.find(&buf[..filled]).is_some() {
            let _ = found.set(Instant::now());
        }
        carried = keep.min(filled);
        buf.copy_within(filled - carried..filled, 0);
    }
}

/// A FIFO at `path` that smtp-sink (possibly running as `nobody`) can write.
fn make_fifo(path: &Path) -> anyhow::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .with_context(|| format!("{} holds a NUL byte", path.display()))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o666) } != 0 {
        let e = std::io::Error::last_os_error();
        bail!("cannot make the FIFO {}: {e}", path.display());
    }
    // The umask may have taken write permission away.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("cannot open up {}", path.display()))
}

impl Sink {
    /// smtp-sink counting messages.
    pub async fn start(bin: &Path) -> anyhow::Result<Sink> {
        Self::spawn(bin, None).await
    }

    /// smtp-sink counting messages and noting when the first one to `recipient` arrives
    /// ([`Sink::received`]).
    pub async fn start_watching(bin: &Path, recipient: &str) -> anyhow::Result<Sink> {
        // In memory when there is a tmpfs: the temporary file per message costs less there.
        let shm = Path::new("/dev/shm");
        let builder = tempfile::Builder::new().prefix("stockbell-sink-").clone();
        let dir = if shm.is_dir() {
            builder.tempdir_in(shm)
        } else {
            builder.tempdir()
        }
        .context("cannot create a directory for smtp-sink's dump FIFO")?;
        // smtp-sink may run as nobody, and it writes each message to a temporary file
        // next to the dump (removed at once) before appending it there.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
            .with_context(|| format!("cannot open up {}", dir.path().display()))?;
        let fifo = dir.path().join("dump");
        ensure!(
            !fifo.to_string_lossy().contains('%'),
            "{} holds a %, which smtp-sink would expand (strftime)",
            fifo.display()
        );
        make_fifo(&fifo)?;
        let found = Arc::new(OnceLock::new());
        let needle = format!("X-Rcpt-Args: <{recipient}>").into_bytes();
        let (path, seen) = (fifo.clone(), found.clone());
        // Opening for reading waits for the first writer: ours, just below.
        std::thread::spawn(move || {
            if let Ok(dump) = File::open(&path) {
                scan_dump(dump, &needle, &seen);
            }
        });
        let path = &fifo;
        let keep_open = poll_every(Duration::from_millis(1), Duration::from_secs(5), || {
            // Non-blocking: fails (ENXIO) until the reader has it open.
            let file = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path);
            std::future::ready(file.with_context(|| format!("opening {}", path.display())))
        })
        .await
        .context("the dump FIFO's reader did not open it")?;
        let watch = Watch {
            _keep_open: keep_open,
            found,
            _dir: dir,
        };
        Self::spawn(bin, Some((fifo.as_path(), watch))).await
    }

    async fn spawn(bin: &Path, dump: Option<(&Path, Watch)>) -> anyhow::Result<Sink> {
        let port = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.arg("-c");
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            // smtp-sink refuses to run as root without somebody to switch to.
            cmd.args(["-u", "nobody"]);
        }
        let watch = match dump {
            Some((fifo, watch)) => {
                cmd.arg("-D").arg(fifo);
                Some(watch)
            }
            None => None,
        };
        cmd.arg(format!("127.0.0.1:{port}"))
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut proc =
            Process::spawn("smtp-sink", &mut cmd)?.say_when_killed_on_drop("stockbell-load");
        let out = proc
            .take_stdout()
            .context("smtp-sink's stdout was not piped")?;
        let messages = Arc::new(AtomicU64::new(0));
        let counter = messages.clone();
        std::thread::spawn(move || follow_counter(out, counter));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let what = format!("it listened on {addr}");
        proc.wait_until(&what, Duration::from_secs(10), || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                .map(drop)
                .with_context(|| format!("smtp-sink does not listen on {addr} yet"))
        })
        .await?;
        Ok(Sink {
            proc,
            port,
            messages,
            watch,
        })
    }

    /// Points the daemon's email at this sink: plain SMTP over `sessions` pooled
    /// connections, as many concurrent sends, `batch_size` due entries per lane scan.
    pub fn configure(
        &self,
        config: &mut toml::Table,
        sessions: usize,
        batch_size: usize,
    ) -> anyhow::Result<()> {
        set(config, "email.smtp", "host", "127.0.0.1");
        set(config, "email.smtp", "port", i64::from(self.port));
        set(config, "email.smtp", "tls", "none");
        set(config, "email.smtp", "pool_size", i64::try_from(sessions)?);
        set(
            config,
            "delivery",
            "email_concurrency",
            i64::try_from(sessions)?,
        );
        set(config, "delivery", "batch_size", i64::try_from(batch_size)?);
        Ok(())
    }

    /// Messages received so far.
    pub fn count(&self) -> u64 {
        self.messages.load(Relaxed)
    }

    /// When the watched recipient's first message arrived (None: not yet, or not watching).
    pub fn received(&self) -> Option<Instant> {
        self.watch.as_ref().and_then(|w| w.found.get().copied())
    }

    /// smtp-sink's CPU time so far, seconds (0 if it cannot be read).
    pub fn cpu(&self) -> f64 {
        self.proc
            .pid()
            .and_then(|pid| daemon::cpu_seconds(pid).ok())
            .unwrap_or(0.0)
    }

    /// Waits until the counter reaches `target`, failing if it stops moving for `STALL`.
    pub async fn wait_for(&self, target: u64) -> anyhow::Result<Instant> {
        loop {
            // Each wait ends when the counter reaches the target or moves at all.
            let last = self.count();
            let now = poll_every(POLL, STALL, || async move {
                let now = self.count();
                ensure!(
                    now >= target || now != last,
                    "smtp-sink counted {now} messages, expected {target}; no progress"
                );
                Ok(now)
            })
            .await?;
            if now >= target {
                return Ok(Instant::now());
            }
        }
    }

    /// SIGTERM, then closes the dump FIFO (which ends its reader).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let stopped = self.proc.terminate(Duration::from_secs(10)).await.map(drop);
        drop(self.watch.take());
        stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_counter_is_followed() {
        let out = b"sess=0 quit=0 mesg=1\rsess=1 quit=1 mesg=2\rsess=2 quit=2 mesg=2\n";
        let n = Arc::new(AtomicU64::new(0));
        follow_counter(&out[..], n.clone());
        assert_eq!(n.load(Relaxed), 2);
    }

    /// Hands out its bytes a few at a time, like a pipe.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_recipient_split_across_reads_is_found() {
        let dump = b"X-Rcpt-Args: <a@example.com>\nbody\nX-Rcpt-Args: <buyer@example.com>\n";
        let needle = b"X-Rcpt-Args: <buyer@example.com>";
        for chunk in [1, 3, 7, 64] {
            let found = OnceLock::new();
            scan_dump(Trickle(dump, chunk), needle, &found);
            assert!(found.get().is_some(), "chunks of {chunk}");
        }
        let found = OnceLock::new();
        scan_dump(
            Trickle(dump, 5),
            b"X-Rcpt-Args: <nobody@example.com>",
            &found,
        );
        assert!(found.get().is_none());
    }
}
