//! gRPC services. Handlers are thin: check the token, validate, hand the work to the
//! Router (or read the store), map failures to `tonic::Status`.

pub mod admin;
mod admin_backup;
mod admin_board;
mod admin_customer;
mod admin_engagement;
mod admin_hygiene;
mod admin_orders;
mod admin_outbox;
mod admin_related;
mod admin_scenarios;
mod admin_segment_export;
mod admin_segment_metrics;
mod admin_segments;
pub mod auth;
pub mod cert_names;
pub mod convert;
pub mod convert_customer;
pub mod convert_order;
pub mod http;
mod http_cancel;
pub mod http_click;
mod http_complaint;
pub mod http_metrics;
mod http_slots;
pub mod ingest;
pub mod limits;
pub mod overview;
pub mod server;
