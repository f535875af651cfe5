//! Everything the PlexMCP Settings functions share: validated domain types, the storage
//! layer over the single DynamoDB table, authentication, the audit chain, the event outbox
//! and the one place that maps errors to HTTP problem responses.
//!
//! Nothing here knows whether it runs in Lambda or in the local gateway: the only
//! difference between the two is `AWS_ENDPOINT_URL`.

pub mod access;
pub mod account;
pub mod api_keys;
pub mod attempts;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod aws;
pub mod client_info;
pub mod config;
pub mod crypto;
pub mod custom_domain;
pub mod domain;
pub mod domain_release;
pub mod email_verification;
pub mod error;
pub mod event_data;
pub mod events;
pub mod exports;
pub mod founding;
pub mod http;
pub mod ids;
pub mod mail;
pub mod mcps;
pub mod mutation;
pub mod org_deletion;
pub mod outbox;
pub mod pin_gate;
pub mod platform_hostname;
#[cfg(feature = "route53")]
pub mod platform_zone;
pub mod second_factor;
pub mod sqs_batch;
pub mod state;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
mod test_points;
pub mod usage;
pub mod webhooks;

pub use error::{Error, FieldError};
// For the route macros of `http::routes`.
#[doc(hidden)]
pub use axum as __axum;
#[doc(hidden)]
pub use utoipa_axum as __utoipa_axum;

pub use state::AppState;
pub use test_points::{test_fault_once, test_pause, test_switch};
