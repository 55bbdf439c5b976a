//! The Router's handle: one generic request helper and one method per command. Every
//! method queues a command on the Router's task and waits for its answer; the Router
//! answers a write only once it is durable.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::{BatchAck, RouterError};
use crate::actors::customer::CustomerItem;
use crate::actors::product::Item;
use crate::domain::order::{LineNotice, OrderEvent};
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerState;
use crate::domain::release::{Addressed, Release};
use crate::domain::{Millis, Rejection};
use crate::store::records::TimerKey;

/// One validated event and the actor it is for.
#[derive(Debug, Clone)]
pub enum IngestItem {
    Product {
        sku: String,
        item: Item,
    },
    Customer {
        id: String,
        item: CustomerItem,
    },
    /// For the order's customer: a customer's orders are owned by that customer's actor.
    Order {
        customer_id: String,
        item: OrderItem,
    },
}

/// One order event with its index in the batch.
#[derive(Debug, Clone)]
pub struct OrderItem {
    pub index: u32,
    pub at_ms: Millis,
    pub event: OrderEvent,
}

/// An actor's state and whether the actor is in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub state: T,
    pub active: bool,
}

/// A producer's batch: its position and its validated events (with those already
/// refused at validation, by index).
#[derive(Debug, Clone)]
pub struct Submitted {
    pub producer: String,
    pub sequence: u64,
    pub items: Vec<IngestItem>,
    pub early: Vec<(u32, Rejection)>,
}

/// What the fan-out hands to customers in one write: offers, the back-in-stock
/// releases it starts, advances or ends, and (for new triggers) its new cursor; or
/// products' notices about order lines, each to the order's customer, with the
/// notice log's new cursor.
#[derive(Debug, Clone, Default)]
pub struct Handoff {
    /// The last trigger id handled; stored with the customers' decisions.
    pub cursor: Option<u64>,
    pub offers: Vec<Addressed>,
    /// Releases to store (`Some`) or remove (`None`), by trigger id.
    pub releases: Vec<(u64, Option<Release>)>,
    /// The last order-notice id handled; stored with the customers' order changes.
    pub notice_cursor: Option<u64>,
    pub notices: Vec<LineNotice>,
}

pub(super) type Reply<T> = oneshot::Sender<Result<T, RouterError>>;

pub(super) enum Command {
    Ingest {
        batch: Submitted,
        reply: Reply<BatchAck>,
    },
    /// Customer events from inside the daemon (one-click unsubscribe, bounces).
    Internal {
        items: Vec<IngestItem>,
        reply: Reply<BatchAck>,
    },
    Handoff {
        handoff: Handoff,
        reply: Reply<BatchAck>,
    },
    Timers {
        timers: Vec<TimerKey>,
        reply: Reply<()>,
    },
    GetProduct {
        sku: String,
        reply: Reply<Option<Found<ProductState>>>,
    },
    GetCustomer {
        id: String,
        reply: Reply<Option<Found<CustomerState>>>,
    },
    /// The watchdog's liveness probe: answered once the writer thread answered one too.
    Ping { reply: Reply<()> },
}

/// Handle to the router task; cheap to clone.
#[derive(Clone)]
pub struct RouterHandle {
    pub(super) tx: mpsc::Sender<Command>,
}

impl RouterHandle {
    /// Queues a command (waiting only for room in the Router's queue) and returns a
    /// future for its answer. Commands queued one after another run in that order.
    async fn enqueue<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<impl Future<Output = Result<T, RouterError>> + Send + 'static, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| RouterError::Unavailable)?;
        Ok(async move { rx.await.map_err(|_| RouterError::Unavailable)? })
    }

    async fn request<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, RouterError> {
        self.enqueue(make).await?.await
    }

    /// Applies a batch; resolves once its effects are durable.
    pub async fn ingest(&self, batch: Submitted) -> Result<BatchAck, RouterError> {
        self.request(|reply| Command::Ingest { batch, reply }).await
    }

    /// Queues a batch and returns a future for its ack (a stream pipelines batches this
    /// way); batches queued one after another are applied in that order.
    pub async fn submit(
        &self,
        batch: Submitted,
    ) -> Result<impl Future<Output = Result<BatchAck, RouterError>> + Send + 'static, RouterError>
    {
        self.enqueue(|reply| Command::Ingest { batch, reply }).await
    }

    /// Applies customer events raised inside the daemon; resolves once durable.
    pub async fn internal(&self, items: Vec<IngestItem>) -> Result<BatchAck, RouterError> {
        self.request(|reply| Command::Internal { items, reply })
            .await
    }

    /// Hands the fan-out's offers to the customers; the cursor and releases are stored
    /// with their decisions, so a restart resumes after them.
    pub async fn hand_off(&self, handoff: Handoff) -> Result<BatchAck, RouterError> {
        self.request(|reply| Command::Handoff { handoff, reply })
            .await
    }

    /// Fires due timers; resolves once their effects (and the timers' removal) are durable.
    pub async fn fire_timers(&self, timers: Vec<TimerKey>) -> Result<(), RouterError> {
        self.request(|reply| Command::Timers { timers, reply })
            .await
    }

    /// The product's state, from its actor if active, else from the store.
    pub async fn get_product(
        &self,
        sku: String,
    ) -> Result<Option<Found<ProductState>>, RouterError> {
        self.request(|reply| Command::GetProduct { sku, reply })
            .await
    }

    /// The customer's state, from its actor if active, else from the store.
    pub async fn get_customer(
        &self,
        id: String,
    ) -> Result<Option<Found<CustomerState>>, RouterError> {
        self.request(|reply| Command::GetCustomer { id, reply })
            .await
    }

    /// Resolves once a probe has gone through the Router's queue and the writer thread
    /// has answered it (it answers between retries of a refused write too: waiting for
    /// disk space is not being stuck): the systemd watchdog's proof that both run.
    pub async fn ping(&self) -> Result<(), RouterError> {
        self.request(|reply| Command::Ping { reply }).await
    }

    /// A handle that does not keep the Router alive (for the Router's own actors).
    pub(super) fn downgrade(&self) -> WeakRouter {
        WeakRouter {
            tx: self.tx.downgrade(),
        }
    }
}

/// A handle that does not keep the router alive (held by the router's own actors).
#[derive(Clone)]
pub struct WeakRouter {
    tx: mpsc::WeakSender<Command>,
}

impl WeakRouter {
    /// The product's current state, if the router is still running and knows it.
    pub async fn get_product(&self, sku: String) -> Option<ProductState> {
        let handle = RouterHandle {
            tx: self.tx.upgrade()?,
        };
        let found = handle.get_product(sku).await.ok().flatten()?;
        Some(found.state)
    }
}
