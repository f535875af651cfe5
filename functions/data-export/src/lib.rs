//! The export worker (an SQS-triggered Lambda, one job per message): claims the job,
//! streams each category from DynamoDB page by page into a multipart upload to S3 (JSON,
//! or CSV files in a zip: `document`), then ends the job `ready` with the org's count of
//! running exports lowered in the same transaction.
//!
//! Idempotent and resumable: a job that is no longer pending or running is left alone
//! (a redelivered message writes nothing and cannot turn a ready job back); a run that
//! dies mid-way leaves the job `running`, and the redelivered message starts it over into
//! the same object key, so there is never a second object. Each run takes the next
//! attempt number in a conditional write, and only the run holding the current number
//! may end the job. After `MAX_ATTEMPTS` runs the job is ended `failed`, with the reason.

mod document;
mod rows;
mod upload;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{SecondsFormat, Utc};
use document::Document;
use rows::Source;
use serde_json::json;
use shared::audit_log::Filters;
use shared::exports::{ExportJob, ExportMessage, Format, Status, ACTIVE_EXPORTS, MAX_ATTEMPTS};
use shared::sqs_batch::each_record;
use shared::store::item::time;
use shared::store::orgs::Org;
use shared::store::{n, s, update_with, Cond, Key, StoreError};
use shared::AppState;
use upload::Upload;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the message is not an export job: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3: {0}")]
    S3(String),
    #[error("writing the file: {0}")]
    Write(String),
    #[error("the audit-log filters are not valid: {0}")]
    Filters(String),
    /// The one-shot test fault `export-dies.<org id>`: the run stops after its first page
    /// as if the process had died (nothing cleaned up, the job left `running`). (The
    /// switch `export-fails.<org id>` instead fails every run, as a refusing S3 would.)
    #[error("the run died (test switch)")]
    Died,
}

/// What became of one message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Ready {
        size: i64,
    },
    Failed,
    /// Nothing to do: the job is gone, ended, or another run holds it.
    Skipped,
}

pub struct Worker {
    s3: aws_sdk_s3::Client,
}

impl Worker {
    pub fn new(state: &AppState) -> Self {
        Worker {
            s3: shared::aws::s3_client(&state.sdk),
        }
    }

    /// The Lambda handler: a record that fails (to be retried) is reported.
    pub async fn handle(&self, state: &AppState, event: SqsEvent) -> SqsBatchResponse {
        each_record(
            event,
            1,
            |record| async move { self.take(state, &record).await },
        )
        .await
    }

    async fn take(&self, state: &AppState, record: &SqsMessage) -> Result<Outcome, ExportError> {
        let message: ExportMessage = serde_json::from_str(record.body.as_deref().unwrap_or(""))
            .map_err(|e| ExportError::Malformed(e.to_string()))?;
        // Deliveries of this message so far, this one included.
        let deliveries: i64 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        self.run(state, &message, deliveries).await
    }

    pub async fn run(
        &self,
        state: &AppState,
        message: &ExportMessage,
        deliveries: i64,
    ) -> Result<Outcome, ExportError> {
        let job_key = ExportJob::key(&message.organization_id, &message.export_id);
        let org_key = Key::org(&message.organization_id);
        let mut found = state
            .table
            .get_many(&[job_key.clone(), org_key.clone()])
            .await?;
        let (Some(job_item), Some(org_item)) = (found.remove(&job_key), found.remove(&org_key))
        else {
            return Ok(Outcome::Skipped);
        };
        let job = ExportJob::from_item(&job_item)?;
        let Some(org) = Org::from_item(&org_item)? else {
            return Ok(Outcome::Skipped); // being deleted: the deletion removes the job
        };
        if !job.status.is_active() {
            return Ok(Outcome::Skipped);
        }
        if deliveries > MAX_ATTEMPTS {
            let reason = format!("the export did not complete in {MAX_ATTEMPTS} attempts");
            return end(state, &job, job.attempt, Err(reason)).await;
        }
        let Some(attempt) = claim(state, &job).await? else {
            return Ok(Outcome::Skipped);
        };
        let mut upload = Upload::start(
            &self.s3,
            &state.config.export_bucket,
            &job.object_key(),
            match job.format {
                Format::Json => "application/json",
                Format::Csv => "application/zip",
            },
        )
        .await?;
        match write(state, &job, &org, &mut upload).await {
            Ok(()) => {
                let size = upload.complete().await?;
                let outcome = end(state, &job, attempt, Ok(size)).await?;
                if outcome == Outcome::Skipped && state.table.get(&job_key).await?.is_none() {
                    // The org was deleted while this run wrote: its file goes too.
                    self.remove_object(state, &job).await?;
                }
                Ok(outcome)
            }
            Err(ExportError::Died) => Err(ExportError::Died),
            Err(err) if attempt >= MAX_ATTEMPTS => {
                upload.abort().await;
                end(state, &job, attempt, Err(err.to_string())).await
            }
            Err(err) => {
                upload.abort().await;
                Err(err)
            }
        }
    }
}

