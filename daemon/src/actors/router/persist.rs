//! Turning the actors' answers for one dispatch into one atomic write: a plain function,
//! no I/O. Product and customer states (each with what operators read across them: a
//! product's backorder-board row, a customer's lines past their promise), fired triggers
//! (log + per-sku index), timer puts and deletes, interest-edge and category-affinity
//! merges, order notices, new outbox entries, cancellation requests, attribution
//! credits (merged per scenario, only with the customer state that records them), and what the
//! dispatch's kind adds (the producer's record and the indexes of the orders it places,
//! the fan-out cursors and releases, the fired timers' removal).

use super::handle::Handoff;
use super::{Answered, DispatchKind};
use crate::actors::customer::CustomerApplied;
use crate::actors::product::Applied;
use crate::domain::customer::{Scenario, SuppressReason};
use crate::domain::lifecycle::attribution::ScenarioCredit;
use crate::domain::order::board::{BoardWrite, LateWrite};
use crate::domain::order::related::PlacedOrder;
use crate::domain::Rejection;
use crate::domain::TriggerKind;
use crate::store::attribution::ScenarioAttribution;
use crate::store::board::{BackorderBoard, LateLines};
use crate::store::interest::{AffinityOp, CategoryInterest, Interest, InterestByCustomer};
use crate::store::meta::{FanoutCursor, NoticeCursor, Releases};
use crate::store::orders::{CancelRequests, LineNotices, OrderIndexes};
use crate::store::records::{
    Customers, ProducerRecord, Producers, Rejected, TimerKey, Timers, TriggerBySku, Triggers,
};
use crate::store::related::PlacedOrders;
use crate::store::Batch;

/// Numbers handed out as writes are planned. They only grow; a write that fails leaves
/// a gap, never a reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    pub next_trigger_id: u64,
    pub next_outbox_seq: u64,
    pub next_notice_id: u64,
    pub next_cancel_id: u64,
    pub next_placed_id: u64,
}

/// One dispatch's write and what it did.
#[derive(Debug, Default)]
pub(crate) struct Planned {
    pub batch: Batch,
    /// Events applied: for a producer's batch, distinct indexes with no item refused (an
    /// order or a purchase reaches several actors as one event); otherwise items.
    pub applied: u32,
    /// By index in the batch.
    pub rejections: Vec<Rejected>,
    /// Some actor died mid-dispatch: nothing is written, the daemon must stop.
    pub failed: bool,
    /// The producer's record, when the dispatch was a batch.
    pub producer: Option<(String, ProducerRecord)>,
    /// Kinds of the triggers written, and the highest id.
    pub triggers: Vec<TriggerKind>,
    pub last_trigger_id: Option<u64>,
    /// Order notices written (the fan-out follows them).
    pub notices: usize,
    /// Cancellation requests logged (the shop webhook follows them).
    pub cancel_requests: usize,
    /// Scenarios of the outbox entries written.
    pub queued: Vec<Scenario>,
    pub suppressed: Vec<(Scenario, SuppressReason)>,
    /// Attribution credits merged into the per-scenario counters.
    pub credits: Vec<ScenarioCredit>,
    /// Segment rows of the customer states written (put once the write is durable).
    pub rows: Vec<crate::domain::segments::Row>,
}

fn rejected(index: u32, r: Rejection) -> Rejected {
    Rejected {
        index,
        field: r.field.into_owned(),
        reason: r.reason,
    }
}

/// Builds the write of a dispatch whose actors all answered.
pub(crate) fn plan(a: &mut Answered, ids: &mut Counters, affinity_half_life_ms: i64) -> Planned {
    let mut out = Planned::default();
    let mut applied: Vec<u32> = Vec::new();
    for (sku, result) in a.products.drain(..) {
        match result {
            Some(done) => {
                applied.extend_from_slice(&done.applied);
                product(&mut out, &sku, done, ids, affinity_half_life_ms)
            }
            None => out.failed = true,
        }
    }
    for (id, result) in a.customers.drain(..) {
        match result {
            Some(done) => {
                applied.extend_from_slice(&done.applied);
                customer(&mut out, &id, done, ids)
            }
            None => out.failed = true,
        }
    }
    if out.failed {
        out.batch = Batch::default();
        return out;
    }
    out.applied = applied.len() as u32;
    match &mut a.kind {
        DispatchKind::Batch {
            producer,
            sequence,
            early,
            orders,
            ..
        } => {
            for new in orders.drain(..) {
                out.batch.put::<OrderIndexes>(&new.order_id, &new.index);
                let placed = PlacedOrder {
                    skus: new.index.lines.iter().map(|l| l.sku.clone()).collect(),
                    order_id: new.order_id,
                    at_ms: new.placed_ms,
                };
                out.batch.put::<PlacedOrders>(ids.next_placed_id, &placed);
                ids.next_placed_id += 1;
            }
            out.rejections
                .extend(early.drain(..).map(|(i, r)| rejected(i, r)));
            out.rejections.sort_by_key(|r| r.index);
            out.rejections.dedup_by_key(|r| r.index);
            applied.sort_unstable();
            applied.dedup();
            applied.retain(|i| out.rejections.binary_search_by_key(i, |r| r.index).is_err());
            out.applied = applied.len() as u32;
            let record = ProducerRecord {
                last_sequence: *sequence,
                last_applied: out.applied,
                last_rejections: out.rejections.clone(),
            };
            out.batch.put::<Producers>(producer, &record);
            out.producer = Some((producer.clone(), record));
        }
        DispatchKind::Duplicate { .. } => {}
        DispatchKind::Handoff { handoff, .. } => releases(&mut out.batch, handoff),
        DispatchKind::Internal { .. } => out.rejections.sort_by_key(|r| r.index),
        DispatchKind::Timers { timers, .. } => {
            for t in timers.iter() {
                out.batch.delete::<Timers>(t);
            }
        }
    }
    out
}

