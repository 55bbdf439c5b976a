//! One method per command: what the Router does with a batch, a hand-off, due timers
//! and a state lookup before the actors answer (`mod.rs` persists their answers).

use std::collections::HashMap;

use super::handle::Reply;
use super::{
    dedupe::Admission, split, BatchAck, DispatchKind, Dispatched, Found, Handoff, Router,
    RouterError, Submitted,
};
use crate::actors::customer::CustomerItem;
use crate::actors::product::Item;
use crate::actors::registry::{group, Registry, StateOf, Virtual};
use crate::domain::decide::Offer;
use crate::domain::profile::CustomerEvent;
use crate::domain::{ProductEvent, TimerKind};
use crate::store::records::TimerKey;
use crate::store::StoreError;

impl Router {
    pub(super) async fn on_ingest(
        &mut self,
        batch: Submitted,
        reply: Reply<BatchAck>,
    ) -> Option<Dispatched> {
        let admission = self
            .producers
            .admit(&self.store, &batch.producer, batch.sequence)
            .await;
        match admission {
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                None
            }
            Ok(Admission::Duplicate(ack)) => {
                self.metrics.add_duplicate();
                // Answered in order, once everything before it is durable.
                Some(Dispatched {
                    ticket: self.ticket(),
                    products: Vec::new(),
                    customers: Vec::new(),
                    kind: DispatchKind::Duplicate { ack, reply },
                })
            }
            Ok(Admission::Fresh) => {
                let mut early = batch.early;
                let mut orders = Vec::new();
                let ticket = self.next_ticket + 1;
                self.orders.forget_durable(self.writer.durable_ticket());
                let routed = self
                    .orders
                    .route(&self.store, batch.items, ticket, &mut early, &mut orders)
                    .await;
                let items = match routed {
                    Ok(items) => items,
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                        return None;
                    }
                };
                let (products, customers) = split(items);
                let kind = DispatchKind::Batch {
                    producer: batch.producer.clone(),
                    sequence: batch.sequence,
                    early,
                    orders,
                    reply,
                };
                let d = self.dispatch(products, customers, kind).await;
                if d.is_some() {
                    self.producers.dispatched(&batch.producer, batch.sequence);
                }
                d
            }
        }
    }

    pub(super) async fn on_handoff(
        &mut self,
        handoff: Handoff,
        reply: Reply<BatchAck>,
    ) -> Option<Dispatched> {
        let mut per_customer: HashMap<String, Vec<Offer>> = HashMap::new();
        let mut order = Vec::new();
        for a in &handoff.offers {
            per_customer
                .entry(a.customer_id.clone())
                .or_insert_with(|| {
                    order.push(a.customer_id.clone());
                    Vec::new()
                })
                .push(a.offer.clone());
        }
        let now = crate::clock::now_ms();
        let mut customers: Vec<(String, Vec<CustomerItem>)> = order
            .into_iter()
            .filter_map(|id| {
                let offers = per_customer.remove(&id)?;
                let item = CustomerItem {
                    index: 0,
                    at_ms: now,
                    event: CustomerEvent::Offers(offers),
                };
                Some((id, vec![item]))
            })
            .collect();
        let notices = handoff.notices.iter().map(|n| {
            let item = CustomerItem {
                index: 0,
                at_ms: n.at_ms,
                event: CustomerEvent::Lines(n.clone()),
            };
            (n.customer_id.clone(), item)
        });
        customers.extend(group(notices));
        let handoff = Handoff {
            offers: Vec::new(),
            notices: Vec::new(),
            ..handoff
        };
        self.dispatch(
            Vec::new(),
            customers,
            DispatchKind::Handoff { handoff, reply },
        )
        .await
    }

    pub(super) async fn on_timers(
        &mut self,
        timers: Vec<TimerKey>,
        reply: Reply<()>,
    ) -> Option<Dispatched> {
        let is_customer = TimerKind::is_customer;
        let products = timers.iter().filter(|t| !is_customer(t.kind)).map(|t| {
            let item = Item {
                index: 0,
                at_ms: t.due_ms,
                event: ProductEvent::Timer(t.kind),
            };
            (t.sku.clone(), item)
        });
        let customers = timers.iter().filter(|t| is_customer(t.kind)).map(|t| {
            let item = CustomerItem {
                index: 0,
                at_ms: t.due_ms,
                event: CustomerEvent::Timer(t.kind),
            };
            (t.sku.clone(), item)
        });
        let (products, customers) = (group(products), group(customers));
        self.dispatch(products, customers, DispatchKind::Timers { timers, reply })
            .await
    }

    /// Answers with an actor's state: asked of the actor when active, else read from the
    /// store (off the Router's task either way).
    pub(super) fn get<A: Virtual>(
        &self,
        registry: &Registry<A>,
        key: String,
        reply: Reply<Option<Found<StateOf<A>>>>,
    ) where
        StateOf<A>: Send + 'static,
    {
        let active = registry.get(&key);
        let store = self.store.clone();
        tokio::spawn(async move {
            let res = match active {
                Some(actor) => ractor::call!(actor, A::get_msg)
                    .map(|s| {
                        s.map(|state| Found {
                            state,
                            active: true,
                        })
                    })
                    .map_err(|_| RouterError::Unavailable),
                None => store
                    .read(move |s| s.get::<A::Schema>(&key))
                    .await
                    .map(|s| {
                        s.map(|state| Found {
                            state,
                            active: false,
                        })
                    })
                    .map_err(RouterError::from),
            };
            let _ = reply.send(res);
        });
    }

    /// Activates the actors a dispatch needs and sends them their items. On a store
    /// error the caller is answered with it and nothing is dispatched.
    pub(super) async fn dispatch(
        &mut self,
        products: Vec<(String, Vec<Item>)>,
        customers: Vec<(String, Vec<CustomerItem>)>,
        kind: DispatchKind,
    ) -> Option<Dispatched> {
        let ticket = self.ticket();
        let sent = async {
            let p = self
                .products
                .dispatch(&self.store, products, ticket)
                .await?;
            let c = self
                .customers
                .dispatch(&self.store, customers, ticket)
                .await?;
            Ok::<_, StoreError>((p, c))
        }
        .await;
        self.enforce_limit();
        match sent {
            Ok((products, customers)) => Some(Dispatched {
                ticket,
                products,
                customers,
                kind,
            }),
            Err(e) => {
                match kind {
                    DispatchKind::Timers { .. } => {
                        tracing::warn!(error = %e, "Due timers could not be loaded; they stay queued and are retried.");
                        kind.refuse();
                    }
                    DispatchKind::Batch { reply, .. }
                    | DispatchKind::Duplicate { reply, .. }
                    | DispatchKind::Internal { reply }
                    | DispatchKind::Handoff { reply, .. } => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
                None
            }
        }
    }
}
