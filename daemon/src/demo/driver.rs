//! The demo shop as a producer of the daemon's real gRPC `Ingest` API over loopback:
//! one producer id ([`PRODUCER`]), increasing sequences, batches pipelined on one
//! `Ingest.Stream`. On (re)connect it catches up with what the daemon already holds
//! ([`super::resume`]), so a restarted demo continues where the last one stopped. Then it
//! loads whatever of the opening catalogue and customers is missing as fast as the daemon
//! acknowledges, and from then on paces the shop in real time at the requested rate.
//! Beside it the customers read their mail ([`super::reader`]); their clicks reach the
//! shop between two batches.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use stockbell_proto::v1::{event::Kind, ingest_client::IngestClient, Ack, Event, EventBatch};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::Streaming;

use super::reader::{self, Click, Mailbox};
use super::resume::{catch_up, Catchup};
use super::shop::Shop;
use super::Rate;

/// The demo shop's producer id.
pub const PRODUCER: &str = "demo-shop";
/// Batches sent and not yet acknowledged, at most.
const INFLIGHT: usize = 8;
/// Events per batch while loading the opening catalogue and customers.
const LOAD_BATCH: usize = 1000;
/// How often the live shop sends a batch.
const TICK: Duration = Duration::from_millis(100);
/// How often the shop logs what it is doing.
const STATUS_EVERY: Duration = Duration::from_secs(10);
pub(super) const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// What the shop does, from the command line.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    pub products: usize,
    pub customers: usize,
    pub rate: Rate,
    pub stable_for_ms: i64,
    /// Where the messages go; `None`: nobody reads them (no clicks).
    pub mailbox: Option<Mailbox>,
}

/// Totals over the demo's life, for the status line.
#[derive(Debug, Default)]
pub struct Counters {
    pub batches: AtomicU64,
    pub events: AtomicU64,
    pub applied: AtomicU64,
    pub rejected: AtomicU64,
    pub duplicates: AtomicU64,
}

async fn connect(addr: SocketAddr) -> Result<Channel> {
    Endpoint::from_shared(format!("http://{addr}"))
        .context("the daemon's address is not a URI")?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot connect to the daemon at {addr}"))
}

pub(super) fn status_error(what: &str, s: &tonic::Status) -> anyhow::Error {
    anyhow!("{what}: {:?} {}", s.code(), s.message())
}

/// Batches on one `Ingest.Stream`, at most [`INFLIGHT`] unacknowledged.
struct Pipe {
    tx: mpsc::Sender<EventBatch>,
    sent: mpsc::UnboundedSender<(u64, usize)>,
    window: Arc<Semaphore>,
    acks: Option<JoinHandle<Result<()>>>,
    next: u64,
    counters: Arc<Counters>,
}

impl Pipe {
    async fn open(channel: Channel, next: u64, counters: Arc<Counters>) -> Result<Pipe> {
        let (tx, rx) = mpsc::channel(INFLIGHT);
        let (sent, sent_rx) = mpsc::unbounded_channel();
        let mut client = IngestClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let acks = client
            .stream(ReceiverStream::new(rx))
            .await
            .map_err(|s| status_error("Ingest.Stream", &s))?
            .into_inner();
        let window = Arc::new(Semaphore::new(INFLIGHT));
        let task = tokio::spawn(read_acks(acks, sent_rx, window.clone(), counters.clone()));
        Ok(Pipe {
            tx,
            sent,
            window,
            acks: Some(task),
            next,
            counters,
        })
    }

    /// The ack reader's error once it stopped.
    async fn failure(&mut self) -> anyhow::Error {
        match self.acks.take() {
            Some(task) => match task.await {
                Ok(Err(e)) => e,
                Ok(Ok(())) => anyhow!("the daemon closed the ingest stream"),
                Err(e) => anyhow!("the ack reader failed: {e}"),
            },
            None => anyhow!("the ingest stream is closed"),
        }
    }

