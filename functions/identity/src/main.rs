// Lambda hands a sandbox one invocation at a time: one thread, and no worker threads
// to start at init (what that saves: `make bench`'s cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(identity::router(state)).await
}
