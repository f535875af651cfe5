//! Settings → Security: PIN protection. Turning it on sets a 6-digit PIN; changing it
//! or turning it off needs the current PIN. Owners and admins, signed in as people
//! (an API key can do neither).

use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::password::hash_secret;
use shared::domain::{Permission, Pin};
use shared::error::Validator;
use shared::http::etag::{self, IfMatch, Tagged};
use shared::http::Path;
use shared::http::{Json, Problem};
use shared::mutation::{CommitError, Mutation};
use shared::pin_gate::{self, PinHeader};
use shared::store::item::time;
use shared::store::ItemExt;
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct SecurityView {
    pin_protection_enabled: bool,
    pin_set_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPin {
    #[schema(schema_with = shared::domain::schema::pin)]
    pin: String,
    /// The same PIN again.
    #[schema(schema_with = shared::domain::schema::pin)]
    pin_confirmation: String,
}

fn view(access: &OrgAccess) -> SecurityView {
    SecurityView {
        pin_protection_enabled: access.org.pin_protection_enabled,
        pin_set_at: access
            .org_item
            .time("pin_set_at")
            .ok()
            .filter(|_| access.org.pin_protection_enabled),
    }
}

/// Whether PIN protection is on (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/security", operation_id = "get_security", tag = "security", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path)),
    responses(
        (status = 200, body = SecurityView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to set or turn off the PIN only from that version"))),
        (status = 401, body = Problem),
        (status = 404, body = Problem),
    ))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
) -> Result<Tagged<SecurityView>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    Ok(Tagged(view(&access)))
}

/// What a commit that found PIN protection changed since the read means (the gate's
/// conditions: whether it is on, and when the PIN was set — the view's attributes).
fn changed(if_match: &IfMatch, error: CommitError) -> Error {
    match error {
        CommitError::Changed => if_match.changed(CommitError::Changed.into()),
        other => other.into(),
    }
}

/// Turn PIN protection on, or change the PIN (then the current PIN goes in `X-PlexMCP-PIN`).
#[utoipa::path(put, path = "/v1/orgs/{slug}/security/pin", operation_id = "set_pin", tag = "security", security(("session" = [])),
    params(("slug" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The current PIN, when changing it"), ("If-Match" = Option<String>, Header, description = "an ETag of the security settings: the change is made only to that version")),
    request_body = SetPin,
    responses(
        (status = 200, body = SecurityView, headers(("ETag" = String, description = "the version after the change"))),
        (status = 403, description = "`forbidden`, `pin_required` or `pin_invalid`", body = Problem),
        (status = 412, description = "`precondition_failed`: PIN protection is not (or no longer) the version If-Match names", body = Problem),
        (status = 422, body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
    ))]
pub async fn set_pin(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(slug): Path<String>,
    if_match: IfMatch,
    Json(body): Json<SetPin>,
) -> Result<Tagged<SecurityView>, Error> {
    let mut v = Validator::default();
    let new_pin = v.field("pin", Pin::parse(&body.pin));
    let confirmed = v.field(
        "pin_confirmation",
        if body.pin_confirmation == body.pin {
            Ok(())
        } else {
            Err("does not match the PIN".into())
        },
    );
    let (Some(new_pin), Some(())) = (new_pin, confirmed) else {
        return Err(v.error());
    };
    let (access, _, gate) = pin_gate::load(
        &state,
        &credential,
        &slug,
        Permission::Administer,
        &pin,
        &client,
        |_| None,
    )
    .await?;
    if let Err(stale) = if_match.check(&etag::of(&view(&access))) {
        return Err(gate.refuse(&state, stale).await);
    }
    let changing = access.org.pin_protection_enabled;
    let keys = state.keys().await?;
    let key_id = keys.ring.current_id().to_owned();
    let pepper = keys.pin_pepper(Some(&key_id)).unwrap_or_default();
    let peppered = Pin::peppered(new_pin.expose(), &pepper);
    let hash = tokio::task::spawn_blocking(move || hash_secret(&peppered))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))?;
    let action = if changing {
        "security.pin_changed"
    } else {
        "security.pin_set"
    };
    // Stored to the millisecond; the answer shows what is stored.
    let now = Utc::now().trunc_subsecs(3);
    let mutation: Mutation = access
        .mutation(
            action,
            Category::Settings,
            shared::audit::Target::new("organization", &access.org.id),
            &client,
        )
        .set("pin_hash", AttributeValue::S(hash))
        .set(pin_gate::PIN_KEY, AttributeValue::S(key_id))
        .set("pin_set_at", time(now))
        .set("pin_protection_enabled", AttributeValue::Bool(true));
    gate.commit(&state, mutation)
        .await
        .map_err(|e| changed(&if_match, e))?;
    // What was just committed, without reading it back.
    Ok(Tagged(SecurityView {
        pin_protection_enabled: true,
        pin_set_at: Some(now),
    }))
}

/// Turn PIN protection off (the current PIN goes in `X-PlexMCP-PIN`).
#[utoipa::path(delete, path = "/v1/orgs/{slug}/security/pin", operation_id = "disable_pin", tag = "security", security(("session" = [])),
    params(("slug" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The current PIN"), ("If-Match" = Option<String>, Header, description = "an ETag of the security settings: the change is made only to that version")),
    responses(
        (status = 204),
        (status = 403, description = "`forbidden`, `pin_required` or `pin_invalid`", body = Problem),
        (status = 412, description = "`precondition_failed`: PIN protection is not (or no longer) the version If-Match names", body = Problem),
        (status = 409, description = "`pin_not_enabled`", body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
    ))]
pub async fn disable_pin(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(slug): Path<String>,
    if_match: IfMatch,
) -> Result<StatusCode, Error> {
    // With PIN protection off the gate is open, and nothing was reserved.
    let (access, _, gate) = pin_gate::load(
        &state,
        &credential,
        &slug,
        Permission::Administer,
        &pin,
        &client,
        |_| None,
    )
    .await?;
    if let Err(stale) = if_match.check(&etag::of(&view(&access))) {
        return Err(gate.refuse(&state, stale).await);
    }
    if !access.org.pin_protection_enabled {
        return Err(Error::conflict("pin_not_enabled", "PIN protection is off"));
    }
    let mutation = access
        .mutation(
            "security.pin_disabled",
            Category::Settings,
            Target::new("organization", &access.org.id),
            &client,
        )
        .set("pin_protection_enabled", AttributeValue::Bool(false))
        .remove("pin_hash")
        .remove(pin_gate::PIN_KEY)
        .remove("pin_set_at");
    gate.commit(&state, mutation)
        .await
        .map_err(|e| changed(&if_match, e))?;
    Ok(StatusCode::NO_CONTENT)
}
