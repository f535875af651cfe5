//! Profile → Security: two-factor authentication with an authenticator app (TOTP) and
//! backup codes. Setup stores a pending secret; enable turns it on only with a valid
//! code and returns the backup codes once; disable needs the password and a second
//! factor; regenerating replaces the whole set of backup codes.
//!
//! These routes keep the current session and do nothing to the others: their answers
//! say how many other sessions exist, so a client can offer "revoke all".

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::account::{caller_profile, user_mutation};
use shared::attempts::{LoginThrottle, TWO_FACTOR};
use shared::audit::Target;
use shared::auth::{authenticate_with, Bearer};
use shared::client_info::ClientInfo;
use shared::domain::backup_code;
use shared::domain::password::hash_secret;
use shared::domain::TotpSecret;
use shared::http::{Json, Problem};
use shared::ids::UserId;
use shared::mail::{Links, Mail};
use shared::mutation::Mutation;
use shared::second_factor::{
    self, active_secret, blocking, sealed_secret, Factor, Holder, ACTIVE, FACTOR_SPENT, PENDING,
};
use shared::store::item::time;
use shared::store::keys::{BACKUP_CODE_PREFIX, SESSION_PREFIX};
use shared::store::sessions::Session;
use shared::store::users::User;
use shared::store::{delete, n, put, s, Item, ItemExt, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

/// On the 204 of `disable`, which has no body to say it in.
const OTHER_SESSIONS_HEADER: &str = "plexmcp-other-sessions";

#[derive(Serialize, ToSchema)]
pub struct TwoFactorSetup {
    /// Base32, for typing into an authenticator by hand.
    secret: String,
    otpauth_uri: String,
    /// `data:image/png;base64,…` — a QR code of `otpauth_uri`.
    qr_code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schema(schema_with = shared::domain::schema::totp_code)]
    code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    #[schema(schema_with = shared::domain::schema::password)]
    password: String,
    #[schema(schema_with = shared::domain::schema::totp_code_or_null)]
    code: Option<String>,
    #[schema(schema_with = shared::domain::schema::backup_code_or_null)]
    backup_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BackupCodes {
    /// Ten single-use codes. Shown once: store them safely.
    backup_codes: Vec<String>,
    /// Sessions other than this one, which this change leaves signed in.
    other_sessions: usize,
}

fn not_enabled() -> Error {
    Error::conflict("two_factor_not_enabled", "two-factor authentication is off")
}

/// Setup and enable make sense only while 2FA is off.
fn ensure_off(user: &User) -> Result<(), Error> {
    if user.two_factor_enabled {
        return Err(Error::conflict(
            "two_factor_enabled",
            "two-factor authentication is already on; disable it first",
        ));
    }
    Ok(())
}

fn wrong_code() -> Error {
    Error::invalid("code", "is not a valid code")
}

/// A new set of backup codes (as shown once) and the writes that store their hashes.
async fn new_backup_set(
    state: &AppState,
    user: &UserId,
) -> Result<(Vec<String>, Vec<TransactWriteItem>), Error> {
    let codes = backup_code::generate_set();
    let plain: Vec<String> = codes
        .iter()
        .filter_map(|c| backup_code::normalise(c))
        .collect();
    let hashes = blocking(move || {
        plain
            .iter()
            .map(|c| hash_secret(c))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?
    .map_err(|e| Error::Internal(e.to_string()))?;
    let set = shared::crypto::random_secret()[..12].to_owned();
    let now = chrono::Utc::now();
    let mut writes = Vec::with_capacity(hashes.len());
    for (index, hash) in hashes.into_iter().enumerate() {
        let mut item = Key::backup_code(user, &set, index).to_item();
        item.insert("code_hash".into(), s(hash));
        item.insert("created_at".into(), time(now));
        writes.push(put(&state.table, item, "attribute_not_exists(pk)")?);
    }
    Ok((codes, writes))
}

/// Deletes of the current backup codes, except one the transaction already spends.
fn delete_backup_set(
    state: &AppState,
    codes: &[Item],
    except: Option<&Key>,
) -> Result<Vec<TransactWriteItem>, Error> {
    let mut writes = Vec::with_capacity(codes.len());
    for item in codes {
        let key = Key::of(item)?;
        if Some(&key) != except {
            writes.push(delete(&state.table, &key, None));
        }
    }
    Ok(writes)
}

/// A new set of backup codes in place of the caller's current ones: the codes (shown
/// once) and the writes that delete the old set and store the new one.
async fn replace_backup_set(
    state: &AppState,
    account: &Account,
) -> Result<(Vec<String>, Vec<TransactWriteItem>), Error> {
    let mut writes = delete_backup_set(state, &account.backup_codes, None)?;
    let (codes, new_writes) = new_backup_set(state, &account.user.id).await?;
    writes.extend(new_writes);
    Ok((codes, writes))
}

fn with_writes(mut mutation: Mutation, writes: Vec<TransactWriteItem>) -> Mutation {
    for write in writes {
        mutation = mutation.write(write);
    }
    mutation
}

/// The caller's account as these routes need it.
struct Account {
    user: User,
    profile: Item,
    backup_codes: Vec<Item>,
    other_sessions: usize,
}

impl Account {
    fn holder<'a>(&'a self, secret: &'a TotpSecret) -> Holder<'a> {
        Holder {
            user: &self.user,
            secret,
            backup_codes: Some(&self.backup_codes),
        }
    }
}

/// The session, profile, backup codes and other sessions of the caller in one strongly
/// consistent query of their partition: `BACKUPCODE#…`, `CHALLENGE#…`, `MEMBERSHIP#…`,
/// `PROFILE` and `SESSION#…` sort together, so the 2FA settings stay within three round
/// trips (this read, the attempt reservation, the transaction).
async fn caller_account(state: &AppState, bearer: &Bearer) -> Result<Account, Error> {
    let (session_key, profile_key) = (bearer.0.session_key(), Key::user(&bearer.0.user_id));
    let items = state
        .table
        .query_range(
            &profile_key.pk,
            BACKUP_CODE_PREFIX,
            &format!("{SESSION_PREFIX}\u{10FFFF}"),
        )
        .await?;
    let sorted = |sk: &str| items.iter().find(|item| item.opt_str("sk") == Some(sk));
    authenticate_with(state, bearer, sorted(&session_key.sk)).await?;
    let profile = sorted(&profile_key.sk)
        .cloned()
        .ok_or(Error::Unauthorized)?;
    let starting = |prefix: &'static str| {
        items
            .iter()
            .filter(move |item| item.opt_str("sk").is_some_and(|sk| sk.starts_with(prefix)))
    };
    let now = chrono::Utc::now();
    let other_sessions = starting(SESSION_PREFIX)
        .filter_map(|item| Session::from_item(item).ok())
        .filter(|session| session.is_live(now) && session.id != bearer.0.session_id)
        .count();
    Ok(Account {
        user: User::from_item(&profile)?,
        backup_codes: starting(BACKUP_CODE_PREFIX).cloned().collect(),
        profile,
        other_sessions,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The account's password: a stolen session alone cannot enroll an authenticator.
    #[schema(schema_with = shared::domain::schema::password)]
    password: String,
}

/// Start enabling 2FA: a new secret, its otpauth URI and a QR code of it.
///
/// Needs the password, checked like a login (a wrong one counts towards the login lock:
/// 5 failures lock for 15 minutes). Calling it again before enabling replaces the
/// pending secret.
#[utoipa::path(post, path = "/v1/me/2fa/setup", operation_id = "setup_two_factor", tag = "two-factor", security(("session" = [])),
    request_body = SetupRequest,
    responses(
        (status = 200, body = TwoFactorSetup),
        (status = 401, body = Problem),
        (status = 409, description = "`two_factor_enabled`: already on", body = Problem),
        (status = 403, description = "`password_incorrect`: the password is not the account's", body = Problem),
        (status = 422, description = "`validation_failed`: no password", body = Problem),
        (status = 429, description = "`rate_limited`: too many wrong passwords", body = Problem),
    ))]
pub async fn setup(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Json(body): Json<SetupRequest>,
) -> Result<axum::Json<TwoFactorSetup>, Error> {
    let (user, profile) = caller_profile(&state, &bearer).await?;
    ensure_off(&user)?;
    // Reserved before the check, on the address's login budget: parallel guesses cannot
    // pass the limit, and guesses here and at login share it.
    let throttle = LoginThrottle::new(Some(&user.email), None);
    throttle.reserve(&state.table).await?;
    let hash = User::password_hash(&profile)?;
    let password = body.password;
    if !blocking(move || hash.verify(&password)).await? {
        return Err(user_mutation(
            &user,
            &profile,
            "2fa.setup_failed",
            Target::new("user", &user.id),
            &client,
        )
        .refuse(&state, Error::PasswordIncorrect)
        .await);
    }
    let secret = TotpSecret::generate();
    let otpauth_uri = secret.otpauth_uri(&user.email).map_err(Error::Internal)?;
    let qr_code = TotpSecret::qr_data_url(&otpauth_uri).map_err(Error::Internal)?;
    user_mutation(
        &user,
        &profile,
        "2fa.setup_started",
        Target::new("user", &user.id),
        &client,
    )
    .set(
        PENDING,
        s(state
            .keys()
            .await?
            .secrets
            .seal(secret.as_bytes(), user.id.as_str())),
    )
    .writes(throttle.passed(&state.table)?)
    .commit(&state)
    .await?;
    Ok(axum::Json(TwoFactorSetup {
        secret: secret.base32(),
        otpauth_uri,
        qr_code,
    }))
}

/// Turn 2FA on with a current code of the pending secret; returns the backup codes once.
#[utoipa::path(post, path = "/v1/me/2fa/enable", operation_id = "enable_two_factor", tag = "two-factor", security(("session" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, body = BackupCodes),
        (status = 409, description = "`two_factor_enabled`, or `two_factor_not_set_up`", body = Problem),
        (status = 422, description = "The code is not valid", body = Problem),
        (status = 429, description = "`rate_limited`: too many wrong codes", body = Problem),
    ))]
