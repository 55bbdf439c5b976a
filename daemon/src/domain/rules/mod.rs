//! Per-customer delivery rules as pure functions: dedupe, frequency caps (rolling and
//! local-calendar windows), priority arbitration with digests, quiet hours, and the
//! order scenarios' settings (quiet-hours mode, cadence, delays, links).
//! Time is a parameter; the customer's IANA time zone is an argument.

pub mod arbitration;
pub mod caps;
pub mod delivery;
pub mod order_messages;
pub mod quiet;

pub use delivery::DeliveryRules;
pub mod overrides;
