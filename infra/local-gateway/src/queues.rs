//! SQS event source mappings and schedules, locally.

use crate::stack::{Schedule, Worker};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use shared::AppState;
use std::collections::HashSet;
use std::time::Duration;

const IDLE_POLL: Duration = Duration::from_millis(200);

/// The worker handler a function of the template runs.
async fn invoke(
    state: &AppState,
    function: &str,
    event: SqsEvent,
) -> Result<SqsBatchResponse, String> {
    match function {
        "EventDispatchFunction" => {
            static ZONE: std::sync::OnceLock<event_dispatch::PlatformZone> =
                std::sync::OnceLock::new();
            let zone = ZONE.get_or_init(|| event_dispatch::PlatformZone::new(state));
            Ok(event_dispatch::handle(state, zone, event).await)
        }
        "WebhookDeliveryFunction" => {
            static WORKER: std::sync::OnceLock<Result<webhook_delivery::Worker, String>> =
                std::sync::OnceLock::new();
            let worker = WORKER
                .get_or_init(|| webhook_delivery::Worker::from_env(state))
                .as_ref()
                .map_err(Clone::clone)?;
            Ok(worker.handle(state, event).await)
        }
        "DomainCheckFunction" => {
            static SCHEDULE: std::sync::OnceLock<
                Result<shared::custom_domain::CheckSchedule, String>,
            > = std::sync::OnceLock::new();
            let schedule = SCHEDULE
                .get_or_init(shared::custom_domain::CheckSchedule::from_env)
                .as_ref()
                .map_err(Clone::clone)?;
            static EDGE: std::sync::OnceLock<shared::custom_domain::edge::Edge> =
                std::sync::OnceLock::new();
            let edge = EDGE.get_or_init(|| shared::custom_domain::edge::Edge::new(state));
            Ok(domain_check::handle(state, edge, schedule, event).await)
        }
        "DataExportFunction" => {
            static WORKER: std::sync::OnceLock<data_export::Worker> = std::sync::OnceLock::new();
            let worker = WORKER.get_or_init(|| data_export::Worker::new(state));
            Ok(worker.handle(state, event).await)
        }
        "OrgDeletionFunction" => {
            static WORKER: std::sync::OnceLock<org_deletion::Worker> = std::sync::OnceLock::new();
            let worker = WORKER.get_or_init(|| org_deletion::Worker::new(state));
            Ok(worker.handle(state, event).await)
        }
        "MailFunction" => {
            static MAILER: std::sync::OnceLock<Result<mail::Mailer, String>> =
                std::sync::OnceLock::new();
            let mailer = MAILER
                .get_or_init(|| mail::Mailer::new(state))
                .as_ref()
                .map_err(Clone::clone)?;
            Ok(mailer.handle(state, event).await)
        }
        other => Err(format!("no worker handler is wired for {other}")),
    }
}

