//! View tests: each view drawn on a `TestBackend` from fixed fake state (no daemon), on a
//! narrow 60×20 terminal (whole screen compared) and a wide one (chosen rows compared).

mod customers;
mod delivery;
mod orders;
mod overview;
mod products;
mod scenarios;
mod segments;
mod sizes;
mod support;
