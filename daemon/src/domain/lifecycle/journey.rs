//! The customer's cart and its abandoned-cart / checkout journey.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journey {}
