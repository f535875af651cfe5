//! HTTP plumbing shared by every HTTP function: problem responses, the JSON and query
//! extractors, client information, pagination and the common router layers.

pub mod client;
pub mod extract;
pub mod layers;
pub mod page;
pub mod problem;

pub use client::ClientInfo;
pub use extract::{Json, Path, Query};
pub use page::{Page, PageQuery};
pub use problem::Problem;