pub async fn enable(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Json(body): Json<CodeRequest>,
) -> Result<axum::Json<BackupCodes>, Error> {
    let account = caller_account(&state, &bearer).await?;
    let user = &account.user;
    ensure_off(user)?;
    let pending = sealed_secret(
        &state.keys().await?.secrets,
        &user.id,
        &account.profile,
        PENDING,
    )
    .ok_or_else(|| Error::conflict("two_factor_not_set_up", "call /v1/me/2fa/setup first"))?;
    let proof = second_factor::accept(
        &state,
        account.holder(&pending),
        &Factor::Code(body.code),
        None,
        &client,
        wrong_code,
    )
    .await?;
    // Leftovers of an earlier enrolment, if any, go with the new set.
    let (codes, backup_writes) = replace_backup_set(&state, &account).await?;
    let mutation = user_mutation(
        user,
        &proof.profile,
        "2fa.enabled",
        Target::new("user", &user.id),
        &client,
    )
    .set("two_factor_enabled", AttributeValue::Bool(true))
    .set(
        ACTIVE,
        s(state
            .keys()
            .await?
            .secrets
            .seal(pending.as_bytes(), user.id.as_str())),
    )
    .remove(PENDING)
    .set(TWO_FACTOR.counter, n(0))
    .write_named(FACTOR_SPENT, proof.write);
    second_factor::commit_spending(
        &state,
        with_writes(mutation, backup_writes),
        user,
        &proof.profile,
        &client,
        wrong_code,
    )
    .await?;
    Ok(axum::Json(BackupCodes {
        backup_codes: codes,
        other_sessions: account.other_sessions,
    }))
}

