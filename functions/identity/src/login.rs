//! Login and logout.
//!
//! Password login costs three DynamoDB round trips: the e-mail pointer, the attempt
//! reservation (which returns the profile), and one transaction that creates the session
//! (or, with 2FA on, the challenge), resets the failure counter and appends the audit
//! entry. The second step (`/v1/auth/login/2fa`) trades the challenge and a second
//! factor for a session. A browser sign-in gets its session as a cookie
//! (`shared::http::browser`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::account::{actor, caller_profile, user_mutation};
use shared::attempts::{LoginThrottle, TWO_FACTOR};
use shared::audit::{AuditDraft, Category, Target};
use shared::auth::{Bearer, ChallengeToken, SessionToken};
use shared::client_info::ClientInfo;
use shared::crypto::constant_time_eq;
use shared::domain::{Email, PasswordHash};
use shared::email_verification::{device_of, known_devices, remember};
use shared::http::browser::SessionDelivery;
use shared::http::{Json, Problem};
use shared::ids::SessionId;
use shared::mail::{Links, Mail};
use shared::mutation::{CommitError, Mutation};
use shared::second_factor::{
    self, active_secret, blocking, rejected, Factor, Holder, FACTOR_SPENT,
};
use shared::store::item::time;
use shared::store::keys::BACKUP_CODE_PREFIX;
use shared::store::sessions::{self, ABSOLUTE_TIMEOUT};
use shared::store::users::{self, User};
use shared::store::{delete, n, put, s, Item, ItemExt, Key};
use shared::{AppState, Error};
use std::collections::HashMap;
use utoipa::ToSchema;

/// How long the second step of a login may wait.
const CHALLENGE_LIFETIME: Duration = Duration::minutes(5);

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

/// A session started for a browser (`X-PlexMCP-Session: cookie`): its token is only in the
/// `HttpOnly` cookie `__Host-plexmcp_session` (`plexmcp_session` over http on loopback).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserSessionCreated {
    session_id: SessionId,
    expires_at: DateTime<Utc>,
}

/// A new session: its token in the body, or for a browser only in the session cookie.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SessionStarted {
    Token(SessionCreated),
    Cookie(BrowserSessionCreated),
}

#[derive(Serialize, ToSchema)]
pub struct ChallengeIssued {
    /// Always true: send `challenge_token` with a code to `/v1/auth/login/2fa`.
    two_factor_required: bool,
    challenge_token: String,
    expires_at: DateTime<Utc>,
}

/// A session, or — when the account has 2FA on — a challenge for the second step.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    Session(SessionStarted),
    Challenge(ChallengeIssued),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondStepRequest {
    challenge_token: String,
    /// The 6-digit code from the authenticator…
    #[schema(schema_with = shared::domain::schema::totp_code_or_null)]
    code: Option<String>,
    /// …or one unused backup code.
    #[schema(schema_with = shared::domain::schema::backup_code_or_null)]
    backup_code: Option<String>,
}

/// Log in with e-mail and password.
///
/// A wrong password and an unknown e-mail get the same answer, after the same work.
/// After 5 failures for one e-mail address (whether or not an account uses it), less
/// than 15 minutes apart, its login is refused for 15 minutes; after 100 failures from
/// one client network (an IPv4 address or an IPv6 /64) within 15 minutes, every login
/// from it is (429 `rate_limited`). A right password clears the address's count and is
/// not counted for the network.
#[utoipa::path(post, path = "/v1/auth/login", operation_id = "login", tag = "identity", request_body = LoginRequest,
    params(("X-PlexMCP-Session" = Option<String>, Header, description = "`cookie`: a browser session, set as the HttpOnly cookie `__Host-plexmcp_session` (`plexmcp_session` over plain http on loopback) and left out of the body; changes it signs then need `X-PlexMCP-CSRF: 1`")),
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem),
        (status = 429, description = "`rate_limited`, with `retry_after`", body = Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    delivery: SessionDelivery,
    Json(body): Json<LoginRequest>,
) -> Result<Response, Error> {
    let password = body.password;
    let email = Email::parse(&body.email).ok();
    let network = client.network();
    let throttle = LoginThrottle::new(email.as_ref().map(Email::as_str), network.as_deref());
    // The attempt is reserved before the password is checked, while the account is found.
    let lookup = async {
        match &email {
            Some(email) => users::id_by_email(&state.table, email).await,
            None => Ok(None),
        }
    };
    let (user_id, reserved) = tokio::join!(lookup, throttle.reserve(&state.table));
    reserved?;
    let profile = match user_id? {
        Some(user_id) => state.table.get(&Key::user(&user_id)).await?,
        None => None,
    };
    let Some(profile) = profile else {
        return Err(reject(password).await);
    };
    let user = User::from_item(&profile)?;
    let hash = User::password_hash(&profile)?;
    if !blocking(move || hash.verify(&password)).await? {
        return Err(user_mutation(
            &user,
            &profile,
            "auth.login_failed",
            Target::new("user", &user.id),
            &client,
        )
        .refuse(&state, Error::InvalidCredentials)
        .await);
    }
    let passed = throttle.passed(&state.table)?;
    let passed = |mutation: Mutation| mutation.writes(passed);
    Ok(if user.two_factor_enabled {
        let challenge = start_challenge(&state, &user, &profile, &client, passed).await?;
        axum::Json(LoginResponse::Challenge(challenge)).into_response()
    } else {
        let session = start_session(&state, &user, &profile, &client, passed).await?;
        session.deliver(&delivery, LoginResponse::Session)
    })
}