fn releases(batch: &mut Batch, h: &mut Handoff) {
    for (trigger_id, release) in h.releases.drain(..) {
        match release {
            Some(r) => batch.put::<Releases>(trigger_id, &r),
            None => batch.delete::<Releases>(trigger_id),
        }
    }
    if let Some(cursor) = h.cursor {
        batch.put::<FanoutCursor>((), &cursor);
    }
    if let Some(cursor) = h.notice_cursor {
        batch.put::<NoticeCursor>((), &cursor);
    }
}

fn product(out: &mut Planned, sku: &str, a: Applied, ids: &mut Counters, half_life_ms: i64) {
    out.rejections
        .extend(a.rejections.into_iter().map(|(i, r)| rejected(i, r)));
    let batch = &mut out.batch;
    if let Some(state) = a.state {
        batch.put_encoded::<crate::store::records::Products>(sku, state);
    }
    match a.board {
        Some(BoardWrite::Put(row)) => batch.put::<BackorderBoard>(sku, &row),
        Some(BoardWrite::Remove) => batch.delete::<BackorderBoard>(sku),
        None => {}
    }
    for t in &a.effects.timers {
        let key = TimerKey {
            due_ms: t.due_ms,
            kind: t.kind,
            sku: sku.to_owned(),
        };
        if t.put {
            batch.put::<Timers>(&key, &());
        } else {
            batch.delete::<Timers>(&key);
        }
    }
    for trig in &a.effects.triggers {
        let id = ids.next_trigger_id;
        ids.next_trigger_id += 1;
        batch.put::<Triggers>(id, trig);
        batch.put::<TriggerBySku>((sku, id), &());
        out.triggers.push(trig.kind);
        out.last_trigger_id = Some(id);
    }
    for n in &a.effects.notices {
        batch.put::<LineNotices>(ids.next_notice_id, n);
        ids.next_notice_id += 1;
        out.notices += 1;
    }
    for w in &a.effects.interest {
        let op = std::slice::from_ref(&w.op);
        batch.merge::<Interest>((sku, &w.customer_id), op);
        batch.merge::<InterestByCustomer>((&w.customer_id, sku), op);
        let weight = w.op.affinity_weight();
        if weight > 0.0 {
            let op = [AffinityOp {
                weight,
                at_ms: w.op.at_ms(),
                half_life_ms,
            }];
            for cat in &w.categories {
                batch.merge::<CategoryInterest>((cat, &w.customer_id), &op);
            }
        }
    }
}

fn customer(out: &mut Planned, id: &str, a: CustomerApplied, ids: &mut Counters) {
    out.rejections
        .extend(a.rejections.into_iter().map(|(i, r)| rejected(i, r)));
    out.suppressed.extend(a.suppressed);
    let batch = &mut out.batch;
    if let Some(state) = a.state {
        batch.put_encoded::<Customers>(id, state);
        out.rows.extend(a.row);
        // Only with the state that records them: counted once (`store::attribution`).
        for c in &a.credits {
            batch.merge::<ScenarioAttribution>(c.scenario.as_str(), &c.tally);
        }
        out.credits.extend(a.credits);
    }
    for w in a.late {
        match w {
            LateWrite::Put((order_id, line_id), late) => {
                batch.put::<LateLines>((&order_id, &line_id), &late)
            }
            LateWrite::Remove((order_id, line_id)) => {
                batch.delete::<LateLines>((&order_id, &line_id))
            }
        }
    }
    for (due_ms, kind) in a.timers {
        let key = TimerKey {
            due_ms,
            kind,
            sku: id.to_owned(),
        };
        batch.put::<Timers>(&key, &());
    }
    for request in &a.cancel_requests {
        batch.put::<CancelRequests>(ids.next_cancel_id, request);
        ids.next_cancel_id += 1;
        out.cancel_requests += 1;
    }
    for new in a.entries {
        let entry = new.numbered(ids.next_outbox_seq);
        ids.next_outbox_seq += 1;
        out.queued.push(entry.scenario);
        crate::store::outbox::create(batch, &entry);
    }
}
