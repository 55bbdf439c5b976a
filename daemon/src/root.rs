//! The composition root: opens the store and starts every part in dependency order —
//! writer, Router, outbox owner, scheduler, fan-out, dispatcher, shop webhook, gRPC and
//! HTTP servers — wires the ports between them, announces readiness, and on a signal
//! stops them in reverse order so that everything acknowledged is on disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::future::{BoxFuture, FutureExt};
use ractor::Actor;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::actors::customer::{CancelLinkFn, CustomerItem, Links};
use crate::actors::scheduler::{Scheduler, SchedulerArgs};
use crate::actors::{IngestItem, Router, RouterConfig, RouterHandle};
use crate::api::admin::AdminApi;
use crate::api::http::{HttpServer, HttpState};
use crate::api::http_click::ClickRoute;
use crate::api::ingest::IngestApi;
use crate::api::server::GrpcServer;
use crate::config::Config;
use crate::delivery::cancel_link::CancelLinks;
use crate::delivery::click_link::ClickLinks;
use crate::delivery::dispatcher::{Dispatcher, DispatcherArgs};
use crate::delivery::outbox::{reads, OutboxOwner};
use crate::delivery::port::DeliveryPort;
use crate::delivery::shop_webhook::{Backoff, ShopSender, ShopWebhook};
use crate::delivery::templates::Templates;
use crate::delivery::unsubscribe::{load_or_create_secret, UnsubscribeLinks};
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerEvent;
use crate::metrics::Metrics;
use crate::scenario_control::ScenarioControl;
use crate::store::writer::Writer;
use crate::store::{Store, StoreLimits};

/// How the daemon ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Signal received, everything flushed.
    Clean,
    /// An internal error stopped it; it should be restarted.
    Fatal(String),
}

fn notify(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "Could not notify systemd.");
    }
}

/// Installs the SIGTERM/SIGINT handlers now (before readiness is announced, so a signal
/// right after READY is never lost) and returns a future for the first signal.
fn signals() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Delivery's port to the rest of the daemon, over the Router.
struct RouterPort(RouterHandle);

impl DeliveryPort for RouterPort {
    fn product(&self, sku: String) -> BoxFuture<'static, Result<Option<ProductState>, String>> {
        let router = self.0.clone();
        async move {
            let found = router.get_product(sku).await.map_err(|e| e.to_string())?;
            Ok(found.map(|f| f.state))
        }
        .boxed()
    }

    fn journey(
        &self,
        customer_id: String,
    ) -> BoxFuture<'static, Result<Option<crate::domain::lifecycle::journey::Journey>, String>>
    {
        let router = self.0.clone();
        async move {
            let found = router
                .get_customer(customer_id)
                .await
                .map_err(|e| e.to_string())?;
            Ok(found.map(|f| f.state.lifecycle.journey))
        }
        .boxed()
    }

    fn customer_event(
        &self,
        customer_id: String,
        event: CustomerEvent,
    ) -> BoxFuture<'static, Result<(), String>> {
        let router = self.0.clone();
        async move {
            let item = IngestItem::Customer {
                id: customer_id,
                item: CustomerItem {
                    index: 0,
                    at_ms: crate::clock::now_ms(),
                    event,
                },
            };
            let ack = router
                .internal(vec![item])
                .await
                .map_err(|e| e.to_string())?;
            match ack.rejections.first() {
                Some(r) => Err(format!("{}: {}", r.field, r.reason)),
                None => Ok(()),
            }
        }
        .boxed()
    }
}

