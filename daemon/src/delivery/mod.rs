//! Delivery: the outbox after an entry is created (its one owner, reads), the dispatcher,
//! rendering, and the channels that send messages (email over SMTP or to `.eml` files,
//! LINE Messaging API push, signed JSON webhook), and whether each channel is up
//! (`health.rs`). It reaches the rest of the daemon only through [`port::DeliveryPort`].

pub mod backoff;
pub mod cancel_link;
pub mod channels;
pub mod click_link;
pub mod dispatcher;
pub mod email;
pub mod error;
pub mod health;
pub mod http;
pub mod line;
pub mod link_token;
pub mod outbox;
pub mod port;
pub mod segment_snapshots;
pub mod segment_sync;
pub mod shop_webhook;
pub mod templates;
pub mod templates_order;
#[cfg(test)]
pub(crate) mod test_support;
pub mod unsubscribe;
pub mod webhook;

pub use error::{ChannelConfigError, SendError};

use serde::{Deserialize, Serialize};

/// A message rendered from its templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}
