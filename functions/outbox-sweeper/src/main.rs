use lambda_runtime::{service_fn, LambdaEvent};

// Lambda hands a sandbox one invocation at a time: one thread, and no worker threads
// to start at init (what that saves: `make bench`'s cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    // Every run queries the table: its client is built here, at init, not by the first run.
    state.table.client();
    let state = &state;
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            outbox_sweeper::sweep(state, outbox_sweeper::GRACE)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
