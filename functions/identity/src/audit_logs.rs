//! The caller's own security events (logins, 2FA, sessions): their personal audit chain,
//! newest first, in the shape of an org's audit log.

use axum::extract::State;
use shared::audit_log::AuditLogEntry;
use shared::auth::{authenticate, Bearer};
use shared::http::page::query_page_ordered;
use shared::http::{Page, PageQuery, Problem, Query};
use shared::store::keys::AUDIT_PREFIX;
use shared::store::Key;
use shared::{AppState, Error};

/// The caller's own security events, newest first.
#[utoipa::path(get, path = "/v1/me/audit-logs", operation_id = "list_my_audit_logs", tag = "audit", security(("session" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<AuditLogEntry>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    bearer: Bearer,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<AuditLogEntry>>, Error> {
    authenticate(&state, &bearer, &[]).await?;
    let owner = Key::user(&bearer.0.user_id).pk;
    let page = query_page_ordered(
        &state,
        &owner,
        AUDIT_PREFIX,
        &query,
        true,
        AuditLogEntry::from_item,
    )
    .await?;
    Ok(axum::Json(page))
}
