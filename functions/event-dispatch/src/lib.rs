//! The events-queue worker: takes each committed outbox message and, once it is done,
//! removes it from the outbox. A webhook event is fanned out to the organization's
//! endpoints that subscribe to it — one delivery job per endpoint on the deliveries
//! queue; a platform host name is written to the platform zone (`platform_zone`); an
//! export job is passed on to the exports queue, an organization to delete to the
//! deletions queue, a custom domain's edge to release to the domain-checks queue, and an
//! e-mail to the mail queue.
//!
//! At-least-once: a redelivered event produces the same jobs again (same message id,
//! same endpoint id), which the delivery worker deduplicates by that pair
//! (`DeliveryJob::idempotency_key`). A message that
//! cannot be processed is reported in `batchItemFailures`, so only it is retried (and,
//! after the queue's `maxReceiveCount`, moved to the DLQ).

pub use shared::platform_zone::PlatformZone;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::events::Event;
use shared::ids::WebhookId;
use shared::outbox::Outboxed;
use shared::sqs_batch::each_record;
use shared::store::keys::{org_partition, WEBHOOK_PREFIX};
use shared::store::orgs::ACTIVE;
use shared::store::{Item, ItemExt, Key, StoreError};
use shared::AppState;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("the message is not an outbox message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Route53(#[from] shared::platform_zone::Route53Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sending to a queue: {0}")]
    Queue(#[from] shared::aws::AwsError),
}

use shared::webhooks::DeliveryJob;

fn subscribes(endpoint: &Item, event: &Event) -> bool {
    let events = endpoint.get("events").and_then(|v| v.as_ss().ok());
    endpoint.flag("enabled")
        && events.is_some_and(|names| names.iter().any(|n| n == event.event.name()))
}

/// Does what the message asks, then takes it off the outbox; returns the delivery jobs
/// it enqueued.
pub async fn dispatch(
    state: &AppState,
    zone: &PlatformZone,
    body: &str,
) -> Result<usize, DispatchError> {
    let message: Outboxed =
        serde_json::from_str(body).map_err(|e| DispatchError::Malformed(e.to_string()))?;
    let jobs = match &message {
        Outboxed::Event(event) => fan_out(state, event).await?,
        Outboxed::Hostname(record) => {
            // Not for an org deleted meanwhile: its deletion removes the record.
            let org = state.table.get(&Key::org(&record.organization_id)).await?;
            if org.is_some_and(|o| o.opt_str("status") == Some(ACTIVE)) {
                zone.write(&record.hostname).await?;
            }
            0
        }
        Outboxed::Export(job) => pass_on(state, &state.config.exports_queue_url, job).await?,
        Outboxed::Deletion(deletion) => {
            pass_on(state, &state.config.org_deletions_queue_url, deletion).await?
        }
        Outboxed::DomainRelease(release) => {
            pass_on(state, &state.config.domain_checks_queue_url, release).await?
        }
        Outboxed::Mail(mail) => pass_on(state, &state.config.mail_queue_url, mail).await?,
    };
    state
        .table
        .client()
        .delete_item()
        .table_name(state.table.name())
        .set_key(Some(message.outbox_key().to_item()))
        .send()
        .await
        .map_err(StoreError::from)?;
    Ok(jobs)
}

/// Passes a job on to the queue of the worker that does it (no delivery jobs of its own).
async fn pass_on<T: serde::Serialize>(
    state: &AppState,
    queue: &str,
    job: &T,
) -> Result<usize, DispatchError> {
    state
        .sqs
        .send_after(queue, job, chrono::Duration::zero())
        .await?;
    Ok(0)
}

async fn fan_out(state: &AppState, event: &Event) -> Result<usize, DispatchError> {
    let pk = org_partition(&event.organization_id);
    let endpoints = state.table.query_all(&pk, WEBHOOK_PREFIX).await?;
    let mut jobs = 0;
    for endpoint in endpoints.iter().filter(|e| subscribes(e, event)) {
        let endpoint_id = WebhookId::parse(endpoint.str("webhook_id")?)
            .ok_or_else(|| StoreError::Corrupt("webhook_id".into()))?;
        DeliveryJob::of_event(event, &endpoint_id)
            .enqueue(state, chrono::Duration::zero())
            .await?;
        jobs += 1;
    }
    Ok(jobs)
}

/// The Lambda handler: every record is processed; only the failed ones are reported.
pub async fn handle(state: &AppState, zone: &PlatformZone, event: SqsEvent) -> SqsBatchResponse {
    each_record(event, 1, |record| async move {
        match record.body.as_deref() {
            Some(body) => dispatch(state, zone, body).await,
            None => Err(DispatchError::Malformed("empty body".into())),
        }
    })
    .await
}
