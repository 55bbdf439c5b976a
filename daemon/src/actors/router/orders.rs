//! Order events in the Router. A customer's orders are owned by that customer's actor,
//! and each SKU's waiting lines by that product's actor, so one order event becomes one
//! item for the customer and one per line for the products: an order placed gives each
//! line to its product (which decides whether it waits); a line shipped, cancelled or
//! refunded leaves its product's book. Later events name lines by id, so the Router keeps
//! an index of every placed order (customer, and each line's SKU): written in the same
//! batch as the order, and remembered here until that batch is durable.

use std::collections::{BTreeSet, HashMap};

use super::{IngestItem, OrderItem};
use crate::actors::customer::CustomerItem;
use crate::actors::product::Item;
use crate::domain::order::backorder::NewLine;
use crate::domain::order::{IndexedLine, Lines, OrderEvent, OrderIndex};
use crate::domain::profile::CustomerEvent;
use crate::domain::{Millis, ProductEvent, Rejection};
use crate::store::orders::OrderIndexes;
use crate::store::{Store, StoreError};

/// Indexes of orders placed in batches that may not be durable yet, with the ticket of
/// the batch that wrote them.
#[derive(Default)]
pub(super) struct OrderRoutes {
    recent: HashMap<String, (OrderIndex, u64)>,
}

/// A new order's index, written with the batch that places it (with its entry in the
/// placed-order log that feeds the related-products table).
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    pub order_id: String,
    pub index: OrderIndex,
    pub placed_ms: Millis,
}

/// Forgets durable indexes once this many are remembered.
const REMEMBER: usize = 4096;

