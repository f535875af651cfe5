//! Login and logout. Login costs three DynamoDB round trips: the e-mail pointer, the
//! attempt reservation (which returns the profile), and one transaction that creates the
//! session, resets the failure counter and appends the audit entry.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::auth::{authenticate, Bearer, SessionToken};
use shared::domain::{Email, PasswordHash};
use shared::http::{ClientInfo, Json, Problem};
use shared::ids::SessionId;
use shared::store::attempts::{Reservation, LOGIN};
use shared::store::sessions::{self, ABSOLUTE_TIMEOUT};
use shared::store::users::{self, User};
use shared::store::{delete, n, put, ChainOwner, Item, Key, Mutation};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionCreated {
    /// Send as `Authorization: Bearer <token>`. Shown once.
    token: String,
    session_id: SessionId,
    expires_at: DateTime<Utc>,
}

/// Log in with e-mail and password.
///
/// A wrong password and an unknown e-mail get the same answer. After 5 consecutive
/// failures the account's login is refused for 15 minutes (429 `rate_limited`).
#[utoipa::path(post, path = "/v1/auth/login", operation_id = "login", tag = "identity", request_body = LoginRequest,
    responses(
        (status = 200, body = SessionCreated),
        (status = 401, description = "`invalid_credentials`", body = Problem),
        (status = 429, description = "`rate_limited`, with `retry_after`", body = Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> Result<axum::Json<SessionCreated>, Error> {
    let password = body.password;
    let user_id = match Email::parse(&body.email) {
        Ok(email) => users::id_by_email(&state.table, &email).await?,
        Err(_) => None,
    };
    let Some(user_id) = user_id else {
        return Err(reject(password).await);
    };
    let profile = match LOGIN
        .reserve(&state.table, &Key::user(&user_id), Utc::now())
        .await?
    {
        Reservation::Granted(profile) => profile,
        Reservation::Locked { retry_after } => return Err(Error::RateLimited { retry_after }),
        Reservation::Missing => return Err(reject(password).await),
    };
    let user = User::from_item(&profile)?;
    let hash = User::password_hash(&profile)?;
    let matches = tokio::task::spawn_blocking(move || hash.verify(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    if !matches {
        record_failure(&state, &user, &profile, &client).await?;
        return Err(Error::InvalidCredentials);
    }
    start_session(&state, &user, &profile, &client)
        .await
        .map(axum::Json)
}

/// Spends the time of a verification, so an unknown account answers like a wrong password.
async fn reject(password: String) -> Error {
    let _ = tokio::task::spawn_blocking(move || PasswordHash::verify_decoy(&password)).await;
    Error::InvalidCredentials
}

async fn record_failure(
    state: &AppState,
    user: &User,
    profile: &Item,
    client: &ClientInfo,
) -> Result<(), Error> {
    user_mutation(
        user,
        profile,
        "auth.login_failed",
        Target::new("user", &user.id),
        client,
    )
    .failed()
    .commit(state)
    .await?;
    Ok(())
}

/// Creates a session for a user who has proven who they are.
pub(crate) async fn start_session(
    state: &AppState,
    user: &User,
    profile: &Item,
    client: &ClientInfo,
) -> Result<SessionCreated, Error> {
    let now = Utc::now();
    let token = SessionToken::issue(user.id.clone(), SessionId::generate());
    let session = sessions::new_item(
        &user.id,
        &token.session_id,
        &token.secret_hash(),
        client,
        now,
    );
    user_mutation(
        user,
        profile,
        "auth.login",
        Target::new("session", &token.session_id),
        client,
    )
    .set(LOGIN.counter, n(0))
    .write(put(&state.table, session, "attribute_not_exists(pk)")?)
    .commit(state)
    .await?;
    Ok(SessionCreated {
        token: token.to_string(),
        session_id: token.session_id,
        expires_at: now + ABSOLUTE_TIMEOUT,
    })
}

/// A change to the user's own account, recorded in their audit chain.
pub(crate) fn user_mutation(
    user: &User,
    profile: &Item,
    action: &'static str,
    target: Target,
    client: &ClientInfo,
) -> Mutation {
    let audit = AuditDraft::new(
        Actor::user(&user.id, Some(&user.email)),
        action,
        Category::Authentication,
        target,
        client,
    );
    Mutation::new(ChainOwner::existing(Key::user(&user.id), profile), audit)
}

/// Log out: revokes the current session.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "logout", tag = "identity", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
) -> Result<StatusCode, Error> {
    let (user, profile) = caller_profile(&state, &bearer).await?;
    user_mutation(
        &user,
        &profile,
        "auth.logout",
        Target::new("session", &bearer.0.session_id),
        &client,
    )
    .write(delete(&state.table, &bearer.0.session_key(), None))
    .commit(&state)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The authenticated caller's profile item, read with the session in one round trip.
pub(crate) async fn caller_profile(
    state: &AppState,
    bearer: &Bearer,
) -> Result<(User, Item), Error> {
    let user_key = Key::user(&bearer.0.user_id);
    let (_, mut items) = authenticate(state, bearer, std::slice::from_ref(&user_key)).await?;
    let profile = items.remove(&user_key).ok_or(Error::Unauthorized)?;
    Ok((User::from_item(&profile)?, profile))
}
