//! `Admin.GetOrder`: one order as its customer's actor follows it, found through the
//! Router's order index, with the messages about it. `Admin.ListCancellationRequests`:
//! the cancellation-request log, each request with its order's lines as they are now.

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use super::admin_outbox::entry_view;
use crate::delivery::outbox::reads;
use crate::domain::order::state::{
    CancelRequest, Confirmation, LineState, LineStatus, OrderCadence, OrderState,
};
use crate::domain::order::Promise;
use crate::store::orders::{CancelRequests, OrderIndexes};
use crate::store::Seek;

/// Cancellation requests per page by default, and at most.
const DEFAULT_REQUESTS: usize = 50;
const MAX_REQUESTS: usize = 1000;

/// Messages of the customer looked at for the order's (newest first).
const MESSAGES_SCANNED: usize = 1000;
const MESSAGES_SHOWN: usize = 100;

impl AdminApi {
    /// One order as its customer's actor has it, found through the Router's order index;
    /// `None` when never placed or forgotten.
    pub(super) async fn order_state(&self, order_id: &str) -> Result<Option<OrderState>, Status> {
        let key = order_id.to_owned();
        let index = self
            .store
            .read(move |s| s.get::<OrderIndexes>(&key))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let Some(index) = index else {
            return Ok(None);
        };
        let customer = self
            .router
            .get_customer(index.customer_id)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(customer.and_then(|c| c.state.order(order_id).cloned()))
    }

    pub(super) async fn order(&self, order_id: String) -> Result<pb::Order, Status> {
        if order_id.is_empty() {
            return Err(Status::invalid_argument(
                "order_id is empty; name the order to show",
            ));
        }
        let not_found = || {
            Status::not_found(format!(
                "no order {}: never placed, or finished and no longer kept",
                super::limits::echo(&order_id)
            ))
        };
        let order = self.order_state(&order_id).await?.ok_or_else(not_found)?;
        let rules = self.control.live.get();
        let cadence = crate::actors::customer_orders::cadence(&rules);
        let customer_id = order.customer_id.clone();
        let page = self
            .store
            .read(move |s| reads::list_customer(s, &customer_id, None, MESSAGES_SCANNED, None))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let messages = page
            .entries
            .iter()
            .filter(|e| {
                e.context
                    .order
                    .as_ref()
                    .is_some_and(|o| o.order_id == order_id)
            })
            .take(MESSAGES_SHOWN)
            .map(|e| entry_view(e, &self.templates))
            .collect();
        Ok(order_view(&order, &cadence, messages))
    }
}

impl AdminApi {
    pub(super) async fn cancellation_requests(
        &self,
        r: pb::ListCancellationRequestsRequest,
    ) -> Result<pb::ListCancellationRequestsResponse, Status> {
        let limit = match r.limit as usize {
            0 => DEFAULT_REQUESTS,
            n => n.min(MAX_REQUESTS),
        };
        let (after, newest_first) = (r.after_id, r.newest_first);
        let rows = self
            .store
            .read(move |s| {
                let seek = match (newest_first, after) {
                    (false, _) => Seek::From(after.saturating_add(1)),
                    (true, 0) => Seek::Last,
                    (true, _) => Seek::Back(after - 1),
                };
                // One more than the page: whether there is a next page.
                s.iter::<CancelRequests>(seek)?
                    .take(limit + 1)
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let more = rows.len() > limit;
        let mut requests = Vec::with_capacity(limit);
        for (id, request) in rows.into_iter().take(limit) {
            let order = self.current_order(&request).await?;
            requests.push(request_view(id, request, order.as_ref()));
        }
        let next_after_id = match requests.last() {
            Some(last) if more => last.request_id,
            _ => 0,
        };
        Ok(pb::ListCancellationRequestsResponse {
            requests,
            next_after_id,
        })
    }

    /// The order as its customer keeps it now (`None`: no longer kept).
    async fn current_order(&self, r: &CancelRequest) -> Result<Option<OrderState>, Status> {
        let customer = self
            .router
            .get_customer(r.customer_id.clone())
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(customer.and_then(|c| c.state.order(&r.order_id).cloned()))
    }
}

fn request_view(id: u64, r: CancelRequest, order: Option<&OrderState>) -> pb::CancellationRequest {
    let statuses: Vec<LineStatus> = order
        .map(|o| {
            r.line_ids
                .iter()
                .filter_map(|l| o.line(l).map(|l| l.status))
                .collect()
        })
        .unwrap_or_default();
    let cancelled = !statuses.is_empty()
        && statuses
            .iter()
            .all(|s| matches!(s, LineStatus::Cancelled | LineStatus::Refunded));
    pb::CancellationRequest {
        request_id: id,
        order_id: r.order_id,
        customer_id: r.customer_id,
        line_ids: r.line_ids,
        requested_at_ms: r.requested_at_ms,
        cancelled,
        line_statuses: statuses.iter().map(|s| s.as_str().to_owned()).collect(),
    }
}

pub(super) fn order_view(
    o: &OrderState,
    cadence: &OrderCadence,
    messages: Vec<pb::OutboxEntry>,
) -> pb::Order {
    pb::Order {
        order_id: o.order_id.clone(),
        customer_id: o.customer_id.clone(),
        placed_ms: o.placed_ms,
        currency: o.currency.clone(),
        coupon_code: o.coupon_code.clone(),
        lines: o.lines.iter().map(line_view).collect(),
        confirmation: match o.confirmation {
            Confirmation::Awaiting => "awaiting",
            Confirmation::Sent { .. } => "sent",
            Confirmation::NotNeeded => "not_needed",
        }
        .into(),
        last_notice_ms: o.last_notice_ms.unwrap_or(0),
        next_due_ms: o.next_due_ms(cadence).unwrap_or(0),
        messages,
        cancel_requested_at_ms: o.cancel_requested_at_ms.unwrap_or(0),
    }
}

fn line_view(l: &LineState) -> pb::OrderLineView {
    let shipment = l.shipment.as_ref();
    pb::OrderLineView {
        line_id: l.id().to_owned(),
        sku: l.placed.sku.clone(),
        quantity: l.placed.quantity,
        unit_price_minor: l.placed.unit_price_minor,
        status: l.status.as_str().into(),
        promise: match l.promise {
            Promise::Window(w) => Some(pb::ShipWindow {
                earliest_ms: w.earliest_ms,
                latest_ms: w.latest_ms,
            }),
            Promise::None | Promise::Unknown => None,
        },
        promise_unknown: l.promise == Promise::Unknown,
        waiting_since_ms: l.waiting_since_ms.unwrap_or(0),
        allocated_ms: l.allocated_ms.unwrap_or(0),
        carrier: shipment.map(|s| s.carrier.clone()).unwrap_or_default(),
        tracking_number: shipment
            .map(|s| s.tracking_number.clone())
            .unwrap_or_default(),
        tracking_url: shipment.map(|s| s.tracking_url.clone()).unwrap_or_default(),
        shipped_ms: shipment.map_or(0, |s| s.at_ms),
        delivered_ms: l.delivered_ms.unwrap_or(0),
        closed_ms: l.closed_ms.unwrap_or(0),
        past_promise: l.past_promise,
        delay_reason: l.delay_reason.clone().unwrap_or_default(),
    }
}
