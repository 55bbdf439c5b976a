//! `stockbell-console`: an operator console for a running stockbelld, over the Admin gRPC
//! API. Shaped like tokio-console: [`conn`] keeps a connection (and reconnects), [`state`]
//! holds what the daemon told us, [`view`] draws it without side effects, [`input`] turns
//! keys into actions, [`term`] owns the terminal and [`run`] is the event loop.

pub mod app;
pub mod cli;
pub mod conn;
pub mod fmt;
pub mod input;
pub mod logging;
pub mod rpc;
pub mod run;
pub mod state;
pub mod term;
pub mod view;

pub use app::App;
