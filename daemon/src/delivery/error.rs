//! Errors shared by the delivery channels: how a send failed (retry or give up) and why a
//! channel's configuration was rejected at start.

/// How one delivery attempt failed. The dispatcher retries `Transient` with backoff, fails
/// the entry and suppresses the address on `Permanent`, and fails the entry alone on
/// `Unrenderable` (a template problem says nothing about the address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("transient delivery failure: {0}")]
    Transient(String),
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
    #[error("message cannot be rendered: {0}")]
    Unrenderable(String),
}

impl SendError {
    /// The entry will not succeed by retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_) | SendError::Unrenderable(_))
    }

    /// The receiving side refused the address itself: suppress it.
    pub fn blames_address(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }

    /// The reason without the transient/permanent prefix, for `OutboxEntry::last_error`.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Transient(r) | SendError::Permanent(r) | SendError::Unrenderable(r) => r,
        }
    }
}

/// A channel setting that cannot work, naming the config key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ChannelConfigError {
    pub key: &'static str,
    pub message: String,
}

impl ChannelConfigError {
    pub fn new(key: &'static str, message: impl Into<String>) -> Self {
        ChannelConfigError {
            key,
            message: message.into(),
        }
    }
}
