//! Outbox keys (lanes, due order, the pre-lane layout) and entry layouts: v1 and v2
//! entries still read, v3 golden bytes.

use super::*;

const MAIL: Lane = Lane::new(MessageClass::Marketing, Channel::Email);

fn due(at_ms: Millis, seq: u64) -> Vec<u8> {
    OutboxDue::encode_key(Due {
        lane: MAIL,
        at_ms,
        seq,
    })
}

#[test]
fn due_keys_sort_by_lane_then_time_then_seq_and_round_trip() {
    assert!(due(5, 9) < due(6, 1));
    assert!(due(6, 1) < due(6, 2));
    assert!(due(-6, 2) < due(0, 0));
    for lane in Lane::ALL {
        let d = Due {
            lane,
            at_ms: -3,
            seq: 42,
        };
        let key = OutboxDue::encode_key(d);
        assert_eq!(OutboxDue::decode_key(&key).ok(), Some(d));
        assert!(key.starts_with(&OutboxDue::encode_prefix(lane)));
    }
    // Another lane's keys sort apart, whatever their times.
    let line = Due {
        lane: Lane::new(MessageClass::Marketing, Channel::Line),
        at_ms: 0,
        seq: 0,
    };
    assert!(due(i64::MAX, u64::MAX) < OutboxDue::encode_key(line));
    // Keys from before lanes sort after every lane key, and are not lane keys.
    let legacy = LegacyOutboxDue::encode_key(LegacyDue::FIRST);
    let last_lane = Due {
        lane: Lane::new(MessageClass::Marketing, Channel::Webhook),
        at_ms: i64::MAX,
        seq: u64::MAX,
    };
    assert!(OutboxDue::encode_key(last_lane) < legacy);
    assert!(OutboxDue::decode_key(&legacy).is_err());
    let old = LegacyDue {
        at_ms: 1_700_000_000_000,
        seq: 7,
    };
    assert_eq!(
        LegacyOutboxDue::decode_key(&LegacyOutboxDue::encode_key(old)).ok(),
        Some(old)
    );
    let mine = OutboxByCustomer::encode_prefix("c1");
    assert!(OutboxByCustomer::encode_key(("c1", 3)).starts_with(&mine));
    assert!(!OutboxByCustomer::encode_key(("c10", 3)).starts_with(&mine));
    assert_eq!(
        OutboxByCustomer::decode_key(&OutboxByCustomer::encode_key(("c1", 3))).ok(),
        Some(("c1".to_owned(), 3))
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

fn old_context(c: &MessageContext) -> ContextV2 {
    assert!(c.order.is_none(), "v1 and v2 entries have no order");
    ContextV2 {
        scenario: c.scenario,
        locale: c.locale,
        customer_id: c.customer_id.clone(),
        items: c.items.clone(),
        unsubscribe_url: c.unsubscribe_url.clone(),
    }
}

/// An entry queued by a build that stored rendered text reads as the same entry.
#[test]
fn v1_entries_are_read_without_the_rendered_text() {
    use crate::delivery::test_support::sample_entry;

    let e = sample_entry(7, Channel::Email, true);
    let old = codec::encode(
        V1,
        &EntryV1 {
            seq: e.seq,
            customer_id: e.customer_id.clone(),
            channel: e.channel,
            address: e.address.clone(),
            scenario: e.scenario,
            marketing: true,
            context: old_context(&e.context),
            rendered: RenderedV1 {
                subject: "s".repeat(40),
                text: "t".repeat(900),
                html: "h".repeat(2500),
            },
            status: e.status,
            attempts: e.attempts,
            next_attempt_ms: e.next_attempt_ms,
            created_ms: e.created_ms,
            delivered_ms: e.delivered_ms,
            last_error: e.last_error.clone(),
        },
    );
    assert_eq!(Outbox::decode_value(&old).expect("v1 decodes"), e);
    let new = Outbox::encode_value(&e);
    assert!(
        new.len() + 3000 < old.len(),
        "{} vs {}",
        new.len(),
        old.len()
    );
    let err = Outbox::decode_value(&[9, 0, 0]).expect_err("unknown version");
    assert!(err.to_string().contains("schema version 9"), "{err}");
}

/// The bytes the v2 build wrote for `sample_entry(7, Email, marketing)`.
const GOLDEN_V2: &str = "020707637573742d3432000f7461726f406578616d706c652e6a700101010007637573742d34320105534b552d310b4c696e656e2053686972741868747470733a2f2f73686f702e6578616d706c652f702f3100034a5059fb780f0001042868747470733a2f2f73686f702e6578616d706c652f756e7375627363726962652f746f6b2d616263000000fd00d0ca9f170300000000";

/// An entry queued by the v2 build (before orders) still reads, as a stock message
/// without an order, and is written back as v3.
#[test]
fn v2_golden_bytes_still_read() {
    use crate::delivery::test_support::sample_entry;

    let e = sample_entry(7, Channel::Email, true);
    let v2 = unhex(GOLDEN_V2);
    assert_eq!(Outbox::decode_value(&v2).expect("v2 decodes"), e);
    let again = EntryV2 {
        seq: e.seq,
        customer_id: e.customer_id.clone(),
        channel: e.channel,
        address: e.address.clone(),
        scenario: e.scenario,
        marketing: true,
        context: old_context(&e.context),
        status: e.status,
        attempts: e.attempts,
        next_attempt_ms: e.next_attempt_ms,
        created_ms: e.created_ms,
        delivered_ms: e.delivered_ms,
        last_error: e.last_error.clone(),
    };
    assert_eq!(hex(&codec::encode(V2, &again)), GOLDEN_V2);
    let v3 = Outbox::encode_value(&e);
    assert_eq!(v3[0], V3);
    assert_eq!(Outbox::decode_value(&v3).expect("v3 decodes"), e);
}

/// The bytes of `sample_entry(8, Email, transactional)`: a shipped notice with its order.
const GOLDEN_V3: &str = "030807637573742d3432000f7461726f406578616d706c652e6a7008080007637573742d3432002868747470733a2f2f73686f702e6578616d706c652f756e7375627363726962652f746f6b2d6162630104313030310a417369612f546f6b796f01013105534b552d310b4c696e656e205368697274041868747470733a2f2f73686f702e6578616d706c652f702f311c68747470733a2f2f73686f702e6578616d706c652f692f312e6a706701fd0088a5b618030000fd0090befe180300000100010659616d61746f0e313233342d353637382d393031321a68747470733a2f2f747261636b2e6578616d706c652f31323334000000000000fd00d0ca9f170300000000";

#[test]
fn v3_golden_bytes_carry_the_order() {
    use crate::delivery::test_support::sample_entry;

    let e = sample_entry(8, Channel::Email, false);
    assert!(e.context.order.is_some());
    let bytes = Outbox::encode_value(&e);
    assert_eq!(hex(&bytes), GOLDEN_V3);
    assert_eq!(Outbox::decode_value(&bytes).expect("v3 decodes"), e);
}