impl OrderRoutes {
    /// Replaces every order item of a batch with the items for its actors. Refused order
    /// events (an unknown order, another customer's order, a line it does not have) go to
    /// `refused` with every other item of theirs; the indexes of new orders go to
    /// `writes` (for the batch's write).
    pub(super) async fn route(
        &mut self,
        store: &Store,
        items: Vec<IngestItem>,
        ticket: u64,
        refused: &mut Vec<(u32, Rejection)>,
        writes: &mut Vec<NewOrder>,
    ) -> Result<Vec<IngestItem>, StoreError> {
        let wanted: Vec<String> = items
            .iter()
            .filter_map(|i| match i {
                IngestItem::Order { item, .. } => Some(item.event.order_id().to_owned()),
                _ => None,
            })
            .filter(|id| !self.recent.contains_key(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() && !items.iter().any(|i| matches!(i, IngestItem::Order { .. })) {
            return Ok(items);
        }
        let stored: HashMap<String, OrderIndex> = if wanted.is_empty() {
            HashMap::new()
        } else {
            store
                .read(move |s| {
                    let found = s.multi_get::<OrderIndexes>(wanted.iter().map(String::as_str))?;
                    Ok(wanted
                        .into_iter()
                        .zip(found)
                        .filter_map(|(k, v)| Some((k, v?)))
                        .collect())
                })
                .await?
        };
        let mut known: HashMap<String, OrderIndex> = stored;
        let mut out = Vec::with_capacity(items.len());
        let mut dropped = BTreeSet::new();
        for i in items {
            let IngestItem::Order { item, .. } = i else {
                out.push(i);
                continue;
            };
            let (index, placed_ms) = (item.index, item.at_ms);
            let id = item.event.order_id().to_owned();
            let found = self.recent.get(&id).map(|(ix, _)| ix).or(known.get(&id));
            match route_one(item, found) {
                Ok((routed, new_index)) => {
                    if let Some(ix) = new_index {
                        writes.push(NewOrder {
                            order_id: id.clone(),
                            index: ix.clone(),
                            placed_ms,
                        });
                        known.insert(id.clone(), ix.clone());
                        self.recent.insert(id, (ix, ticket));
                    }
                    out.extend(routed);
                }
                Err(r) => {
                    refused.push((index, r));
                    dropped.insert(index);
                }
            }
        }
        if !dropped.is_empty() {
            out.retain(|i| !dropped.contains(&index_of(i)));
        }
        Ok(out)
    }

    /// Forgets indexes whose batch is durable (they are read from the store again).
    pub(super) fn forget_durable(&mut self, durable_ticket: u64) {
        if self.recent.len() > REMEMBER {
            self.recent.retain(|_, (_, t)| *t > durable_ticket);
        }
    }
}

fn index_of(i: &IngestItem) -> u32 {
    match i {
        IngestItem::Product { item, .. } => item.index,
        IngestItem::Customer { item, .. } => item.index,
        IngestItem::Order { item, .. } => item.index,
    }
}

/// The items of one order event, and the index to write when it places a new order.
fn route_one(
    item: OrderItem,
    found: Option<&OrderIndex>,
) -> Result<(Vec<IngestItem>, Option<OrderIndex>), Rejection> {
    let name = item.event.name();
    let customer_id = item.event.customer_id().to_owned();
    let order_id = item.event.order_id().to_owned();
    let (index, at_ms) = (item.index, item.at_ms);
    let product = |sku: &str, event: ProductEvent| IngestItem::Product {
        sku: sku.to_owned(),
        item: Item {
            index,
            at_ms,
            event,
        },
    };
    let mut out = Vec::new();
    let mut new_index = None;
    match (&item.event, found) {
        (OrderEvent::Placed(p), None) => {
            for l in &p.lines {
                let line = NewLine {
                    order_id: order_id.clone(),
                    line_id: l.line_id.clone(),
                    customer_id: customer_id.clone(),
                    quantity: l.quantity,
                    placed_ms: at_ms,
                };
                out.push(product(
                    &l.sku,
                    ProductEvent::OrderLine {
                        line,
                        mark: l.backorder,
                    },
                ));
            }
            new_index = Some(OrderIndex::of(p));
        }
        (_, None) => {
            return Err(Rejection::new(
                format!("{name}.order_id"),
                // Ids are at most 256 bytes (checked at the API): repeated whole.
                format!("unknown order {order_id:?}: send order_placed for it first"),
            ));
        }
        (_, Some(ix)) if ix.customer_id != customer_id => {
            return Err(Rejection::new(
                format!("{name}.customer_id"),
                format!(
                    "order {order_id:?} was placed by another customer; send the customer_id \
                     of its order_placed"
                ),
            ))
        }
        // A re-sent order placed: its customer decides (identical: nothing changes).
        (OrderEvent::Placed(_), Some(_)) => {}
        (OrderEvent::Shipped(e), Some(ix)) => {
            out.extend(done(ix, &e.lines, name)?.map(|l| product(&l.sku, line_done(&order_id, l))))
        }
        (OrderEvent::Cancelled(e), Some(ix)) => {
            out.extend(done(ix, &e.lines, name)?.map(|l| product(&l.sku, line_done(&order_id, l))))
        }
        (OrderEvent::Refunded(e), Some(ix)) => {
            out.extend(done(ix, &e.lines, name)?.map(|l| product(&l.sku, line_done(&order_id, l))))
        }
        (OrderEvent::Delivered(e), Some(ix)) => drop(done(ix, &e.lines, name)?),
        (OrderEvent::Delayed(e), Some(ix)) => drop(done(ix, &e.lines, name)?),
    }
    out.push(IngestItem::Customer {
        id: customer_id,
        item: CustomerItem {
            index,
            at_ms,
            event: CustomerEvent::Order(item.event),
        },
    });
    Ok((out, new_index))
}

/// The lines an event names, or a refusal naming the first id the order does not have.
fn done<'a>(
    ix: &'a OrderIndex,
    lines: &Lines,
    name: &str,
) -> Result<impl Iterator<Item = &'a IndexedLine>, Rejection> {
    ix.select(lines).map(Vec::into_iter).map_err(|id| {
        Rejection::new(
            format!("{name}.lines"),
            format!(
                "line {id:?} is not a line of this order; send line ids of its order_placed, \
                 or none for every line"
            ),
        )
    })
}

fn line_done(order_id: &str, l: &IndexedLine) -> ProductEvent {
    ProductEvent::OrderLineDone {
        order_id: order_id.to_owned(),
        line_id: l.line_id.clone(),
    }
}
