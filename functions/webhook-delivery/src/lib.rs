//! The deliveries-queue worker: sends each message to its endpoint, signed (Standard
//! Webhooks), and logs every attempt. A failed attempt is scheduled again on the retry
//! schedule by putting the next attempt on the queue — with a delay of at most 15 minutes
//! (SQS's limit) and, for longer waits, a `not_before` time that the worker honours by
//! putting the job back until then (hops of ≤ 15 minutes). 410 Gone disables the endpoint
//! at once; an endpoint whose every attempt failed for 5 days is disabled with a reason.
//!
//! The messages of a batch are delivered concurrently, so a receiver that hangs costs
//! only its own timeout. A message reaches an endpoint at most once: the `DELIVERED#`
//! record of (endpoint, message) is checked before sending and written with the success,
//! so a queue message seen twice does not send twice once one attempt succeeded.

pub mod sender;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use sender::{Answer, Sender};
use shared::ids::DeliveryId;
use shared::store::item::time;
use shared::store::keys::Key;
use shared::store::orgs::ACTIVE;
use shared::store::webhooks::Webhook;
use shared::store::{n, put, s, Item, ItemExt, StoreError};
use shared::webhooks::signature::signature_header;
use shared::webhooks::{DeliveryJob, RetrySchedule, WebhookUrl};
use shared::AppState;

/// How long delivery logs and delivered records are kept (TTL).
pub const LOG_RETENTION: Duration = Duration::days(30);
/// Failing this long without one delivered attempt disables an endpoint.
pub const FAILING_LIMIT: Duration = Duration::days(5);

pub struct Worker {
    sender: Sender,
    schedule: RetrySchedule,
    allow_private: bool,
}

/// What became of one job.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Delivered,
    /// Failed; the next attempt is on the queue (or the schedule is spent: `false`).
    Failed {
        retried: bool,
    },
    /// Not sent: the endpoint is gone or off, the org is gone, or it was delivered before.
    Dropped(&'static str),
    /// A long retry's hop: put back on the queue until its time.
    Waiting,
}

impl Worker {
    pub fn new(allow_private: bool, schedule: RetrySchedule) -> Result<Self, String> {
        Ok(Worker {
            sender: Sender::new(allow_private)?,
            schedule,
            allow_private,
        })
    }

    /// `WEBHOOK_RETRY_SCHEDULE` (or the Svix schedule) and the private-target switch of
    /// the configuration.
    pub fn from_env(state: &AppState) -> Result<Self, String> {
        let schedule = match std::env::var("WEBHOOK_RETRY_SCHEDULE") {
            Ok(text) if !text.trim().is_empty() => RetrySchedule::parse(&text)?,
            _ => RetrySchedule::default(),
        };
        Self::new(state.config.webhook_allow_private_targets, schedule)
    }