    async fn send(&mut self, kinds: Vec<Kind>) -> Result<()> {
        if kinds.is_empty() {
            return Ok(());
        }
        let window = self.window.clone();
        match window.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(self.failure().await),
        }
        let n = kinds.len();
        let batch = EventBatch {
            producer_id: PRODUCER.into(),
            sequence: self.next,
            events: kinds
                .into_iter()
                .map(|kind| Event {
                    event_time_ms: 0,
                    kind: Some(kind),
                })
                .collect(),
        };
        if self.sent.send((self.next, n)).is_err() || self.tx.send(batch).await.is_err() {
            return Err(self.failure().await);
        }
        self.next += 1;
        self.counters.batches.fetch_add(1, Relaxed);
        self.counters.events.fetch_add(n as u64, Relaxed);
        Ok(())
    }

    /// Waits until everything sent is acknowledged.
    async fn flush(&mut self) -> Result<()> {
        let window = self.window.clone();
        let all = window.acquire_many(INFLIGHT as u32).await.is_ok();
        if all {
            Ok(())
        } else {
            Err(self.failure().await)
        }
    }
}

async fn read_acks(
    mut acks: Streaming<Ack>,
    mut sent: mpsc::UnboundedReceiver<(u64, usize)>,
    window: Arc<Semaphore>,
    counters: Arc<Counters>,
) -> Result<()> {
    let result = async {
        while let Some(ack) = acks
            .message()
            .await
            .map_err(|s| status_error("the ingest stream ended", &s))?
        {
            let Some((seq, n)) = sent.recv().await else {
                bail!("an Ack for sequence {} that was never sent", ack.sequence);
            };
            ensure!(
                ack.sequence == seq,
                "Acks out of order: expected {seq}, got {}",
                ack.sequence
            );
            ensure!(
                ack.batch_error.is_empty(),
                "batch {seq} of {n} events refused: {}",
                ack.batch_error
            );
            if ack.duplicate {
                counters.duplicates.fetch_add(1, Relaxed);
                tracing::warn!(sequence = seq, "The daemon had already applied this batch.");
            }
            counters.applied.fetch_add(u64::from(ack.applied), Relaxed);
            let before = counters
                .rejected
                .fetch_add(ack.rejected.len() as u64, Relaxed);
            if let Some(r) = ack.rejected.first().filter(|_| before < 20) {
                tracing::warn!(sequence = seq, field = %r.field, reason = %r.reason, rejected = ack.rejected.len(), "The daemon refused demo events (the shop model is out of step).");
            }
            window.add_permits(1);
        }
        Ok(())
    }
    .await;
    window.close();
    result
}