/// Turn 2FA off: needs the password and a current code (or a backup code).
#[utoipa::path(post, path = "/v1/me/2fa/disable", operation_id = "disable_two_factor", tag = "two-factor", security(("session" = [])),
    request_body = DisableRequest,
    responses(
        (status = 204, description = "Off; `PlexMCP-Other-Sessions` says how many other sessions stay signed in",
            headers(("PlexMCP-Other-Sessions" = usize, description = "Sessions other than this one"))),
        (status = 409, description = "`two_factor_not_enabled`", body = Problem),
        (status = 422, description = "Wrong password or code", body = Problem),
        (status = 429, description = "`rate_limited`", body = Problem),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Json(body): Json<DisableRequest>,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1]), Error> {
    let factor = Factor::from_fields(body.code, body.backup_code)?;
    let account = caller_account(&state, &bearer).await?;
    let user = &account.user;
    let secret = active_secret(&state, user, &account.profile)
        .await?
        .ok_or_else(not_enabled)?;
    let wrong = || Error::invalid("code", "the password or the code is not valid");
    let proof = second_factor::accept(
        &state,
        account.holder(&secret),
        &factor,
        Some(body.password),
        &client,
        wrong,
    )
    .await?;
    let others = delete_backup_set(&state, &account.backup_codes, proof.spent_backup.as_ref())?;
    let mutation = user_mutation(
        user,
        &proof.profile,
        "2fa.disabled",
        Target::new("user", &user.id),
        &client,
    )
    .details(json!({ "second_factor": factor.method() }))
    .set("two_factor_enabled", AttributeValue::Bool(false))
    .remove(ACTIVE)
    .remove(PENDING)
    .set(TWO_FACTOR.counter, n(0))
    .write_named(FACTOR_SPENT, proof.write)
    .emit(Mail::two_factor_disabled(
        Key::user(&user.id).pk,
        &user.email,
        &Links(&state.config.app_url),
        chrono::Utc::now(),
    ));
    second_factor::commit_spending(
        &state,
        with_writes(mutation, others),
        user,
        &proof.profile,
        &client,
        wrong,
    )
    .await?;
    let count = account.other_sessions;
    Ok((
        StatusCode::NO_CONTENT,
        [(
            HeaderName::from_static(OTHER_SESSIONS_HEADER),
            HeaderValue::from(count),
        )],
    ))
}

