//! Settings → Data Export: owners and admins start an export of chosen categories as
//! JSON or CSV (`POST …/exports`), or of the audit log with its filters
//! (`POST …/audit-logs/export`); the export worker writes it to S3; a `GET` of the ready
//! job answers a download link presigned for 15 minutes, issued afresh each time (and
//! recorded in the audit log).
//!
//! The job, its audit entry, its outbox message (which reaches the export worker even if
//! the process dies right after the commit) and the org's count of running exports are
//! one transaction; the count is a condition of it (`shared::exports`).

use aws_sdk_s3::presigning::PresigningConfig;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category as AuditCategory, Target};
use shared::audit_log::Filters;
use shared::client_info::ClientInfo;
use shared::domain::Permission;
use shared::error::Validator;
use shared::exports::{
    AuditFilters, Category, ExportJob, ExportMessage, Format, Status, ACTIVE_EXPORTS, LINK_MINUTES,
    MAX_ACTIVE,
};
use shared::http::page::query_page_ordered;
use shared::http::{Json, Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::ExportId;
use shared::store::keys::EXPORT_PREFIX;
use shared::store::{n, put, ItemExt};
use shared::{AppState, Error};
use std::sync::OnceLock;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExport {
    /// `json` (one document) or `csv` (a zip of one CSV file per category).
    #[schema(value_type = Format)]
    format: String,
    /// One or more of the categories (a repeated one counts once).
    #[schema(value_type = Vec<Category>, min_items = 1)]
    include: Vec<String>,
}

/// The audit log's filters, as in `GET …/audit-logs`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAuditExport {
    #[schema(value_type = Format)]
    format: String,
    /// Entries at or after (RFC 3339).
    #[schema(value_type = Option<DateTime<Utc>>)]
    from: Option<String>,
    /// Entries at or before (RFC 3339); not before `from`.
    #[schema(value_type = Option<DateTime<Utc>>)]
    to: Option<String>,
    #[schema(schema_with = shared::audit_log::actor_or_null_schema)]
    actor: Option<String>,
    #[schema(schema_with = shared::audit_log::action_or_null_schema)]
    action: Option<String>,
    #[schema(value_type = Option<AuditCategory>)]
    category: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExportView {
    id: ExportId,
    /// `pending`, `running`, `ready`, `failed`, or `expired` (the file is deleted 7 days
    /// after it was written).
    status: Status,
    format: Format,
    include: Vec<Category>,
    /// The audit-log filters of an audit-log export.
    filters: Option<AuditFilters>,
    created_at: DateTime<Utc>,
    /// Who asked: a user id or an API key id.
    created_by: String,
    completed_at: Option<DateTime<Utc>>,
    size_bytes: Option<i64>,
    /// On `GET` of one ready export only: a link valid for 15 minutes; `GET` again for a
    /// fresh one.
    download_url: Option<String>,
    /// When the file is deleted (ready exports).
    expires_at: Option<DateTime<Utc>>,
    /// Why a failed export failed.
    error: Option<String>,
}

impl ExportView {
    fn of(job: &ExportJob, download_url: Option<String>) -> Self {
        ExportView {
            id: job.id.clone(),
            status: job.status_at(Utc::now()),
            format: job.format,
            include: job.include.clone(),
            filters: job.filters.clone(),
            created_at: job.created_at,
            created_by: job.created_by.clone(),
            completed_at: job.completed_at,
            size_bytes: job.size_bytes,
            download_url,
            expires_at: job.expires_at(),
            error: job.error.clone(),
        }
    }
}

/// Commits the job with its audit entry, its message to the worker and the org's count
/// of running exports (at most `MAX_ACTIVE`).
async fn start(
    state: &AppState,
    access: &OrgAccess,
    client: &ClientInfo,
    job: ExportJob,
) -> Result<(StatusCode, axum::Json<ExportView>), Error> {
    let running = access.org_item.opt_num(ACTIVE_EXPORTS).unwrap_or(0);
    if running >= MAX_ACTIVE {
        return Err(Error::conflict(
            "export_limit",
            format!("at most {MAX_ACTIVE} exports of an organization run at once; wait for one to finish"),
        ));
    }
    let include: Vec<&str> = job.include.iter().map(|c| c.as_str()).collect();
    access
        .mutation(
            "export.requested",
            AuditCategory::Settings,
            Target::new("export", &job.id),
            client,
        )
        .details(json!({ "format": job.format, "include": include, "filters": job.filters }))
        .decided_on(ACTIVE_EXPORTS, access.org_item.get(ACTIVE_EXPORTS).cloned())
        .set(ACTIVE_EXPORTS, n(running + 1))
        .write(put(&state.table, job.item(), "attribute_not_exists(pk)")?)
        .emit(ExportMessage::of(&job))
        .commit(state)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(ExportView::of(&job, None))))
}

