//! What delivery needs from the rest of the daemon, as a narrow port wired at start-up
//! (the composition root implements it over the Router): the current state of a product,
//! and of a customer's cart, to re-check a message that goes out later than planned, and a way to hand an event
//! about a customer to the customer's owner, such as "suppress this address".

use futures::future::BoxFuture;

use crate::domain::lifecycle::journey::Journey;
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerEvent;

pub trait DeliveryPort: Send + Sync + 'static {
    /// The product's current state (`Ok(None)` if the daemon does not know it); the error
    /// says why it could not be asked (nothing is dropped for that).
    fn product(&self, sku: String) -> BoxFuture<'static, Result<Option<ProductState>, String>>;

    /// The customer's cart and journey as their owner has it now (`Ok(None)`: unknown
    /// customer), to re-check a cart reminder that goes out later than planned.
    fn journey(&self, customer_id: String) -> BoxFuture<'static, Result<Option<Journey>, String>>;

    /// Applies `event` to the customer through their owner; resolves once it is durable.
    /// The error says why it was not applied.
    fn customer_event(
        &self,
        customer_id: String,
        event: CustomerEvent,
    ) -> BoxFuture<'static, Result<(), String>>;
}
