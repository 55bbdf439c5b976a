//! Errors shared by the delivery channels: how a send failed (retry or give up) and why a
//! channel's configuration was rejected at start.

/// How one delivery attempt failed. The dispatcher retries `Transient` with backoff and
/// fails the entry (suppressing the address) on `Permanent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("transient delivery failure: {0}")]
    Transient(String),
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }

    /// The reason without the transient/permanent prefix, for `OutboxEntry::last_error`.
    pub fn reason(&self) -> &str {
        match self {
            SendError::Transient(r) | SendError::Permanent(r) => r,
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
