// Lambda hands a sandbox one invocation at a time: one thread, and no worker threads
// to start at init (about 0.25 ms of each cold start, `make bench`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(organization::router(state)).await
}
