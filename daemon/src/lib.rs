//! stockbelld: the stockbell daemon as a library (the binary is a thin CLI over
//! [`root::run`], the composition root).

pub mod actors;
pub mod api;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod fanout;
pub mod hygiene_board;
pub mod metrics;
pub mod root;
pub mod scenario_control;
pub mod segment_board;
pub mod settings;
pub mod store;
pub mod watchdog;
