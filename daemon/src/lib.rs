//! stockbelld: the stockbell daemon as a library (the binary is a thin CLI over `api::server::run`).

pub mod actors;
pub mod api;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod delivery_config;
pub mod domain;
pub mod fanout;
pub mod metrics;
pub mod rules_config;
pub mod scenario_control;
pub mod store;
pub mod watchdog;
