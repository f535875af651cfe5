//! Logging: JSON lines in Lambda (CloudWatch parses them), compact text locally.
//! `RUST_LOG` overrides the level (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        let _ = builder
            .json()
            .without_time()
            .with_current_span(false)
            .try_init();
    } else {
        let _ = builder.compact().try_init();
    }
}
