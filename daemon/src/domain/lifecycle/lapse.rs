//! Lapses: win-back after a customer's own repurchase interval passes, and the birthday.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lapse {}
