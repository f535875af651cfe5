// Lambda hands a sandbox one invocation at a time: one thread, and no worker threads
// to start at init. No AWS client is built: the pages are in the binary.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let expose = shared::config::expose_round_trips(|key| std::env::var(key).ok());
    lambda_http::run(settings_pages::router(expose)).await
}
