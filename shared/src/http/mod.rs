//! HTTP plumbing shared by every HTTP function: problem responses, the JSON and query
//! extractors, browser sessions, pagination, the common router layers and the one
//! list of routes a function serves and documents.

pub mod browser;

pub mod created;
pub mod etag;
pub mod extract;
pub mod idempotency;
pub mod layers;
pub mod page;
pub mod problem;
pub mod request_id;
pub mod routes;

pub use created::Created;
pub use extract::{Json, Path, PathId, Query};
pub use page::{Page, PageQuery};
pub use problem::Problem;
