//! `Admin.ListOutbox`, `Admin.RetryOutbox` and `Admin.GetScenarioStats`.

use crate::domain::lifecycle::hygiene_rates::DayCounts;
use std::sync::atomic::Ordering::Relaxed;

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use crate::delivery::outbox::{reads, OutboxError};
use crate::delivery::templates::Templates;
use crate::domain::customer::{Scenario, SuppressReason};
use crate::domain::lifecycle::attribution::{lift, Tally};
use crate::domain::message::{OutboxEntry, OutboxStatus};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

fn status_name(s: OutboxStatus) -> &'static str {
    match s {
        OutboxStatus::Pending => "pending",
        OutboxStatus::Delivered => "delivered",
        OutboxStatus::Failed => "failed",
        OutboxStatus::Cancelled => "cancelled",
    }
}

fn parse_status(s: &str) -> Result<Option<OutboxStatus>, Status> {
    Ok(match s {
        "" => None,
        "pending" => Some(OutboxStatus::Pending),
        "delivered" => Some(OutboxStatus::Delivered),
        "failed" => Some(OutboxStatus::Failed),
        "cancelled" => Some(OutboxStatus::Cancelled),
        other => {
            return Err(Status::invalid_argument(format!(
                "status {}: use pending, delivered, failed, cancelled or leave it empty",
                super::limits::echo(other)
            )))
        }
    })
}

