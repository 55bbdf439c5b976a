//! Errors shared by the delivery channels: how a send failed (the channel is down, this
//! message failed for now, or for good) and why a channel's configuration was rejected
//! at start.

/// How one delivery attempt failed. Each channel decides which it is:
///
/// - `ChannelDown`: the channel cannot take any message now — cannot connect, TLS
///   failure, no answer in time, SMTP 421, HTTP 5xx / 408 / 429, an `.eml` directory
///   that cannot be written. The dispatcher backs the whole channel off (one probe at a
///   time) and does not charge the entry an attempt.
/// - `Transient`: the server answered, but this message failed for now (an SMTP 4xx for
///   one recipient): retried with backoff, charged an attempt.
/// - `Permanent`: this message will never go (an SMTP 5xx for the recipient, HTTP 4xx):
///   the entry fails and the address is suppressed.
/// - `Unrenderable`: the entry fails alone (a template problem says nothing about the
///   address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("channel down: {0}")]
    ChannelDown(String),
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

    /// The channel itself failed, not this message: the entry is not to blame.
    pub fn channel_down(&self) -> bool {
        matches!(self, SendError::ChannelDown(_))
    }

    /// The receiving side refused the address itself: suppress it.
    pub fn blames_address(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }

    /// Whether the attempt got an answer from the channel's server about this message
    /// (delivered or refused), which shows the channel is up.
    pub fn reached_server(&self) -> bool {
        matches!(self, SendError::Transient(_) | SendError::Permanent(_))
    }

    /// The reason without the kind prefix, for `OutboxEntry::last_error`.
    pub fn reason(&self) -> &str {
        match self {
            SendError::ChannelDown(r)
            | SendError::Transient(r)
            | SendError::Permanent(r)
            | SendError::Unrenderable(r) => r,
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

#[cfg(test)]
mod tests {
    use super::SendError::*;

    #[test]
    fn kinds_say_who_is_to_blame() {
        let down = ChannelDown("SMTP: connection refused".into());
        assert!(down.channel_down() && !down.is_permanent() && !down.blames_address());
        assert!(!down.reached_server());
        let later = Transient("SMTP: 452 mailbox full".into());
        assert!(!later.channel_down() && !later.is_permanent() && later.reached_server());
        let never = Permanent("SMTP: 550 no such user".into());
        assert!(never.is_permanent() && never.blames_address() && never.reached_server());
        let broken = Unrenderable("no items".into());
        assert!(broken.is_permanent() && !broken.blames_address() && !broken.reached_server());
        assert_eq!(down.reason(), "SMTP: connection refused");
        assert_eq!(down.to_string(), "channel down: SMTP: connection refused");
    }
}
