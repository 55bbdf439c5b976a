//! Attribution of orders to the scenario of the last click, and holdout records.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attribution {}
