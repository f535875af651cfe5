//! The stack file written by `infra/bootstrap.py`: every function's environment as it
//! resolves locally, which function each HTTP route goes to, which queue feeds which
//! worker, and which function runs on a schedule.

use serde::Deserialize;
use std::collections::HashMap;

#[derive(Clone, Debug, Deserialize)]
pub struct Worker {
    /// Logical id of the function in `template.yaml`.
    pub function: String,
    pub queue_url: String,
    pub batch_size: i32,
    /// `MaximumBatchingWindowInSeconds`: how long a batch may wait to fill.
    #[serde(default)]
    pub batching_window_seconds: u64,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: without it, Lambda ignores the
    /// failures a handler reports and deletes the whole batch when the handler returns.
    #[serde(default)]
    pub report_failures: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Schedule {
    pub function: String,
    pub every_seconds: u64,
}

#[derive(Debug, Deserialize)]
pub struct Stack {
    env: HashMap<String, String>,
    /// Each function's environment (template Globals + its own), by logical id.
    functions: HashMap<String, HashMap<String, String>>,
    /// Every `HttpApi` event of the template.
    pub routes: Vec<crate::routes::Route>,
    pub workers: Vec<Worker>,
    pub schedules: Vec<Schedule>,
    /// The HTTP API's `CorsConfiguration` as the template resolves (none: no CORS).
    #[serde(default)]
    pub cors: Option<crate::cors::Cors>,
}

impl Stack {
    pub fn load() -> Result<Self, String> {
        let path = std::env::var("LOCAL_STACK_FILE")
            .map_err(|_| "LOCAL_STACK_FILE is not set (start with `make run`)".to_string())?;
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let mut stack: Stack =
            serde_json::from_str(&text).map_err(|e| format!("{path} is not a stack file: {e}"))?;
        if let Some(seconds) = std::env::var("LOCAL_SCHEDULE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            stack
                .schedules
                .iter_mut()
                .for_each(|s| s.every_seconds = seconds);
        }
        Ok(stack)
    }

    /// The process environment wins over the template's values (PORT, test overrides).
    pub fn var(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .or_else(|| self.env.get(key).cloned())
    }

    /// The logical ids of the template's functions.
    pub fn functions(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// A variable as `function` sees it: the gateway's own environment (the knobs
    /// `make run` and tests override) first, then that function's template environment
    /// — not another function's.
    pub fn function_var(&self, function: &str, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .or_else(|| self.functions.get(function)?.get(key).cloned())
    }
}