/// Writes the HTTP address, then the gRPC address, each atomically: once the ready file
/// exists, both are there.
fn write_ready_files(path: &std::path::Path, grpc: &str, http: &str) -> anyhow::Result<()> {
    for (file, addr) in [
        (path.with_extension("http"), http),
        (path.to_path_buf(), grpc),
    ] {
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, format!("{addr}\n"))
            .and_then(|()| std::fs::rename(&tmp, &file))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

/// Runs until SIGTERM/SIGINT (or a fatal internal error).
pub async fn run(cfg: Config, ready_file: Option<PathBuf>) -> anyhow::Result<Exit> {
    let addr = cfg.listen_addr()?;
    let signal = signals().context("cannot install signal handlers")?;
    std::fs::create_dir_all(&cfg.storage.path)
        .with_context(|| format!("cannot create storage.path {}", cfg.storage.path.display()))?;
    let path = cfg.storage.path.clone();
    let limits = StoreLimits {
        max_wal_bytes: cfg.storage.max_wal_bytes,
        max_memtable_bytes: usize::try_from(cfg.storage.max_memtable_bytes).unwrap_or(usize::MAX),
    };
    let store = tokio::task::spawn_blocking(move || Store::open_with(&path, limits))
        .await?
        .with_context(|| format!("cannot open the store in {}", cfg.storage.path.display()))?;
    let metrics = Arc::new(Metrics::default());
    // Outbox entries by state as of now; the overview adds what happens from here on.
    let census = store
        .read(reads::census)
        .await
        .context("cannot read the outbox")?;
    // Attribution counters so far; the Router adds each credit it writes.
    let tallies = store
        .read(crate::store::attribution::read_all)
        .await
        .context("cannot read the attribution counters")?;
    for (scenario, tally) in &tallies {
        metrics.add_attribution(*scenario, tally);
    }
    let trig = Arc::new(cfg.trigger_config());
    let (writer, writer_thread) = Writer::start(store.clone(), cfg.storage.sync);
    let store_health = writer.health().clone();
    let rules = cfg.delivery_rules()?;
    let control = {
        let (store, writer) = (store.clone(), writer.clone());
        tokio::task::spawn_blocking(move || ScenarioControl::load(rules, &store, writer))
            .await?
            .map(Arc::new)
            .context("cannot load the operator's scenario changes")?
    };
    let mut templates = Templates::new(cfg.templates.dir.as_deref())
        .context("cannot load the message templates (templates.dir)")?;
    templates.set_keep_url(&cfg.scenarios.last_chance.keep_url);
    let templates = Arc::new(templates);
    let built = crate::store::board::build_once(&store, &writer)
        .await
        .context("cannot build the backorder board")?;
    if built > 0 {
        tracing::info!(
            rows = built,
            "Built the backorder board from the stored products."
        );
    }
    let secret = load_or_create_secret(&store, &writer, &cfg.delivery.unsubscribe_secret)
        .await
        .context("cannot load the unsubscribe secret")?;
    // One secret signs both kinds of link; each is signed for its own purpose.
    let cancel = CancelLinks::new(
        secret.clone(),
        &cfg.templates.public_url,
        cfg.orders.cancel_link_valid_for.ms(),
    );
    let engagement = cfg
        .engagement
        .settings()
        .context("invalid [engagement] section")?;
    // Click links: the same secret, their own purpose (`link_token::LinkPurpose::Click`).
    let click_links = (engagement.click_tracking && !cfg.templates.public_url.trim().is_empty())
        .then(|| {
            ClickLinks::new(secret.clone(), &cfg.templates.public_url)
                .with_keep_url(&cfg.scenarios.last_chance.keep_url)
        });
    let unsubscribe = UnsubscribeLinks::new(
        secret,
        &cfg.templates.public_url,
        cfg.delivery.unsubscribe_ttl.ms(),
    );
    let links: Links = {
        let unsubscribe = unsubscribe.clone();
        Arc::new(move |customer: &str, channel| {
            unsubscribe.url(customer, Some(channel), crate::clock::now_ms())
        })
    };
    let cancel_links: CancelLinkFn = {
        let cancel = cancel.clone();
        Arc::new(move |customer: &str, order: &str, now| cancel.url(customer, order, now))
    };
    let outbox_notify = Arc::new(Notify::new());
    let fanout_notify = Arc::new(Notify::new());
    let board = Arc::new(crate::hygiene_board::HygieneBoard::new(
        cfg.hygiene.pause_policy()?,
        &cfg.email.from,
    ));
    let segments = Arc::new(crate::segment_board::SegmentBoard::with_rfm_refresh(
        cfg.segment_settings.rfm_refresh.ms(),
    ));
    // Before anything writes customers (the Router) or reads rows (the API).
    rebuild_segments(&store, &segments).await?;
    let segment_defs = Arc::new(
        crate::scenario_control::segment_defs::SegmentDefs::load(
            crate::config::segments::definitions(&cfg.segments)?,
            store.clone(),
            writer.clone(),
        )
        .context("cannot load the segment definitions")?,
    );
    let router_cfg = RouterConfig {
        triggers: trig.clone(),
        idle_timeout: cfg.actors.idle_timeout.0,
        affinity_half_life_ms: cfg.interest.half_life.ms(),
        rules: control.live.clone(),
        links,
        cancel_links,
        outbox_notify: outbox_notify.clone(),
        fanout_notify: fanout_notify.clone(),
        max_active: cfg.actors.max_active,
        default_time_zone: cfg.customers.default_time_zone.clone(),
        related: cfg.related.related()?,
        hygiene: cfg.hygiene.policy()?,
        board: board.clone(),
        segments: segments.clone(),
        segment_defs: segment_defs.clone(),
    };
    let (router, router_task) =
        Router::start(store.clone(), writer.clone(), router_cfg, metrics.clone()).await?;
    let dispatcher_cfg = cfg.delivery.dispatcher();
    let (outbox, outbox_task) =
        OutboxOwner::start(store.clone(), writer.clone(), dispatcher_cfg.retry);
    let sched_args = SchedulerArgs {
        store: store.clone(),
        router: router.clone(),
        tick: Duration::from_millis(200),
    };
    let fanout = crate::fanout::Fanout {
        store: store.clone(),
        router: router.clone(),
        rules: control.live.clone(),
        weights: cfg.interest_weights(),
        triggers: trig.clone(),
        metrics: metrics.clone(),
        wake: fanout_notify,
    };
    let (fanout_stop, fanout_stop_rx) = watch::channel(false);
    let related = crate::fanout::related::RelatedFollower {
        store: store.clone(),
        writer: writer.clone(),
        cfg: cfg.related.related()?,
    };
    let related_task = tokio::spawn(related.run(fanout_stop_rx.clone()));
    let fanout_task = tokio::spawn(fanout.run(fanout_stop_rx));
    let (scheduler, scheduler_task) = Actor::spawn(Some("scheduler".into()), Scheduler, sched_args)
        .await
        .context("cannot start the timer scheduler")?;

    // Bind first so a taken port fails before anything is announced.
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (server.listen)"))?;
    let bound = listener.local_addr()?;
    let http_addr = cfg.http.listen_addr()?;
    let http_listener = TcpListener::bind(http_addr)
        .await
        .with_context(|| format!("cannot listen on {http_addr} (http.listen)"))?;
    let channels =
        crate::config::delivery::channels(&cfg).context("cannot set up the delivery channels")?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let categories_task = segment_defs.clone().start_refresh(shutdown_rx.clone());
    // RFM cutoffs recomputed every rfm_refresh off the async threads: the customer
    // actors' gate and GetCustomer read the cached ones without waiting for a scan.
    let rfm_task = {
        let (board, mut stop) = (segments.clone(), shutdown_rx.clone());
        let every = cfg.segment_settings.rfm_refresh.0;
        tokio::spawn(async move {
            loop {
                let b = board.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    b.cutoffs(crate::clock::now_ms());
                })
                .await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        })
    };
    let dispatcher = Dispatcher::start(DispatcherArgs {
        store: store.clone(),
        outbox: outbox.clone(),
        port: Arc::new(RouterPort(router.clone())),
        channels,
        templates: templates.clone(),
        config: dispatcher_cfg,
        wake: outbox_notify.clone(),
        shutdown: shutdown_rx.clone(),
        rules: control.live.clone(),
        triggers: trig.clone(),
        metrics: metrics.clone(),
        clicks: click_links.clone(),
        board: board.clone(),
    });
    let shop_webhook = ShopSender::new(&cfg.shop_webhook)
        .context("cannot set up the shop webhook")?
        .map(|sender| {
            ShopWebhook {
                store: store.clone(),
                writer: writer.clone(),
                sender,
                backoff: Backoff {
                    base_ms: cfg.delivery.retry_base.ms(),
                    max_ms: cfg.delivery.retry_max.ms(),
                },
                shutdown: shutdown_rx.clone(),
            }
            .start()
        });
    // Metric snapshots of every customer and of each defined segment.
    let snapshot_segments: crate::delivery::segment_snapshots::SnapshotSegments = {
        let (defs, board) = (segment_defs.clone(), segments.clone());
        Arc::new(move || {
            let now = crate::clock::now_ms();
            defs.list()
                .iter()
                .map(|def| {
                    let test = defs.test_of(def, &board, now);
                    let filter: crate::delivery::segment_snapshots::RowFilter =
                        Box::new(move |row| test.matches(row));
                    (def.text.name.clone(), filter)
                })
                .collect()
        })
    };
    // Membership sync of the segments with webhook = true (the shop webhook sends the
    // changes; without one nothing is compared).
    let segment_sync = (!cfg.shop_webhook.url.trim().is_empty()).then(|| {
        let (defs, board) = (segment_defs.clone(), segments.clone());
        crate::delivery::segment_sync::SegmentSync {
            store: store.clone(),
            writer: writer.clone(),
            members: Arc::new(move |now| defs.webhook_members(&board, now)),
            every: cfg.segment_settings.webhook_every.0,
            shutdown: shutdown_rx.clone(),
        }
        .start()
    });
    let snapshots = crate::delivery::segment_snapshots::SegmentSnapshots {
        store: store.clone(),
        writer: writer.clone(),
        board: segments.clone(),
        segments: snapshot_segments,
        every: cfg.segment_settings.snapshot_every.0,
        history_days: cfg.segment_settings.history_days,
        shutdown: shutdown_rx.clone(),
    }
    .start();
    let ingest = IngestApi {
        router: router.clone(),
        defaults: Arc::new(cfg.customer_defaults()),
        max_batch_events: cfg.server.max_batch_events,
        shutdown: shutdown_rx.clone(),
        store: store_health.clone(),
        metrics: metrics.clone(),
    };
    let admin = AdminApi {
        board,
        shop_webhook: !cfg.shop_webhook.url.trim().is_empty(),
        segments: segments.clone(),
        segment_defs: segment_defs.clone(),
        sunset: cfg.hygiene.policy()?,
        router: router.clone(),
        store: store.clone(),
        cfg: trig,
        weights: Arc::new(cfg.interest_weights()),
        metrics: metrics.clone(),
        outbox_notify: outbox_notify.clone(),
        outbox: outbox.clone(),
        control: control.clone(),
        started_ms: crate::clock::now_ms(),
        delivery: dispatcher.stats(),
        templates,
        census,
        store_health: store_health.clone(),
        shutdown: shutdown_rx.clone(),
        related: cfg.related.related()?,
        segment_settings: cfg.segment_settings.clone(),
    };
    // `/metrics`: one registry, built here, reading the counters the Admin API reads.
    let prometheus = cfg.metrics.enabled.then(|| {
        Arc::new(crate::api::http_metrics::MetricsEndpoint::new(
            crate::api::http_metrics::registry(&admin),
            &cfg.metrics.token,
        ))
    });
    let mut grpc = GrpcServer::start(
        listener,
        (ingest, admin),
        &cfg,
        (&store_health, metrics.clone()),
        shutdown_rx.clone(),
    )
    .await?;
    let (clicks, click_task) = match click_links {
        Some(links) => {
            let (route, task) = ClickRoute::start(links, store.clone(), engagement, router.clone());
            (Some(route), Some(task))
        }
        None => (None, None),
    };
    let http_state = HttpState {
        outbox: outbox.clone(),
        router: router.clone(),
        links: unsubscribe,
        cancel,
        metrics: metrics.clone(),
        clicks,
        store: store.clone(),
        complaint_tokens: Arc::new(cfg.hygiene.complaint_tokens.clone()),
        prometheus,
    };
    let http = HttpServer::start(http_listener, http_state, shutdown_rx.clone())?;

    if let Some(path) = &ready_file {
        write_ready_files(path, &bound.to_string(), &http.addr().to_string())?;
    }
    notify(sd_notify::NotifyState::Ready);
    let watchdog = crate::watchdog::start(router.clone(), shutdown_rx.clone());
    tracing::info!(addr = %bound, http = %http.addr(), store = %cfg.storage.path.display(), sync = cfg.storage.sync, "stockbelld is ready.");

    let exit = tokio::select! {
        sig = signal => {
            tracing::info!(signal = sig, "Shutting down: no new batches; finishing those in flight.");
            Exit::Clean
        }
        _ = metrics.fatal_notify.notified() => Exit::Fatal(metrics.fatal().unwrap_or_default()),
        res = grpc.stopped() => {
            res?;
            Exit::Fatal("the gRPC server stopped".into())
        }
    };
    notify(sd_notify::NotifyState::Stopping);
    grpc.not_serving().await;
    // Batches waiting on a store that refuses writes get until the end of the grace.
    writer.stop_retrying_after(cfg.server.shutdown_grace.0);
    let _ = shutdown_tx.send(true);
    if let Some(watchdog) = watchdog {
        let _ = watchdog.await;
    }
    let grace = cfg.server.shutdown_grace.0;
    grpc.join(grace).await;
    http.join(grace).await;
    if let Some(mut task) = click_task {
        // The server's state (the recorder's queue) is gone: it records what is queued.
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
    dispatcher.join(grace).await;
    if let Some(task) = shop_webhook {
        // It stops at the shutdown signal, mid-retry too; what it had not stored is sent
        // again after the restart.
        let _ = task.await;
    }
    let _ = snapshots.await;
    if let Some(task) = segment_sync {
        let _ = task.await;
    }
    scheduler.stop(None);
    let _ = scheduler_task.await;
    let _ = fanout_stop.send(true);
    let _ = fanout_task.await;
    let _ = related_task.await;
    let _ = categories_task.await;
    let _ = rfm_task.await;
    // Every Writer handle must be gone for the writer thread to finish.
    drop(outbox);
    let _ = outbox_task.await;
    drop(writer);
    drop(control);
    drop(segment_defs);
    drop(router);
    router_task.await.context("the router task failed")?;
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    if let Err(e) = tokio::task::spawn_blocking(move || store.flush()).await? {
        // Everything acknowledged is in the write-ahead log, which the next start replays.
        tracing::warn!(error = %e, "Could not flush the memtables at shutdown; the next start replays the write-ahead log.");
    }
    if let (Exit::Clean, Some(cause)) = (&exit, store_health.state().cause()) {
        return Ok(Exit::Fatal(format!(
            "the store still refused writes at shutdown ({cause}); batches in flight were neither written nor acknowledged"
        )));
    }
    tracing::info!("stockbelld stopped; everything acknowledged is on disk.");
    Ok(exit)
}

/// Rows put on the segment board per lock at start.
const REBUILD_BATCH: usize = 10_000;

/// Fills the segment board from the customers column family (one scan, rows put in
/// batches) and logs how many rows it took and how long.
async fn rebuild_segments(
    store: &crate::store::Store,
    board: &Arc<crate::segment_board::SegmentBoard>,
) -> anyhow::Result<()> {
    use crate::domain::segments::build::row_of;
    use crate::store::records::Customers;
    let started = std::time::Instant::now();
    let board = board.clone();
    let rows = store
        .read(move |s| {
            let mut n = 0usize;
            let mut batch = Vec::with_capacity(REBUILD_BATCH);
            for item in s.iter::<Customers>(crate::store::Seek::First)? {
                let (_, state) = item?;
                batch.push(row_of(&state));
                if batch.len() == REBUILD_BATCH {
                    n += batch.len();
                    board.put_all(std::mem::take(&mut batch));
                }
            }
            n += batch.len();
            board.put_all(batch);
            Ok(n)
        })
        .await
        .context("rebuilding the segment board from the customers column family")?;
    tracing::info!(
        rows,
        seconds = started.elapsed().as_secs_f64(),
        "Segment board rebuilt from the customer records."
    );
    Ok(())
}
