//! Our functions, run on this machine the way AWS runs them: the Lambda Runtime API
//! (`runtime_api`), a function binary as a Lambda process (`process`), the events API
//! Gateway and SQS send (`events`), the local stack of `make run` (`stack`), and the
//! little HTTP/1.1 they speak (`http`).
//! The black-box tests and `make bench` share it.

pub mod events;
pub mod http;
pub mod process;
pub mod runtime_api;
pub mod stack;

pub use process::{die_with_parent, FunctionProcess};
pub use runtime_api::{Answer, Outcome, RuntimeApi};
pub use stack::LocalStack;
