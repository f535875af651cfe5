//! Webhooks as the platform keeps and sends them: the endpoint item (`endpoint`), the
//! log of every attempt (`delivery_log`), where
//! an endpoint may point (`target`, the SSRF guard), how a delivery is signed
//! (`signature`, Standard Webhooks), the job on the deliveries queue (`job`) and when a
//! failed one is tried again (`schedule`). The API (at create and update) and the
//! delivery worker (at every attempt) apply the very same rules.

pub mod delivery_log;
pub mod endpoint;
pub mod job;
pub mod schedule;
pub mod signature;
pub mod target;

pub use job::DeliveryJob;
pub use schedule::RetrySchedule;
pub use signature::WebhookSecret;
pub use target::{Resolve, SystemResolver, TargetRefused, WebhookUrl};
