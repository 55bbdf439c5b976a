//! The configured channels and sending one rendered message through the entry's
//! channel. Email always exists (SMTP or `.eml` files); LINE and webhook when configured.

use super::email::EmailSender;
use super::line::LineSender;
use super::webhook::WebhookSender;
use super::{Rendered, SendError};
use crate::domain::customer::Channel;
use crate::domain::message::OutboxEntry;

/// The configured channels. Email always exists (SMTP or `.eml` files).
pub struct Channels {
    pub email: EmailSender,
    pub line: Option<LineSender>,
    pub webhook: Option<WebhookSender>,
}

impl Channels {
    pub fn configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => true,
            Channel::Line => self.line.is_some(),
            Channel::Webhook => self.webhook.is_some(),
        }
    }

    pub async fn send(&self, entry: &OutboxEntry, rendered: &Rendered) -> Result<(), SendError> {
        let missing = |section: &str| {
            SendError::Permanent(format!(
                "{} is not configured: add a [{section}] section to the config",
                section.to_uppercase()
            ))
        };
        match entry.channel {
            Channel::Email => self.email.send(entry, rendered).await,
            Channel::Line => match &self.line {
                Some(s) => s.send(entry, rendered).await,
                None => Err(missing("line")),
            },
            Channel::Webhook => match &self.webhook {
                Some(s) => s.send(entry, rendered).await,
                None => Err(missing("webhook")),
            },
        }
    }
}
