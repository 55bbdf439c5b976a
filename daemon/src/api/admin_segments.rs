//! Segment definitions over the Admin API: list (with live metrics), create, update,
//! delete.

use std::sync::Arc;

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use crate::domain::customer::Scenario;
use crate::domain::rules::DeliveryRules;
use crate::domain::segments::definition::{Definition, DefinitionText};
use crate::domain::segments::metrics::Metrics;
use crate::domain::segments::Row;
use crate::domain::Millis;
use crate::scenario_control::segment_defs::{MemberTest, SegmentDefError};

impl AdminApi {
    pub(super) async fn segments_list(
        &self,
        _r: pb::ListSegmentsRequest,
    ) -> Result<pb::ListSegmentsResponse, Status> {
        let defs = self.segment_defs.list();
        let now = crate::clock::now_ms();
        let tests: Vec<MemberTest> = defs.iter().map(|d| self.member_test(d, now)).collect();
        // One scan for every segment: each row is tested against each predicate.
        let metrics = self
            .scan_rows(move |rows| {
                let mut m = vec![Metrics::default(); tests.len()];
                for row in rows {
                    for (t, m) in tests.iter().zip(m.iter_mut()) {
                        if t.matches(row) {
                            m.add(row);
                        }
                    }
                }
                m
            })
            .await?;
        let rules = self.control.live.get();
        let segments = defs
            .iter()
            .zip(metrics.iter())
            .map(|(d, m)| pb_segment(d, m, now, used_by(&rules, &d.text.name)))
            .collect();
        Ok(pb::ListSegmentsResponse { segments })
    }

    pub(super) async fn segment_create(
        &self,
        r: pb::SegmentDefinition,
    ) -> Result<pb::Segment, Status> {
        self.segment_put(r, true).await
    }

    pub(super) async fn segment_update(
        &self,
        r: pb::SegmentDefinition,
    ) -> Result<pb::Segment, Status> {
        self.segment_put(r, false).await
    }

    /// Creates (`create`) or replaces an API-defined segment.
    async fn segment_put(
        &self,
        r: pb::SegmentDefinition,
        create: bool,
    ) -> Result<pb::Segment, Status> {
        self.webhook_allowed(&r)?;
        let def = if create {
            self.segment_defs.create(text_of(r)).await
        } else {
            self.segment_defs.update(text_of(r)).await
        }
        .map_err(def_status)?;
        let done = if create { "created" } else { "changed" };
        tracing::info!(segment = %def.text.name, "An operator {done} a segment.");
        self.segment_view(&def).await
    }

    pub(super) async fn segment_delete(
        &self,
        r: pb::DeleteSegmentRequest,
    ) -> Result<pb::DeleteSegmentResponse, Status> {
        let users = used_by(&self.control.live.get(), &r.name);
        self.segment_defs
            .delete(&r.name, &users)
            .await
            .map_err(def_status)?;
        tracing::info!(segment = %r.name, "An operator deleted a segment.");
        Ok(pb::DeleteSegmentResponse {})
    }

    /// One segment with its live metrics.
    async fn segment_view(&self, def: &Arc<Definition>) -> Result<pb::Segment, Status> {
        let now = crate::clock::now_ms();
        let test = self.member_test(def, now);
        let m = self
            .scan_rows(move |rows| Metrics::of(rows.filter(|row| test.matches(row))))
            .await?;
        let users = used_by(&self.control.live.get(), &def.text.name);
        Ok(pb_segment(def, &m, now, users))
    }

    /// Whether a customer (by id) is in scenario `s`'s segment audience now (everyone
    /// when it has none); rows come from the segment board.
    pub(super) fn audience_test(&self, s: Scenario, now: Millis) -> Arc<CustomerTest> {
        let rules = self.control.live.get();
        let Some(audience) = rules.audience(s).cloned() else {
            return Arc::new(|_: &str| true);
        };
        let defs = self.segment_defs.clone();
        let board = self.segments.clone();
        let categories = defs.cached_categories();
        let scores = board.scores(now);
        Arc::new(move |customer: &str| {
            let row = board.get(customer).unwrap_or_else(|| {
                Arc::new(Row {
                    customer_id: customer.to_owned(),
                    ..Row::default()
                })
            });
            audience.admits(|name| defs.is_member(name, &row, now, &categories, scores.as_ref()))
        })
    }

