//! The deliveries-queue worker: sends each message to its endpoint, signed (Standard
//! Webhooks), and logs every attempt. A failed attempt is scheduled again on the retry
//! schedule by putting the next attempt on the queue — with a delay of at most 15 minutes
//! (SQS's limit) and, for longer waits, a `not_before` time that the worker honours by
//! putting the job back until then (hops of ≤ 15 minutes). 410 Gone disables the endpoint
//! at once; an endpoint whose every attempt failed for 5 days is disabled with a reason.
//!
//! The messages of a batch are delivered concurrently, so a receiver that hangs costs
//! only its own timeout; the batch reads what it needs in one `BatchGetItem` and commits
//! its successes in one transaction. A message reaches an endpoint at most once: the
//! `DELIVERED#` record of (endpoint, message) is checked before sending and written with
//! the success, so a queue message seen twice does not send twice once one attempt
//! succeeded.

pub mod sender;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use sender::{Answer, Sender};
use shared::ids::DeliveryId;
use shared::sqs_batch::failures;
use shared::store::item::time;
use shared::store::keys::Key;
use shared::store::orgs::ACTIVE;
use shared::store::{n, put, s, Item, ItemExt, StoreError};
use shared::webhooks::delivery_log::{LoggedDelivery, FAILED, LOG_RETENTION, SUCCEEDED};
use shared::webhooks::endpoint::Webhook;
use shared::webhooks::signature::signature_header;
use shared::webhooks::{DeliveryJob, RetrySchedule, WebhookUrl};
use shared::AppState;
use std::collections::HashMap;

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

    /// The Lambda handler. The batch costs one read of every endpoint, org and delivered
    /// record it needs, concurrent sends, and one commit of its successes; only records
    /// that could not be handled (the store or the queue failed) are reported, to come back.
    pub async fn handle(&self, state: &AppState, event: SqsEvent) -> SqsBatchResponse {
        let mut jobs = Vec::with_capacity(event.records.len());
        let mut seen = std::collections::HashSet::new();
        for record in event.records {
            let id = record.message_id.unwrap_or_default();
            let job = record
                .body
                .as_deref()
                .and_then(|body| serde_json::from_str::<DeliveryJob>(body).ok());
            match job {
                // Retrying cannot make it readable: drop it, loudly.
                None => tracing::error!(message_id = %id, "not a delivery job; dropped"),
                // SQS may hand the same message over twice, even in one batch.
                Some(job) if !seen.insert(job.idempotency_key()) => {
                    tracing::info!(message_id = %job.message_id, "the same job twice in a batch; one is sent")
                }
                Some(job) => jobs.push((id, job)),
            }
        }
        let done = self
            .deliver_batch(state, jobs.iter().map(|(_, job)| job))
            .await;
        failures(jobs.iter().zip(done).filter_map(|((id, job), done)| match done {
            Ok(done) => {
                tracing::info!(message_id = %job.message_id, endpoint = %job.endpoint_id, attempt = job.attempt, ?done, "delivery");
                None
            }
            Err(err) => {
                tracing::warn!(message_id = %job.message_id, endpoint = %job.endpoint_id, error = %err, "delivery not handled; the queue retries it");
                Some(id.clone())
            }
        }))
    }

    /// One attempt of each job (distinct jobs), in their order.
    async fn deliver_batch<'j>(
        &self,
        state: &AppState,
        jobs: impl Iterator<Item = &'j DeliveryJob>,
    ) -> Vec<Result<Done, StoreError>> {
        let now = Utc::now();
        let mut results: Vec<Option<Result<Done, StoreError>>> = Vec::new();
        let mut due = Vec::new();
        for job in jobs {
            match job.not_before.filter(|at| *at > now + Duration::seconds(1)) {
                Some(at) => results.push(Some(
                    job.enqueue(state, at - now).await.map(|()| Done::Waiting),
                )),
                None => {
                    due.push((results.len(), job));
                    results.push(None);
                }
            }
        }
        let keys: Vec<Key> = due
            .iter()
            .flat_map(|(_, job)| JobKeys::of(job).all())
            .collect();
        let items = match state.table.get_many(&keys).await {
            Ok(items) => items,
            Err(err) => {
                let reason = err.to_string();
                return results
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(StoreError::Aws(reason.clone()))))
                    .collect();
            }
        };
        let steps = futures_util::future::join_all(
            due.iter().map(|(_, job)| self.attempt(state, job, &items)),
        )
        .await;
        let mut succeeded = Vec::new();
        for ((at, _), step) in due.iter().zip(steps) {
            match step {
                Ok(Step::Finished(done)) => results[*at] = Some(Ok(done)),
                Ok(Step::Succeeded(success)) => succeeded.push((*at, success)),
                Err(err) => results[*at] = Some(Err(err)),
            }
        }
        for (at, committed) in commit(state, succeeded).await {
            results[at] = Some(committed.map(|()| Done::Delivered));
        }
        results
            .into_iter()
            .map(|r| r.expect("every job has an outcome"))
            .collect()
    }

    /// Sends one due job, unless what the batch read says not to. A failed attempt is
    /// logged and scheduled here; a success is left to the batch's commit.
    async fn attempt(
        &self,
        state: &AppState,
        job: &DeliveryJob,
        items: &HashMap<Key, Item>,
    ) -> Result<Step, StoreError> {
        let keys = JobKeys::of(job);
        if items.get(&keys.org).and_then(|o| o.opt_str("status")) != Some(ACTIVE) {
            return Ok(Step::Finished(Done::Dropped("the organization is gone")));
        }
        let Some(endpoint) = items.get(&keys.endpoint) else {
            return Ok(Step::Finished(Done::Dropped("the endpoint was deleted")));
        };
        let endpoint = Webhook::from_item(endpoint)?;
        if !endpoint.enabled {
            return Ok(Step::Finished(Done::Dropped("the endpoint is disabled")));
        }
        if items.contains_key(&keys.delivered) {
            return Ok(Step::Finished(Done::Dropped("delivered before")));
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
                return Ok(Step::Succeeded(Success {
                    log: attempt.log_item(SUCCEEDED),
                    delivered: delivered_item(&keys.delivered, attempt.at),
                    endpoint: endpoint.failing_since.is_some().then_some(keys.endpoint),
                }));
            }
            if reply.status == 410 {
                disable(
                    state,
                    &keys.endpoint,
                    "the endpoint answered 410 Gone",
                    attempt.at,
                )
                .await?;
                log(state, &attempt).await?;
                return Ok(Step::Finished(Done::Failed { retried: false }));
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
        let failing_since = failing_since(state, &keys.endpoint, attempt.at).await?;
        if attempt.at - failing_since >= FAILING_LIMIT {
            let reason = format!(
                "every delivery failed since {}",
                failing_since.format("%Y-%m-%d %H:%M UTC")
            );
            disable(state, &keys.endpoint, &reason, attempt.at).await?;
            attempt.next_attempt_at = None;
        }
        log(state, &attempt).await?;
        Ok(Step::Finished(match attempt.next_attempt_at {
            Some(at) => {
                job.next(at).enqueue(state, at - attempt.at).await?;
                Done::Failed { retried: true }
            }
            None => Done::Failed { retried: false },
        }))
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
        let keys = state.keys().await.map_err(|e| e.to_string())?;
        let secrets = endpoint
            .signing_secrets(&keys.secrets, Utc::now())
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
        let job = self.job;
        let answer = self.answer.as_ref();
        LoggedDelivery {
            id: DeliveryId::generate(),
            message_id: job.message_id.clone(),
            event: job.event.clone(),
            status: status.to_owned(),
            attempt: job.attempt.into(),
            duration_ms: self.duration_ms,
            payload: job.payload.clone(),
            response_status: answer.ok().map(|reply| reply.status.into()),
            response_body: answer.ok().map(|reply| reply.body.clone()),
            error: answer.err().cloned(),
            next_attempt_at: self.next_attempt_at,
            created_at: self.at,
        }
        .item(&job.org_id, &job.endpoint_id)
    }
}

