//! Value codec: one schema-version byte, then bincode 2 (standard config) of a serde struct.
//! A changed record layout gets a new version byte and a migration, never a silent misread.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StoreError;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes `value` behind `version`.
pub fn encode<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    let mut out = vec![version];
    // Writing plain data structs into a Vec cannot fail.
    if let Err(e) = bincode::serde::encode_into_std_write(value, &mut out, config()) {
        unreachable!("bincode into a Vec failed: {e}");
    }
    out
}

/// Decodes a value written by `encode` with the same version.
pub fn decode<T: DeserializeOwned>(
    cf: &'static str,
    version: u8,
    bytes: &[u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((v, rest)) if *v == version => bincode::serde::decode_from_slice(rest, config())
            .map(|(value, _)| value)
            .map_err(|e| StoreError::Corrupt { cf, reason: e.to_string() }),
        Some((v, _)) => Err(StoreError::Corrupt {
            cf,
            reason: format!("schema version {v}, this build reads version {version}: run the matching stockbelld or migrate"),
        }),
        None => Err(StoreError::Corrupt { cf, reason: "empty value".into() }),
    }
}
