//! PLACEHOLDER until orders are applied (issue 9): the Router refuses every order event
//! whole, before any actor sees it — its order item and the purchase items converted next
//! to it (same index) — with `{field: <the event's name>, reason: "order events are not
//! applied yet"}`, so nothing changes state and the rest of the batch applies. Wiring
//! orders into the customer actors replaces this file and its one call in `split`.

use std::collections::BTreeSet;

use super::IngestItem;
use crate::domain::Rejection;

pub(super) const NOT_YET: &str = "order events are not applied yet";

fn index_of(i: &IngestItem) -> u32 {
    match i {
        IngestItem::Product { item, .. } => item.index,
        IngestItem::Customer { item, .. } => item.index,
        IngestItem::Order { item, .. } => item.index,
    }
}

/// Removes the items of every order event, adding one rejection per event to `refused`.
pub(super) fn refuse(
    items: Vec<IngestItem>,
    refused: &mut Vec<(u32, Rejection)>,
) -> Vec<IngestItem> {
    let mut held = BTreeSet::new();
    for i in &items {
        if let IngestItem::Order { item, .. } = i {
            if held.insert(item.index) {
                refused.push((item.index, Rejection::new(item.event.name(), NOT_YET)));
            }
        }
    }
    if held.is_empty() {
        return items;
    }
    items
        .into_iter()
        .filter(|i| !held.contains(&index_of(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::customer::CustomerItem;
    use crate::actors::product::Item;
    use crate::actors::OrderItem;
    use crate::domain::order::{Lines, OrderDelivered, OrderEvent};
    use crate::domain::profile::CustomerEvent;
    use crate::domain::{ProductEvent, Signal};

    fn purchase(index: u32) -> IngestItem {
        IngestItem::Product {
            sku: "A".into(),
            item: Item {
                index,
                at_ms: 1,
                event: ProductEvent::Interest {
                    customer_id: "c1".into(),
                    signal: Signal::Purchase,
                },
            },
        }
    }

    fn order(index: u32) -> IngestItem {
        IngestItem::Order {
            customer_id: "c1".into(),
            item: OrderItem {
                index,
                at_ms: 1,
                event: OrderEvent::Delivered(OrderDelivered {
                    order_id: "o1".into(),
                    customer_id: "c1".into(),
                    lines: Lines::All,
                }),
            },
        }
    }

    #[test]
    fn an_order_event_is_refused_whole_and_the_rest_goes_on() {
        let unsubscribe = IngestItem::Customer {
            id: "c1".into(),
            item: CustomerItem {
                index: 2,
                at_ms: 1,
                event: CustomerEvent::Unsubscribe { channel: None },
            },
        };
        let items = vec![purchase(0), order(0), purchase(1), unsubscribe, order(3)];
        let mut refused = Vec::new();
        let kept = refuse(items, &mut refused);
        let kept: Vec<u32> = kept.iter().map(index_of).collect();
        assert_eq!(kept, vec![1, 2], "the purchase item of order 0 goes too");
        assert_eq!(
            refused,
            vec![
                (0, Rejection::new("order_delivered", NOT_YET)),
                (3, Rejection::new("order_delivered", NOT_YET)),
            ]
        );
        let mut none = Vec::new();
        assert_eq!(refuse(vec![purchase(0)], &mut none).len(), 1);
        assert!(none.is_empty());
    }
}
