//! The systemd notify protocol. `Type=notify` readiness: with `NOTIFY_SOCKET` set,
//! stockbelld sends READY=1 only once the store is open and the port bound (the ready file
//! exists by then), and STOPPING=1 on SIGTERM before it exits 0. The watchdog: with
//! `WATCHDOG_USEC` set it sends WATCHDOG=1 every half of that while it makes progress, and
//! withholds it while its writer thread is stopped (here with ptrace, from outside; no
//! backdoor in the daemon), then pings again once the thread runs.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use stockbell_tests::process::log_to;
use stockbell_tests::{stockbelld_bin, Process};

/// Collects the states the daemon sends to the notify socket, with when they came.
struct Notifications {
    sock: UnixDatagram,
    seen: Vec<(Instant, String)>,
}

impl Notifications {
    fn bind(path: &Path) -> Result<Self> {
        let sock = UnixDatagram::bind(path)?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        Ok(Self {
            sock,
            seen: Vec::new(),
        })
    }

    /// Receives for at most `wait`; the states received are appended to `seen`.
    fn receive(&mut self, wait: Duration) -> Result<()> {
        let end = Instant::now() + wait;
        let mut buf = [0u8; 512];
        while Instant::now() < end {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let now = Instant::now();
                    for line in String::from_utf8_lossy(&buf[..n]).lines() {
                        self.seen.push((now, line.to_owned()));
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// How many `state` lines were received at or after `since`.
    fn count_since(&self, state: &str, since: Instant) -> usize {
        self.seen
            .iter()
            .filter(|(t, s)| *t >= since && s == state)
            .count()
    }

    /// Receives until `n` lines equal to `state` have come at or after `since`.
    fn wait_for(
        &mut self,
        state: &str,
        n: usize,
        since: Instant,
        deadline: Duration,
    ) -> Result<()> {
        let end = Instant::now() + deadline;
        while self.count_since(state, since) < n {
            ensure!(
                Instant::now() < end,
                "{} of {n} {state} within {deadline:?}; received: {:?}",
                self.count_since(state, since),
                self.seen.iter().map(|(_, s)| s).collect::<Vec<_>>()
            );
            self.receive(Duration::from_millis(50))?;
        }
        Ok(())
    }
}

/// Starts `stockbelld run` on port 0 with `NOTIFY_SOCKET` (and `env`), logging to
/// `<dir>/daemon.log`.
fn spawn(dir: &Path, sock_path: &Path, env: &[(&str, &str)]) -> Result<Process> {
    // Defaults otherwise; the HTTP port too is any free one (8080 may be taken here).
    let config = dir.join("stockbelld.toml");
    std::fs::write(&config, "[http]\nlisten = \"127.0.0.1:0\"\n")?;
    let mut cmd = Command::new(stockbelld_bin()?);
    cmd.args(["run", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(dir.join("ready"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("NOTIFY_SOCKET", sock_path)
        .envs(env.iter().copied());
    log_to(&mut cmd, &dir.join("daemon.log"))?;
    Process::spawn("stockbelld", &mut cmd)
}

/// SIGTERM, then STOPPING=1 and exit status 0.
async fn terminate(daemon: &mut Process, notes: &mut Notifications) -> Result<()> {
    daemon.signal(libc::SIGTERM)?;
    let asked = Instant::now();
    notes.wait_for("STOPPING=1", 1, asked, Duration::from_secs(20))?;
    let status = daemon
        .wait_exit(Duration::from_secs(20))
        .await?
        .context("stockbelld did not exit within 20 s of SIGTERM")?;
    ensure!(status.success(), "exit status {status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_after_bind_and_stopping_on_sigterm() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sock_path = dir.path().join("notify.sock");
    let mut notes = Notifications::bind(&sock_path)?;
    let ready = dir.path().join("ready");
    let mut daemon = spawn(dir.path(), &sock_path, &[])?;

    let start = Instant::now();
    notes.wait_for("READY=1", 1, start, Duration::from_secs(30))?;
    ensure!(
        ready.exists(),
        "READY=1 came before the port was bound and the ready file written"
    );
    terminate(&mut daemon, &mut notes).await
}

/// The watchdog interval the test daemon is given: pings every 500 ms.
const WATCHDOG: Duration = Duration::from_secs(1);
/// How long the writer stays stopped: several watchdog intervals.
const WEDGED_FOR: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_pings_while_working_and_not_while_the_writer_is_stopped() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sock_path = dir.path().join("notify.sock");
    let mut notes = Notifications::bind(&sock_path)?;
    let usec = WATCHDOG.as_micros().to_string();
    let mut daemon = spawn(dir.path(), &sock_path, &[("WATCHDOG_USEC", &usec)])?;
    let log = dir.path().join("daemon.log");
    let start = Instant::now();
    notes.wait_for("READY=1", 1, start, Duration::from_secs(30))?;
    notes.wait_for("WATCHDOG=1", 3, start, Duration::from_secs(10))?;

    let pid = daemon.pid().context("stockbelld has no pid")?;
    let writer = ptrace_stop::StoppedThread::stop(pid, "stockbell-write")?;
    let wedged = Instant::now();
    // The positive marker: the daemon says it is withholding pings.
    let end = wedged + Duration::from_secs(10);
    while !log_has(&log, "withholding watchdog pings") {
        ensure!(
            Instant::now() < end,
            "no \"withholding watchdog pings\" in the log within 10 s of stopping the writer"
        );
        notes.receive(Duration::from_millis(50))?;
    }
    // Keep it stopped for several intervals; a ping already due when it stopped may come.
    notes.receive(WEDGED_FOR.saturating_sub(wedged.elapsed()))?;
    let late = notes.count_since("WATCHDOG=1", wedged + WATCHDOG);
    writer.resume()?;
    let resumed = Instant::now();
    ensure!(
        late == 0,
        "{late} WATCHDOG=1 while the writer thread was stopped for {:?}",
        resumed - wedged
    );

    notes.wait_for("WATCHDOG=1", 2, resumed, Duration::from_secs(10))?;
    ensure!(
        log_has(&log, "watchdog pings resume"),
        "pings resumed but the log does not say so"
    );
    terminate(&mut daemon, &mut notes).await
}

fn log_has(path: &Path, text: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|l| l.contains(text))
}

/// Stopping one thread of another process while its other threads run: ptrace can, a
/// signal cannot (SIGSTOP stops the whole process).
mod ptrace_stop {
    use super::*;

    pub struct StoppedThread {
        tid: libc::pid_t,
        attached: bool,
    }

    fn errno() -> std::io::Error {
        std::io::Error::last_os_error()
    }

    /// The id of `pid`'s thread named `name` (as `/proc/PID/task/TID/comm` shows it, cut
    /// to 15 bytes).
    fn find_thread(pid: u32, name: &str) -> Result<libc::pid_t> {
        let tasks = format!("/proc/{pid}/task");
        for entry in std::fs::read_dir(&tasks).with_context(|| format!("reading {tasks}"))? {
            let path = entry?.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.trim_end() == name {
                let tid = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                return tid.parse().with_context(|| format!("thread id {tid:?}"));
            }
        }
        bail!("stockbelld (pid {pid}) has no thread named {name:?}")
    }

    impl StoppedThread {
        /// Seizes the thread and stops it (PTRACE_SEIZE + PTRACE_INTERRUPT).
        pub fn stop(pid: u32, name: &str) -> Result<Self> {
            let tid = find_thread(pid, name)?;
            let null = std::ptr::null_mut::<libc::c_void>();
            // SAFETY: ptrace(2) on a thread of our own child; no memory is passed.
            let rc = unsafe { libc::ptrace(libc::PTRACE_SEIZE, tid, null, null) };
            ensure!(rc == 0, "PTRACE_SEIZE thread {tid}: {}", errno());
            let mut thread = StoppedThread {
                tid,
                attached: true,
            };
            // SAFETY: as above.
            let rc = unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, tid, null, null) };
            ensure!(rc == 0, "PTRACE_INTERRUPT thread {tid}: {}", errno());
            let mut status = 0;
            // SAFETY: waitpid(2) with a valid pointer to an int.
            let waited = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
            ensure!(waited == tid, "waitpid thread {tid}: {}", errno());
            if !libc::WIFSTOPPED(status) {
                thread.attached = false;
                bail!("thread {tid} did not stop (wait status {status:#x})");
            }
            Ok(thread)
        }

        /// Lets the thread run again (PTRACE_DETACH).
        pub fn resume(mut self) -> Result<()> {
            self.attached = false;
            let null = std::ptr::null_mut::<libc::c_void>();
            // SAFETY: ptrace(2) on the thread this tracer stopped.
            let rc = unsafe { libc::ptrace(libc::PTRACE_DETACH, self.tid, null, null) };
            ensure!(rc == 0, "PTRACE_DETACH thread {}: {}", self.tid, errno());
            Ok(())
        }
    }

    impl Drop for StoppedThread {
        fn drop(&mut self) {
            if self.attached {
                let null = std::ptr::null_mut::<libc::c_void>();
                // SAFETY: as in `resume`.
                unsafe { libc::ptrace(libc::PTRACE_DETACH, self.tid, null, null) };
            }
        }
    }
}