/// The items one job's delivery reads.
struct JobKeys {
    org: Key,
    endpoint: Key,
    delivered: Key,
}

impl JobKeys {
    fn of(job: &DeliveryJob) -> Self {
        JobKeys {
            org: Key::org(&job.org_id),
            endpoint: Key::webhook(&job.org_id, job.endpoint_id.as_str()),
            delivered: Key::delivered(&job.org_id, &job.idempotency_key()),
        }
    }

    fn all(self) -> [Key; 3] {
        [self.org, self.endpoint, self.delivered]
    }
}

/// Where one job stands after its attempt.
enum Step {
    Finished(Done),
    /// Answered 2xx: its log and delivered record are committed with the batch's others.
    Succeeded(Success),
}

struct Success {
    log: Item,
    delivered: Item,
    /// The endpoint, when this success ends its run of failures.
    endpoint: Option<Key>,
}

/// The most successes one transaction commits (two items each, of DynamoDB's 100).
const COMMIT_MAX: usize = 50;

/// Writes the successes' logs and delivered records: one transaction for the lot, each
/// delivered record conditioned on not existing. When another copy of a job got there
/// first the lot is cancelled, and each success is committed on its own — the one that
/// lost has nothing to write (the other copy logged the success). An error leaves the
/// job to the queue, and the receiver sees the same `webhook-id` again.
async fn commit(
    state: &AppState,
    succeeded: Vec<(usize, Success)>,
) -> Vec<(usize, Result<(), StoreError>)> {
    let mut outcomes = Vec::with_capacity(succeeded.len());
    let mut succeeded = succeeded.into_iter().peekable();
    while succeeded.peek().is_some() {
        let lot: Vec<(usize, Success)> = succeeded.by_ref().take(COMMIT_MAX).collect();
        if let Some(pk) = lot[0].1.log.get("pk").and_then(|pk| pk.as_s().ok()) {
            shared::test_pause("webhook.delivered", pk).await;
        }
        let writes = |lot: &[(usize, Success)]| -> Result<Vec<_>, StoreError> {
            lot.iter()
                .flat_map(|(_, s)| [s.log.clone(), s.delivered.clone()])
                .map(|item| put(&state.table, item, "attribute_not_exists(pk)"))
                .collect()
        };
        let together = match writes(&lot) {
            Ok(writes) => state.table.transact(writes).await,
            Err(err) => Err(err),
        };
        let results: Vec<Result<(), StoreError>> = match together {
            Ok(()) => lot.iter().map(|_| Ok(())).collect(),
            Err(StoreError::Cancelled(_)) if lot.len() > 1 => {
                let mut each = Vec::with_capacity(lot.len());
                for one in lot.chunks(1) {
                    each.push(alone(state, writes(one)).await);
                }
                each
            }
            Err(StoreError::Cancelled(_)) => vec![Ok(())],
            Err(other) => {
                let reason = other.to_string();
                lot.iter()
                    .map(|_| Err(StoreError::Aws(reason.clone())))
                    .collect()
            }
        };
        let mut ended: Vec<&Key> = Vec::new();
        for ((at, success), result) in lot.iter().zip(results) {
            let result = match (result, &success.endpoint) {
                (Ok(()), Some(endpoint)) if !ended.contains(&endpoint) => {
                    ended.push(endpoint);
                    state
                        .table
                        .update_existing(endpoint, "REMOVE failing_since", &[])
                        .await
                        .map(|_| ())
                }
                (result, _) => result,
            };
            outcomes.push((*at, result));
        }
    }
    outcomes
}

/// One success's writes in a transaction of their own; cancelled means another copy of
/// the job logged it first.
async fn alone(
    state: &AppState,
    writes: Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError>,
) -> Result<(), StoreError> {
    match state.table.transact(writes?).await {
        Err(StoreError::Cancelled(_)) => {
            tracing::info!("delivered record already written");
            Ok(())
        }
        other => other,
    }
}

fn delivered_item(key: &Key, at: DateTime<Utc>) -> Item {
    let mut item = key.to_item();
    item.insert("delivered_at".into(), time(at));
    item.insert("ttl".into(), n((at + LOG_RETENTION).timestamp()));
    item
}

async fn log(state: &AppState, attempt: &Attempt<'_>) -> Result<(), StoreError> {
    let item = attempt.log_item(FAILED);
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
