//! A customer's engagement: per channel the last click, the last marketing message and
//! how many marketing messages came since the customer last clicked or ordered; the last
//! order; and the recent clicks, kept for attribution.
//!
//! The customer's actor is the one owner: a click (from the HTTP redirector, through the
//! Router) is `record_click`, a marketing message written to the outbox is
//! `record_marketing`, an order placed is `record_order`. List hygiene (the sunset
//! policy) reads `marketing_since_engaged` and `last_engaged_ms`; attribution reads
//! `clicks`.
//!
//! Link scanners (mail security gateways that fetch every link of a message as it
//! arrives) are told from people by [`Engagement::receive_click`]: a click on a message
//! with two or more tracked links, within the scanner window after its delivery, is kept
//! provisional; if every tracked link of that message is hit inside the window it was a
//! scanner and none of them counts, otherwise they count once the window is over
//! ([`Engagement::settle`], called by every `record_*`/`receive_click`, and by readers
//! with their "now"). A message with one link cannot tell the two apart: its click counts.

use serde::{Deserialize, Serialize};

use crate::domain::customer::{Channel, Scenario};
use crate::domain::Millis;

/// Most clicks kept per customer (the newest): a link followed over and over must not
/// grow the customer's record without bound.
pub const MAX_CLICKS: usize = 100;
/// Most provisional clicks held per customer (the newest).
pub const MAX_PROVISIONAL: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    /// One record per channel the customer was sent marketing on or clicked from.
    pub channels: Vec<ChannelEngagement>,
    pub last_order_ms: Option<Millis>,
    /// Clicks, oldest first, pruned to `keep_ms` (the longest attribution window).
    pub clicks: Vec<Click>,
    /// Clicks inside their message's scanner window, not counted yet, oldest first.
    pub provisional: Vec<ProvisionalClick>,
    /// Clicks dropped as a link scanner's (every link of a message inside its window).
    pub scanner_clicks: u32,
}

/// A click that counts only if its message's scanner window ends without every link of
/// the message having been hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionalClick {
    pub click: Click,
    /// When the scanner window of its message ends.
    pub settles_ms: Millis,
    /// The message's tracked links.
    pub links: u16,
    /// How long the click is kept once counted.
    pub keep_ms: Millis,
}

/// A click as the redirector reports it: the click, and what the scanner rule needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickReport {
    pub click: Click,
    /// When the message was delivered (the redirect's time if it is not known yet).
    pub delivered_ms: Millis,
    /// How many tracked links the message has.
    pub links: u16,
    /// `[engagement] scanner_window`; 0 = no scanner filtering.
    pub scanner_window_ms: Millis,
    /// `[engagement] keep_clicks`.
    pub keep_ms: Millis,
}

