//! Actors and the tasks around them: one `ProductActor` per active SKU, the `Router` that
//! owns the registry and orders every change through the group-commit writer, and the
//! `Scheduler` actor that fires durable timers.

pub mod customer;
mod persist;
/// Keys the Router writes that other parts read.
pub mod persist_keys {
    pub use super::persist::FANOUT_CURSOR;
}
pub mod product;
pub mod registry;
pub mod router;
pub mod scheduler;

pub use router::{IngestItem, Router, RouterConfig, RouterHandle};
