//! Tracked links in marketing messages: which links of an outbox entry are tracked, the
//! short signed token naming (entry seq, link index) (`link_token`, purpose `Click`), and
//! the copy of an entry whose links go through `{public_url}/c/<token>`.
//!
//! The tracked links of an entry are a pure function of the entry as stored
//! ([`tracked_links`]): link `i` is the page of item `i` of the stored context. The
//! dispatcher rewrites with it when it renders, and the redirector looks the link up with
//! it in the stored entry — so a redirect can only ever lead to a URL the daemon put in
//! that message, never to one taken from the request. The last-chance message has no
//! items: its one tracked link (link 0) is its keep button, `[scenarios.last_chance]
//! keep_url` from the configuration ([`ClickLinks::with_keep_url`]), so following it
//! counts as the click that resumes a sunset pause. Order updates (transactional) and
//! the unsubscribe / cancel links are never rewritten.
//!
//! What the redirector needs of a message ([`SentMessage`], derived from the stored entry
//! by the same rule) is remembered for the most recent messages the dispatcher rendered
//! and the redirector looked up ([`ClickLinks::recall`]): most clicks come soon after a
//! send, and then need no store read. Anything not remembered is read from the store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::link_token::{open_short, seal_short, LinkPurpose, TokenError};
use crate::domain::customer::{Channel, Scenario};
use crate::domain::message::{ItemContext, OutboxEntry};
use crate::domain::Millis;

/// Messages remembered for the redirector (~300 bytes each).
const RECENT: usize = 50_000;

/// What a valid click token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClickToken {
    pub seq: u64,
    pub link: u16,
}

/// The payload: seq then link index, each as an unsigned LEB128 varint (a seq of a few
/// million takes 3–4 bytes), so a token is ~20 characters.
fn payload(t: ClickToken) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    push_varint(&mut out, t.seq);
    push_varint(&mut out, u64::from(t.link));
    out
}

fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn parse(mut bytes: &[u8]) -> Option<ClickToken> {
    let seq = read_varint(&mut bytes)?;
    let link = u16::try_from(read_varint(&mut bytes)?).ok()?;
    bytes.is_empty().then_some(ClickToken { seq, link })
}

pub fn sign_click_token(secret: &[u8], t: ClickToken) -> String {
    seal_short(secret, LinkPurpose::Click, &payload(t))
}

pub fn verify_click_token(secret: &[u8], token: &str) -> Result<ClickToken, TokenError> {
    let bytes = open_short(secret, LinkPurpose::Click, token)?;
    parse(&bytes).ok_or(TokenError::Malformed)
}

/// The tracked links of an entry, by index: item `i`'s page is link `i` (empty = the
/// item has no page: nothing to follow, nothing tracked). None for an order update.
pub fn tracked_links(entry: &OutboxEntry) -> Vec<&str> {
    if !entry.is_marketing() {
        return Vec::new();
    }
    entry.context.items.iter().map(|i| i.url.as_str()).collect()
}

/// What the redirector needs of a marketing message: its tracked links (by the rule of
/// [`tracked_links`]) and what a click records.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub seq: u64,
    pub customer_id: String,
    pub scenario: Scenario,
    pub channel: Channel,
    pub links: Vec<String>,
    pub skus: Vec<String>,
    /// When it was delivered, if known (else the click's time stands in).
    pub delivered_ms: Option<Millis>,
}

impl SentMessage {
    /// `None` for an order update (nothing tracked).
    pub fn of(entry: &OutboxEntry) -> Option<SentMessage> {
        entry.is_marketing().then(|| SentMessage {
            seq: entry.seq,
            customer_id: entry.customer_id.clone(),
            scenario: entry.scenario,
            channel: entry.channel,
            links: tracked_links(entry)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            skus: entry.context.items.iter().map(|i| i.sku.clone()).collect(),
            delivered_ms: entry.delivered_ms,
        })
    }

    /// Link `link`, if the message had it.
    pub fn link(&self, link: u16) -> Option<&str> {
        self.links
            .get(usize::from(link))
            .map(String::as_str)
            .filter(|u| !u.is_empty())
    }

    /// How many links are tracked (what "every link" means to the scanner rule).
    pub fn link_count(&self) -> u16 {
        let n = self.links.iter().filter(|u| !u.is_empty()).count();
        u16::try_from(n).unwrap_or(u16::MAX)
    }
}

/// The most recent messages, oldest forgotten first.
#[derive(Default)]
struct Recent {
    by_seq: HashMap<u64, Arc<SentMessage>>,
    order: VecDeque<u64>,
}

