//! Organization API keys: created by members and up (the key is shown once), listed as
//! metadata only, revoked by owners and admins (**PIN-gated**) — rejected at once.
//! Managing keys needs a person's session (an API key cannot mint, list or revoke keys),
//! and a key dies with its creator's membership: the member item lists the keys its
//! person created, and removing the member revokes them in the same transaction.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::access::{Credential, OrgAccess};
use shared::api_keys::{ApiKey, ApiKeySecret};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::{Name, Permission};
use shared::event_data::{self, EventData};
use shared::events::Event;
use shared::http::page::query_page;
use shared::http::{Created, Json, Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::{ApiKeyId, UserId};
use shared::mutation::CommitError;
use shared::pin_gate::{self, PinHeader};
use shared::store::item::stored_now;
use shared::store::keys::API_KEY_PREFIX;
use shared::store::members::{self, MAX_API_KEYS_PER_MEMBER};
use shared::store::{delete, put, Key};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// To recognise the key by.
    #[schema(schema_with = shared::domain::schema::name)]
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    id: ApiKeyId,
    name: String,
    prefix: String,
    /// The key itself: shown this once, never again.
    key: String,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    id: ApiKeyId,
    name: String,
    /// `pmcp_` and the key's first 6 characters.
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    /// Who created it: a user id, or the id of the API key that did.
    created_by: String,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        ApiKeyView {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            created_by: key.created_by,
        }
    }
}

/// The creator holds the most API keys a member may (`MAX_API_KEYS_PER_MEMBER`).
const KEY_LIMIT: &str = "api_key_limit";
/// The key was revoked by another request meanwhile.
const KEY_GONE: &str = "api_key_gone";

/// Create an API key (members and up). Emits `api_key.created`.
#[utoipa::path(post, path = "/v1/orgs/{slug}/api-keys", operation_id = "create_api_key", tag = "api-keys", security(("session" = [])),
    params(("slug" = String, Path)), request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyCreated, headers(("Location" = String, description = "the new resource's path"))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, description = "`api_key_limit`", body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<CreateApiKey>,
) -> Result<Created<ApiKeyCreated>, Error> {
    let name = Name::parse(&body.name).map_err(|m| Error::invalid("name", m))?;
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Contribute)?;
    access.require_person()?;
    let creator = access.user_id().ok_or(Error::Unauthorized)?.clone();
    let secret = ApiKeySecret::generate();
    let id = ApiKeyId::generate();
    let now = stored_now();
    let key = ApiKey {
        id: id.clone(),
        name: name.as_str().to_owned(),
        prefix: secret.display_prefix(),
        key_hash: secret.hash(),
        created_by: access.actor().id,
        created_at: now,
        last_used_at: None,
    };
    let data = event_data::ApiKeyCreated {
        key_id: id.clone(),
        name: name.as_str().to_owned(),
        prefix: secret.display_prefix(),
    };
    access
        .mutation(
            "api_key.created",
            Category::ApiKey,
            Target::new("api_key", &id),
            &client,
        )
        .details(data.json())
        .write(put(
            &state.table,
            key.item(&access.org.id),
            "attribute_not_exists(pk)",
        )?)
        .write(put(
            &state.table,
            key.pointer_item(&access.org.id),
            "attribute_not_exists(pk)",
        )?)
        .write_named(
            KEY_LIMIT,
            members::key_created(
                &state.table,
                &access.org.id,
                &creator,
                id.as_str(),
                &secret.hash(),
            )?,
        )
        .emit(Event::of(&access.org.id, &data, now))
        .commit(&state)
        .await
        .map_err(|e| match e {
            CommitError::Conflict(KEY_LIMIT) => Error::conflict(
                "api_key_limit",
                format!("a member can hold at most {MAX_API_KEYS_PER_MEMBER} API keys; revoke one first"),
            ),
            other => other.into(),
        })?;
    let created = ApiKeyCreated {
        id,
        name: name.into_string(),
        prefix: secret.display_prefix(),
        key: secret.expose().to_owned(),
        created_at: now,
    };
    Ok(Created::at(
        access.org_path(&format!("/api-keys/{}", created.id)),
        created,
    ))
}

/// The org's API keys: metadata only, never a key (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/api-keys", operation_id = "list_api_keys", tag = "api-keys", security(("session" = [])),
    params(("slug" = String, Path), PageQuery),
    responses((status = 200, body = Page<ApiKeyView>), (status = 400, body = Problem), (status = 403, description = "API keys cannot list keys", body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<ApiKeyView>>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    access.require_person()?;
    let page = query_page(
        &state,
        &access.org_key().pk,
        API_KEY_PREFIX,
        &query,
        |item| ApiKey::from_item(item).map(ApiKeyView::from),
    )
    .await?;
    Ok(axum::Json(page))
}

/// `/v1/orgs/{slug}/api-keys/{key_id}`.
#[derive(Deserialize)]
pub struct ApiKeyPath {
    slug: String,
    key_id: PathId<ApiKeyId>,
}

/// Revoke an API key (owners and admins; **PIN-gated**): it is rejected on its next
/// request. Emits `api_key.revoked`.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/api-keys/{key_id}", operation_id = "revoke_api_key", tag = "api-keys", security(("session" = [])),
    params(("slug" = String, Path), ("key_id" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The org PIN, when PIN protection is on")),
    responses(
        (status = 204),
        (status = 403, description = "`forbidden`, `pin_required` or `pin_invalid`", body = Problem),
        (status = 404, body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(ApiKeyPath { slug, key_id }): Path<ApiKeyPath>,
) -> Result<StatusCode, Error> {
    let (access, item, gate) = pin_gate::load(
        &state,
        &credential,
        &slug,
        Permission::Administer,
        &pin,
        &client,
        |org| key_id.as_ref().map(|id| Key::api_key(org, id.as_str())),
    )
    .await?;
    let Some(item) = item else {
        return Err(gate.refuse(&state, Error::NotFound).await);
    };
    let key = ApiKey::from_item(&item)?;
    let data = event_data::ApiKeyRevoked {
        key_id: key.id.clone(),
        name: key.name.clone(),
        prefix: key.prefix.clone(),
    };
    let mut mutation = access
        .mutation(
            "api_key.revoked",
            Category::ApiKey,
            Target::new("api_key", &key.id),
            &client,
        )
        .details(data.json())
        .write_named(
            KEY_GONE,
            delete(
                &state.table,
                &Key::api_key(&access.org.id, key.id.as_str()),
                Some("attribute_exists(pk)"),
            ),
        )
        .write(delete(
            &state.table,
            &Key::api_key_pointer(&key.key_hash),
            None,
        ))
        .emit(Event::of(&access.org.id, &data, Utc::now()));
    if let Some(creator) = UserId::parse(&key.created_by) {
        mutation = mutation.write(members::key_revoked(
            &state.table,
            &access.org.id,
            &creator,
            key.id.as_str(),
            &key.key_hash,
        )?);
    }
    gate.commit(&state, mutation).await.map_err(|e| match e {
        CommitError::Conflict(KEY_GONE) => Error::NotFound,
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
