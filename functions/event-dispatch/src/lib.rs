//! The events-queue worker: fans each committed event out to the organization's webhook
//! endpoints that subscribe to it — one delivery job per endpoint on the deliveries
//! queue — then removes the event from the outbox.
//!
//! At-least-once: a redelivered event produces the same jobs again (same message id,
//! same endpoint id), which the delivery worker deduplicates by that pair
//! (`DeliveryJob::idempotency_key`). A message that
//! cannot be processed is reported in `batchItemFailures`, so only it is retried (and,
//! after the queue's `maxReceiveCount`, moved to the DLQ).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use shared::events::Event;
use shared::ids::WebhookId;
use shared::store::keys::WEBHOOK_PREFIX;
use shared::store::{Item, ItemExt, StoreError};
use shared::AppState;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the message is not an event: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

use shared::webhooks::DeliveryJob;

fn subscribes(endpoint: &Item, event: &Event) -> bool {
    let events = endpoint.get("events").and_then(|v| v.as_ss().ok());
    endpoint.flag("enabled")
        && events.is_some_and(|names| names.iter().any(|n| n == event.event.name()))
}

pub async fn dispatch(state: &AppState, body: &str) -> Result<usize, DispatchError> {
    let event: Event =
        serde_json::from_str(body).map_err(|e| DispatchError::Malformed(e.to_string()))?;
    let outbox = event.outbox_key();
    let endpoints = state.table.query_all(&outbox.pk, WEBHOOK_PREFIX).await?;
    let mut jobs = 0;
    for endpoint in endpoints.iter().filter(|e| subscribes(e, &event)) {
        let endpoint_id = WebhookId::parse(endpoint.str("webhook_id")?)
            .ok_or_else(|| StoreError::Corrupt("webhook_id".into()))?;
        DeliveryJob::of_event(&event, &endpoint_id)
            .enqueue(state, chrono::Duration::zero())
            .await?;
        jobs += 1;
    }
    state
        .table
        .client()
        .delete_item()
        .table_name(state.table.name())
        .set_key(Some(outbox.to_item()))
        .send()
        .await
        .map_err(StoreError::from)?;
    Ok(jobs)
}

/// The Lambda handler: every record is processed; only the failed ones are reported.
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let result = match record.body.as_deref() {
            Some(body) => dispatch(state, body).await,
            None => Err(DispatchError::Malformed("empty body".into())),
        };
        match result {
            Ok(jobs) => tracing::info!(message_id = %id, jobs, "event fanned out"),
            Err(err) => {
                tracing::warn!(message_id = %id, error = %err, "event not dispatched");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