/// Start a data export (owners and admins). The audit log is included only on a paid
/// plan, as it is shown only there.
#[utoipa::path(post, path = "/v1/orgs/{slug}/exports", operation_id = "create_export", tag = "exports", security(("session" = [])),
    params(("slug" = String, Path)), request_body = CreateExport,
    responses(
        (status = 202, body = ExportView),
        (status = 403, description = "`forbidden`, or `plan_required` for `audit_logs` on the Free plan", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`export_limit`: 3 exports are running; `conflict`: changed meanwhile", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn create(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<CreateExport>,
) -> Result<(StatusCode, axum::Json<ExportView>), Error> {
    let mut v = Validator::default();
    let format = v.field("format", Format::parse(&body.format));
    let include = v.field("include", Category::parse_set(&body.include));
    let (Some(format), Some(include)) = (format, include) else {
        return Err(v.error());
    };
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    if include.contains(&Category::AuditLogs) {
        crate::audit_logs::require_paid_plan(&access)?;
    }
    let job = ExportJob::new(
        &access.org.id,
        format,
        include,
        None,
        access.actor().id,
        Utc::now(),
    );
    start(&state, &access, &client, job).await
}

/// The format and the filters, each checked on its own (so the error names it), then
/// the filters together (`from` ≤ `to`).
fn audit_export(body: &CreateAuditExport) -> Result<(Format, AuditFilters), Error> {
    let filters = AuditFilters {
        from: body.from.clone(),
        to: body.to.clone(),
        actor: body.actor.clone(),
        action: body.action.clone(),
        category: body.category.clone(),
    };
    let message = |e: Error| match e {
        Error::InvalidQuery(message) => message,
        other => other.to_string(),
    };
    let none = AuditFilters::default;
    let alone = [
        (
            "from",
            AuditFilters {
                from: body.from.clone(),
                ..none()
            },
        ),
        (
            "to",
            AuditFilters {
                to: body.to.clone(),
                ..none()
            },
        ),
        (
            "actor",
            AuditFilters {
                actor: body.actor.clone(),
                ..none()
            },
        ),
        (
            "action",
            AuditFilters {
                action: body.action.clone(),
                ..none()
            },
        ),
        (
            "category",
            AuditFilters {
                category: body.category.clone(),
                ..none()
            },
        ),
    ];
    let mut v = Validator::default();
    let format = v.field("format", Format::parse(&body.format));
    for (field, one) in alone {
        v.field(field, one.parse().map(drop).map_err(message));
    }
    let Some(format) = format.filter(|_| !v.has_errors()) else {
        return Err(v.error());
    };
    let _: Filters = filters
        .parse()
        .map_err(|e| Error::invalid("to", message(e)))?;
    Ok((format, filters))
}

/// Export the audit log, filtered as in `GET …/audit-logs` (owners and admins; Pro plan
/// and up). The CSV columns: id, occurred_at, actor_type, actor_id, actor_email, action,
/// category, target_type, target_id, ip, user_agent, outcome, hash, prev_hash.
#[utoipa::path(post, path = "/v1/orgs/{slug}/audit-logs/export", operation_id = "export_audit_logs", tag = "audit", security(("session" = [])),
    params(("slug" = String, Path)), request_body = CreateAuditExport,
    responses(
        (status = 202, body = ExportView),
        (status = 403, description = "`forbidden` or `plan_required`", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`export_limit`: 3 exports are running; `conflict`: changed meanwhile", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn create_audit(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<CreateAuditExport>,
) -> Result<(StatusCode, axum::Json<ExportView>), Error> {
    let (format, filters) = audit_export(&body)?;
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    crate::audit_logs::require_paid_plan(&access)?;
    let job = ExportJob::new(
        &access.org.id,
        format,
        vec![Category::AuditLogs],
        Some(filters),
        access.actor().id,
        Utc::now(),
    );
    start(&state, &access, &client, job).await
}

/// The org's exports, newest first (owners and admins). Download links come with `GET`
/// of one export.
#[utoipa::path(get, path = "/v1/orgs/{slug}/exports", operation_id = "list_exports", tag = "exports", security(("session" = [])),
    params(("slug" = String, Path), PageQuery),
    responses((status = 200, body = Page<ExportView>), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<ExportView>>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    let page = query_page_ordered(
        &state,
        &access.org_key().pk,
        EXPORT_PREFIX,
        &query,
        true,
        |i| ExportJob::from_item(i).map(|job| ExportView::of(&job, None)),
    )
    .await?;
    Ok(axum::Json(page))
}

/// `/v1/orgs/{slug}/exports/{export_id}`.
#[derive(Deserialize)]
pub struct ExportPath {
    slug: String,
    export_id: PathId<ExportId>,
}

/// One export (owners and admins); when ready, with a fresh download link valid for 15
/// minutes. Each link issued is an audit entry.
#[utoipa::path(get, path = "/v1/orgs/{slug}/exports/{export_id}", operation_id = "get_export", tag = "exports", security(("session" = [])),
    params(("slug" = String, Path), ("export_id" = String, Path)),
    responses((status = 200, body = ExportView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(ExportPath { slug, export_id }): Path<ExportPath>,
) -> Result<axum::Json<ExportView>, Error> {
    let (access, item) = OrgAccess::load_target(&state, &credential, &slug, |org| {
        export_id.as_ref().map(|id| ExportJob::key(org, id))
    })
    .await?;
    access.require(Permission::Administer)?;
    let job = ExportJob::from_item(&item.ok_or(Error::NotFound)?)?;
    if job.status_at(Utc::now()) != Status::Ready {
        return Ok(axum::Json(ExportView::of(&job, None)));
    }
    let url = download_link(&state, &job, &access.org.slug).await?;
    access
        .mutation(
            "export.download_link_issued",
            AuditCategory::Settings,
            Target::new("export", &job.id),
            &client,
        )
        .commit(&state)
        .await?;
    Ok(axum::Json(ExportView::of(&job, Some(url))))
}

/// A presigned `GET` of the export's object, saved by browsers under a readable name.
async fn download_link(state: &AppState, job: &ExportJob, slug: &str) -> Result<String, Error> {
    let presigning =
        PresigningConfig::expires_in(std::time::Duration::from_secs(LINK_MINUTES as u64 * 60))
            .map_err(|e| Error::Internal(e.to_string()))?;
    let request = s3(state)
        .get_object()
        .bucket(&state.config.export_bucket)
        .key(job.object_key())
        .response_content_disposition(format!("attachment; filename=\"{}\"", job.file_name(slug)))
        .presigned(presigning)
        .await
        .map_err(|e| Error::Internal(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    Ok(request.uri().to_owned())
}

/// Built on first use: presigning needs no request, only the client's configuration.
fn s3(state: &AppState) -> &'static aws_sdk_s3::Client {
    static S3: OnceLock<aws_sdk_s3::Client> = OnceLock::new();
    S3.get_or_init(|| shared::aws::s3_client(&state.sdk))
}