/// Makes and checks click links: the link secret and the daemon's public base URL; and
/// remembers the most recent messages for the redirector.
#[derive(Clone)]
pub struct ClickLinks {
    secret: Arc<[u8]>,
    public_url: String,
    /// The last chance's keep button (empty = none): its link 0.
    keep_url: String,
    recent: Arc<Mutex<Recent>>,
}

impl std::fmt::Debug for ClickLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickLinks")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl ClickLinks {
    pub fn new(secret: Vec<u8>, public_url: &str) -> Self {
        ClickLinks {
            secret: secret.into(),
            public_url: public_url.trim().trim_end_matches('/').to_string(),
            keep_url: String::new(),
            recent: Arc::default(),
        }
    }

    /// Tracks the last chance's keep button (`[scenarios.last_chance] keep_url`; empty =
    /// no button, nothing tracked).
    pub fn with_keep_url(mut self, keep_url: &str) -> Self {
        self.keep_url = keep_url.trim().to_string();
        self
    }

    /// What the redirector needs of `entry` ([`SentMessage::of`]); a last chance's one
    /// link is the keep button.
    pub fn sent(&self, entry: &OutboxEntry) -> Option<SentMessage> {
        let mut m = SentMessage::of(entry)?;
        if self.keeps(entry) {
            m.links = vec![self.keep_url.clone()];
        }
        Some(m)
    }

    /// `entry` is a last chance whose keep button is tracked.
    fn keeps(&self, entry: &OutboxEntry) -> bool {
        entry.scenario == Scenario::LastChance
            && entry.context.items.is_empty()
            && !self.keep_url.is_empty()
    }

    /// Remembers a message for the redirector (the oldest is forgotten past `RECENT`).
    pub fn remember(&self, m: SentMessage) {
        let Ok(mut r) = self.recent.lock() else {
            return;
        };
        let seq = m.seq;
        if r.by_seq.insert(seq, Arc::new(m)).is_none() {
            r.order.push_back(seq);
        }
        while r.order.len() > RECENT {
            if let Some(old) = r.order.pop_front() {
                r.by_seq.remove(&old);
            }
        }
    }

    /// A remembered message.
    pub fn recall(&self, seq: u64) -> Option<Arc<SentMessage>> {
        self.recent.lock().ok()?.by_seq.get(&seq).cloned()
    }

    pub fn url(&self, t: ClickToken) -> String {
        format!(
            "{}/c/{}",
            self.public_url,
            sign_click_token(&self.secret, t)
        )
    }

    pub fn verify(&self, token: &str) -> Result<ClickToken, TokenError> {
        verify_click_token(&self.secret, token)
    }

    /// The copy of `to_send` (the stored `entry`, or a late re-check's filtered copy of
    /// it) whose item links go through the redirector, or `None` when nothing is
    /// tracked (an order update, no public URL). A filtered copy keeps each item's index
    /// in the stored entry, found by SKU, so its links name the stored entry's links.
    /// The message is remembered for the redirector, delivered `now_ms` (about). A last
    /// chance's copy gets one item whose `url` is its tracked keep button (the templates
    /// show `item.url` as the button when there is one, else `keep_url`).
    pub fn rewrite(
        &self,
        entry: &OutboxEntry,
        to_send: &OutboxEntry,
        now_ms: Millis,
    ) -> Option<OutboxEntry> {
        if self.public_url.is_empty() || !entry.is_marketing() {
            return None;
        }
        if let Some(mut m) = self.sent(entry) {
            m.delivered_ms = Some(now_ms);
            self.remember(m);
        }
        let stored = tracked_links(entry);
        let mut copy = to_send.clone();
        if self.keeps(entry) {
            copy.context.items = vec![ItemContext {
                url: self.url(ClickToken {
                    seq: entry.seq,
                    link: 0,
                }),
                ..ItemContext::default()
            }];
            return Some(copy);
        }
        for item in &mut copy.context.items {
            let index = entry
                .context
                .items
                .iter()
                .position(|i| i.sku == item.sku && i.url == item.url);
            let Some(index) = index else { continue };
            let Ok(link) = u16::try_from(index) else {
                continue;
            };
            if stored.get(index).is_some_and(|u| !u.is_empty()) {
                item.url = self.url(ClickToken {
                    seq: entry.seq,
                    link,
                });
            }
        }
        Some(copy)
    }
}

#[cfg(test)]
#[path = "click_link_tests.rs"]
mod tests;
