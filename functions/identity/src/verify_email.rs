//! Verifying the account's e-mail address: the link of the verification mail
//! (`POST /v1/auth/verify-email`, no session needed: the token is the proof), and a new
//! link for the signed-in account (`POST /v1/me/verify-email`, at most one a minute).
//!
//! Verifying costs two round trips (the profile, then the commit, conditioned on the
//! token still being the profile's); a re-send the same.

use crate::signup::VerificationSent;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use shared::account::{caller_profile, user_mutation};
use shared::audit::Target;
use shared::auth::Bearer;
use shared::client_info::ClientInfo;
use shared::email_verification::{last_sent, VerificationToken, RESEND_INTERVAL};
use shared::http::{Json, Problem};
use shared::mail::{Links, Mail};
use shared::mutation::CommitError;
use shared::store::users::User;
use shared::store::{s, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The token of the verification link (`pmv.…`).
    token: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailVerified {
    email: String,
    email_verified: bool,
}

/// Verify the account's e-mail address with the token of the verification mail.
///
/// A token works once and for 24 hours; a newer mail replaces it.
#[utoipa::path(post, path = "/v1/auth/verify-email", operation_id = "verify_email", tag = "identity", request_body = VerifyEmailRequest,
    responses(
        (status = 200, body = EmailVerified),
        (status = 404, description = "`invalid_token`: unknown, used, replaced or expired", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<VerifyEmailRequest>,
) -> Result<axum::Json<EmailVerified>, Error> {
    let token = VerificationToken::parse(&body.token).ok_or(Error::InvalidToken)?;
    let profile = state
        .table
        .get(&Key::user(&token.user_id))
        .await?
        .ok_or(Error::InvalidToken)?;
    let user = User::from_item(&profile)?;
    let stored = token
        .matches(&profile, Utc::now())
        .ok_or(Error::InvalidToken)?
        .to_owned();
    user_mutation(
        &user,
        &profile,
        "user.email_verified",
        Target::new("user", &user.id),
        &client,
    )
    // Once: only while this is still the profile's token.
    .decided_on("verification_hash", Some(s(stored)))
    .set(
        "email_verified",
        aws_sdk_dynamodb::types::AttributeValue::Bool(true),
    )
    .remove("verification_hash")
    .remove("verification_expires_at")
    .commit(&state)
    .await
    .map_err(|e| match e {
        CommitError::Changed | CommitError::Owner => Error::InvalidToken,
        other => other.into(),
    })?;
    Ok(axum::Json(EmailVerified {
        email: user.email,
        email_verified: true,
    }))
}

/// Send a new verification link to the caller's address (at most one a minute); the
/// previous link stops working.
#[utoipa::path(post, path = "/v1/me/verify-email", operation_id = "resend_verification_email", tag = "identity", security(("session" = [])),
    responses(
        (status = 202, body = VerificationSent),
        (status = 401, body = Problem),
        (status = 409, description = "`email_already_verified`", body = Problem),
        (status = 429, description = "`rate_limited`, with `retry_after`", body = Problem),
    ))]
pub async fn resend(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
) -> Result<(StatusCode, axum::Json<VerificationSent>), Error> {
    let (user, profile) = caller_profile(&state, &bearer).await?;
    if user.email_verified {
        return Err(Error::conflict(
            "email_already_verified",
            "this account's e-mail address is verified already",
        ));
    }
    let now = Utc::now();
    let sent = last_sent(&profile);
    if let Some(wait) = sent
        .map(|at| at + RESEND_INTERVAL - now)
        .filter(|wait| *wait > chrono::Duration::zero())
    {
        return Err(Error::RateLimited {
            retry_after: wait.num_seconds().max(1) as u64,
        });
    }
    let token = VerificationToken::issue(user.id.clone());
    let mail = Mail::verification(
        Key::user(&user.id).pk,
        &user.email,
        &user.name,
        &token.to_string(),
        &Links(&state.config.app_url),
        now,
    );
    let mut mutation = user_mutation(
        &user,
        &profile,
        "user.email_verification_sent",
        Target::new("user", &user.id),
        &client,
    )
    // A concurrent re-send that went first wins; this one is throttled.
    .decided_on(
        "verification_sent_at",
        profile.get("verification_sent_at").cloned(),
    )
    .emit(mail);
    for (name, value) in token.profile_attributes(now) {
        mutation = mutation.set(name, value);
    }
    mutation.commit(&state).await.map_err(|e| match e {
        CommitError::Changed => Error::RateLimited {
            retry_after: RESEND_INTERVAL.num_seconds() as u64,
        },
        other => other.into(),
    })?;
    Ok(VerificationSent::answer())
}
