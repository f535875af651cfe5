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
            static SCHEDULE: std::sync::OnceLock<Result<shared::domains::CheckSchedule, String>> =
                std::sync::OnceLock::new();
            let schedule = SCHEDULE
                .get_or_init(shared::domains::CheckSchedule::from_env)
                .as_ref()
                .map_err(Clone::clone)?;
            Ok(domain_check::handle(state, schedule, event).await)
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
        other => Err(format!("no worker handler is wired for {other}")),
    }
}

/// Receives batches forever, like a Lambda event source mapping with
/// `ReportBatchItemFailures`: messages not reported as failed are deleted; failed ones
/// become visible again after the visibility timeout (and reach the DLQ by redrive).
pub async fn poll(state: AppState, worker: Worker) {
    loop {
        if let Err(err) = poll_once(&state, &worker).await {
            tracing::warn!(function = %worker.function, error = %err, "queue poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn poll_once(state: &AppState, worker: &Worker) -> Result<(), String> {
    let received = state
        .sqs
        .client()
        .receive_message()
        .queue_url(&worker.queue_url)
        .max_number_of_messages(worker.batch_size.clamp(1, 10))
        // Short polls: the local emulator handles one request at a time (infra/emulator.py).
        .wait_time_seconds(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        tokio::time::sleep(IDLE_POLL).await;
        return Ok(());
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
    let failed: HashSet<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    let done: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
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
