//! Data exports: the job an owner or admin starts (`POST …/exports`, or the audit log's
//! `POST …/audit-logs/export`), the message that takes it to the export worker, and the
//! S3 object it becomes.
//!
//! A job is `pending` until the worker claims it (`running`, with an attempt number),
//! then `ready` (the object exists) or `failed` (`error` says why); a ready job reads
//! `expired` once the bucket's lifecycle has deleted its object (7 days). At most
//! `MAX_ACTIVE` jobs of an org are pending or running at once: a counter on the org item,
//! raised by the creating transaction on the condition of its value as read, lowered by
//! the transaction that ends the job.

use crate::audit_log::Filters;
use crate::ids::{ExportId, MessageId, OrgId};
use crate::store::item::time;

use crate::store::{n, s, Item, ItemExt, Key, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Pending and running jobs an org may have at once.
pub const MAX_ACTIVE: i64 = 3;
/// The org item's count of its pending and running jobs.
pub const ACTIVE_EXPORTS: &str = "active_exports";
/// How long an object is kept: the bucket's lifecycle rule (template.yaml) deletes it.
pub const OBJECT_DAYS: i64 = 7;
/// How long a download link works.
pub const LINK_MINUTES: i64 = 15;
/// Runs of a job before it is given up as `failed` (the queue's redrive comes later).
pub const MAX_ATTEMPTS: i64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    pub fn parse(raw: &str) -> Result<Format, String> {
        match raw {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err("must be `json` or `csv`".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    /// JSON is one document; CSV is a zip of one file per category.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "zip",
        }
    }
}

/// What an export can hold. Never in it: password, PIN and backup-code hashes, TOTP and
/// webhook secrets, API-key secrets or their hashes, session tokens (each category's
/// columns are an allow-list, in the export worker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Mcps,
    ApiKeys,
    Members,
    Usage,
    Webhooks,
    AuditLogs,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Mcps,
        Category::ApiKeys,
        Category::Members,
        Category::Usage,
        Category::Webhooks,
        Category::AuditLogs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Mcps => "mcps",
            Category::ApiKeys => "api_keys",
            Category::Members => "members",
            Category::Usage => "usage",
            Category::Webhooks => "webhooks",
            Category::AuditLogs => "audit_logs",
        }
    }

    /// A non-empty set of known names, in canonical order without repeats; an unknown
    /// name is refused by name.
    pub fn parse_set(names: &[String]) -> Result<Vec<Category>, String> {
        if names.is_empty() {
            return Err(
                "must name at least one of mcps, api_keys, members, usage, webhooks, audit_logs"
                    .into(),
            );
        }
        let mut set = Vec::new();
        for name in names {
            let category = Category::ALL
                .into_iter()
                .find(|c| c.as_str() == name)
                .ok_or_else(|| {
                    let shown: String = name.chars().take(64).collect();
                    format!("unknown category: {shown:?}")
                })?;
            if !set.contains(&category) {
                set.push(category);
            }
        }
        set.sort_by_key(|c| Category::ALL.iter().position(|a| a == c));
        Ok(set)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Ready,
    Failed,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Ready => "ready",
            Status::Failed => "failed",
            Status::Expired => "expired",
        }
    }

    fn parse(raw: &str) -> Result<Status, StoreError> {
        [
            Status::Pending,
            Status::Running,
            Status::Ready,
            Status::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or_else(|| StoreError::Corrupt(format!("export status {raw:?}")))
    }

    /// Still to run: counted against `MAX_ACTIVE`.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Pending | Status::Running)
    }
}

/// The audit-log filters of an audit-log export, as the client gave them (parsed again
/// by the worker with `Filters::parse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditFilters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::audit::Category>)]
    pub category: Option<String>,
}