impl Worker {
    async fn remove_object(&self, state: &AppState, job: &ExportJob) -> Result<(), ExportError> {
        self.s3
            .delete_object()
            .bucket(&state.config.export_bucket)
            .key(job.object_key())
            .send()
            .await
            .map_err(|e| ExportError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

/// Takes the next attempt number, on the condition that the job is still active and no
/// other run took one meanwhile; `None` if that no longer holds.
async fn claim(state: &AppState, job: &ExportJob) -> Result<Option<i64>, StoreError> {
    let attempt = job.attempt + 1;
    let key = ExportJob::key(&job.org_id, &job.id);
    let claimed = state
        .table
        .client()
        .update_item()
        .table_name(state.table.name())
        .set_key(Some(key.to_item()))
        .update_expression("SET #status = :running, attempt = :next, started_at = :now")
        .condition_expression("(#status = :pending OR #status = :running) AND attempt = :read")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":running", s(Status::Running.as_str()))
        .expression_attribute_values(":pending", s(Status::Pending.as_str()))
        .expression_attribute_values(":next", n(attempt))
        .expression_attribute_values(":read", n(job.attempt))
        .expression_attribute_values(":now", time(Utc::now()))
        .send()
        .await;
    match claimed {
        Ok(_) => Ok(Some(attempt)),
        Err(aws_sdk_dynamodb::error::SdkError::ServiceError(err))
            if err.err().is_conditional_check_failed_exception() =>
        {
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

/// Every category, page by page; full parts go up between pages.
async fn write(
    state: &AppState,
    job: &ExportJob,
    org: &Org,
    upload: &mut Upload<'_>,
) -> Result<(), ExportError> {
    let generated_at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut document = match job.format {
        Format::Json => Document::json(
            upload.buffer.clone(),
            &json!({ "id": org.id, "name": org.name, "slug": org.slug }),
            &generated_at,
        )?,
        Format::Csv => Document::csv(upload.buffer.clone()),
    };
    let filters = match &job.filters {
        Some(filters) => filters
            .parse()
            .map_err(|e| ExportError::Filters(e.to_string()))?,
        None => Filters::default(),
    };
    let owner_pk = Key::org(&job.org_id).pk;
    for &category in &job.include {
        document.begin(category)?;
        let mut source = Source::new(state, &owner_pk, category, filters.clone());
        while let Some(page) = source.next_page().await? {
            for item in &page {
                document.row(&rows::row(category, item)?)?;
            }
            upload.send_full_parts().await?;
            if shared::test_fault_once(&format!("export-dies.{}", job.org_id)) {
                return Err(ExportError::Died);
            }
            if shared::test_switch(&format!("export-fails.{}", job.org_id)) {
                return Err(ExportError::S3(
                    "the upload was refused (test switch)".into(),
                ));
            }
        }
        document.end()?;
    }
    document.finish()
}

/// Ends the job — `ready` with the object's size, or `failed` with the reason — and
/// lowers the org's count of running exports, in one transaction that holds only while
/// the job is still the run's (`attempt`) and still active.
async fn end(
    state: &AppState,
    job: &ExportJob,
    attempt: i64,
    result: Result<i64, String>,
) -> Result<Outcome, ExportError> {
    let now = time(Utc::now());
    let (expression, mut cond, outcome) = match &result {
        Ok(size) => (
            "SET #status = :end, completed_at = :now, size_bytes = :size",
            Cond::new("(#status = :pending OR #status = :running) AND attempt = :attempt")
                .value(":size", n(*size)),
            Outcome::Ready { size: *size },
        ),
        Err(reason) => (
            "SET #status = :end, completed_at = :now, #error = :error",
            Cond::new("(#status = :pending OR #status = :running) AND attempt = :attempt")
                .name("#error", "error")
                .value(":error", s(reason)),
            Outcome::Failed,
        ),
    };
    let end_status = if result.is_ok() {
        Status::Ready
    } else {
        Status::Failed
    };
    cond = cond
        .name("#status", "status")
        .value(":end", s(end_status.as_str()))
        .value(":now", now)
        .value(":pending", s(Status::Pending.as_str()))
        .value(":running", s(Status::Running.as_str()))
        .value(":attempt", n(attempt));
    let job_key = ExportJob::key(&job.org_id, &job.id);
    let org_count = Cond::new("#active > :zero")
        .name("#active", ACTIVE_EXPORTS)
        .value(":zero", n(0))
        .value(":one", n(1));
    let writes = vec![
        update_with(&state.table, &job_key, expression, &cond)?,
        update_with(
            &state.table,
            &Key::org(&job.org_id),
            "SET #active = #active - :one",
            &org_count,
        )?,
    ];
    shared::test_pause("export.ended", &job_key.pk).await;
    match state.table.transact(writes).await {
        Ok(()) => Ok(outcome),
        // Another run ended it, or took it over: that run's word stands.
        Err(StoreError::Cancelled(reasons))
            if reasons
                .first()
                .is_some_and(|r| r == "ConditionalCheckFailed") =>
        {
            Ok(Outcome::Skipped)
        }
        Err(other) => Err(other.into()),
    }
}
