//! Webhooks as the platform sends them: where an endpoint may point (`target`, the SSRF
//! guard) and how a delivery is signed (`signature`, Standard Webhooks). Both are small
//! and self-contained so that the API (at create and update) and the delivery worker (at
//! every attempt) apply the very same rules.

pub mod signature;
pub mod target;

pub use signature::WebhookSecret;
pub use target::{Resolve, SystemResolver, TargetRefused, WebhookUrl};
