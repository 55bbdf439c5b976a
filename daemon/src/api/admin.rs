//! `stockbell.v1.Admin`: product inspection, the trigger log, producer positions.

use std::sync::Arc;

use stockbell_proto::v1 as pb;
use stockbell_proto::v1::admin_server::Admin;
use tonic::{Request, Response, Status};

use crate::actors::RouterHandle;
use crate::domain::customer::Scenario;
use crate::domain::interest::InterestWeights;
use crate::domain::order::backorder::{BackorderBook, BookLine, BookState};
use crate::domain::product::{NewArrival, ProductState};
use crate::domain::{FiredTrigger, TriggerConfig, TriggerKind, Window};
use crate::store::records::{Producers, TriggerBySku, Triggers};
use crate::store::{Seek, Store, StoreError};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

#[derive(Clone)]
pub struct AdminApi {
    /// Complaint and hard-bounce rates per scenario; the scenarios paused for them.
    pub board: Arc<crate::hygiene_board::HygieneBoard>,
    /// Whether `[shop_webhook] url` is set (a segment with `webhook = true` needs it).
    pub shop_webhook: bool,
    /// Customer rows for segments (metrics, exports, GetCustomer's value).
    pub segments: Arc<crate::segment_board::SegmentBoard>,
    /// Segment definitions in force (config, API, built-in).
    pub segment_defs: Arc<crate::scenario_control::segment_defs::SegmentDefs>,
    /// The configured sunset policy (`PreviewSunset`'s defaults).
    pub sunset: crate::domain::lifecycle::hygiene::HygienePolicy,
    pub router: RouterHandle,
    pub store: Store,
    pub cfg: Arc<TriggerConfig>,
    pub weights: Arc<InterestWeights>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Wakes the dispatcher (after a retry).
    pub outbox_notify: Arc<tokio::sync::Notify>,
    /// Scenario settings changed at run time.
    pub control: Arc<crate::scenario_control::ScenarioControl>,
    pub started_ms: i64,
    pub delivery: Arc<crate::delivery::dispatcher::DeliveryStats>,
    /// Renders the subject lines the outbox listings show.
    pub templates: Arc<crate::delivery::templates::Templates>,
    /// The outbox by state when the daemon started.
    pub census: crate::delivery::outbox::Census,
    /// Changes existing outbox entries (retry).
    pub outbox: crate::delivery::outbox::OutboxOwner,
    /// Whether the store takes writes (the overview's health line says when not).
    pub store_health: crate::store::health::StoreHealth,
    /// `true` once the daemon shuts down: live streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// How `GetRelated` reads the related-products table (`[related]`).
    pub related: crate::domain::order::related::RelatedConfig,
    /// `[segment_settings]`: dormant_after (monthly table), history_days (history).
    pub segment_settings: crate::config::segment_settings::SegmentSettings,
}

fn pb_window(w: &Window) -> Option<pb::Window> {
    (w.start_ms.is_some() || w.end_ms.is_some()).then(|| pb::Window {
        start_ms: w.start_ms.unwrap_or(0),
        end_ms: w.end_ms.unwrap_or(0),
    })
}

pub fn pb_kind(k: TriggerKind) -> pb::TriggerKind {
    match k {
        TriggerKind::BackInStock => pb::TriggerKind::BackInStock,
        TriggerKind::LowStock => pb::TriggerKind::LowStock,
        TriggerKind::PriceDrop => pb::TriggerKind::PriceDrop,
        TriggerKind::NewArrival => pb::TriggerKind::NewArrival,
    }
}