/// Replace the backup codes (a current code is required); the old ones stop working.
#[utoipa::path(post, path = "/v1/me/2fa/backup-codes", operation_id = "regenerate_backup_codes", tag = "two-factor", security(("session" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, body = BackupCodes),
        (status = 409, description = "`two_factor_not_enabled`", body = Problem),
        (status = 422, description = "The code is not valid", body = Problem),
        (status = 429, description = "`rate_limited`", body = Problem),
    ))]
pub async fn regenerate_backup_codes(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientInfo,
    Json(body): Json<CodeRequest>,
) -> Result<axum::Json<BackupCodes>, Error> {
    let account = caller_account(&state, &bearer).await?;
    let user = &account.user;
    let secret = active_secret(&state, user, &account.profile)
        .await?
        .ok_or_else(not_enabled)?;
    let proof = second_factor::accept(
        &state,
        account.holder(&secret),
        &Factor::Code(body.code),
        None,
        &client,
        wrong_code,
    )
    .await?;
    let (codes, writes) = replace_backup_set(&state, &account).await?;
    let mutation = user_mutation(
        user,
        &proof.profile,
        "2fa.backup_codes_regenerated",
        Target::new("user", &user.id),
        &client,
    )
    .set(TWO_FACTOR.counter, n(0))
    .write_named(FACTOR_SPENT, proof.write);
    second_factor::commit_spending(
        &state,
        with_writes(mutation, writes),
        user,
        &proof.profile,
        &client,
        wrong_code,
    )
    .await?;
    Ok(axum::Json(BackupCodes {
        backup_codes: codes,
        other_sessions: account.other_sessions,
    }))
}