impl SessionCreated {
    /// The answer (`answer` of the session started): the token in the body, or — for a
    /// browser session — only in the session cookie, which lasts as long as the session may.
    fn deliver<T: Serialize>(
        self,
        delivery: &SessionDelivery,
        answer: impl FnOnce(SessionStarted) -> T,
    ) -> Response {
        if !delivery.cookie {
            return axum::Json(answer(SessionStarted::Token(self))).into_response();
        }
        let cookie = delivery.set(&self.token, ABSOLUTE_TIMEOUT.num_seconds());
        let started = SessionStarted::Cookie(BrowserSessionCreated {
            session_id: self.session_id,
            expires_at: self.expires_at,
        });
        ([(header::SET_COOKIE, cookie)], axum::Json(answer(started))).into_response()
    }
}

/// Spends the time of a verification, so an unknown account answers like a wrong password.
async fn reject(password: String) -> Error {
    let _ = blocking(move || PasswordHash::verify_decoy(&password)).await;
    Error::InvalidCredentials
}

/// The password was right and 2FA is on: a single-use challenge, bound to the user.
/// `extend` adds what the proof needs to the same transaction.
async fn start_challenge(
    state: &AppState,
    user: &User,
    profile: &Item,
    client: &ClientInfo,
    extend: impl FnOnce(Mutation) -> Mutation,
) -> Result<ChallengeIssued, Error> {
    let now = Utc::now();
    let token = ChallengeToken::issue(user.id.clone());
    let expires_at = now + CHALLENGE_LIFETIME;
    let mut challenge = token.key().to_item();
    challenge.insert("secret_hash".into(), s(token.secret_hash()));
    challenge.insert("expires_at".into(), time(expires_at));
    challenge.insert("ttl".into(), n(expires_at.timestamp()));
    let mutation = user_mutation(
        user,
        profile,
        "auth.password_verified",
        Target::new("user", &user.id),
        client,
    );
    extend(mutation)
        .write(put(&state.table, challenge, "attribute_not_exists(pk)")?)
        .commit(state)
        .await?;
    Ok(ChallengeIssued {
        two_factor_required: true,
        challenge_token: token.to_string(),
        expires_at,
    })
}

/// Creates a session for a user who has proven who they are. `extend` adds what the
/// proof needs to the same transaction (its writes come first, from index 0).
async fn start_session(
    state: &AppState,
    user: &User,
    profile: &Item,
    client: &ClientInfo,
    extend: impl FnOnce(Mutation) -> Mutation,
) -> Result<SessionCreated, CommitError> {
    let now = Utc::now();
    let token = SessionToken::issue(user.id.clone(), SessionId::generate());
    let session = sessions::new_item(
        &user.id,
        &token.session_id,
        &token.secret_hash(),
        client,
        now,
    );
    let mut mutation = user_mutation(
        user,
        profile,
        "auth.login",
        Target::new("session", &token.session_id),
        client,
    );
    // A device the account has not signed in from: remember it, and tell the owner.
    let device = device_of(client.user_agent.as_deref());
    let known = known_devices(profile);
    if !known.contains(&device) {
        let shown = |v: &Option<String>| {
            v.as_deref()
                .map(|v| v.chars().take(200).collect::<String>())
                .unwrap_or_else(|| "unknown".into())
        };
        mutation = mutation
            .set("known_devices", remember(known, device))
            .emit(Mail::new_sign_in(
                Key::user(&user.id).pk,
                &user.email,
                &shown(&client.user_agent),
                &shown(&client.ip),
                &Links(&state.config.app_url),
                now,
            ));
    }
    extend(mutation)
        .write(put(&state.table, session, "attribute_not_exists(pk)")?)
        .commit(state)
        .await?;
    Ok(SessionCreated {
        token: token.to_string(),
        session_id: token.session_id,
        expires_at: now + ABSOLUTE_TIMEOUT,
    })
}