/// Runs the shop against the daemon at `addr` until `stop` turns true; reconnects (and
/// catches up again) if the stream breaks.
pub async fn simulate(
    addr: SocketAddr,
    opts: SimOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let rate = opts.rate.events_per_sec().unwrap_or(5000.0);
    let mut shop = Shop::new(
        opts.seed,
        opts.products,
        opts.customers,
        rate,
        opts.stable_for_ms,
    );
    let counters = Arc::new(Counters::default());
    let (click_tx, mut clicks) = mpsc::unbounded_channel();
    let readers = opts.mailbox.clone().map(|mailbox| {
        tokio::spawn(reader::read_mail(
            addr,
            mailbox,
            opts.seed,
            click_tx,
            stop.clone(),
        ))
    });
    let _readers = AbortOnDrop(readers);
    loop {
        let result = tokio::select! {
            r = session(addr, &mut shop, &opts, &counters, &mut clicks) => r,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        let e = match result {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        // A daemon shutting down closes the stream as the shop hears the same signal.
        let stopping = tokio::time::timeout(Duration::from_millis(500), stop.wait_for(|s| *s));
        if stopping.await.is_ok() {
            return Ok(());
        }
        tracing::warn!(error = %format!("{e:#}"), "The demo shop lost the daemon; reconnecting in 2 s.");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// Stops the mail readers with the shop.
struct AbortOnDrop(Option<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

async fn session(
    addr: SocketAddr,
    shop: &mut Shop,
    opts: &SimOptions,
    counters: &Arc<Counters>,
    clicks: &mut mpsc::UnboundedReceiver<Click>,
) -> Result<()> {
    let channel = connect(addr).await?;
    let now = stockbelld::clock::now_ms();
    let t0 = Instant::now();
    let plan = catch_up(&channel, shop, now).await?;
    if plan.next_sequence > 1 {
        tracing::info!(
            next_sequence = plan.next_sequence,
            products = shop.products().len(),
            new_arrivals = shop.arrivals(),
            sold_out = shop.sold_out(),
            took_ms = t0.elapsed().as_millis() as u64,
            "Demo shop resumes where the last run stopped."
        );
    }
    let mut pipe = Pipe::open(channel, plan.next_sequence, counters.clone()).await?;
    load(&mut pipe, shop, &plan, now).await?;
    live(&mut pipe, shop, opts.rate, counters, clicks).await
}

/// Sends the missing part of the opening catalogue and the customers, as fast as acked.
async fn load(pipe: &mut Pipe, shop: &mut Shop, plan: &Catchup, now: i64) -> Result<()> {
    let customers = if plan.customers {
        shop.customers_len()
    } else {
        0
    };
    if plan.missing_products.is_empty() && customers == 0 {
        return Ok(());
    }
    tracing::info!(
        products = plan.missing_products.len(),
        customers,
        "Demo shop: loading the catalogue and customers."
    );
    let t0 = Instant::now();
    let events0 = pipe.counters.events.load(Relaxed);
    let mut out = Vec::with_capacity(LOAD_BATCH + 4);
    for &i in &plan.missing_products {
        shop.open_product(i, now, &mut out);
        if out.len() >= LOAD_BATCH {
            pipe.send(std::mem::take(&mut out)).await?;
        }
    }
    for i in 0..customers {
        out.push(shop.customer_upsert(i));
        if out.len() >= LOAD_BATCH {
            pipe.send(std::mem::take(&mut out)).await?;
        }
    }
    pipe.send(out).await?;
    pipe.flush().await?;
    let events = pipe.counters.events.load(Relaxed) - events0;
    let secs = t0.elapsed().as_secs_f64();
    tracing::info!(
        events,
        seconds = format!("{secs:.1}"),
        events_per_sec = (events as f64 / secs.max(1e-3)) as u64,
        "Demo shop: loaded; the shop is open."
    );
    Ok(())
}

/// The shop in real time: a batch every [`TICK`] with the events of that interval.
async fn live(
    pipe: &mut Pipe,
    shop: &mut Shop,
    rate: Rate,
    counters: &Counters,
    clicks: &mut mpsc::UnboundedReceiver<Click>,
) -> Result<()> {
    let per_sec = rate.events_per_sec();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut credit = 0.0f64;
    let mut last = Instant::now();
    let mut status_at = Instant::now() + STATUS_EVERY;
    let mut status_events = counters.events.load(Relaxed);
    let mut out = Vec::new();
    loop {
        let budget = match per_sec {
            Some(r) => {
                tick.tick().await;
                let now = Instant::now();
                credit = (credit + r * now.duration_since(last).as_secs_f64()).min(r);
                last = now;
                if credit < 1.0 {
                    continue;
                }
                credit as usize
            }
            None => LOAD_BATCH,
        };
        let now = stockbelld::clock::now_ms();
        while let Ok(click) = clicks.try_recv() {
            shop.clicked(&click.customer_id, &click.location, now);
        }
        shop.step(now, budget, &mut out);
        credit -= out.len() as f64;
        pipe.send(std::mem::take(&mut out)).await?;
        if Instant::now() >= status_at {
            let events = counters.events.load(Relaxed);
            let secs = STATUS_EVERY.as_secs_f64() + status_at.elapsed().as_secs_f64();
            let t = &shop.tally;
            tracing::info!(
                events_per_sec = ((events - status_events) as f64 / secs) as u64,
                rejected = counters.rejected.load(Relaxed),
                products = shop.products().len(),
                sold_out = shop.sold_out(),
                on_sale = shop.on_sale(),
                orders = t.orders,
                backorders = t.backorders,
                allocated = t.allocated,
                shipped = t.shipped,
                delivered = t.delivered,
                delays = t.delays,
                units_sold = t.units,
                restocks = t.restocks,
                price_cuts = t.sales_started,
                flickers = t.flickers,
                new_arrivals = t.arrivals,
                notify_me = t.notify_me,
                carts = t.carts,
                checkouts = t.checkouts,
                carts_left = t.carts_left,
                clicks = t.clicks,
                click_orders = t.click_orders,
                "Demo shop."
            );
            status_events = events;
            status_at = Instant::now() + STATUS_EVERY;
        }
    }
}