/// Receives batches forever, like a Lambda event source mapping: up to the batch size,
/// waiting up to the batching window for a batch to fill; then, with
/// `ReportBatchItemFailures`, messages not reported as failed are deleted, and without
/// it the whole batch is (whatever the handler reported). Messages not deleted become
/// visible again after the visibility timeout and reach the DLQ by redrive.
pub async fn poll(state: AppState, worker: Worker) {
    loop {
        if let Err(err) = poll_once(&state, &worker).await {
            tracing::warn!(function = %worker.function, error = %err, "queue poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn receive(
    state: &AppState,
    worker: &Worker,
    max: i32,
) -> Result<Vec<aws_sdk_sqs::types::Message>, String> {
    let received = state
        .sqs
        .client()
        .receive_message()
        .queue_url(&worker.queue_url)
        .max_number_of_messages(max.clamp(1, 10))
        // Short polls: the local emulator handles one request at a time (infra/emulator.py).
        .wait_time_seconds(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(received.messages.unwrap_or_default())
}

async fn poll_once(state: &AppState, worker: &Worker) -> Result<(), String> {
    let batch_size = worker.batch_size.max(1) as usize;
    let mut messages = receive(state, worker, worker.batch_size).await?;
    if messages.is_empty() {
        tokio::time::sleep(IDLE_POLL).await;
        return Ok(());
    }
    let window = tokio::time::Instant::now() + Duration::from_secs(worker.batching_window_seconds);
    while messages.len() < batch_size && tokio::time::Instant::now() < window {
        let more = receive(state, worker, (batch_size - messages.len()) as i32).await?;
        if more.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
        }
        messages.extend(more);
    }
    let mut event = SqsEvent::default();
    for message in &messages {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id.clone();
        record.receipt_handle = message.receipt_handle.clone();
        record.body = message.body.clone();
        record.md5_of_body = message.md5_of_body.clone();
        record.event_source = Some("aws:sqs".into());
        record.attributes = message
            .attributes
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        event.records.push(record);
    }
    // Like Lambda, which runs several batches of one queue at once: a slow batch (a
    // webhook receiver that hangs) does not hold up the next one.
    let (state, worker) = (state.clone(), worker.clone());
    tokio::spawn(async move {
        if let Err(err) = finish(&state, &worker, &messages, event).await {
            tracing::warn!(function = %worker.function, error = %err, "batch failed");
        }
    });
    Ok(())
}

/// Runs the worker on one batch and deletes the messages it did not report as failed.
async fn finish(
    state: &AppState,
    worker: &Worker,
    messages: &[aws_sdk_sqs::types::Message],
    event: SqsEvent,
) -> Result<(), String> {
    let response = invoke(state, &worker.function, event).await?;
    let done: Vec<DeleteMessageBatchRequestEntry> =
        done(messages, response, worker.report_failures)
            .into_iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
    if !done.is_empty() {
        state
            .sqs
            .client()
            .delete_message_batch()
            .queue_url(&worker.queue_url)
            .set_entries(Some(done))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    }
    Ok(())
}

/// The messages of a handled batch that are deleted: those not reported as failed, or
/// with `report_failures` off, all of them (Lambda then ignores what the handler said).
fn done(
    messages: &[aws_sdk_sqs::types::Message],
    response: SqsBatchResponse,
    report_failures: bool,
) -> Vec<&aws_sdk_sqs::types::Message> {
    let failed: HashSet<String> = if report_failures {
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    } else {
        HashSet::new()
    };
    messages
        .iter()
        .filter(|m| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
        .collect()
}

/// An EventBridge schedule, locally.
pub async fn every(state: AppState, schedule: Schedule) {
    let mut ticker = tokio::time::interval(Duration::from_secs(schedule.every_seconds.max(1)));
    loop {
        ticker.tick().await;
        match schedule.function.as_str() {
            "OutboxSweeperFunction" => {
                match outbox_sweeper::sweep(&state, outbox_sweeper::GRACE).await {
                    Ok(report) if report.relayed > 0 => {
                        tracing::info!(relayed = report.relayed, "outbox swept")
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "outbox sweep failed"),
                }
            }
            other => {
                tracing::error!(
                    function = other,
                    "no scheduled handler is wired for this function"
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::BatchItemFailure;
    use aws_sdk_sqs::types::Message;

    fn batch() -> Vec<Message> {
        ["m-1", "m-2", "m-3"]
            .map(|id| Message::builder().message_id(id).receipt_handle(id).build())
            .to_vec()
    }

    fn failing(ids: &[&str]) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for id in ids {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = (*id).to_owned();
            response.batch_item_failures.push(failure);
        }
        response
    }

    fn ids(done: Vec<&Message>) -> Vec<&str> {
        done.iter().filter_map(|m| m.message_id()).collect()
    }

    #[test]
    fn reported_failures_stay_on_the_queue_only_with_report_batch_item_failures() {
        let messages = batch();
        assert_eq!(
            ids(done(&messages, failing(&["m-2"]), true)),
            ["m-1", "m-3"]
        );
        assert_eq!(
            ids(done(&messages, failing(&[]), true)),
            ["m-1", "m-2", "m-3"]
        );
        // As in Lambda without the setting: the handler's report is ignored.
        assert_eq!(
            ids(done(&messages, failing(&["m-2"]), false)),
            ["m-1", "m-2", "m-3"]
        );
    }
}
