//! The shop webhook's events as JSON (the receiver's contract: add fields, never rename
//! them), and reading the next ones from the two logs they come from: the
//! cancellation-request log and the order-notice log (its `Allocated` notices only).

use serde::Serialize;

use crate::domain::order::state::CancelRequest;
use crate::domain::order::{LineNotice, LineNoticeKind};
use crate::domain::segments::sync::MembershipChange;
use crate::domain::Millis;
use crate::store::orders::{CancelRequests, LineNotices, OrderIndexes};
use crate::store::segment_sync::SegmentChanges;
use crate::store::{Seek, Store, StoreError};

/// One line an allocation covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocatedLine {
    pub line_id: String,
    /// Units of the line (each line is covered whole); `null` if the order is unknown.
    pub quantity: Option<i64>,
}

/// An event for the shop. `event_id` is stable: a re-delivery carries the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ShopEvent {
    CancellationRequested {
        event_id: String,
        request_id: u64,
        order_id: String,
        customer_id: String,
        line_ids: Vec<String>,
        requested_at_ms: Millis,
    },
    Allocated {
        event_id: String,
        order_id: String,
        customer_id: String,
        sku: String,
        lines: Vec<AllocatedLine>,
        allocated_at_ms: Millis,
    },
    /// A customer entered a segment with `webhook = true`.
    SegmentEntered {
        event_id: String,
        segment: String,
        customer_id: String,
        at_ms: Millis,
    },
    /// A customer left a segment with `webhook = true`.
    SegmentLeft {
        event_id: String,
        segment: String,
        customer_id: String,
        at_ms: Millis,
    },
}

impl ShopEvent {
    pub fn cancellation(id: u64, r: CancelRequest) -> ShopEvent {
        ShopEvent::CancellationRequested {
            event_id: format!("cancellation_requested:{id}"),
            request_id: id,
            order_id: r.order_id,
            customer_id: r.customer_id,
            line_ids: r.line_ids,
            requested_at_ms: r.requested_at_ms,
        }
    }

    /// `quantity_of` gives a line's units (from the order index).
    pub fn allocated(
        id: u64,
        n: LineNotice,
        quantity_of: impl Fn(&str) -> Option<i64>,
    ) -> ShopEvent {
        ShopEvent::Allocated {
            event_id: format!("allocated:{id}"),
            lines: n
                .line_ids
                .iter()
                .map(|l| AllocatedLine {
                    line_id: l.clone(),
                    quantity: quantity_of(l),
                })
                .collect(),
            order_id: n.order_id,
            customer_id: n.customer_id,
            sku: n.sku,
            allocated_at_ms: n.at_ms,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            ShopEvent::CancellationRequested { event_id, .. }
            | ShopEvent::Allocated { event_id, .. }
            | ShopEvent::SegmentEntered { event_id, .. }
            | ShopEvent::SegmentLeft { event_id, .. } => event_id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ShopEvent::CancellationRequested { .. } => "cancellation_requested",
            ShopEvent::Allocated { .. } => "allocated",
            ShopEvent::SegmentEntered { .. } => "segment_entered",
            ShopEvent::SegmentLeft { .. } => "segment_left",
        }
    }
}

/// Where the follower is in each log (the last id it is done with; 0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursors {
    pub cancel: u64,
    pub notice: u64,
    pub segment: u64,
}

/// An event and the cursors once it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub event: ShopEvent,
    pub after: Cursors,
}

impl ShopEvent {
    pub fn membership(id: u64, c: MembershipChange) -> ShopEvent {
        if c.entered {
            ShopEvent::SegmentEntered {
                event_id: format!("segment_entered:{id}"),
                segment: c.segment,
                customer_id: c.customer_id,
                at_ms: c.at_ms,
            }
        } else {
            ShopEvent::SegmentLeft {
                event_id: format!("segment_left:{id}"),
                segment: c.segment,
                customer_id: c.customer_id,
                at_ms: c.at_ms,
            }
        }
    }
}

/// The next events after `from` (cancellation requests first, then allocations, then
/// segment membership changes; at most
/// `max` records read from each log), and the cursors after the whole round (past the
/// notices that are not allocations too).
pub fn next_round(
    s: &Store,
    from: Cursors,
    max: usize,
) -> Result<(Vec<Outgoing>, Cursors), StoreError> {
    let mut out = Vec::new();
    let mut at = from;
    for row in s
        .iter::<CancelRequests>(Seek::From(from.cancel.saturating_add(1)))?
        .take(max)
    {
        let (id, request) = row?;
        at.cancel = id;
        out.push(Outgoing {
            event: ShopEvent::cancellation(id, request),
            after: at,
        });
    }
    for row in s
        .iter::<LineNotices>(Seek::From(from.notice.saturating_add(1)))?
        .take(max)
    {
        let (id, notice) = row?;
        at.notice = id;
        if notice.kind != LineNoticeKind::Allocated {
            continue;
        }
        let index = s.get::<OrderIndexes>(&notice.order_id)?;
        let quantity_of = |line: &str| {
            index
                .as_ref()
                .and_then(|ix| ix.lines.iter().find(|l| l.line_id == line))
                .map(|l| l.quantity)
        };
        out.push(Outgoing {
            event: ShopEvent::allocated(id, notice, quantity_of),
            after: at,
        });
    }
    for row in s
        .iter::<SegmentChanges>(Seek::From(from.segment.saturating_add(1)))?
        .take(max)
    {
        let (id, change) = row?;
        at.segment = id;
        out.push(Outgoing {
            event: ShopEvent::membership(id, change),
            after: at,
        });
    }
    Ok((out, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_the_receiver_gets() {
        let request = CancelRequest {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            line_ids: vec!["2".into()],
            requested_at_ms: 1_700_000_000_000,
        };
        let json = serde_json::to_value(ShopEvent::cancellation(7, request)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "type": "cancellation_requested",
                "event_id": "cancellation_requested:7",
                "request_id": 7,
                "order_id": "o1",
                "customer_id": "c1",
                "line_ids": ["2"],
                "requested_at_ms": 1_700_000_000_000_i64,
            })
        );
        let notice = LineNotice {
            customer_id: "c1".into(),
            order_id: "o1".into(),
            sku: "kettle".into(),
            kind: LineNoticeKind::Allocated,
            line_ids: vec!["1".into(), "9".into()],
            at_ms: 1_700_000_000_001,
        };
        let event = ShopEvent::allocated(42, notice, |l| (l == "1").then_some(2));
        assert_eq!(
            (event.event_id(), event.kind()),
            ("allocated:42", "allocated")
        );
        assert_eq!(
            serde_json::to_value(event).expect("json"),
            serde_json::json!({
                "type": "allocated",
                "event_id": "allocated:42",
                "order_id": "o1",
                "customer_id": "c1",
                "sku": "kettle",
                "lines": [
                    {"line_id": "1", "quantity": 2},
                    {"line_id": "9", "quantity": null},
                ],
                "allocated_at_ms": 1_700_000_000_001_i64,
            })
        );
    }
}