impl AuditFilters {
    pub fn parse(&self) -> Result<Filters, crate::Error> {
        Filters::parse(
            self.from.as_deref(),
            self.to.as_deref(),
            self.actor.as_deref(),
            self.action.as_deref(),
            self.category.as_deref(),
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExportJob {
    pub id: ExportId,
    pub org_id: OrgId,
    pub status: Status,
    pub format: Format,
    pub include: Vec<Category>,
    /// Only on an audit-log export.
    pub filters: Option<AuditFilters>,
    /// Who asked: a user id or an API key id.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Runs of the worker so far (the one whose number the job holds may end it).
    pub attempt: i64,
    pub completed_at: Option<DateTime<Utc>>,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
}

impl ExportJob {
    pub fn new(
        org_id: &OrgId,
        format: Format,
        include: Vec<Category>,
        filters: Option<AuditFilters>,
        created_by: String,
        now: DateTime<Utc>,
    ) -> Self {
        ExportJob {
            id: ExportId::generate(),
            org_id: org_id.clone(),
            status: Status::Pending,
            format,
            include,
            filters,
            created_by,
            created_at: now,
            attempt: 0,
            completed_at: None,
            size_bytes: None,
            error: None,
        }
    }

    pub fn key(org_id: &OrgId, id: &ExportId) -> Key {
        Key::export(org_id, id.as_str())
    }

    /// Where the file is: one object per job, so a second run overwrites, never adds.
    pub fn object_key(&self) -> String {
        format!(
            "{}{}.{}",
            object_prefix(&self.org_id),
            self.id,
            self.format.extension()
        )
    }

    /// The name a browser saves the download as.
    pub fn file_name(&self, slug: &str) -> String {
        format!("{slug}-{}.{}", self.id, self.format.extension())
    }

    /// When the bucket deletes the object (ready jobs).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at.map(|at| at + Duration::days(OBJECT_DAYS))
    }

    /// The status a client sees: a ready job whose object is gone reads `expired`.
    pub fn status_at(&self, now: DateTime<Utc>) -> Status {
        match self.expires_at() {
            Some(at) if self.status == Status::Ready && now >= at => Status::Expired,
            _ => self.status,
        }
    }

    pub fn item(&self) -> Item {
        let mut item = Self::key(&self.org_id, &self.id).to_item();
        item.insert("export_id".into(), s(self.id.as_str()));
        item.insert("org_id".into(), s(self.org_id.as_str()));
        item.insert("status".into(), s(self.status.as_str()));
        item.insert("format".into(), s(self.format.as_str()));
        item.insert(
            "include".into(),
            AttributeValue::L(self.include.iter().map(|c| s(c.as_str())).collect()),
        );
        if let Some(filters) = &self.filters {
            item.insert(
                "filters".into(),
                s(serde_json::to_string(filters).unwrap_or_default()),
            );
        }
        item.insert("created_by".into(), s(&self.created_by));
        item.insert("created_at".into(), time(self.created_at));
        item.insert("attempt".into(), n(self.attempt));
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("export {what}"));
        let include = item
            .get("include")
            .and_then(|v| v.as_l().ok())
            .ok_or_else(|| corrupt("include"))?
            .iter()
            .map(|v| {
                let name = v.as_s().map_err(|_| corrupt("include"))?;
                Category::parse_set(std::slice::from_ref(name))
                    .map(|mut set| set.remove(0))
                    .map_err(|_| corrupt("include"))
            })
            .collect::<Result<_, _>>()?;
        Ok(ExportJob {
            id: ExportId::parse(item.str("export_id")?).ok_or_else(|| corrupt("id"))?,
            org_id: OrgId::parse(item.str("org_id")?).ok_or_else(|| corrupt("org id"))?,
            status: Status::parse(item.str("status")?)?,
            format: Format::parse(item.str("format")?).map_err(|_| corrupt("format"))?,
            include,
            filters: item
                .opt_str("filters")
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("filters"))?,
            created_by: item.str("created_by")?.to_owned(),
            created_at: item.time("created_at")?,
            attempt: item.opt_num("attempt").unwrap_or(0),
            completed_at: item.time("completed_at").ok(),
            size_bytes: item.opt_num("size_bytes"),
            error: item.opt_str("error").map(str::to_owned),
        })
    }
}

/// Where an org's export files are (all of them: the deletion removes the prefix).
pub fn object_prefix(org: &OrgId) -> String {
    format!("exports/{org}/")
}

/// The message that takes a job to the export worker: written to the outbox with the job
/// (so a job never waits for a message that was lost), forwarded by the events worker
/// to the exports queue as it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportMessage {
    pub id: MessageId,
    pub organization_id: OrgId,
    pub timestamp: String,
    pub export_id: ExportId,
}

impl ExportMessage {
    pub fn of(job: &ExportJob) -> Self {
        ExportMessage {
            id: MessageId::generate(),
            organization_id: job.org_id.clone(),
            timestamp: job
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            export_id: job.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_survives_its_item_and_expires_seven_days_after_completion() {
        let org = OrgId::generate();
        let mut job = ExportJob::new(
            &org,
            Format::Csv,
            vec![Category::Usage, Category::Mcps],
            Some(AuditFilters {
                action: Some("mcp.*".into()),
                ..Default::default()
            }),
            "usr_x".into(),
            chrono::SubsecRound::trunc_subsecs(Utc::now(), 3),
        );
        assert_eq!(ExportJob::from_item(&job.item()).unwrap(), job);
        assert!(job.object_key().ends_with(".zip"));
        let done = Utc::now();
        job.status = Status::Ready;
        job.completed_at = Some(done);
        assert_eq!(
            job.status_at(done + Duration::days(7) - Duration::seconds(1)),
            Status::Ready
        );
        assert_eq!(job.status_at(done + Duration::days(7)), Status::Expired);
    }

    #[test]
    fn categories_are_known_non_empty_and_in_order() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            Category::parse_set(&names(&["usage", "mcps", "usage"])),
            Ok(vec![Category::Mcps, Category::Usage])
        );
        assert!(Category::parse_set(&[]).is_err());
        let err = Category::parse_set(&names(&["mcps", "passwords"])).unwrap_err();
        assert!(err.contains("passwords"), "{err}");
    }
}
