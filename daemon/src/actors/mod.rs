//! Actors and the tasks around them: one `ProductActor` per active SKU and one
//! `CustomerActor` per active customer (virtual: activated from the store, passivated
//! when idle), the `Router` that owns their registries and orders every change through
//! the group-commit writer, and the `Scheduler` actor that fires durable timers.

pub mod cross_sell;
pub mod customer;
pub mod customer_attribution;
mod customer_hygiene;
pub mod customer_journey;
pub mod customer_orders;
pub mod lapse;
pub mod product;
pub mod registry;
pub mod router;
pub mod scheduler;
#[cfg(test)]
pub(crate) mod test_stack;

pub use router::{
    BatchAck, Found, Handoff, IngestItem, OrderItem, Router, RouterConfig, RouterError,
    RouterHandle, Submitted,
};