pub fn product_view(p: &ProductState, active: bool, now: i64, cfg: &TriggerConfig) -> pb::Product {
    let c = &p.catalogue;
    let pending = p.arming.price_drop;
    pb::Product {
        sku: p.sku.clone(),
        title: c.title.clone(),
        url: c.url.clone(),
        image_url: c.image_url.clone(),
        category_ids: c.category_ids.clone(),
        price_minor: p.price_minor,
        currency: c.currency.clone(),
        backorderable: c.backorderable,
        sale_window: pb_window(&c.sale_window),
        display_window: pb_window(&c.display_window),
        stock: p.stock,
        velocity_per_day: p.velocity_per_day(now, cfg),
        predicted_sellout_ms: p.predicted_sellout_ms(now, cfg).unwrap_or(0),
        price_history: p
            .price_history
            .iter()
            .map(|h| pb::PricePoint {
                at_ms: h.at_ms,
                price_minor: h.price_minor,
            })
            .collect(),
        reference_price_minor: p.reference_price_at(now, cfg),
        arming: Some(pb::Arming {
            back_in_stock: p.arming.back_in_stock,
            low_stock: p.arming.low_stock,
            price_drop_pending_minor: pending.map_or(0, |d| d.price_minor),
            price_drop_due_ms: pending.map_or(0, |d| d.due_ms),
            new_arrival: p.arming.new_arrival == NewArrival::Pending,
        }),
        visible: p.visible(now),
        on_sale: p.on_sale(now),
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
        active,
        interested_customers: 0,
        interested_above_threshold: 0,
        available: p.available(),
        backorders: Some(backorders_view(&p.book)),
    }
}

fn backorders_view(book: &BackorderBook) -> pb::Backorders {
    let line = |l: &BookLine| {
        let (state, allocated_ms) = match l.state {
            BookState::Waiting => ("waiting", 0),
            BookState::Reserved { allocated_ms } => ("allocated", allocated_ms),
        };
        pb::BackorderLine {
            order_id: l.order_id.clone(),
            line_id: l.line_id.clone(),
            customer_id: l.customer_id.clone(),
            quantity: l.quantity,
            placed_ms: l.placed_ms,
            state: state.into(),
            allocated_ms,
        }
    };
    pb::Backorders {
        owed_units: book.owed(),
        owed_in_stock: book.owed_in_stock(),
        lines: book
            .waiting()
            .iter()
            .chain(book.reserved())
            .map(line)
            .collect(),
    }
}

