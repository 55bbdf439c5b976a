//! `Admin.GetOrder`: one order as its customer's actor follows it, found through the
//! Router's order index, with the messages about it.

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use super::admin_outbox::entry_view;
use crate::delivery::outbox::reads;
use crate::domain::order::state::{Confirmation, LineState, OrderCadence, OrderState};
use crate::domain::order::Promise;
use crate::store::orders::OrderIndexes;

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