    /// The Lambda handler: every record concurrently; only records that could not be
    /// handled (the store or the queue failed) are reported, to come back.
    pub async fn handle(&self, state: &AppState, event: SqsEvent) -> SqsBatchResponse {
        let work = event.records.into_iter().map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            let job = record
                .body
                .as_deref()
                .and_then(|body| serde_json::from_str::<DeliveryJob>(body).ok());
            let Some(job) = job else {
                // Retrying cannot make it readable: drop it, loudly.
                tracing::error!(message_id = %id, "not a delivery job; dropped");
                return None;
            };
            match self.deliver(state, &job).await {
                Ok(done) => {
                    tracing::info!(message_id = %job.message_id, endpoint = %job.endpoint_id, attempt = job.attempt, ?done, "delivery");
                    None
                }
                Err(err) => {
                    tracing::warn!(message_id = %job.message_id, endpoint = %job.endpoint_id, error = %err, "delivery not handled; the queue retries it");
                    Some(id)
                }
            }
        });
        let mut response = SqsBatchResponse::default();
        for failed in futures_util::future::join_all(work)
            .await
            .into_iter()
            .flatten()
        {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = failed;
            response.batch_item_failures.push(failure);
        }
        response
    }

    /// One attempt of one job.
    pub async fn deliver(&self, state: &AppState, job: &DeliveryJob) -> Result<Done, StoreError> {
        let now = Utc::now();
        if let Some(at) = job.not_before.filter(|at| *at > now + Duration::seconds(1)) {
            job.enqueue(state, at - now).await?;
            return Ok(Done::Waiting);
        }
        let org_key = Key::org(&job.org_id);
        let endpoint_key = Key::webhook(&job.org_id, job.endpoint_id.as_str());
        let delivered_key = Key::delivered(&job.org_id, &job.idempotency_key());
        let items = state
            .table
            .get_many(&[org_key.clone(), endpoint_key.clone(), delivered_key.clone()])
            .await?;
        if items.get(&org_key).and_then(|o| o.opt_str("status")) != Some(ACTIVE) {
            return Ok(Done::Dropped("the organization is gone"));
        }
        let Some(endpoint) = items.get(&endpoint_key) else {
            return Ok(Done::Dropped("the endpoint was deleted"));
        };
        let endpoint = Webhook::from_item(endpoint)?;
        if !endpoint.enabled {
            return Ok(Done::Dropped("the endpoint is disabled"));
        }
        if items.contains_key(&delivered_key) {
            return Ok(Done::Dropped("delivered before"));
        }
        let started = std::time::Instant::now();
        let answer = self.send(state, &endpoint, job).await;
        let duration_ms = started.elapsed().as_millis() as i64;
        let mut attempt = Attempt {
            job,
            at: Utc::now(),
            duration_ms,
            answer: &answer,
            next_attempt_at: None,
        };
        if let Ok(reply) = &answer {
            if (200..300).contains(&reply.status) {
                let writes = vec![
                    put(
                        &state.table,
                        attempt.log_item("succeeded"),
                        "attribute_not_exists(pk)",
                    )?,
                    put(
                        &state.table,
                        delivered_item(&delivered_key, attempt.at),
                        "attribute_not_exists(pk)",
                    )?,
                ];
                match state.table.transact(writes).await {
                    // Another copy of this job got there first: it logged the success.
                    Err(StoreError::Cancelled(_)) => {
                        tracing::info!("delivered record already written")
                    }
                    // The queue brings the job back; the receiver sees the same webhook-id.
                    Err(other) => return Err(other),
                    Ok(()) => {}
                }
                if endpoint.failing_since.is_some() {
                    state
                        .table
                        .update_existing(&endpoint_key, "REMOVE failing_since", &[])
                        .await?;
                }
                return Ok(Done::Delivered);
            }
            if reply.status == 410 {
                disable(
                    state,
                    &endpoint_key,
                    "the endpoint answered 410 Gone",
                    attempt.at,
                )
                .await?;
                log(state, &attempt).await?;
                return Ok(Done::Failed { retried: false });
            }
        }
        let retry_after = answer
            .as_ref()
            .ok()
            .filter(|r| matches!(r.status, 429 | 503))
            .and_then(|r| r.retry_after);
        let next = self.schedule.delay_before(job.attempt + 1, retry_after);
        if let Some(delay) = next {
            attempt.next_attempt_at = Some(attempt.at + delay);
        }
        let failing_since = failing_since(state, &endpoint_key, attempt.at).await?;
        if attempt.at - failing_since >= FAILING_LIMIT {
            let reason = format!(
                "every delivery failed since {}",
                failing_since.format("%Y-%m-%d %H:%M UTC")
            );
            disable(state, &endpoint_key, &reason, attempt.at).await?;
            attempt.next_attempt_at = None;
        }
        log(state, &attempt).await?;
        match attempt.next_attempt_at {
            Some(at) => {
                job.next(at).enqueue(state, at - attempt.at).await?;
                Ok(Done::Failed { retried: true })
            }
            None => Ok(Done::Failed { retried: false }),
        }
    }

    /// Signs and sends; `Err` says why there was no answer.
    async fn send(
        &self,
        state: &AppState,
        endpoint: &Webhook,
        job: &DeliveryJob,
    ) -> Result<Answer, String> {
        // The URL's rules hold at every delivery, not only when it was saved.
        let url = WebhookUrl::parse(&endpoint.url, self.allow_private)
            .map_err(|refused| format!("target refused: {refused}"))?;
        let secrets = endpoint
            .signing_secrets(&state.secrets, Utc::now())
            .map_err(|e| e.to_string())?;
        let timestamp = Utc::now().timestamp();
        let signature = signature_header(
            &secrets.iter().collect::<Vec<_>>(),
            job.message_id.as_str(),
            timestamp,
            &job.payload,
        );
        let headers = [
            ("webhook-id", job.message_id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        self.sender
            .post(url.as_str(), &headers, job.payload.clone())
            .await
    }
}

/// One attempt, as the delivery log keeps it.
struct Attempt<'a> {
    job: &'a DeliveryJob,
    at: DateTime<Utc>,
    duration_ms: i64,
    answer: &'a Result<Answer, String>,
    next_attempt_at: Option<DateTime<Utc>>,
}

