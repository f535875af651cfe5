use lambda_runtime::{service_fn, LambdaEvent};

// Lambda hands a sandbox one invocation at a time: one thread, and no worker threads
// to start at init (what that saves: `make bench`'s cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let state = shared::AppState::from_env().await?;
    let schedule = shared::custom_domain::CheckSchedule::from_env()?;
    let edge = shared::custom_domain::edge::Edge::new(&state);
    let (state, edge, schedule) = (&state, &edge, &schedule);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            Ok::<_, lambda_runtime::Error>(
                domain_check::handle(state, edge, schedule, event.payload).await,
            )
        },
    ))
    .await
}
