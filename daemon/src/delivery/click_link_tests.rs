use proptest::prelude::*;

use super::*;
use crate::delivery::link_token::{b64_decode, b64_encode, seal, seal_short};
use crate::delivery::test_support::sample_entry;
use crate::domain::customer::Channel;
use crate::domain::message::ItemContext;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn links() -> ClickLinks {
    ClickLinks::new(SECRET.to_vec(), "https://shop.example/bell/")
}

fn two_items(seq: u64) -> OutboxEntry {
    let mut e = sample_entry(seq, Channel::Email, true);
    let mut second = e.context.items[0].clone();
    second.sku = "SKU-2".into();
    second.url = "https://shop.example/p/2".into();
    e.context.items.push(second);
    e
}

fn token_of(url: &str) -> &str {
    url.rsplit_once("/c/").map_or("", |(_, t)| t)
}

#[test]
fn marketing_links_are_rewritten_to_the_redirector_in_item_order() {
    let e = two_items(77);
    let sent = links().rewrite(&e, &e, 9).expect("marketing is tracked");
    for (i, item) in sent.context.items.iter().enumerate() {
        assert!(
            item.url.starts_with("https://shop.example/bell/c/"),
            "{}",
            item.url
        );
        let t = links().verify(token_of(&item.url)).expect("valid token");
        assert_eq!(
            t,
            ClickToken {
                seq: 77,
                link: i as u16
            }
        );
        let m = SentMessage::of(&e).expect("marketing");
        assert_eq!(m.link(t.link), Some(e.context.items[i].url.as_str()));
    }
    // The unsubscribe link stays as it was.
    assert_eq!(sent.context.unsubscribe_url, e.context.unsubscribe_url);
    let remembered = links().recall(77);
    assert_eq!(remembered, None, "each ClickLinks::new remembers its own");
    let l = links();
    l.rewrite(&e, &e, 123);
    let m = l.recall(77).expect("remembered at render");
    assert_eq!((m.link_count(), m.delivered_ms), (2, Some(123)));
}

#[test]
fn a_filtered_copy_keeps_the_stored_indexes() {
    let e = two_items(5);
    let mut filtered = e.clone();
    filtered.context.items.remove(0);
    let sent = links().rewrite(&e, &filtered, 9).expect("tracked");
    let t = links()
        .verify(token_of(&sent.context.items[0].url))
        .expect("valid");
    assert_eq!(t, ClickToken { seq: 5, link: 1 });
}

#[test]
fn order_updates_and_items_without_a_page_are_not_tracked() {
    let order = sample_entry(1, Channel::Email, false);
    assert!(links().rewrite(&order, &order, 9).is_none());
    assert_eq!(SentMessage::of(&order), None);
    let mut e = two_items(2);
    e.context.items[1].url.clear();
    let sent = links().rewrite(&e, &e, 9).expect("tracked");
    assert_eq!(sent.context.items[1].url, "");
    let m = SentMessage::of(&e).expect("marketing");
    assert_eq!((m.link(1), m.link_count()), (None, 1));
    assert_eq!(m.link(9), None);
    let none = ClickLinks::new(SECRET.to_vec(), "");
    assert!(none.rewrite(&e, &e, 9).is_none());
}

#[test]
fn a_token_is_short_and_names_only_what_was_signed() {
    let t = sign_click_token(
        SECRET,
        ClickToken {
            seq: 3_000_000,
            link: 2,
        },
    );
    // 4 + 1 payload bytes + 12 MAC bytes.
    assert!(t.len() <= 23, "{t} is {} chars", t.len());
    // Another index or seq under this MAC: refused.
    let mut bytes = b64_decode(&t).expect("b64");
    bytes[4] = 3;
    assert_eq!(
        verify_click_token(SECRET, &b64_encode(&bytes)),
        Err(TokenError::BadSignature)
    );
    // Another seq's MAC spliced onto this payload: refused.
    let other = b64_decode(&sign_click_token(SECRET, ClickToken { seq: 9, link: 2 })).expect("b64");
    let mut spliced = bytes[..5].to_vec();
    spliced[4] = 2;
    spliced.extend_from_slice(&other[other.len() - 12..]);
    assert_eq!(
        verify_click_token(SECRET, &b64_encode(&spliced)),
        Err(TokenError::BadSignature)
    );
    // An unsubscribe or cancel token is no click token.
    assert!(verify_click_token(SECRET, &seal(SECRET, LinkPurpose::Unsubscribe, "c1")).is_err());
    // Signed right but with bytes after the link index: malformed.
    let trailing = seal_short(SECRET, LinkPurpose::Click, &[1, 2, 3]);
    assert_eq!(
        verify_click_token(SECRET, &trailing),
        Err(TokenError::Malformed)
    );
}

#[test]
fn items_are_matched_by_sku_and_url() {
    let mut e = two_items(4);
    e.context.items.push(ItemContext {
        sku: "SKU-3".into(),
        ..ItemContext::default()
    });
    let sent = links().rewrite(&e, &e, 9).expect("tracked");
    assert_eq!(sent.context.items[2].url, "");
}

proptest! {
    #[test]
    fn tokens_round_trip(seq: u64, link: u16) {
        let t = ClickToken { seq, link };
        prop_assert_eq!(verify_click_token(SECRET, &sign_click_token(SECRET, t)), Ok(t));
    }
}

#[test]
fn the_oldest_remembered_messages_are_forgotten_first() {
    let l = links();
    let e = two_items(0);
    for seq in 0..(RECENT as u64 + 2) {
        let mut m = SentMessage::of(&e).expect("marketing");
        m.seq = seq;
        l.remember(m);
    }
    assert!(l.recall(0).is_none() && l.recall(1).is_none());
    assert!(l.recall(2).is_some() && l.recall(RECENT as u64 + 1).is_some());
}

/// A last chance as the customer's actor writes it: no items.
fn last_chance(seq: u64) -> OutboxEntry {
    let mut e = sample_entry(seq, Channel::Email, true);
    e.scenario = Scenario::LastChance;
    e.context.scenario = Scenario::LastChance;
    e.context.items.clear();
    e
}

#[test]
fn the_last_chance_keep_button_is_its_one_tracked_link() {
    const KEEP: &str = "https://shop.example/keep";
    let e = last_chance(31);
    let l = links().with_keep_url(KEEP);
    let sent = l.rewrite(&e, &e, 5).expect("marketing is tracked");
    assert_eq!(sent.context.items.len(), 1, "{:?}", sent.context.items);
    let t = l
        .verify(token_of(&sent.context.items[0].url))
        .expect("valid token");
    assert_eq!(t, ClickToken { seq: 31, link: 0 });
    // Remembered at render, and the same when the redirector reads the stored entry.
    let m = l.recall(31).expect("remembered");
    assert_eq!((m.link(0), m.link_count()), (Some(KEEP), 1));
    assert!(m.skus.is_empty() && m.scenario == Scenario::LastChance);
    let stored = l.sent(&e).expect("marketing");
    assert_eq!((stored.link(0), stored.link(1)), (Some(KEEP), None));
    // The stored entry keeps no item; an offer's links are untouched by keep_url.
    assert!(e.context.items.is_empty());
    let offer = two_items(32);
    assert_eq!(l.sent(&offer), SentMessage::of(&offer));

    // No keep_url: no button, nothing tracked.
    let sent = links().rewrite(&e, &e, 5).expect("marketing");
    assert!(sent.context.items.is_empty());
    assert_eq!(links().sent(&e).expect("marketing").link(0), None);
}
