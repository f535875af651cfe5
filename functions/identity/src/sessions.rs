//! Profile → Sessions: list, revoke one, revoke all but the current one.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use shared::account::{caller_profile, user_mutation};
use shared::audit::Target;
use shared::auth::Bearer;
use shared::client_info::ClientInfo;
use shared::http::Problem;
use shared::http::{Path, PathId};
use shared::ids::SessionId;
use shared::mutation::CommitError;
use shared::store::keys::SESSION_PREFIX;
use shared::store::sessions::Session;
use shared::store::{delete, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

/// A transaction holds at most 100 writes; the owner update and audit entry take two.
const REVOKE_BATCH: usize = 90;

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    id: SessionId,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// True for the session making this request.
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    items: Vec<SessionView>,
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    revoked: usize,
}

pub(crate) async fn live_sessions(
    state: &AppState,
    bearer: &Bearer,
) -> Result<Vec<Session>, Error> {
    let now = Utc::now();
    let items = state
        .table
        .query_all(&Key::user(&bearer.0.user_id).pk, SESSION_PREFIX)
        .await?;
    let mut sessions = Vec::with_capacity(items.len());
    for item in &items {
        let session = Session::from_item(item)?;
        if session.is_live(now) {
            sessions.push(session);
        }
    }
    sessions.sort_by_key(|s| std::cmp::Reverse(s.last_seen_at));
    Ok(sessions)
}

/// The caller's active sessions, most recently used first.
#[utoipa::path(get, path = "/v1/me/sessions", operation_id = "list_sessions", tag = "sessions", security(("session" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<axum::Json<SessionList>, Error> {
    shared::auth::authenticate(&state, &bearer, &[]).await?;
    let current = &bearer.0.session_id;
    let items = live_sessions(&state, &bearer)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: &s.id == current,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(axum::Json(SessionList { items }))
}

/// The session to revoke is gone (revoked, or expired) by commit time.
const SESSION_GONE: &str = "session_gone";

/// Revoke one session: its token is rejected on its next request.
#[utoipa::path(delete, path = "/v1/me/sessions/{session_id}", operation_id = "revoke_session", tag = "sessions", security(("session" = [])),
    params(("session_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Path(session_id): Path<PathId<SessionId>>,
) -> Result<StatusCode, Error> {
    let (user, profile) = caller_profile(&state, &bearer).await?;
    let session_id = session_id.0.ok_or(Error::NotFound)?;
    user_mutation(
        &user,
        &profile,
        "session.revoked",
        Target::new("session", &session_id),
        &client,
    )
    .write_named(
        SESSION_GONE,
        delete(
            &state.table,
            &Key::session(&user.id, &session_id),
            Some("attribute_exists(pk)"),
        ),
    )
    .commit(&state)
    .await
    .map_err(|e| match e {
        CommitError::Conflict(SESSION_GONE) => Error::NotFound,
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke every session except the current one.
#[utoipa::path(post, path = "/v1/me/sessions/revoke-all", operation_id = "revoke_all_sessions", tag = "sessions", security(("session" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = Problem)))]
pub async fn revoke_all(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
) -> Result<axum::Json<Revoked>, Error> {
    let (user, mut profile) = caller_profile(&state, &bearer).await?;
    let others: Vec<SessionId> = live_sessions(&state, &bearer)
        .await?
        .into_iter()
        .map(|s| s.id)
        .filter(|id| id != &bearer.0.session_id)
        .collect();
    for (i, batch) in others.chunks(REVOKE_BATCH).enumerate() {
        if i > 0 {
            // The previous batch advanced the user's audit chain.
            profile = state
                .table
                .get(&Key::user(&user.id))
                .await?
                .ok_or(Error::Unauthorized)?;
        }
        let mut mutation = user_mutation(
            &user,
            &profile,
            "session.revoked_all",
            Target::new("user", &user.id),
            &client,
        )
        .details(json!({ "revoked": batch.len(), "kept": bearer.0.session_id }));
        for id in batch {
            mutation = mutation.write(delete(&state.table, &Key::session(&user.id, id), None));
        }
        mutation.commit(&state).await?;
    }
    Ok(axum::Json(Revoked {
        revoked: others.len(),
    }))
}