impl Attempt<'_> {
    fn log_item(&self, status: &str) -> Item {
        let id = DeliveryId::generate();
        let job = self.job;
        let mut item = Key::delivery(&job.org_id, job.endpoint_id.as_str(), id.as_str()).to_item();
        item.insert("delivery_id".into(), s(id.as_str()));
        item.insert("message_id".into(), s(job.message_id.as_str()));
        item.insert("event".into(), s(&job.event));
        item.insert("status".into(), s(status));
        item.insert("attempt".into(), n(job.attempt.into()));
        item.insert("duration_ms".into(), n(self.duration_ms));
        item.insert("payload".into(), s(&job.payload));
        match self.answer {
            Ok(reply) => {
                item.insert("response_status".into(), n(reply.status.into()));
                item.insert("response_body".into(), s(&reply.body));
            }
            Err(reason) => {
                item.insert("error".into(), s(reason));
            }
        }
        if let Some(next) = self.next_attempt_at {
            item.insert("next_attempt_at".into(), time(next));
        }
        item.insert("created_at".into(), time(self.at));
        item.insert("ttl".into(), n((self.at + LOG_RETENTION).timestamp()));
        item
    }
}

fn delivered_item(key: &Key, at: DateTime<Utc>) -> Item {
    let mut item = key.to_item();
    item.insert("delivered_at".into(), time(at));
    item.insert("ttl".into(), n((at + LOG_RETENTION).timestamp()));
    item
}

async fn log(state: &AppState, attempt: &Attempt<'_>) -> Result<(), StoreError> {
    let item = attempt.log_item("failed");
    state
        .table
        .transact(vec![put(&state.table, item, "attribute_not_exists(pk)")?])
        .await
}

/// Stops deliveries to the endpoint and says why (owners see it as `disabled_reason`).
/// `updated_at` moves, so a change of the endpoint read before this fails (409).
async fn disable(
    state: &AppState,
    key: &Key,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tracing::warn!(endpoint = %key.sk, reason, "webhook endpoint disabled");
    state
        .table
        .update_existing(
            key,
            "SET enabled = :off, disabled_reason = :why, updated_at = :now REMOVE failing_since",
            &[
                (":off", AttributeValue::Bool(false)),
                (":why", s(reason)),
                (":now", time(now)),
            ],
        )
        .await
        .map(|_| ())
}

/// When the endpoint's current run of failures began (this attempt, if it is the first).
async fn failing_since(
    state: &AppState,
    key: &Key,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    let item = state
        .table
        .update_existing(
            key,
            "SET failing_since = if_not_exists(failing_since, :now)",
            &[(":now", time(now))],
        )
        .await?;
    Ok(item
        .and_then(|i| i.time("failing_since").ok())
        .unwrap_or(now))
}