/// The admin view of an entry; its subject is rendered now from the entry's context (the
/// outbox stores the context, not the text).
pub fn entry_view(e: &OutboxEntry, templates: &Templates) -> pb::OutboxEntry {
    pb::OutboxEntry {
        seq: e.seq,
        customer_id: e.customer_id.clone(),
        channel: e.channel.as_str().into(),
        address: e.address.clone(),
        scenario: e.scenario.as_str().into(),
        status: status_name(e.status).into(),
        attempts: e.attempts,
        next_attempt_ms: e.next_attempt_ms,
        created_ms: e.created_ms,
        delivered_ms: e.delivered_ms.unwrap_or(0),
        last_error: e.last_error.clone().unwrap_or_default(),
        subject: templates
            .subject(&e.context)
            .unwrap_or_else(|err| format!("(cannot render the subject: {err})")),
        skus: e.context.items.iter().map(|i| i.sku.clone()).collect(),
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

impl AdminApi {
    pub(super) async fn outbox(
        &self,
        r: pb::ListOutboxRequest,
    ) -> Result<pb::ListOutboxResponse, Status> {
        let status = parse_status(&r.status)?;
        let limit = match r.limit as usize {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let before = (r.before_seq != 0).then_some(r.before_seq);
        let customer = r.customer_id;
        let page = self
            .store
            .read(move |s| {
                // A customer's entries come from the per-customer index, not a full scan.
                if customer.is_empty() {
                    reads::list(s, status, limit, before)
                } else {
                    reads::list_customer(s, &customer, status, limit, before)
                }
            })
            .await
            .map_err(internal)?;
        let entries = page
            .entries
            .iter()
            .map(|e| entry_view(e, &self.templates))
            .collect();
        Ok(pb::ListOutboxResponse { entries })
    }

    pub(super) async fn retry(&self, seq: u64) -> Result<pb::OutboxEntry, Status> {
        let (was, e) = self
            .outbox
            .retry(seq, crate::clock::now_ms())
            .await
            .map_err(|e| match e {
                OutboxError::NotFound(_) => Status::not_found(e.to_string()),
                OutboxError::NotRetryable { .. } => Status::failed_precondition(e.to_string()),
                other => Status::internal(other.to_string()),
            })?;
        // For the overview's depth: a failed entry going back to pending.
        if was == OutboxStatus::Failed {
            self.metrics.outbox_requeued.fetch_add(1, Relaxed);
        }
        self.outbox_notify.notify_one();
        Ok(entry_view(&e, &self.templates))
    }

    pub(super) fn scenario_stats(&self) -> pb::ScenarioStatsResponse {
        let m = &self.metrics;
        let rules = self.control.live.get();
        let now = crate::clock::now_ms();
        let scenarios = Scenario::ALL
            .iter()
            .map(|&s| {
                let c = m.scenario(s);
                pb::ScenarioStats {
                    scenario: s.as_str().into(),
                    triggered: m.triggered(s),
                    audience: c.audience.load(Relaxed),
                    queued: c.queued.load(Relaxed),
                    suppressed: SuppressReason::ALL
                        .iter()
                        .map(|&r| pb::SuppressionCount {
                            reason: r.as_str().into(),
                            count: m.suppressed(s, r),
                        })
                        .filter(|c| c.count > 0)
                        .collect(),
                    sent: c.sent.load(Relaxed),
                    failed: c.failed.load(Relaxed),
                    enabled: rules.enabled(s),
                    ..self.hygiene_stats(
                        s,
                        now,
                        attribution_stats(&m.attribution(s), rules.holdout_pct(s)),
                    )
                }
            })
            .collect();
        pb::ScenarioStatsResponse { scenarios }
    }

    /// The list-hygiene fields of `s`'s stats (20–28), the rest from `base`.
    fn hygiene_stats(&self, s: Scenario, now: i64, base: pb::ScenarioStats) -> pb::ScenarioStats {
        let domains = self.board.domains(s, now);
        let mut all = DayCounts::default();
        for (_, c) in &domains {
            all.delivered += c.delivered;
            all.hard_bounces += c.hard_bounces;
            all.complaints += c.complaints;
        }
        let pause = self.board.paused(s);
        pb::ScenarioStats {
            day_delivered: all.delivered,
            day_hard_bounces: all.hard_bounces,
            day_complaints: all.complaints,
            complaint_rate: all.complaint_rate(),
            hard_bounce_rate: all.hard_bounce_rate(),
            paused: pause.is_some(),
            paused_reason: pause
                .as_ref()
                .map_or(String::new(), |p| format!("{}: {}", p.domain, p.why)),
            paused_since_ms: pause.as_ref().map_or(0, |p| p.since_ms),
            domains: domains
                .into_iter()
                .map(|(domain, c)| pb::DomainRates {
                    domain,
                    delivered: c.delivered,
                    hard_bounces: c.hard_bounces,
                    complaints: c.complaints,
                    complaint_rate: c.complaint_rate(),
                    hard_bounce_rate: c.hard_bounce_rate(),
                })
                .collect(),
            ..base
        }
    }
}

/// The attribution fields of a scenario's stats (`ScenarioStats` 9–15).
pub(super) fn attribution_stats(t: &Tally, holdout_pct: f64) -> pb::ScenarioStats {
    let sent = lift::Arm {
        customers: t.sent_customers,
        converted: t.sent_converted,
    };
    let held = lift::Arm {
        customers: t.held_customers,
        converted: t.held_converted,
    };
    let l = lift::lift(sent, held);
    pb::ScenarioStats {
        messages: t.messages,
        attributed_orders: t.orders,
        revenue: t
            .revenue
            .iter()
            .map(|r| pb::Revenue {
                currency: r.currency.clone(),
                amount_minor: r.minor,
            })
            .collect(),
        conversion_rate: t.conversion_rate(),
        notified_sku_orders: t.notified_sku_orders,
        other_sku_orders: t.other_sku_orders,
        holdout: Some(pb::HoldoutStats {
            holdout_pct,
            sent_customers: sent.customers,
            sent_converted: sent.converted,
            sent_conversion: sent.rate(),
            held_customers: held.customers,
            held_converted: held.converted,
            held_conversion: held.rate(),
            has_lift: l.is_some(),
            lift: l.map_or(0.0, |l| l.lift),
            lift_low: l.map_or(0.0, |l| l.low),
            lift_high: l.map_or(0.0, |l| l.high),
        }),
        ..Default::default()
    }
}
