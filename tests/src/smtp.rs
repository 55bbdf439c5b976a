//! A real SMTP server process (`tests/smtp_server.py`, aiosmtpd) on 127.0.0.1 for tests
//! that send mail: received messages with parsed headers, recipients refused on demand,
//! replies held back on demand (to crash a sender mid-delivery), and stop/restart on the
//! same port to simulate an outage.

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use tempfile::TempDir;

use crate::poll::poll_until;
use crate::process::{log_to, Process};

/// How long the server may take to accept connections after starting.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long it may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The DATA as sent (headers and body), lossily decoded as UTF-8.
    pub raw: String,
    pub headers: Headers,
    /// Envelope recipients (RCPT TO).
    pub to: Vec<String>,
    /// The Subject with RFC 2047 encoded words decoded.
    pub subject: String,
    /// The server sent its 250 for it. A message recorded but never answered (the server
    /// stopped, or the client went away, while its reply was held) may arrive again: the
    /// sender could not know it arrived.
    pub replied: bool,
}

/// Unfolded header fields in order; look-ups ignore case.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn parse(raw: &str) -> Headers {
        let head = raw.split("\r\n\r\n").next().unwrap_or("");
        let head = head.split("\n\n").next().unwrap_or("");
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = fields.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                fields.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        Headers(fields)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl ReceivedMail {
    fn read(eml: &Path) -> Result<ReceivedMail> {
        let raw = String::from_utf8_lossy(&fs::read(eml)?).into_owned();
        let rcpt = fs::read_to_string(eml.with_extension("rcpt")).unwrap_or_default();
        let headers = Headers::parse(&raw);
        let subject = decode_words(headers.get("subject").unwrap_or(""));
        Ok(ReceivedMail {
            to: rcpt.lines().map(str::to_string).collect(),
            raw,
            headers,
            subject,
            replied: eml.with_extension("replied").exists(),
        })
    }

    /// The decoded text of every non-multipart part (base64 and quoted-printable
    /// undone), e.g. to look for a link in the plain-text or HTML body.
    pub fn text(&self) -> String {
        let mut segments = vec![self.raw.replace("\r\n", "\n")];
        for boundary in self.raw.split("boundary=").skip(1) {
            let b = boundary.trim_start_matches('"');
            let b = &b[..b.find(['"', ';', '\r', '\n']).unwrap_or(b.len())];
            let sep = format!("--{b}");
            segments = segments
                .iter()
                .flat_map(|s| s.split(&sep).map(str::to_string).collect::<Vec<_>>())
                .collect();
        }
        let mut out = String::new();
        for seg in segments {
            let seg = seg.trim_start_matches('\n');
            let Some((head, body)) = seg.split_once("\n\n") else {
                continue;
            };
            let h = Headers::parse(head);
            let ctype = h
                .get("content-type")
                .unwrap_or("text/plain")
                .to_ascii_lowercase();
            if seg.starts_with("--") || ctype.starts_with("multipart/") {
                continue;
            }
            let enc = h.get("content-transfer-encoding").unwrap_or("7bit");
            let bytes = match enc.to_ascii_lowercase().as_str() {
                "base64" => crate::base64::decode(&body.replace('\n', "")).unwrap_or_default(),
                "quoted-printable" => quoted_printable(body),
                _ => body.as_bytes().to_vec(),
            };
            out.push_str(&String::from_utf8_lossy(&bytes));
            out.push('\n');
        }
        out
    }
}

/// A running (or stopped) aiosmtpd process; dropping it kills the process.
pub struct SmtpServer {
    // Declared first so that it is dropped (killed) before the temp dir is removed.
    child: Option<Process>,
    port: u16,
    dir: TempDir,
    /// Certificate and key (PEM) to offer STARTTLS with.
    tls: Option<(PathBuf, PathBuf)>,
}

impl SmtpServer {
    /// Starts a server on `port`, or on a free port when `None`.
    pub async fn start(port: Option<u16>) -> Result<SmtpServer> {
        SmtpServer::start_with(port, None).await
    }

    /// Starts a server on a free port offering STARTTLS with `cert` and `key` (PEM).
    pub async fn start_tls(cert: &Path, key: &Path) -> Result<SmtpServer> {
        SmtpServer::start_with(None, Some((cert.to_path_buf(), key.to_path_buf()))).await
    }