/// The challenge and the profile of a second login step, and — for a backup code — the
/// unused codes, in one round trip: they sort together in the user's partition
/// (`BACKUPCODE#…` < `CHALLENGE#…` < `MEMBERSHIP#…` < `PROFILE`), so one consistent query
/// reads all three.
async fn challenge_and_profile(
    state: &AppState,
    token: &ChallengeToken,
    user_key: &Key,
    factor: &Factor,
) -> Result<(HashMap<Key, Item>, Option<Vec<Item>>), Error> {
    if let Factor::Code(_) = factor {
        let items = state
            .table
            .get_many(&[token.key(), user_key.clone()])
            .await?;
        return Ok((items, None));
    }
    let items = state
        .table
        .query_range(&user_key.pk, BACKUP_CODE_PREFIX, &user_key.sk)
        .await?;
    let (codes, others): (Vec<Item>, Vec<Item>) = items.into_iter().partition(|item| {
        item.opt_str("sk")
            .is_some_and(|sk| sk.starts_with(BACKUP_CODE_PREFIX))
    });
    let others = others
        .into_iter()
        .filter_map(|item| Some((Key::of(&item).ok()?, item)))
        .collect();
    Ok((others, Some(codes)))
}

/// The second step of a login with 2FA: the challenge and a TOTP code or a backup code.
///
/// The challenge works once and for 5 minutes; a code's time step and a backup code are
/// accepted once, even when two requests race; 5 wrong codes lock this step for 15
/// minutes.
#[utoipa::path(post, path = "/v1/auth/login/2fa", operation_id = "login_second_factor", tag = "identity", request_body = SecondStepRequest,
    params(("X-PlexMCP-Session" = Option<String>, Header, description = "`cookie`: a browser session, as at `/v1/auth/login`")),
    responses(
        (status = 200, body = SessionStarted),
        (status = 401, description = "`unauthorized` (challenge invalid, expired or used) or `invalid_code`", body = Problem),
        (status = 429, description = "`rate_limited`, with `retry_after`", body = Problem),
    ))]
pub async fn login_second_factor(
    State(state): State<AppState>,
    client: ClientInfo,
    delivery: SessionDelivery,
    Json(body): Json<SecondStepRequest>,
) -> Result<Response, Error> {
    let factor = Factor::from_fields(body.code, body.backup_code)?;
    let token = ChallengeToken::parse(&body.challenge_token).ok_or(Error::Unauthorized)?;
    let user_key = Key::user(&token.user_id);
    let (items, backup_codes) = challenge_and_profile(&state, &token, &user_key, &factor).await?;
    let now = Utc::now();
    let live = items.get(&token.key()).is_some_and(|challenge| {
        challenge
            .opt_str("secret_hash")
            .is_some_and(|hash| constant_time_eq(hash, &token.secret_hash()))
            && challenge
                .time("expires_at")
                .is_ok_and(|expires| expires > now)
    });
    let profile = items
        .get(&user_key)
        .filter(|_| live)
        .ok_or(Error::Unauthorized)?;
    let user = User::from_item(profile)?;
    let secret = active_secret(&state, &user, profile)
        .await?
        .ok_or(Error::Unauthorized)?;
    let holder = Holder {
        user: &user,
        secret: &secret,
        backup_codes: backup_codes.as_deref(),
    };
    let proof = second_factor::accept(&state, holder, &factor, None, &client, || {
        Error::InvalidCode
    })
    .await?;
    let spent_backup = proof.spent_backup.is_some();
    let method = factor.method();
    let backup_used = AuditDraft::new(
        actor(&user),
        "2fa.backup_code_used",
        Category::Authentication,
        Target::new("user", &user.id),
        &client,
    );
    let created = start_session(&state, &user, &proof.profile, &client, |mutation| {
        let mutation = mutation
            .details(json!({ "second_factor": method }))
            .set(TWO_FACTOR.counter, n(0))
            .write_named(FACTOR_SPENT, proof.write)
            .write_named(
                CHALLENGE_USED,
                delete(&state.table, &token.key(), Some("attribute_exists(pk)")),
            );
        if spent_backup {
            mutation.and_audit(backup_used)
        } else {
            mutation
        }
    })
    .await;
    match created {
        Ok(session) => Ok(session.deliver(&delivery, std::convert::identity)),
        // The step was already accepted, or the backup code spent, by another request.
        Err(CommitError::Conflict(FACTOR_SPENT)) => Err(rejected(
            &state,
            &user,
            &proof.profile,
            false,
            &client,
            Error::InvalidCode,
        )
        .await),
        // The challenge was used by another request.
        Err(CommitError::Conflict(CHALLENGE_USED)) => Err(Error::Unauthorized),
        Err(other) => Err(other.into()),
    }
}

/// The 2FA challenge was used (or expired) by commit time.
const CHALLENGE_USED: &str = "challenge_used";

/// Log out: revokes the current session.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "logout", tag = "identity", security(("session" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    delivery: SessionDelivery,
) -> Result<impl IntoResponse, Error> {
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
    // A browser's session cookie goes with it.
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, delivery.clear())],
    ))
}