    /// Runs `f` over every row of the segment board in one read-locked scan, off the
    /// async threads.
    pub(super) async fn scan_rows<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Iterator<Item = &Row>) -> T + Send + 'static,
    ) -> Result<T, Status> {
        let board = self.segments.clone();
        tokio::task::spawn_blocking(move || board.scan(f))
            .await
            .map_err(|e| Status::internal(format!("the segment scan failed: {e}")))
    }

    /// A segment with `webhook = true` needs the shop webhook.
    fn webhook_allowed(&self, r: &pb::SegmentDefinition) -> Result<(), Status> {
        if r.webhook && !self.shop_webhook {
            return Err(Status::invalid_argument(
                "webhook: this daemon has no shop webhook; set [shop_webhook] url and secret in the config, or send webhook = false",
            ));
        }
        Ok(())
    }

    /// The names of the segments (config, API, built-in) `row` is in now.
    pub(super) fn segments_of(&self, row: &Row, now: Millis) -> Vec<String> {
        self.segment_defs
            .list()
            .iter()
            .filter(|def| self.member_test(def, now).matches(row))
            .map(|def| def.text.name.clone())
            .collect()
    }

    /// The definition's predicate with the categories and scores of now.
    fn member_test(&self, def: &Definition, now: Millis) -> MemberTest {
        self.segment_defs.test_of(def, &self.segments, now)
    }
}

fn text_of(r: pb::SegmentDefinition) -> DefinitionText {
    DefinitionText {
        name: r.name,
        match_: r.r#match,
        description: r.description,
        webhook: r.webhook,
    }
}

fn def_status(e: SegmentDefError) -> Status {
    let msg = e.to_string();
    match e {
        SegmentDefError::Invalid { .. } => Status::invalid_argument(msg),
        SegmentDefError::Exists(..) => Status::already_exists(msg),
        SegmentDefError::NotFound(_) => Status::not_found(msg),
        SegmentDefError::ReadOnly(..) | SegmentDefError::InUse(..) => {
            Status::failed_precondition(msg)
        }
        SegmentDefError::Store(_) => Status::unavailable(msg),
    }
}

/// The scenarios whose audience names segment `name`.
fn used_by(rules: &DeliveryRules, name: &str) -> Vec<String> {
    rules
        .audiences
        .iter()
        .filter(|(_, a)| a.names(name))
        .map(|(s, _)| s.as_str().to_owned())
        .collect()
}

fn pb_segment(def: &Definition, m: &Metrics, now: Millis, used_by: Vec<String>) -> pb::Segment {
    pb::Segment {
        definition: Some(pb::SegmentDefinition {
            name: def.text.name.clone(),
            r#match: def.text.match_.clone(),
            description: def.text.description.clone(),
            webhook: def.text.webhook,
        }),
        source: def.source.as_str().into(),
        canonical: def.canonical(),
        metrics: Some(pb_metrics(&def.text.name, m, now)),
        used_by,
    }
}

/// A membership test by customer id.
pub(super) type CustomerTest = dyn Fn(&str) -> bool + Send + Sync;

/// A membership test over one row.
pub(super) type RowTest = Box<dyn Fn(&Row) -> bool + Send + Sync>;

/// Which customers a request covers: every customer, or one segment's members as of
/// when the filter was made (definitions, categories and scores captured then).
pub(super) struct SegmentFilter {
    /// `None` = every customer.
    test: Option<RowTest>,
}

impl SegmentFilter {
    pub fn covers(&self, row: &Row) -> bool {
        self.test.as_ref().is_none_or(|t| t(row))
    }
}

impl AdminApi {
    /// The filter of segment `name` (empty = every customer); NOT_FOUND names an
    /// unknown segment.
    pub(super) fn segment_filter(&self, name: &str) -> Result<SegmentFilter, Status> {
        if name.is_empty() {
            return Ok(SegmentFilter { test: None });
        }
        let Some(def) = self.segment_defs.get(name) else {
            return Err(Status::not_found(format!(
                "segment \"{}\" is not defined; ListSegments shows the defined ones",
                super::limits::echo(name)
            )));
        };
        let test = self.member_test(&def, crate::clock::now_ms());
        Ok(SegmentFilter {
            test: Some(Box::new(move |row: &Row| test.matches(row))),
        })
    }
}

/// A segment's metrics as the API shows them.
pub(super) fn pb_metrics(segment: &str, m: &Metrics, now: Millis) -> pb::SegmentMetrics {
    pb::SegmentMetrics {
        segment: segment.to_owned(),
        size: m.size,
        buyers: m.buyers,
        repeaters: m.repeaters,
        repeat_rate: m.repeat_rate(),
        aov_per_customer_minor: m.aov_per_customer_minor(),
        aov_per_order_minor: m.aov_per_order_minor(),
        avg_orders: m.avg_orders(),
        ltv_minor: m.ltv_minor(),
        spend_minor: m.spend_minor,
        orders: m.orders,
        avg_repurchase_interval_ms: m.avg_repurchase_interval_ms(),
        avg_lifetime_ms: m.avg_lifetime_ms(),
        computed_at_ms: now,
    }
}
