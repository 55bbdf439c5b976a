//! List hygiene: the sunset policy's state, soft-bounce runs, complaints.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hygiene {}
