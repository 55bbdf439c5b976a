//! A customer's engagement: per channel the last click, the last marketing message and
//! how many marketing messages came since the customer last clicked or ordered; the last
//! order; and the recent clicks, kept for attribution.
//!
//! The customer's actor is the one owner: a click (from the HTTP redirector, through the
//! Router) is `record_click`, a marketing message written to the outbox is
//! `record_marketing`, an order placed is `record_order`. List hygiene (the sunset
//! policy) reads `marketing_since_engaged` and `last_engaged_ms`; attribution reads
//! `clicks`.

use serde::{Deserialize, Serialize};

use crate::domain::customer::{Channel, Scenario};
use crate::domain::Millis;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    /// One record per channel the customer was sent marketing on or clicked from.
    pub channels: Vec<ChannelEngagement>,
    pub last_order_ms: Option<Millis>,
    /// Clicks, oldest first, pruned to `keep_ms` (the longest attribution window).
    pub clicks: Vec<Click>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelEngagement {
    pub channel: Channel,
    pub last_click_ms: Option<Millis>,
    pub last_marketing_ms: Option<Millis>,
    /// Marketing messages on this channel since the customer last clicked (anywhere) or
    /// ordered.
    pub marketing_since_engaged: u32,
}

/// One recorded click on a link of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Click {
    pub at_ms: Millis,
    /// The outbox entry the link was in, and the link's index in that message.
    pub entry_seq: u64,
    pub link: u16,
    pub scenario: Scenario,
    pub channel: Channel,
    /// The SKUs the message was about.
    pub skus: Vec<String>,
}

impl Engagement {
    pub fn channel(&self, c: Channel) -> Option<&ChannelEngagement> {
        self.channels.iter().find(|e| e.channel == c)
    }

    fn channel_mut(&mut self, c: Channel) -> &mut ChannelEngagement {
        if let Some(i) = self.channels.iter().position(|e| e.channel == c) {
            return &mut self.channels[i];
        }
        self.channels.push(ChannelEngagement {
            channel: c,
            last_click_ms: None,
            last_marketing_ms: None,
            marketing_since_engaged: 0,
        });
        let last = self.channels.len() - 1;
        &mut self.channels[last]
    }

    /// A marketing message to this customer was written to the outbox at `at`.
    pub fn record_marketing(&mut self, c: Channel, at: Millis) {
        let e = self.channel_mut(c);
        e.last_marketing_ms = Some(e.last_marketing_ms.map_or(at, |m| m.max(at)));
        e.marketing_since_engaged = e.marketing_since_engaged.saturating_add(1);
    }

    /// The customer clicked a link at `click.at_ms`. Clicks older than `keep_ms` before
    /// the newest are forgotten.
    pub fn record_click(&mut self, click: Click, keep_ms: Millis) {
        let at = click.at_ms;
        let c = self.channel_mut(click.channel);
        c.last_click_ms = Some(c.last_click_ms.map_or(at, |m| m.max(at)));
        for e in &mut self.channels {
            e.marketing_since_engaged = 0;
        }
        self.clicks.push(click);
        self.clicks.sort_by_key(|c| c.at_ms);
        let newest = self.clicks.last().map_or(at, |c| c.at_ms);
        let from = newest.saturating_sub(keep_ms);
        self.clicks.retain(|c| c.at_ms >= from);
    }

    /// The customer placed an order at `at`.
    pub fn record_order(&mut self, at: Millis) {
        self.last_order_ms = Some(self.last_order_ms.map_or(at, |m| m.max(at)));
        for e in &mut self.channels {
            e.marketing_since_engaged = 0;
        }
    }

    /// The customer's last click on any channel, or last order, whichever is later.
    pub fn last_engaged_ms(&self) -> Option<Millis> {
        self.channels
            .iter()
            .filter_map(|e| e.last_click_ms)
            .chain(self.last_order_ms)
            .max()
    }

    /// Marketing messages since the customer last engaged, over every channel.
    pub fn marketing_since_engaged(&self) -> u32 {
        self.channels
            .iter()
            .map(|e| e.marketing_since_engaged)
            .fold(0u32, u32::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(at: Millis, channel: Channel) -> Click {
        Click {
            at_ms: at,
            entry_seq: 1,
            link: 0,
            scenario: Scenario::BackInStock,
            channel,
            skus: vec!["A".into()],
        }
    }

    #[test]
    fn marketing_counts_until_a_click_or_an_order() {
        let mut e = Engagement::default();
        e.record_marketing(Channel::Email, 10);
        e.record_marketing(Channel::Email, 20);
        e.record_marketing(Channel::Line, 30);
        assert_eq!(e.marketing_since_engaged(), 3);
        assert_eq!(e.last_engaged_ms(), None);
        e.record_click(click(40, Channel::Line), 1_000);
        assert_eq!(e.marketing_since_engaged(), 0);
        assert_eq!(e.last_engaged_ms(), Some(40));
        assert_eq!(
            e.channel(Channel::Line).and_then(|c| c.last_click_ms),
            Some(40)
        );
        assert_eq!(
            e.channel(Channel::Email).and_then(|c| c.last_click_ms),
            None
        );
        e.record_marketing(Channel::Email, 50);
        assert_eq!(e.marketing_since_engaged(), 1);
        e.record_order(60);
        assert_eq!(
            (e.marketing_since_engaged(), e.last_engaged_ms()),
            (0, Some(60))
        );
        // An order reported late does not move the last order back.
        e.record_order(55);
        assert_eq!(e.last_order_ms, Some(60));
    }

    #[test]
    fn clicks_are_pruned_to_the_kept_window() {
        let mut e = Engagement::default();
        e.record_click(click(100, Channel::Email), 50);
        e.record_click(click(140, Channel::Email), 50);
        e.record_click(click(200, Channel::Email), 50);
        let kept: Vec<Millis> = e.clicks.iter().map(|c| c.at_ms).collect();
        assert_eq!(kept, vec![200]);
        e.record_click(click(190, Channel::Email), 50);
        let kept: Vec<Millis> = e.clicks.iter().map(|c| c.at_ms).collect();
        assert_eq!(kept, vec![190, 200]);
    }
}