pub fn trigger_view(id: u64, t: &FiredTrigger) -> pb::Trigger {
    pb::Trigger {
        id,
        kind: pb_kind(t.kind) as i32,
        sku: t.sku.clone(),
        at_ms: t.at_ms,
        old_stock: t.old_stock,
        new_stock: t.new_stock,
        velocity_per_day: t.velocity_per_day,
        cover_days: t.cover_days.unwrap_or(0.0),
        old_price_minor: t.old_price_minor,
        new_price_minor: t.new_price_minor,
        reason: t.reason.clone(),
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

/// Newest-first triggers matching the filter (a blocking read).
pub fn list_triggers(
    store: &Store,
    kind: Option<TriggerKind>,
    sku: &str,
    limit: usize,
    before: u64,
) -> Result<Vec<pb::Trigger>, StoreError> {
    let start = before.checked_sub(1).unwrap_or(u64::MAX);
    let wanted = |t: &FiredTrigger| kind.is_none_or(|k| k == t.kind);
    let mut out = Vec::new();
    if sku.is_empty() {
        for row in store.iter::<Triggers>(Seek::Back(start))? {
            let (id, t) = row?;
            if wanted(&t) {
                out.push(trigger_view(id, &t));
                if out.len() >= limit {
                    break;
                }
            }
        }
        return Ok(out);
    }
    for row in store.iter_prefix::<TriggerBySku>(sku, Seek::Back((sku, start)))? {
        let ((_, id), ()) = row?;
        let Some(t) = store.get::<Triggers>(id)? else {
            continue;
        };
        if wanted(&t) {
            out.push(trigger_view(id, &t));
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

#[tonic::async_trait]
impl Admin for AdminApi {
    async fn get_product(
        &self,
        req: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let sku = req.into_inner().sku;
        if sku.is_empty() {
            return Err(Status::invalid_argument(
                "sku is empty; name the product to show",
            ));
        }
        let found = match self.router.get_product(sku.clone()).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                return Err(Status::not_found(format!(
                    "no product with sku {}",
                    super::limits::echo(&sku)
                )))
            }
            Err(e) => return Err(Status::unavailable(e.to_string())),
        };
        let now = crate::clock::now_ms();
        let mut view = product_view(&found.state, found.active, now, &self.cfg);
        // How many customers a restock would reach (the exact audience scan).
        let weights = self.weights.clone();
        let threshold = self.control.live.get().threshold(Scenario::BackInStock);
        let reach = self
            .store
            .read(move |s| {
                let restock = Scenario::BackInStock;
                crate::fanout::reach::product(s, &found.state, restock, now, &weights)
            })
            .await
            .map_err(internal)?;
        view.interested_customers = reach.at(0.0);
        view.interested_above_threshold = reach.at(threshold);
        Ok(Response::new(view))
    }

    async fn list_triggers(
        &self,
        req: Request<pb::ListTriggersRequest>,
    ) -> Result<Response<pb::ListTriggersResponse>, Status> {
        let r = req.into_inner();
        let kind = match pb::TriggerKind::try_from(r.kind) {
            Ok(pb::TriggerKind::Unspecified) => None,
            Ok(pb::TriggerKind::BackInStock) => Some(TriggerKind::BackInStock),
            Ok(pb::TriggerKind::LowStock) => Some(TriggerKind::LowStock),
            Ok(pb::TriggerKind::PriceDrop) => Some(TriggerKind::PriceDrop),
            Ok(pb::TriggerKind::NewArrival) => Some(TriggerKind::NewArrival),
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "kind {} is not a TriggerKind",
                    r.kind
                )))
            }
        };
        let limit = match r.limit as usize {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let triggers = self
            .store
            .read(move |s| list_triggers(s, kind, &r.sku, limit, r.before_id))
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ListTriggersResponse { triggers }))
    }

    async fn get_producer(
        &self,
        req: Request<pb::GetProducerRequest>,
    ) -> Result<Response<pb::Producer>, Status> {
        let id = req.into_inner().producer_id;
        if id.is_empty() {
            return Err(Status::invalid_argument("producer_id is empty"));
        }
        let key = id.clone();
        let rec = self
            .store
            .read(move |s| s.get::<Producers>(&key))
            .await
            .map_err(internal)?
            .unwrap_or_default();
        Ok(Response::new(pb::Producer {
            producer_id: id,
            last_sequence: rec.last_sequence,
        }))
    }

    async fn get_customer(
        &self,
        req: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        self.customer_lookup(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_outbox(
        &self,
        req: Request<pb::ListOutboxRequest>,
    ) -> Result<Response<pb::ListOutboxResponse>, Status> {
        self.outbox(req.into_inner()).await.map(Response::new)
    }

    async fn retry_outbox(
        &self,
        req: Request<pb::RetryOutboxRequest>,
    ) -> Result<Response<pb::OutboxEntry>, Status> {
        self.retry(req.into_inner().seq).await.map(Response::new)
    }

    async fn get_scenario_stats(
        &self,
        _req: Request<pb::GetScenarioStatsRequest>,
    ) -> Result<Response<pb::ScenarioStatsResponse>, Status> {
        Ok(Response::new(self.scenario_stats()))
    }

    type WatchOverviewStream = super::overview::OverviewStream;

    async fn watch_overview(
        &self,
        req: Request<pb::WatchOverviewRequest>,
    ) -> Result<Response<Self::WatchOverviewStream>, Status> {
        self.watch(req.into_inner()).map(Response::new)
    }

    async fn list_scenarios(
        &self,
        _req: Request<pb::ListScenariosRequest>,
    ) -> Result<Response<pb::ListScenariosResponse>, Status> {
        Ok(Response::new(self.scenarios()))
    }

    async fn update_scenario(
        &self,
        req: Request<pb::UpdateScenarioRequest>,
    ) -> Result<Response<pb::ScenarioSettings>, Status> {
        self.update_scenario(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn estimate_reach(
        &self,
        req: Request<pb::EstimateReachRequest>,
    ) -> Result<Response<pb::ReachEstimate>, Status> {
        self.reach(req.into_inner()).await.map(Response::new)
    }

    async fn get_order(
        &self,
        req: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        self.order(req.into_inner().order_id)
            .await
            .map(Response::new)
    }

    async fn list_cancellation_requests(
        &self,
        req: Request<pb::ListCancellationRequestsRequest>,
    ) -> Result<Response<pb::ListCancellationRequestsResponse>, Status> {
        self.cancellation_requests(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_backorders(
        &self,
        req: Request<pb::ListBackordersRequest>,
    ) -> Result<Response<pb::ListBackordersResponse>, Status> {
        self.backorders(req.into_inner()).await.map(Response::new)
    }

    async fn list_orders(
        &self,
        req: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        self.list_orders(req.into_inner()).await.map(Response::new)
    }

    async fn get_related(
        &self,
        req: Request<pb::GetRelatedRequest>,
    ) -> Result<Response<pb::RelatedProducts>, Status> {
        self.related(req.into_inner().sku).await.map(Response::new)
    }

    async fn preview_sunset(
        &self,
        req: Request<pb::PreviewSunsetRequest>,
    ) -> Result<Response<pb::SunsetPreview>, Status> {
        self.preview_sunset(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_segments(
        &self,
        req: Request<pb::ListSegmentsRequest>,
    ) -> Result<Response<pb::ListSegmentsResponse>, Status> {
        self.segments_list(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_segment(
        &self,
        req: Request<pb::SegmentDefinition>,
    ) -> Result<Response<pb::Segment>, Status> {
        self.segment_create(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_segment(
        &self,
        req: Request<pb::SegmentDefinition>,
    ) -> Result<Response<pb::Segment>, Status> {
        self.segment_update(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_segment(
        &self,
        req: Request<pb::DeleteSegmentRequest>,
    ) -> Result<Response<pb::DeleteSegmentResponse>, Status> {
        self.segment_delete(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_segment_metrics(
        &self,
        req: Request<pb::GetSegmentMetricsRequest>,
    ) -> Result<Response<pb::SegmentMetrics>, Status> {
        self.segment_metrics(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_segment_history(
        &self,
        req: Request<pb::GetSegmentHistoryRequest>,
    ) -> Result<Response<pb::SegmentHistory>, Status> {
        self.segment_history(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_monthly_table(
        &self,
        req: Request<pb::GetMonthlyTableRequest>,
    ) -> Result<Response<pb::MonthlyTable>, Status> {
        self.monthly_table(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_cohort_table(
        &self,
        req: Request<pb::GetCohortTableRequest>,
    ) -> Result<Response<pb::CohortTable>, Status> {
        self.cohort_table(req.into_inner()).await.map(Response::new)
    }

    async fn get_rfm_grid(
        &self,
        req: Request<pb::GetRfmGridRequest>,
    ) -> Result<Response<pb::RfmGrid>, Status> {
        self.rfm_grid(req.into_inner()).await.map(Response::new)
    }

    type ExportSegmentStream = super::admin_segment_export::CsvStream;

    async fn export_segment(
        &self,
        req: Request<pb::ExportSegmentRequest>,
    ) -> Result<Response<Self::ExportSegmentStream>, Status> {
        self.segment_export(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn search_products(
        &self,
        req: Request<pb::SearchProductsRequest>,
    ) -> Result<Response<pb::SearchProductsResponse>, Status> {
        self.search_products(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn create_backup(
        &self,
        req: Request<pb::CreateBackupRequest>,
    ) -> Result<Response<pb::Backup>, Status> {
        self.backup(req.into_inner()).await.map(Response::new)
    }
}
