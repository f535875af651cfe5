//! Settings → Audit Logs: the org's entries, newest first, filtered by date range, actor,
//! action and category (each a `Query` of an audit index, see `shared::audit_log`), and a
//! check of the hash chain over a date range. Owners and admins; Pro plan and up.

use axum::extract::State;
use serde::Deserialize;
use shared::access::{Credential, OrgAccess};
use shared::audit::Category as AuditCategory;
use shared::audit_log::{
    index_query, retention_days, verify, AuditLogEntry, ChainHead, Filters, Verification,
};
use shared::domain::Permission;
use shared::http::{Page, Path, Problem, Query};
use shared::store::keys::AUDIT_PREFIX;
use shared::store::{Item, ItemExt, Key, StoreError};
use shared::{AppState, Error};
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries at or after this time (RFC 3339).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    from: Option<String>,
    /// Entries at or before this time (RFC 3339); not before `from`.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    to: Option<String>,
    #[param(schema_with = shared::audit_log::actor_schema)]
    actor: Option<String>,
    #[param(schema_with = shared::audit_log::action_schema)]
    action: Option<String>,
    #[param(value_type = Option<AuditCategory>)]
    category: Option<String>,
    /// `next_cursor` of the previous page (empty is the same as absent: the first page).
    #[serde(default, deserialize_with = "shared::http::page::empty_as_absent")]
    cursor: Option<String>,
    /// Entries per page (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// From this time on (RFC 3339).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    from: Option<String>,
    /// Up to this time (RFC 3339); not before `from`.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    to: Option<String>,
}

/// Owners and admins of an org on a paid plan.
fn allowed(access: &OrgAccess) -> Result<(), Error> {
    access.require(Permission::Administer)?;
    require_paid_plan(access)
}

/// The audit log is shown (and exported) on the Pro, Team and Enterprise plans.
pub fn require_paid_plan(access: &OrgAccess) -> Result<(), Error> {
    if access.org.plan == "free" {
        return Err(Error::PlanRequired(
            "audit logs come with the Pro, Team and Enterprise plans; entries are kept meanwhile",
        ));
    }
    Ok(())
}

async fn access(state: &AppState, credential: &Credential, slug: &str) -> Result<OrgAccess, Error> {
    let access = OrgAccess::load(state, credential, slug).await?;
    allowed(&access)?;
    Ok(access)
}

/// The org's audit log, newest first: filters combine; cursors are bound to them.
#[utoipa::path(get, path = "/v1/orgs/{slug}/audit-logs", operation_id = "list_audit_logs", tag = "audit", security(("session" = [])),
    params(("slug" = String, Path), AuditQuery),
    responses(
        (status = 200, body = Page<AuditLogEntry>),
        (status = 400, description = "`invalid_query` or `invalid_cursor`", body = Problem),
        (status = 403, description = "`forbidden` or `plan_required`", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<Page<AuditLogEntry>>, Error> {
    let filters = Filters::parse(
        query.from.as_deref(),
        query.to.as_deref(),
        query.actor.as_deref(),
        query.action.as_deref(),
        query.category.as_deref(),
    )?;
    let page_query = shared::http::PageQuery {
        cursor: query.cursor.clone(),
        limit: query.limit.clone(),
    };
    let limit = page_query.limit()?;
    // The page is read beside the org item (two round trips in all) and dropped unless the
    // caller may see it.
    let cursors = &state.keys().await?.cursors;
    let (access, page) = OrgAccess::load_alongside(&state, &credential, &slug, |org_id| {
        let owner = Key::org(org_id).pk;
        let scope = format!("{owner}\naudit-logs\n{}", filters.fingerprint());
        let plan = index_query(&owner, &filters);
        let start = query
            .cursor
            .as_deref()
            .map(|raw| cursors.decode(&scope, raw));
        let table = &state.table;
        async move {
            let out = plan
                .request(table)
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(start.transpose()?)
                .send()
                .await
                .map_err(StoreError::from)?;
            Ok::<_, Error>((out, scope))
        }
    })
    .await?;
    allowed(&access)?;
    let (out, scope) = page?;
    let items = out
        .items()
        .iter()
        .map(AuditLogEntry::from_item)
        .collect::<Result<_, _>>()?;
    let next_cursor = out
        .last_evaluated_key
        .as_ref()
        .map(|key| cursors.encode(&scope, key));
    Ok(axum::Json(Page::new(items, next_cursor)))
}

/// Recomputes the hash chain over a date range: an entry edited or deleted in the table
/// is found.
#[utoipa::path(get, path = "/v1/orgs/{slug}/audit-logs/verify", operation_id = "verify_audit_logs", tag = "audit", security(("session" = [])),
    params(("slug" = String, Path), RangeQuery),
    responses(
        (status = 200, body = Verification),
        (status = 400, body = Problem),
        (status = 403, description = "`forbidden` or `plan_required`", body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn verify_chain(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<RangeQuery>,
) -> Result<axum::Json<Verification>, Error> {
    let filters = Filters::parse(query.from.as_deref(), query.to.as_deref(), None, None, None)?;
    let access = access(&state, &credential, &slug).await?;
    let owner = access.org_key().pk;
    let plan = index_query(&owner, &filters);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = plan
            .request(&state.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(StoreError::from)?;
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    // Up to the present, the newest entry must be the head the org item keeps — unless
    // the head is past the plan's retention, when the newest entries may be gone by TTL.
    let now = chrono::Utc::now();
    let org = &access.org_item;
    let head_seq = org.opt_num("audit_seq").unwrap_or(0) as u64;
    let head_kept = org
        .opt_str("audit_head_at")
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .is_none_or(|at| {
            let days = retention_days(
                org.opt_str("plan").unwrap_or("free"),
                org.opt_num("audit_retention_days"),
            );
            at + chrono::Duration::days(days) > now
        });
    let head =
        (filters.to.is_none_or(|to| to >= now) && head_kept && head_seq > 0).then(|| ChainHead {
            seq: head_seq,
            hash: org.opt_str("audit_hash").unwrap_or(""),
        });
    if let Some(head) = &head {
        // The audit index is eventually consistent: the newest entries it does not show
        // yet are read from the table itself before anything is called missing.
        let newest = items.iter().filter_map(seq_of_item).max().unwrap_or(0);
        let missing: Vec<Key> = (newest + 1..=head.seq)
            .rev()
            .take(100)
            .map(|seq| Key {
                pk: owner.clone(),
                sk: format!("{AUDIT_PREFIX}{seq:012}"),
            })
            .collect();
        if !missing.is_empty() {
            items.extend(state.table.get_many(&missing).await?.into_values());
        }
    }
    // The entry before the range anchors its first link.
    let first_seq = items.iter().filter_map(seq_of_item).min();
    let previous = match first_seq {
        Some(seq) if seq > 1 => {
            let key = Key {
                pk: owner.clone(),
                sk: format!("{AUDIT_PREFIX}{:012}", seq - 1),
            };
            state.table.get(&key).await?
        }
        _ => None,
    };
    Ok(axum::Json(verify(items, previous.as_ref(), head)))
}

fn seq_of_item(item: &Item) -> Option<u64> {
    item.opt_str("sk")?
        .strip_prefix(AUDIT_PREFIX)?
        .parse::<u64>()
        .ok()
}
