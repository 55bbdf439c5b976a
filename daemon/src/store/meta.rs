//! The records of the `meta` column family, one schema each, with fixed key names so an
//! operator can find them with `ldb`: the fan-out cursor, operators' scenario changes,
//! the unsubscribe secret, and the back-in-stock releases still waiting.

use super::codec;
use super::schema::{bad_key, be_u64, meta_singleton, Cf, PrefixSchema, Schema};
use super::StoreError;
use crate::domain::release::Release;
use crate::domain::rules::overrides::Overrides;

pub(super) fn corrupt(what: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        cf: Cf::Meta.name(),
        reason: format!("{what}: {reason}"),
    }
}

meta_singleton!(
    /// The last trigger id whose fan-out is durable (u64 BE).
    FanoutCursor,
    b"fanout_cursor",
    u64
);

meta_singleton!(
    /// The last order notice whose hand-off is durable (u64 BE).
    NoticeCursor,
    b"notice_cursor",
    u64
);

meta_singleton!(
    /// The last cancellation request the shop webhook delivered (u64 BE).
    ShopCancelCursor,
    b"shop_webhook_cancel_cursor",
    u64
);

meta_singleton!(
    /// The last order notice the shop webhook has passed (delivered if an allocation).
    ShopNoticeCursor,
    b"shop_webhook_notice_cursor",
    u64
);

meta_singleton!(
    /// The last segment membership change the shop webhook has delivered.
    ShopSegmentCursor,
    b"shop_webhook_segment_cursor",
    u64
);

meta_singleton!(
    /// Operators' scenario changes, as JSON so an operator can read them with `ldb`.
    ScenarioOverrides,
    b"scenario_overrides",
    Overrides,
    |o: &Overrides| serde_json::to_vec(o).unwrap_or_default(),
    |b: &[u8]| serde_json::from_slice(b).map_err(|e| corrupt(
        "scenario_overrides (delete the key to drop the changes)",
        e
    ))
);

meta_singleton!(
    /// Segments defined through the Admin API, as JSON so an operator can read them.
    SegmentDefinitions,
    b"segment_definitions",
    Vec<crate::domain::segments::definition::DefinitionText>,
    |d: &Vec<crate::domain::segments::definition::DefinitionText>| serde_json::to_vec(d).unwrap_or_default(),
    |b: &[u8]| serde_json::from_slice(b).map_err(|e| corrupt(
        "segment_definitions (delete the key to drop the API-defined segments)",
        e
    ))
);

meta_singleton!(
    /// The generated secret that signs unsubscribe links (when none is configured).
    UnsubscribeSecret,
    b"unsubscribe_secret",
    Vec<u8>,
    |s: &Vec<u8>| s.clone(),
    |b: &[u8]| Ok::<_, StoreError>(b.to_vec())
);

const RELEASE_PREFIX: &[u8] = b"release:";
const V1: u8 = 1;

/// Back-in-stock audiences still waiting for their batches, by trigger id.
pub struct Releases;

impl Schema for Releases {
    const CF: Cf = Cf::Meta;
    type Key = u64;
    type KeyRef<'a> = u64;
    type Value = Release;

    fn encode_key(trigger_id: u64) -> Vec<u8> {
        let mut k = RELEASE_PREFIX.to_vec();
        k.extend_from_slice(&trigger_id.to_be_bytes());
        k
    }
    fn decode_key(bytes: &[u8]) -> Result<u64, StoreError> {
        bytes
            .strip_prefix(RELEASE_PREFIX)
            .and_then(be_u64)
            .ok_or_else(|| bad_key(Cf::Meta, "not a release key"))
    }
    fn encode_value(r: &Release) -> Vec<u8> {
        codec::encode(V1, r)
    }
    fn decode_value(bytes: &[u8]) -> Result<Release, StoreError> {
        codec::decode(Cf::Meta.name(), V1, bytes)
    }
}

impl PrefixSchema for Releases {
    type Prefix<'a> = ();
    fn encode_prefix(_: ()) -> Vec<u8> {
        RELEASE_PREFIX.to_vec()
    }
}