/// What became of a reported click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickOutcome {
    Counted,
    /// Inside its message's scanner window: counts when the window ends, unless every
    /// link gets hit first.
    Provisional,
    /// Every link of the message was hit inside the window: these clicks were dropped.
    Scanner,
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
        self.settle(at);
        let e = self.channel_mut(c);
        e.last_marketing_ms = Some(e.last_marketing_ms.map_or(at, |m| m.max(at)));
        e.marketing_since_engaged = e.marketing_since_engaged.saturating_add(1);
    }

    /// The customer clicked a link at `click.at_ms`. A link of a message clicked again
    /// keeps one click, at the latest time. Clicks older than `keep_ms` before the newest
    /// are forgotten, and all but the newest [`MAX_CLICKS`].
    pub fn record_click(&mut self, click: Click, keep_ms: Millis) {
        let at = click.at_ms;
        let c = self.channel_mut(click.channel);
        c.last_click_ms = Some(c.last_click_ms.map_or(at, |m| m.max(at)));
        for e in &mut self.channels {
            e.marketing_since_engaged = 0;
        }
        // A repeat click on the same link of the same message (a reload, a double click)
        // is one click, at its latest time: the record grows only with distinct links.
        let same = |c: &Click| c.entry_seq == click.entry_seq && c.link == click.link;
        if self.clicks.iter().any(|c| same(c) && c.at_ms >= at) {
            return;
        }
        self.clicks.retain(|c| !same(c));
        self.clicks.push(click);
        self.clicks.sort_by_key(|c| c.at_ms);
        let newest = self.clicks.last().map_or(at, |c| c.at_ms);
        let from = newest.saturating_sub(keep_ms);
        self.clicks.retain(|c| c.at_ms >= from);
        let over = self.clicks.len().saturating_sub(MAX_CLICKS);
        self.clicks.drain(..over);
    }

    /// The customer placed an order at `at`.
    pub fn record_order(&mut self, at: Millis) {
        self.settle(at);
        self.last_order_ms = Some(self.last_order_ms.map_or(at, |m| m.max(at)));
        for e in &mut self.channels {
            e.marketing_since_engaged = 0;
        }
    }

    /// A click from the redirector, through the scanner rule (see the module doc).
    pub fn receive_click(&mut self, report: ClickReport) -> ClickOutcome {
        let ClickReport {
            click,
            delivered_ms,
            links,
            scanner_window_ms,
            keep_ms,
        } = report;
        self.settle(click.at_ms);
        let settles_ms = delivered_ms.saturating_add(scanner_window_ms);
        if links < 2 || click.at_ms >= settles_ms {
            self.record_click(click, keep_ms);
            return ClickOutcome::Counted;
        }
        let seq = click.entry_seq;
        self.provisional.push(ProvisionalClick {
            click,
            settles_ms,
            links,
            keep_ms,
        });
        let over = self.provisional.len().saturating_sub(MAX_PROVISIONAL);
        self.provisional.drain(..over);
        let mut hit: Vec<u16> = self
            .provisional
            .iter()
            .filter(|p| p.click.entry_seq == seq)
            .map(|p| p.click.link)
            .collect();
        hit.sort_unstable();
        hit.dedup();
        if hit.len() >= usize::from(links) {
            let before = self.provisional.len();
            self.provisional.retain(|p| p.click.entry_seq != seq);
            let dropped = u32::try_from(before - self.provisional.len()).unwrap_or(u32::MAX);
            self.scanner_clicks = self.scanner_clicks.saturating_add(dropped);
            return ClickOutcome::Scanner;
        }
        ClickOutcome::Provisional
    }

    /// Counts the provisional clicks whose scanner window is over at `now`.
    pub fn settle(&mut self, now: Millis) {
        if self.provisional.iter().all(|p| p.settles_ms > now) {
            return;
        }
        let (due, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.provisional)
            .into_iter()
            .partition(|p| p.settles_ms <= now);
        self.provisional = wait;
        for p in due {
            self.record_click(p.click, p.keep_ms);
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

    fn report(at: Millis, seq: u64, link: u16, links: u16) -> ClickReport {
        let mut c = click(at, Channel::Email);
        c.entry_seq = seq;
        c.link = link;
        ClickReport {
            click: c,
            delivered_ms: 1_000,
            links,
            scanner_window_ms: 10_000,
            keep_ms: 1_000_000,
        }
    }

    #[test]
    fn every_link_hit_inside_the_window_is_a_scanner() {
        let mut e = Engagement::default();
        e.record_marketing(Channel::Email, 1_000);
        assert_eq!(
            e.receive_click(report(1_500, 7, 0, 2)),
            ClickOutcome::Provisional
        );
        // The same link again is not "every link".
        assert_eq!(
            e.receive_click(report(1_600, 7, 0, 2)),
            ClickOutcome::Provisional
        );
        assert_eq!(
            e.receive_click(report(1_700, 7, 1, 2)),
            ClickOutcome::Scanner
        );
        assert!(e.clicks.is_empty() && e.provisional.is_empty());
        assert_eq!(e.scanner_clicks, 3);
        // Nothing of the scanner's reached the engagement.
        e.settle(100_000);
        assert_eq!(
            (e.last_engaged_ms(), e.marketing_since_engaged()),
            (None, 1)
        );
    }

    #[test]
    fn a_provisional_click_counts_once_its_window_is_over() {
        let mut e = Engagement::default();
        assert_eq!(
            e.receive_click(report(2_000, 7, 1, 3)),
            ClickOutcome::Provisional
        );
        e.settle(10_999);
        assert!(e.clicks.is_empty());
        e.settle(11_000);
        assert_eq!(e.clicks.len(), 1);
        assert_eq!(e.last_engaged_ms(), Some(2_000));
        // After the window, and on a one-link message at once: counted.
        assert_eq!(
            e.receive_click(report(11_500, 7, 0, 3)),
            ClickOutcome::Counted
        );
        assert_eq!(
            e.receive_click(report(1_100, 8, 0, 1)),
            ClickOutcome::Counted
        );
        // An order settles what is due before it.
        assert_eq!(
            e.receive_click(report(1_200, 9, 0, 2)),
            ClickOutcome::Provisional
        );
        e.record_order(20_000);
        assert!(e.provisional.is_empty());
        assert_eq!(e.clicks.len(), 4);
    }

    #[test]
    fn a_link_clicked_again_is_one_click_at_its_latest_time() {
        let mut e = Engagement::default();
        e.record_click(click(100, Channel::Email), 1_000);
        e.record_click(click(300, Channel::Email), 1_000);
        // Late news of an earlier click changes nothing.
        e.record_click(click(200, Channel::Email), 1_000);
        let kept: Vec<Millis> = e.clicks.iter().map(|c| c.at_ms).collect();
        assert_eq!(kept, vec![300]);
        let mut other = click(150, Channel::Email);
        other.link = 1;
        e.record_click(other, 1_000);
        assert_eq!(e.clicks.len(), 2);
    }

    #[test]
    fn clicks_are_pruned_to_the_kept_window() {
        let mut e = Engagement::default();
        let mut seq = 0;
        let mut at = |t: Millis| {
            seq += 1;
            let mut c = click(t, Channel::Email);
            c.entry_seq = seq;
            c
        };
        e.record_click(at(100), 50);
        e.record_click(at(140), 50);
        e.record_click(at(200), 50);
        let kept: Vec<Millis> = e.clicks.iter().map(|c| c.at_ms).collect();
        assert_eq!(kept, vec![200]);
        e.record_click(at(190), 50);
        let kept: Vec<Millis> = e.clicks.iter().map(|c| c.at_ms).collect();
        assert_eq!(kept, vec![190, 200]);
        for at in 0..(MAX_CLICKS as Millis + 10) {
            let mut c = click(1_000 + at, Channel::Email);
            c.entry_seq = 100 + at as u64;
            e.record_click(c, 1_000_000);
        }
        assert_eq!(e.clicks.len(), MAX_CLICKS);
        assert_eq!(
            e.clicks.last().map(|c| c.at_ms),
            Some(1_000 + MAX_CLICKS as Millis + 9)
        );
    }
}