    async fn start_with(port: Option<u16>, tls: Option<(PathBuf, PathBuf)>) -> Result<SmtpServer> {
        let mut tries = if port.is_some() { 1 } else { 3 };
        loop {
            let mut server = SmtpServer {
                port: match port {
                    Some(p) => p,
                    None => free_port()?,
                },
                dir: tempfile::Builder::new()
                    .prefix("stockbell-smtp-")
                    .tempdir()
                    .context("creating the SMTP server's temp dir")?,
                child: None,
                tls: tls.clone(),
            };
            match server.spawn().await {
                Ok(()) => return Ok(server),
                // Another process may have taken the free port meanwhile.
                Err(e) if tries > 1 => {
                    tries -= 1;
                    eprintln!("smtp: retrying on another port: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `[email]` config section for a daemon sending to this server.
    pub fn email_toml(&self) -> String {
        format!(
            "[email]\nfrom = \"Shop <news@shop.example>\"\n\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout = \"5s\"\n",
            self.port
        )
    }

    /// Stops the process; connections are refused until [`SmtpServer::restart`].
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(mut proc) = self.child.take() {
            // SIGTERM lets aiosmtpd close its socket; it is SIGKILLed if it does not exit.
            if let Err(e) = proc.terminate(STOP_GRACE).await {
                eprintln!("smtp: {e:#}");
            }
        }
        Ok(())
    }

    /// Starts the server again on the same port, keeping the received messages.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.path().join("mail"))
            .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .filter_map(|p| ReceivedMail::read(p).ok())
            .collect()
    }

    /// Waits until at least `count` messages have arrived, for up to `deadline`.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Result<Vec<ReceivedMail>> {
        poll_until(deadline, || async {
            let msgs = self.messages();
            ensure!(
                msgs.len() >= count,
                "expected {count} messages, got {}",
                msgs.len()
            );
            Ok(msgs)
        })
        .await
    }

    /// Refuses RCPT TO `address` with `code` (5xx permanent, 4xx temporary) from now on.
    pub fn refuse_rcpt(&self, address: &str, code: u16, text: &str) -> Result<()> {
        let path = self.dir.path().join("rules");
        let mut rules = fs::read_to_string(&path).unwrap_or_default();
        rules.push_str(&format!("{address} {code} {text}\n"));
        fs::write(&path, rules).context("writing the SMTP rules")
    }

    /// Holds the 250 reply to each message until `delay` after it was recorded (zero
    /// replies at once). Replies already held follow the new value: raising it keeps
    /// them waiting, lowering it releases them.
    pub fn set_reply_delay(&self, delay: Duration) -> Result<()> {
        let path = self.dir.path().join("delay");
        let tmp = self.dir.path().join("delay.tmp");
        fs::write(&tmp, format!("{}\n", delay.as_secs_f64()))
            .context("writing the SMTP reply delay")?;
        fs::rename(&tmp, &path).context("writing the SMTP reply delay")
    }

    /// How many messages are recorded but their 250 reply is being held right now.
    pub fn held_replies(&self) -> usize {
        fs::read_dir(self.dir.path().join("held"))
            .map(|rd| rd.filter(|e| e.is_ok()).count())
            .unwrap_or(0)
    }

    /// How many recorded messages never had their 250 reply sent (the client went away
    /// while it was held, or it is still held): the sender cannot know they arrived.
    pub fn unreplied(&self) -> usize {
        let mail = self.dir.path().join("mail");
        fs::read_dir(&mail)
            .map(|rd| {
                rd.filter_map(|e| Some(e.ok()?.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .filter(|p| !p.with_extension("replied").exists())
                    .count()
            })
            .unwrap_or(0)
    }

    /// Accepts every recipient again.
    pub fn accept_all(&self) -> Result<()> {
        fs::write(self.dir.path().join("rules"), "").context("writing the SMTP rules")
    }

    async fn spawn(&mut self) -> Result<()> {
        let script = crate::crate_dir().join("smtp_server.py");
        let python = std::env::var("STOCKBELL_PYTHON").unwrap_or_else(|_| "python3".into());
        let log = self.dir.path().join("server.log");
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .stdin(Stdio::null());
        if let Some((cert, key)) = &self.tls {
            cmd.arg(cert).arg(key);
        }
        log_to(&mut cmd, &log)?;
        let mut proc = Process::spawn("SMTP server", &mut cmd)
            .with_context(|| format!("spawning {python} {}", script.display()))?;
        let port = self.port;
        let listening = proc
            .wait_until(
                &format!("it listened on port {port}"),
                START_TIMEOUT,
                || {
                    TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                        .map(drop)
                        .with_context(|| format!("nothing listens on port {port} yet"))
                },
            )
            .await;
        match listening {
            Ok(()) => {
                self.child = Some(proc);
                Ok(())
            }
            Err(e) => bail!(
                "{e:#}; is aiosmtpd installed (scripts/setup.sh)?\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            ),
        }
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    let port = l.local_addr()?.port();
    ensure!(port != 0, "no free port");
    Ok(port)
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`); other text is kept.
pub fn decode_words(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let decoded = rest[start + 2..]
            .split_once("?=")
            .and_then(|(word, after)| {
                let mut it = word.splitn(3, '?');
                let (_charset, enc, text) = (it.next()?, it.next()?, it.next()?);
                let bytes = match enc {
                    "B" | "b" => crate::base64::decode(text)?,
                    "Q" | "q" => quoted_printable(&text.replace('_', " ")),
                    _ => return None,
                };
                Some((String::from_utf8_lossy(&bytes).into_owned(), after))
            });
        let Some((text, after)) = decoded else { break };
        let between = &rest[..start];
        // Whitespace between two encoded words is not part of the text.
        if !(last_was_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        out.push_str(&text);
        rest = after;
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

fn quoted_printable(s: &str) -> Vec<u8> {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_unfold_and_words_decode() {
        let raw = "Subject: =?utf-8?b?44CQ5q6L44KKMueCueOAkQ==?=\r\n =?utf-8?q?Linen_Shirt?=\r\nlist-unsubscribe: <https://x/u?token=a>,\r\n <mailto:u@x>\r\n\r\nbody";
        let h = Headers::parse(raw);
        assert_eq!(
            h.get("List-Unsubscribe"),
            Some("<https://x/u?token=a>, <mailto:u@x>")
        );
        assert_eq!(
            decode_words(h.get("subject").unwrap_or("")),
            "【残り2点】Linen Shirt"
        );
        assert_eq!(decode_words("plain"), "plain");
        assert_eq!(quoted_printable("a=3Db=\r\nc"), b"a=bc");
    }
}
