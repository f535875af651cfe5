//! The deletion worker (an SQS-triggered Lambda, one organization per message): removes
//! everything of an org that is `deleting` — its partition page by page (`sweep`), the
//! global items that point into it, its export files in S3 and its host name in Route53
//! — keeps its billing records with a TTL, and ends with one transaction that writes the
//! tombstone, removes the org item and frees the slug, so the slug is free only once
//! everything else is gone.
//!
//! Idempotent and resumable: every step deletes what is still there, so a run that dies
//! anywhere is finished by the redelivered message, and a message for an org that is
//! already a tombstone (or was never marked `deleting`) changes nothing.

mod sweep;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use shared::exports::object_prefix;
use shared::ids::OrgId;
use shared::org_deletion::{retention_ttl, tombstone_item, OrgDeletion};
use shared::platform_hostname::api_hostname;
use shared::platform_zone::{PlatformZone, Route53Error};
use shared::sqs_batch::each_record;
use shared::store::orgs::DELETING;
use shared::store::{delete_if, put, s, Cond, ItemExt, Key, StoreError};
use shared::AppState;

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("the message is not an organization deletion: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3: {0}")]
    S3(String),
    #[error(transparent)]
    Route53(#[from] Route53Error),
    #[error("items keep appearing in the organization's partition after {0} sweeps")]
    StillWritten(usize),
    /// The one-shot test fault `deletion-dies.<org id>`: the run stops after its first
    /// batch as if the process had died.
    #[error("the run died (test switch)")]
    Died,
}

/// What became of one message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Everything is gone; `items` were removed (or given their TTL) by this run.
    Deleted { items: usize },
    /// The org is a tombstone already: a redelivered message.
    AlreadyDeleted,
    /// No such org, or one that is not being deleted: nothing is touched.
    Skipped,
}

/// Sweeps of the partition before giving up for this delivery: writes that were under
/// way when the org was marked (a usage count, a delivery log) can land after a sweep.
const MAX_SWEEPS: usize = 5;

pub struct Worker {
    s3: aws_sdk_s3::Client,
    zone: PlatformZone,
}

impl Worker {
    pub fn new(state: &AppState) -> Self {
        Worker {
            s3: shared::aws::s3_client(&state.sdk),
            zone: PlatformZone::new(state),
        }
    }

    /// The Lambda handler: a record that fails (to be retried) is reported.
    pub async fn handle(&self, state: &AppState, event: SqsEvent) -> SqsBatchResponse {
        each_record(event, 1, |record| async move {
            match serde_json::from_str::<OrgDeletion>(record.body.as_deref().unwrap_or("")) {
                Ok(message) => self.run(state, &message).await,
                Err(err) => Err(DeletionError::Malformed(err.to_string())),
            }
        })
        .await
    }

    pub async fn run(
        &self,
        state: &AppState,
        message: &OrgDeletion,
    ) -> Result<Outcome, DeletionError> {
        let org_id = &message.organization_id;
        let Some(org) = state.table.get(&Key::org(org_id)).await? else {
            let tombstone = state.table.get(&Key::tombstone(org_id)).await?;
            return Ok(match tombstone {
                Some(_) => Outcome::AlreadyDeleted,
                None => Outcome::Skipped,
            });
        };
        if org.opt_str("status") != Some(DELETING) {
            return Ok(Outcome::Skipped);
        }
        let slug = org.str("slug")?.to_owned();
        let deleted_at = org.time("deleted_at")?;
        let ttl = retention_ttl(deleted_at, state.config.billing_retention_days);

        let deleting = sweep::Deleting {
            org: org_id,
            slug: &slug,
            name: org.str("name")?,
            deleted_at,
            ttl,
        };
        let mut items = 0;
        let mut sweeps = 0;
        loop {
            let changed = sweep::sweep(state, &deleting).await?;
            items += changed;
            sweeps += 1;
            if changed == 0 {
                break;
            }
            if sweeps == MAX_SWEEPS {
                return Err(DeletionError::StillWritten(sweeps));
            }
        }
        state
            .table
            .client()
            .delete_item()
            .table_name(state.table.name())
            .set_key(Some(Key::api_key_failures(org_id).to_item()))
            .send()
            .await
            .map_err(StoreError::from)?;
        items += self.remove_export_files(state, org_id).await?;
        self.zone
            .remove(&api_hostname(&slug, &state.config))
            .await?;

        // Last: the tombstone, the org item and the slug, together.
        let tombstone = tombstone_item(
            org_id,
            &slug,
            org.str("name")?,
            deleted_at,
            org.str("deleted_by")?,
            ttl,
        );
        let this_org = Cond::new("attribute_not_exists(pk) OR org_id = :org")
            .value(":org", s(org_id.as_str()));
        let deleting = Cond::new("#status = :deleting")
            .name("#status", "status")
            .value(":deleting", s(DELETING));
        let writes = vec![
            put(&state.table, tombstone, "attribute_not_exists(pk)")?,
            delete_if(&state.table, &Key::org(org_id), &deleting)?,
            delete_if(&state.table, &Key::slug(&slug), &this_org)?,
        ];
        match state.table.transact(writes).await {
            Ok(()) => Ok(Outcome::Deleted { items }),
            // A run racing this one finished first.
            Err(StoreError::Cancelled(reasons))
                if reasons
                    .first()
                    .is_some_and(|r| r == "ConditionalCheckFailed") =>
            {
                Ok(Outcome::AlreadyDeleted)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The org's export files, and any upload left unfinished; returns how many.
    async fn remove_export_files(
        &self,
        state: &AppState,
        org: &OrgId,
    ) -> Result<usize, DeletionError> {
        let bucket = &state.config.export_bucket;
        let prefix = object_prefix(org);
        let mut removed = 0;
        loop {
            let listed = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .send()
                .await
                .map_err(s3)?;
            let objects = listed
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|key| ObjectIdentifier::builder().key(key).build().map_err(s3))
                .collect::<Result<Vec<_>, _>>()?;
            if objects.is_empty() {
                break;
            }
            removed += objects.len();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(s3)?;
            let out = self
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(s3)?;
            if let Some(error) = out.errors().first() {
                return Err(DeletionError::S3(format!(
                    "{}: {}",
                    error.key().unwrap_or_default(),
                    error.message().unwrap_or_default()
                )));
            }
        }
        let uploads = self
            .s3
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(&prefix)
            .send()
            .await
            .map_err(s3)?;
        for upload in uploads.uploads() {
            let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            self.s3
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(id)
                .send()
                .await
                .map_err(s3)?;
            removed += 1;
        }
        Ok(removed)
    }
}

fn s3(err: impl std::error::Error) -> DeletionError {
    DeletionError::S3(aws_sdk_s3::error::DisplayErrorContext(err).to_string())
}
