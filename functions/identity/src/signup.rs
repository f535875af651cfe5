//! Sign-up. The answer is the same for a new and an existing address —
//! `202 {"status": "verification_sent"}` — after the same work (an argon2 hash either
//! way): a new address gets an account and a verification mail; an address that has an
//! account gets a "someone tried to sign up with your address" mail instead (at most one
//! an hour), so signing up never tells who has an account.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use shared::audit::{Actor, AuditDraft, Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::{Email, Name, Password, PasswordHash};
use shared::email_verification::{device_of, remember, VerificationToken};
use shared::error::Validator;
use shared::http::{Json, Problem};
use shared::ids::UserId;
use shared::mail::{Links, Mail};
use shared::mutation::{ChainOwner, CommitError, Mutation};
use shared::outbox::Outboxed;
use shared::store::item::time;
use shared::store::{put, put_if, users, Cond, Key, StoreError};
use shared::{AppState, Error};
use utoipa::ToSchema;

/// At most one "someone tried to sign up" notice an hour per account.
const NOTICE_INTERVAL: Duration = Duration::hours(1);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(schema_with = shared::domain::schema::email)]
    email: String,
    #[schema(schema_with = shared::domain::schema::new_password)]
    password: String,
    #[schema(schema_with = shared::domain::schema::name)]
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct VerificationSent {
    /// Always `verification_sent`: a mail went to the address (a verification link for a
    /// new account; for an address that has one, a notice of the attempt).
    #[schema(schema_with = verification_sent_schema)]
    pub status: &'static str,
}

fn verification_sent_schema() -> utoipa::openapi::Object {
    shared::domain::schema::one_of("Always `verification_sent`.", &["verification_sent"])
}

impl VerificationSent {
    pub fn answer() -> (StatusCode, axum::Json<VerificationSent>) {
        (
            StatusCode::ACCEPTED,
            axum::Json(VerificationSent {
                status: "verification_sent",
            }),
        )
    }
}

/// Create an account; a link to verify the address is e-mailed.
///
/// The same answer whether or not the address has an account. The account may sign in
/// and create organizations at once; accepting an invitation needs a verified address.
#[utoipa::path(post, path = "/v1/auth/signup", operation_id = "signup", tag = "identity", request_body = SignupRequest,
    responses(
        (status = 202, body = VerificationSent),
        (status = 422, body = Problem),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<SignupRequest>,
) -> Result<(StatusCode, axum::Json<VerificationSent>), Error> {
    let mut v = Validator::default();
    let email = v.field("email", Email::parse(&body.email));
    let password = v.field("password", Password::parse(&body.password));
    let name = v.field("name", Name::parse(&body.name));
    let (Some(email), Some(password), Some(name)) = (email, password, name) else {
        return Err(v.error());
    };

    let hash = tokio::task::spawn_blocking(move || PasswordHash::of(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))?;
    let id = UserId::generate();
    let now = Utc::now();
    let token = VerificationToken::issue(id.clone());
    let mut profile = users::profile_item(&id, &email, &name, &hash, now);
    profile.extend(
        token
            .profile_attributes(now)
            .map(|(k, v)| (k.to_owned(), v)),
    );
    profile.insert(
        "known_devices".into(),
        remember(Vec::new(), device_of(client.user_agent.as_deref())),
    );
    let links = Links(&state.config.app_url);
    let mail = Mail::verification(
        Key::user(&id).pk,
        email.as_str(),
        name.as_str(),
        &token.to_string(),
        &links,
        now,
    );
    let audit = AuditDraft::new(
        Actor::user(&id, Some(email.as_str())),
        "user.signed_up",
        Category::Authentication,
        Target::new("user", &id),
        &client,
    );
    let created = Mutation::new(ChainOwner::Creating(profile), audit)
        .write_named(
            ADDRESS_TAKEN,
            put(
                &state.table,
                users::email_pointer(&email, &id),
                "attribute_not_exists(pk)",
            )?,
        )
        .emit(mail)
        .commit(&state)
        .await;
    match created {
        Ok(_) => {}
        Err(CommitError::Conflict(ADDRESS_TAKEN)) => {
            notify_existing(&state, &email, &links).await?
        }
        Err(other) => return Err(other.into()),
    }
    Ok(VerificationSent::answer())
}

/// An account has the address already (its pointer exists).
const ADDRESS_TAKEN: &str = "address_taken";

/// The address has an account: tell its owner someone tried to sign up with it, unless
/// they were told within the hour (the notice item's time is the condition).
async fn notify_existing(state: &AppState, email: &Email, links: &Links<'_>) -> Result<(), Error> {
    let Some(user) = users::id_by_email(&state.table, email).await? else {
        return Ok(());
    };
    let now = Utc::now();
    let owner = Key::user(&user).pk;
    let message = Outboxed::from(Mail::signup_attempt(
        owner.clone(),
        email.as_str(),
        links,
        now,
    ));
    let mut notice = Key {
        pk: owner,
        sk: "SIGNUPNOTICE".into(),
    }
    .to_item();
    notice.insert("notified_at".into(), time(now));
    let recently = Cond::new("attribute_not_exists(pk) OR notified_at < :cutoff")
        .value(":cutoff", time(now - NOTICE_INTERVAL));
    let writes = vec![
        put_if(&state.table, notice, &recently)?,
        put(
            &state.table,
            message.outbox_item(),
            "attribute_not_exists(pk)",
        )?,
    ];
    match state.table.transact(writes).await {
        Ok(()) => state.events.relay_committed(&message).await,
        // Told within the hour: nothing more to send.
        Err(StoreError::Cancelled(_)) => {}
        Err(other) => return Err(other.into()),
    }
    Ok(())
}
