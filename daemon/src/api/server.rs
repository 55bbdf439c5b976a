//! Runs the daemon: open the store, start the writer, router and scheduler, bind, serve
//! gRPC (Ingest, Admin, health, reflection), and shut down in order on a signal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ractor::Actor;
use stockbell_proto::v1::admin_server::AdminServer;
use stockbell_proto::v1::ingest_server::IngestServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;

use super::admin::AdminApi;
use super::auth::BearerAuth;
use super::http::{HttpServer, HttpState};
use super::ingest::IngestApi;
use crate::actors::customer::Links;
use crate::actors::scheduler::{Scheduler, SchedulerArgs};
use crate::actors::{Router, RouterConfig};
use crate::config::Config;
use crate::delivery::dispatcher::{Dispatcher, DispatcherArgs};
use crate::delivery::outbox_ops;
use crate::delivery::templates::Templates;
use crate::delivery::unsubscribe::{load_or_create_secret, UnsubscribeLinks};
use crate::metrics::Metrics;
use crate::store::health::WriteState;
use crate::store::writer::Writer;
use crate::store::{Store, StoreLimits};

const SERVICES: [&str; 2] = ["stockbell.v1.Ingest", "stockbell.v1.Admin"];

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
    let census_store = store.clone();
    let census = tokio::task::spawn_blocking(move || outbox_ops::census(&census_store))
        .await?
        .context("cannot read the outbox")?;
    let trig = Arc::new(cfg.trigger_config());
    let (writer, writer_thread) = Writer::start(store.clone(), cfg.storage.sync);
    let store_health = writer.health().clone();
    let rules = crate::rules_config::build(&cfg.rules, &cfg.scenarios)?;
    let control = Arc::new(
        crate::scenario_control::ScenarioControl::load(rules, &store, writer.clone())
            .context("cannot load the operator's scenario changes")?,
    );
    let templates = Arc::new(
        Templates::new(cfg.templates.dir.as_deref())
            .context("cannot load the message templates (templates.dir)")?,
    );
    let secret = load_or_create_secret(&store, &writer, &cfg.delivery.unsubscribe_secret)
        .await
        .context("cannot load the unsubscribe secret")?;
    let unsubscribe = UnsubscribeLinks::new(
        secret,
        &cfg.templates.public_url,
        cfg.delivery.unsubscribe_ttl.ms(),
    );
    let links_for_router = unsubscribe.clone();
    let links: Links = Arc::new(move |customer: &str, channel| {
        links_for_router.url(customer, Some(channel), crate::clock::now_ms())
    });
    let outbox_notify = Arc::new(tokio::sync::Notify::new());
    let fanout_notify = Arc::new(tokio::sync::Notify::new());
    let router_cfg = RouterConfig {
        triggers: trig.clone(),
        idle_timeout: cfg.actors.idle_timeout.0,
        affinity_half_life_ms: cfg.interest.half_life.ms(),
        rules: control.live.clone(),
        links,
        outbox_notify: outbox_notify.clone(),
        fanout_notify: fanout_notify.clone(),
        max_active: cfg.actors.max_active,
    };
    let (router, router_task) =
        Router::start(store.clone(), writer.clone(), router_cfg, metrics.clone())?;
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
        crate::delivery_config::channels(&cfg).context("cannot set up the delivery channels")?;

    let (health, health_svc) = tonic_health::server::health_reporter();
    set_health(&health, ServingStatus::Serving).await;
    let health_task = tokio::spawn(follow_store(
        health.clone(),
        store_health.subscribe(),
        metrics.clone(),
    ));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(stockbell_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("cannot build the reflection service")?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let max = cfg.server.max_message_bytes;
    let ingest = IngestServer::new(IngestApi {
        router: router.clone(),
        defaults: Arc::new(cfg.customer_defaults()),
        max_batch_events: cfg.server.max_batch_events,
        shutdown: shutdown_rx.clone(),
        store: store_health.clone(),
    })
    .max_decoding_message_size(max);
    let dispatcher = Dispatcher::start(DispatcherArgs {
        store: store.clone(),
        writer: writer.clone(),
        router: router.clone(),
        channels,
        templates: templates.clone(),
        config: cfg.delivery.dispatcher(),
        wake: outbox_notify.clone(),
        shutdown: shutdown_rx.clone(),
        rules: control.live.clone(),
        metrics: metrics.clone(),
    });
    let admin = AdminServer::new(AdminApi {
        router: router.clone(),
        store: store.clone(),
        cfg: trig,
        weights: Arc::new(cfg.interest_weights()),
        writer: writer.clone(),
        metrics: metrics.clone(),
        outbox_notify: outbox_notify.clone(),
        control: control.clone(),
        started_ms: crate::clock::now_ms(),
        delivery: dispatcher.stats(),
        templates,
        census,
        shutdown: shutdown_rx.clone(),
    })
    .max_decoding_message_size(max);
    let ingest_auth = BearerAuth::new("ingest", &cfg.auth.ingest_tokens);
    let admin_auth = BearerAuth::new("admin", &cfg.auth.admin_tokens);
    let ingest =
        tonic::service::interceptor::InterceptedService::new(ingest, move |r| ingest_auth.check(r));
    let admin =
        tonic::service::interceptor::InterceptedService::new(admin, move |r| admin_auth.check(r));

    let mut stop_rx = shutdown_rx.clone();
    let server = tonic::transport::Server::builder()
        .add_service(health_svc)
        .add_service(reflection)
        .add_service(ingest)
        .add_service(admin)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        });
    let mut server = tokio::spawn(server);
    let http_state = HttpState {
        store: store.clone(),
        writer: writer.clone(),
        router: router.clone(),
        links: unsubscribe.clone(),
        metrics: metrics.clone(),
    };
    let http = HttpServer::start(http_listener, http_state, shutdown_rx.clone())?;

    if let Some(path) = &ready_file {
        // The HTTP address first: once the ready file exists, both are there.
        let http_file = path.with_extension("http");
        let tmp = path.with_extension("http.tmp");
        std::fs::write(&tmp, format!("{}\n", http.addr()))
            .and_then(|()| std::fs::rename(&tmp, &http_file))
            .with_context(|| format!("cannot write {}", http_file.display()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{bound}\n"))
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("cannot write the ready file {}", path.display()))?;
    }
    notify(sd_notify::NotifyState::Ready);
    tracing::info!(addr = %bound, http = %http.addr(), store = %cfg.storage.path.display(), sync = cfg.storage.sync, "stockbelld is ready.");

    let exit = tokio::select! {
        sig = signal => {
            tracing::info!(signal = sig, "Shutting down: no new batches; finishing those in flight.");
            Exit::Clean
        }
        _ = metrics.fatal_notify.notified() => Exit::Fatal(metrics.fatal().unwrap_or_default()),
        res = &mut server => {
            res.context("the gRPC server task failed")?.context("the gRPC server failed")?;
            Exit::Fatal("the gRPC server stopped".into())
        }
    };
    notify(sd_notify::NotifyState::Stopping);
    health_task.abort();
    let _ = health_task.await;
    set_health(&health, ServingStatus::NotServing).await;
    // Batches waiting on a store that refuses writes get until the end of the grace.
    writer.stop_retrying_after(cfg.server.shutdown_grace.0);
    let _ = shutdown_tx.send(true);
    if !server.is_finished()
        && tokio::time::timeout(cfg.server.shutdown_grace.0, &mut server)
            .await
            .is_err()
    {
        tracing::warn!(grace = ?cfg.server.shutdown_grace.0, "Connections still open after the shutdown grace; closing them.");
        server.abort();
    }
    http.join(cfg.server.shutdown_grace.0).await;
    dispatcher.join(cfg.server.shutdown_grace.0).await;
    scheduler.stop(None);
    let _ = scheduler_task.await;
    let _ = fanout_stop.send(true);
    let _ = fanout_task.await;
    // Every Writer handle must be gone for the writer thread to finish.
    drop(writer);
    drop(control);
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

/// Sets the server ("") and every stockbell service to `status`.
async fn set_health(health: &tonic_health::server::HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    for s in SERVICES {
        health.set_service_status(s, status).await;
    }
}

/// Keeps gRPC health in step with the store until aborted at shutdown: NOT_SERVING while
/// it refuses writes, SERVING once it takes them again. A write no retry can mend stops
/// the daemon like any internal error (memory may be ahead of the store).
async fn follow_store(
    health: tonic_health::server::HealthReporter,
    mut state: watch::Receiver<WriteState>,
    metrics: Arc<Metrics>,
) {
    loop {
        let now = state.borrow_and_update().clone();
        let status = if now.takes_writes() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        set_health(&health, status).await;
        if let WriteState::Failed { error } = &now {
            metrics.set_fatal(&format!("the store failed a write: {error}"));
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}
