//! Settings → Danger Zone: deleting the organization. Only an owner, signed in as a
//! person, who types the org's name exactly, gives their password (and, with 2FA on, a
//! current code or a backup code) and — with PIN protection on — the PIN.
//!
//! One transaction marks the org `deleting` and hands it to the deletion worker through
//! the outbox (`shared::org_deletion`): from that commit the org answers 404 on every
//! route, its API keys 401, and it is gone from its members' `/v1/me`. Each refusal is
//! an entry in the org's audit log and changes nothing else.
//!
//! What the request decided on holds at the commit: the name as typed (`decided_on`),
//! the caller still an owner (the access guard), PIN protection as read (the gate), the
//! caller's 2FA on or off as read, and a TOTP step or backup code spent only once.

use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::attempts::{LoginThrottle, TWO_FACTOR};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::Permission;
use shared::http::{Json, Problem};
use shared::mutation::CommitError;
use shared::org_deletion::OrgDeletion;
use shared::pin_gate::{self, PinHeader};
use shared::second_factor::{self, active_secret, blocking, Factor, Holder, FACTOR_SPENT};
use shared::store::item::time;
use shared::store::orgs::DELETING;
use shared::store::users::User;
use shared::store::{n, s, update_with, Cond, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// The organization's current name, exactly as it is (case-sensitive).
    #[schema(min_length = 1, max_length = 100)]
    confirm_name: String,
    /// The caller's password.
    #[schema(schema_with = shared::domain::schema::password)]
    password: String,
    /// Required when the caller has 2FA on: a current authenticator code (6 digits) or
    /// an unused backup code.
    #[schema(min_length = 1, max_length = 64)]
    code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletionStarted {
    /// Always `deleting`: the organization is gone for every route and key, and its data
    /// is being removed.
    #[schema(schema_with = deleting_schema)]
    status: &'static str,
}

fn deleting_schema() -> utoipa::openapi::Object {
    shared::domain::schema::one_of("Always `deleting`.", &["deleting"])
}

/// The owner's 2FA was turned off meanwhile.
const TWO_FACTOR_CHANGED: &str = "two_factor_changed";

/// Delete the organization (owners only; **PIN-gated**).
///
/// Permanently deletes the organization and all its data: MCPs, API keys, members and
/// invitations, usage, webhooks and their delivery logs, the custom domain, exports and
/// the audit log. Billing records are kept for compliance (`BILLING_RETENTION_DAYS`).
/// From the answer on, every route of the org answers 404 and its API keys 401; the slug
/// becomes free once everything is gone.
#[utoipa::path(post, path = "/v1/orgs/{slug}/delete", operation_id = "delete_organization", tag = "organizations", security(("session" = [])),
    params(("slug" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The org PIN, when PIN protection is on")),
    request_body = DeleteRequest,
    responses(
        (status = 202, body = DeletionStarted),
        (status = 401, body = Problem),
        (status = 403, description = "`forbidden` (not an owner, or an API key), `pin_required`, `pin_invalid`, or `password_incorrect` (without 2FA)", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`conflict`: the name, a role, PIN protection or the caller's 2FA changed meanwhile", body = Problem),
        (status = 422, description = "`confirm_name` is not the name; with 2FA, the password or the code is not valid (one refusal that does not say which); `code` is required", body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
        (status = 429, description = "`rate_limited`: too many wrong passwords or codes", body = Problem),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(slug): Path<String>,
    Json(body): Json<DeleteRequest>,
) -> Result<(StatusCode, axum::Json<DeletionStarted>), Error> {
    let profile_key = match &credential {
        Credential::Session(bearer) => Some(Key::user(&bearer.0.user_id)),
        Credential::ApiKey(..) => None,
    };
    let first: Vec<Key> = profile_key.iter().cloned().collect();
    let mut access =
        OrgAccess::load_with(&state, &credential, &slug, &first, |_, _| Vec::new()).await?;
    access.require(Permission::DeleteOrganization)?;
    access.require_person()?;
    let profile = profile_key
        .and_then(|key| access.items.remove(&key))
        .ok_or(Error::Unauthorized)?;
    let user = User::from_item(&profile)?;

    if body.confirm_name != access.org.name {
        let error = Error::invalid(
            "confirm_name",
            "type the organization's name exactly as it is shown (case-sensitive)",
        );
        return Err(refuse(&state, &access, &client, "name", error).await);
    }
    let factor = match (user.two_factor_enabled, body.code) {
        (true, None) => {
            let error = Error::invalid(
                "code",
                "two-factor authentication is on for your account: send a current code or a backup code",
            );
            return Err(refuse(&state, &access, &client, "code_missing", error).await);
        }
        (true, Some(code)) => Some(factor_of(code)),
        (false, _) => None,
    };
    let gate = pin_gate::check(&state, &access, &pin, &client).await?;

    let now = chrono::Utc::now();
    let mutation = access
        .mutation(
            "organization.deletion_requested",
            Category::Settings,
            Target::new("organization", &access.org.id),
            &client,
        )
        .details(json!({ "name": access.org.name, "slug": access.org.slug }))
        .decided_on("name", access.org_item.get("name").cloned())
        .set("status", s(DELETING))
        .set("deleted_at", time(now))
        .set("deleted_by", s(user.id.as_str()))
        .emit(OrgDeletion::new(&access.org.id, user.id.as_str(), now));

    // With 2FA on: the password and the code, on the second-factor budget; the code is
    // spent by the commit (write 0), which also forgets earlier failures. Without: the
    // password, on the address's login budget (as a login).
    let (mutation, spent_by) = match factor {
        Some(factor) => {
            let secret = active_secret(&state, &user, &profile)
                .await?
                .ok_or_else(|| {
                    Error::Internal("2FA is on but the account has no readable secret".into())
                })?;
            let holder = Holder {
                user: &user,
                secret: &secret,
                backup_codes: None,
            };
            let checked = second_factor::check(&state, holder, &factor, Some(body.password)).await;
            let proof = match checked {
                Ok(second_factor::Checked::Accepted(proof)) => *proof,
                Ok(second_factor::Checked::Rejected { profile, locked }) => {
                    gate.release(&state).await;
                    let error =
                        second_factor::rejected(&state, &user, &profile, locked, &client, wrong())
                            .await;
                    return Err(refuse(&state, &access, &client, "password_or_code", error).await);
                }
                Err(error) => {
                    gate.release(&state).await;
                    return Err(error);
                }
            };
            let reset = update_with(
                &state.table,
                &Key::user(&user.id),
                "SET #failures = :zero",
                &Cond::new("two_factor_enabled = :on")
                    .name("#failures", TWO_FACTOR.counter)
                    .value(":zero", n(0))
                    .value(":on", AttributeValue::Bool(true)),
            )?;
            (
                mutation
                    .write_named(FACTOR_SPENT, proof.write)
                    .write_named(TWO_FACTOR_CHANGED, reset),
                Some(proof.profile),
            )
        }
        None => {
            let throttle = LoginThrottle::new(Some(&user.email), None);
            if let Err(error) = throttle.reserve(&state.table).await {
                gate.release(&state).await;
                return Err(error);
            }
            let hash = User::password_hash(&profile)?;
            let password = body.password;
            if !blocking(move || hash.verify(&password)).await? {
                gate.release(&state).await;
                let error = Error::PasswordIncorrect;
                return Err(refuse(&state, &access, &client, "password", error).await);
            }
            let off =
                Cond::new("two_factor_enabled = :off").value(":off", AttributeValue::Bool(false));
            let mutation = mutation
                .writes(throttle.passed(&state.table)?)
                .guard(Key::user(&user.id), off);
            (mutation, None)
        }
    };
    match (gate.commit(&state, mutation).await, spent_by) {
        (Ok(_), _) => {}
        // Another request spent the same step or backup code first.
        (Err(CommitError::Conflict(FACTOR_SPENT)), Some(profile)) => {
            let error =
                second_factor::rejected(&state, &user, &profile, false, &client, wrong()).await;
            return Err(refuse(&state, &access, &client, "password_or_code", error).await);
        }
        // The caller's 2FA was turned on or off meanwhile.
        (Err(CommitError::Conflict(TWO_FACTOR_CHANGED)), _) => {
            return Err(CommitError::Changed.into())
        }
        (Err(other), _) => return Err(other.into()),
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DeletionStarted { status: DELETING }),
    ))
}

fn wrong() -> Error {
    Error::invalid("code", "the password or the code is not valid")
}

/// A code of six digits is read as an authenticator code, anything else as a backup code.
fn factor_of(code: String) -> Factor {
    let trimmed = code.trim();
    if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        Factor::Code(trimmed.to_owned())
    } else {
        Factor::BackupCode(code)
    }
}

/// Records a refused deletion in the org's audit log and answers `error`.
async fn refuse(
    state: &AppState,
    access: &OrgAccess,
    client: &ClientInfo,
    reason: &str,
    error: Error,
) -> Error {
    access
        .mutation(
            "organization.deletion_refused",
            Category::Settings,
            Target::new("organization", &access.org.id),
            client,
        )
        .details(json!({ "reason": reason }))
        .refuse(state, error)
        .await
}
