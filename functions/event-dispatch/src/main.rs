use lambda_runtime::{service_fn, LambdaEvent};

// Lambda hands a sandbox one invocation at a time: one thread, and no worker threads
// to start at init (what that saves: `make bench`'s cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    let zone = event_dispatch::PlatformZone::new(&state);
    let (state, zone) = (&state, &zone);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            Ok::<_, lambda_runtime::Error>(event_dispatch::handle(state, zone, event.payload).await)
        },
    ))
    .await
}
