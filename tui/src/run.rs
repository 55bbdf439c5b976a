//! The event loop: draw, then wait for whichever comes first — a key, a connection event,
//! an RPC reply or the frame tick — and hand it to the [`App`]. RPCs the app asks for run
//! in their own tasks, so the loop never waits on the daemon.

use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::app::App;
use crate::cli::Args;
use crate::conn::{self, AdminClient, ConnConfig, ConnEvent, ConnState};
use crate::input;
use crate::rpc::{self, Reply, Request};
use crate::term::TerminalGuard;
use crate::view;

/// At most this long between frames (more than 10 frames per second).
pub const FRAME: Duration = Duration::from_millis(80);

/// Counts frames and logs the count once a second (`--frames-log`).
#[derive(Debug)]
pub struct FrameCounter {
    enabled: bool,
    frames: u64,
    total: u64,
    since: Instant,
}

impl FrameCounter {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            frames: 0,
            total: 0,
            since: Instant::now(),
        }
    }

    pub fn frame(&mut self) {
        self.frames += 1;
        self.total += 1;
        let elapsed = self.since.elapsed();
        if elapsed >= Duration::from_secs(1) {
            if self.enabled {
                tracing::info!(
                    target: "frames",
                    frames = self.frames,
                    elapsed_ms = elapsed.as_millis() as u64,
                    total = self.total,
                    "frames drawn in the last second"
                );
            }
            self.frames = 0;
            self.since = Instant::now();
        }
    }
}

/// Runs the console until the operator quits.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let bearer = args.bearer()?;
    let mut cfg = ConnConfig::new(args.uri()?, bearer);
    cfg.tls = args.tls()?;
    cfg.interval = Duration::from_millis(u64::from(args.interval_ms.max(200)));
    cfg.stall = (cfg.interval * 5).max(Duration::from_secs(5));

    let (conn_tx, mut conn_rx) = mpsc::channel::<ConnEvent>(64);
    let (reply_tx, mut reply_rx) = mpsc::unbounded_channel::<Reply>();
    let conn_task = tokio::spawn(conn::run(cfg, conn_tx));

    let mut guard = TerminalGuard::enter()?;
    let mut app = App::new(args.addr.clone(), conn::now_ms());
    let mut client: Option<AdminClient> = None;
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut frames = FrameCounter::new(args.frames_log);
    let panic_at = args
        .panic_after_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    tracing::info!(addr = %args.addr, "console started");

    let result = loop {
        if let Err(e) = guard.terminal.draw(|f| view::render(&app, f)) {
            break Err(e).context("drawing the screen");
        }
        frames.frame();
        let reqs: Vec<Request> = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) => match input::map_key(app.mode(), k) {
                    Some(a) => app.handle(a),
                    None => Vec::new(),
                },
                // A resize (or anything else) only needs the redraw at the loop's top.
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => break Err(e).context("reading the terminal"),
                None => break Ok(()),
            },
            ev = conn_rx.recv() => {
                let Some(ev) = ev else {
                    break Err(anyhow::anyhow!("the connection task stopped unexpectedly"));
                };
                match &ev {
                    ConnEvent::Client(c) => client = Some(c.clone()),
                    ConnEvent::State(ConnState::Disconnected { .. }) => client = None,
                    _ => {}
                }
                app.on_conn(ev)
            }
            Some(reply) = reply_rx.recv() => app.on_reply(reply),
            _ = tick.tick() => app.tick(conn::now_ms()),
        };
        for req in reqs {
            tracing::debug!(rpc = req.rpc(), "request");
            rpc::dispatch(client.as_ref(), req, &reply_tx);
        }
        if app.quit {
            break Ok(());
        }
        if panic_at.is_some_and(|t| Instant::now() >= t) {
            panic!("--panic-after-ms: the deliberate panic of a terminal-restore check");
        }
    };
    conn_task.abort();
    drop(guard);
    tracing::info!("console stopped");
    result
}
