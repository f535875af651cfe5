//! MCP servers registered with the gateway: create, list, read, update, delete (owners
//! and admins, **PIN-gated**), and their health, whose change is an event.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::mcp::{parse_config, parse_health, parse_transport, split_secrets, McpUrl};
use shared::domain::{Name, Permission};
use shared::error::Validator;
use shared::event_data::{self, EventData};
use shared::events::Event;
use shared::http::etag::{self, IfMatch, Tagged};
use shared::http::page::query_page;
use shared::http::{Created, Json, Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::McpId;
use shared::mcps::{Mcp, UNKNOWN_HEALTH};
use shared::mutation::CommitError;
use shared::pin_gate::{self, PinHeader};
use shared::store::item::{stored_now, time};
use shared::store::keys::MCP_PREFIX;
use shared::store::{delete, put, s, update_if, Item, Key, StoreError};
use shared::{AppState, Error};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct McpView {
    id: McpId,
    name: String,
    url: String,
    #[schema(schema_with = shared::domain::schema::transport)]
    transport: String,
    config: Value,
    #[schema(schema_with = shared::domain::schema::health_shown)]
    health: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Mcp> for McpView {
    fn from(mcp: &Mcp) -> Self {
        McpView {
            id: mcp.id.clone(),
            name: mcp.name.clone(),
            url: mcp.url.clone(),
            transport: mcp.transport.clone(),
            config: serde_json::from_str(&mcp.config).unwrap_or(Value::Null),
            health: mcp.health.clone(),
            created_at: mcp.created_at,
            updated_at: mcp.updated_at,
        }
    }
}

impl McpView {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(McpView::from(&Mcp::from_item(item)?))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMcp {
    #[schema(schema_with = shared::domain::schema::name)]
    name: String,
    #[schema(schema_with = shared::domain::schema::mcp_url)]
    url: String,
    #[schema(schema_with = shared::domain::schema::transport_or_null)]
    transport: Option<String>,
    /// A JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMcp {
    #[schema(schema_with = shared::domain::schema::name_or_null)]
    name: Option<String>,
    #[schema(schema_with = shared::domain::schema::mcp_url_or_null)]
    url: Option<String>,
    #[schema(schema_with = shared::domain::schema::transport_or_null)]
    transport: Option<String>,
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthReport {
    #[schema(schema_with = shared::domain::schema::health)]
    status: String,
}

/// `/v1/orgs/{slug}/mcps/{mcp_id}`.
#[derive(Deserialize)]
pub struct McpPath {
    slug: String,
    mcp_id: PathId<McpId>,
}

/// The org's MCP `id` (404 when it is none).
async fn load(
    state: &AppState,
    credential: &Credential,
    slug: &str,
    id: Option<&McpId>,
) -> Result<(OrgAccess, Mcp), Error> {
    let (access, item) = OrgAccess::load_target(state, credential, slug, |org| {
        id.map(|id| Key::mcp(org, id.as_str()))
    })
    .await?;
    Ok((access, Mcp::from_item(&item.ok_or(Error::NotFound)?)?))
}

/// A config (valid JSON text) as kept in the clear — every secret replaced by its mask,
/// so no reader, event, export or audit entry ever sees one — and its secrets.
fn split(config: &str, previous: &BTreeMap<String, String>) -> (String, BTreeMap<String, String>) {
    let value: Value = serde_json::from_str(config).unwrap_or_default();
    let (shown, secrets) = split_secrets(&value, previous);
    (shown.to_string(), secrets)
}

/// The secrets sealed with the data keys, bound to the MCP.
async fn seal(
    state: &AppState,
    id: &McpId,
    secrets: &BTreeMap<String, String>,
) -> Result<String, Error> {
    let bytes = serde_json::to_vec(secrets).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(state.keys().await?.secrets.seal(&bytes, id.as_str()))
}

/// The MCP's secrets as stored (none: empty).
async fn stored_secrets(state: &AppState, mcp: &Mcp) -> Result<BTreeMap<String, String>, Error> {
    let (Some(sealed), id) = (&mcp.config_secrets, &mcp.id) else {
        return Ok(BTreeMap::new());
    };
    let bytes = state
        .keys()
        .await?
        .secrets
        .open(sealed, id.as_str())
        .ok_or_else(|| Error::Internal("an MCP's secrets do not open with the data keys".into()))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Internal(e.to_string()))
}

/// The MCP is not as read any more (changed by another request, or deleted).
const MCP_CHANGED: &str = "mcp_changed";

/// Register an MCP server (members and up). Emits `mcp.created`.
#[utoipa::path(post, path = "/v1/orgs/{slug}/mcps", operation_id = "create_mcp", tag = "mcps", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path)), request_body = CreateMcp,
    responses((status = 201, body = McpView, headers(("Location" = String, description = "the new resource's path"))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<CreateMcp>,
) -> Result<Created<McpView>, Error> {
    let mut v = Validator::default();
    let name = v.field("name", Name::parse(&body.name));
    let url = v.field("url", McpUrl::parse(&body.url));
    let transport = v.field(
        "transport",
        parse_transport(body.transport.as_deref().unwrap_or("streamable_http")),
    );
    let config = v.field(
        "config",
        parse_config(body.config.as_ref().unwrap_or(&json!({}))),
    );
    let (Some(name), Some(url), Some(transport), Some(config)) = (name, url, transport, config)
    else {
        return Err(v.error());
    };
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Contribute)?;
    let id = McpId::generate();
    let now = stored_now();
    let (config, secrets) = split(&config, &BTreeMap::new());
    let config_secrets = if secrets.is_empty() {
        None
    } else {
        Some(seal(&state, &id, &secrets).await?)
    };
    let mcp = Mcp {
        id: id.clone(),
        name: name.as_str().to_owned(),
        url: url.as_str().to_owned(),
        transport: transport.clone(),
        config,
        config_secrets,
        health: UNKNOWN_HEALTH.into(),
        created_at: now,
        updated_at: now,
    };
    let data = event_data::McpCreated {
        mcp_id: id.clone(),
        name: name.as_str().to_owned(),
        url: url.as_str().to_owned(),
        transport: transport.to_owned(),
    };
    access
        .mutation(
            "mcp.created",
            Category::Mcp,
            Target::new("mcp", &id),
            &client,
        )
        .details(data.json())
        .write(put(
            &state.table,
            mcp.item(&access.org.id),
            "attribute_not_exists(pk)",
        )?)
        .emit(Event::of(&access.org.id, &data, now))
        .commit(&state)
        .await?;
    Ok(Created::at(
        access.org_path(&format!("/mcps/{id}")),
        McpView::from(&mcp),
    ))
}

/// The org's MCP servers (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/mcps", operation_id = "list_mcps", tag = "mcps", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), PageQuery),
    responses((status = 200, body = Page<McpView>), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<McpView>>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    let page = query_page(
        &state,
        &access.org_key().pk,
        MCP_PREFIX,
        &query,
        McpView::from_item,
    )
    .await?;
    Ok(axum::Json(page))
}

/// One MCP server (any member).
#[utoipa::path(get, path = "/v1/orgs/{slug}/mcps/{mcp_id}", operation_id = "get_mcp", tag = "mcps", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), ("mcp_id" = String, Path)),
    responses((status = 200, body = McpView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change only that version"))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(McpPath { slug, mcp_id }): Path<McpPath>,
) -> Result<Tagged<McpView>, Error> {
    let (access, mcp) = load(&state, &credential, &slug, mcp_id.as_ref()).await?;
    access.require(Permission::Read)?;
    Ok(Tagged(McpView::from(&mcp)))
}

/// Change an MCP server's name, URL, transport or config (members and up). Emits `mcp.updated`.
#[utoipa::path(patch, path = "/v1/orgs/{slug}/mcps/{mcp_id}", operation_id = "update_mcp", tag = "mcps", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), ("mcp_id" = String, Path), ("If-Match" = Option<String>, Header, description = "an ETag: the change is made only to that version")), request_body = UpdateMcp,
    responses((status = 200, body = McpView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change only that version"))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, description = "`precondition_failed`: the MCP is not (or no longer) the version If-Match names", body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(McpPath { slug, mcp_id }): Path<McpPath>,
    if_match: IfMatch,
    Json(body): Json<UpdateMcp>,
) -> Result<Tagged<McpView>, Error> {
    let mut v = Validator::default();
    let name = body
        .name
        .as_deref()
        .and_then(|raw| v.field("name", Name::parse(raw)));
    let url = body
        .url
        .as_deref()
        .and_then(|raw| v.field("url", McpUrl::parse(raw)));
    let transport = body
        .transport
        .as_deref()
        .and_then(|raw| v.field("transport", parse_transport(raw)));
    let config = body
        .config
        .as_ref()
        .and_then(|raw| v.field("config", parse_config(raw)));
    if v.has_errors() {
        return Err(v.error());
    }
    let (access, before) = load(&state, &credential, &slug, mcp_id.as_ref()).await?;
    access.require(Permission::Contribute)?;
    // The write below is conditioned on the version read (`updated_at`).
    if_match.check(&etag::of(&McpView::from(&before)))?;
    let mut after = before.clone();
    if let Some(name) = name {
        after.name = name.into_string();
    }
    if let Some(url) = url {
        after.url = url.as_str().to_owned();
    }
    if let Some(transport) = transport {
        after.transport = transport;
    }
    if let Some(config) = config {
        // The secrets as stored: a value sent back masked keeps its secret.
        let previous = stored_secrets(&state, &before).await?;
        let (shown, secrets) = split(&config, &previous);
        if before.config != shown || secrets != previous {
            after.config = shown;
            after.config_secrets = Some(seal(&state, &before.id, &secrets).await?);
        }
    }
    if after == before {
        return Ok(Tagged(McpView::from(&before)));
    }
    // The config's change is told as a change, never as values; its sealed secrets
    // are not told at all.
    let mut diff = Map::new();
    for (attr, from, to) in [
        ("name", &before.name, &after.name),
        ("url", &before.url, &after.url),
        ("transport", &before.transport, &after.transport),
    ] {
        if from != to {
            diff.insert(attr.to_owned(), json!({ "from": from, "to": to }));
        }
    }
    if (&before.config, &before.config_secrets) != (&after.config, &after.config_secrets) {
        diff.insert("config".to_owned(), json!({ "changed": true }));
    }
    let now = stored_now();
    after.updated_at = now;
    let data = event_data::McpUpdated {
        mcp_id: after.id.clone(),
        name: after.name.clone(),
        changes: diff,
    };
    let key = Key::mcp(&access.org.id, after.id.as_str());
    access
        .mutation(
            "mcp.updated",
            Category::Mcp,
            Target::new("mcp", &after.id),
            &client,
        )
        .details(data.json())
        .write_named(
            MCP_CHANGED,
            update_if(
                &state.table,
                &key,
                &after.changes_from(&before),
                Some(("updated_at", time(before.updated_at))),
            )?,
        )
        .emit(Event::of(&access.org.id, &data, now))
        .commit(&state)
        .await
        .map_err(|e| match e {
            CommitError::Conflict(MCP_CHANGED) => if_match.changed(Error::conflict(
                "conflict",
                "the MCP changed meanwhile; read it again and retry",
            )),
            other => other.into(),
        })?;
    // The MCP as committed (the write was conditional on the version read), without
    // reading it back.
    Ok(Tagged(McpView::from(&after)))
}

/// Delete an MCP server (owners and admins; **PIN-gated**). Emits `mcp.deleted`.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/mcps/{mcp_id}", operation_id = "delete_mcp", tag = "mcps", security(("session" = [])),
    params(("slug" = String, Path), ("mcp_id" = String, Path), ("X-PlexMCP-PIN" = Option<String>, Header, description = "The org PIN, when PIN protection is on")),
    responses(
        (status = 204),
        (status = 403, description = "`forbidden`, `pin_required` or `pin_invalid`", body = Problem),
        (status = 404, body = Problem),
        (status = 423, description = "`pin_locked`", body = Problem),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    pin: PinHeader,
    Path(McpPath { slug, mcp_id }): Path<McpPath>,
) -> Result<StatusCode, Error> {
    let (access, item, gate) = pin_gate::load(
        &state,
        &credential,
        &slug,
        Permission::Administer,
        &pin,
        &client,
        |org| mcp_id.as_ref().map(|id| Key::mcp(org, id.as_str())),
    )
    .await?;
    let Some(item) = item else {
        return Err(gate.refuse(&state, Error::NotFound).await);
    };
    let mcp = Mcp::from_item(&item)?;
    let data = event_data::McpDeleted {
        mcp_id: mcp.id.clone(),
        name: mcp.name.clone(),
    };
    let mutation = access
        .mutation(
            "mcp.deleted",
            Category::Mcp,
            Target::new("mcp", &mcp.id),
            &client,
        )
        .details(data.json())
        .write_named(
            MCP_CHANGED,
            delete(
                &state.table,
                &Key::mcp(&access.org.id, mcp.id.as_str()),
                Some("attribute_exists(pk)"),
            ),
        )
        .emit(Event::of(&access.org.id, &data, Utc::now()));
    gate.commit(&state, mutation).await.map_err(|e| match e {
        CommitError::Conflict(MCP_CHANGED) => Error::NotFound,
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Report an MCP server's health (members and up). Emits `mcp.health_changed` only when
/// the status changes.
#[utoipa::path(put, path = "/v1/orgs/{slug}/mcps/{mcp_id}/health", operation_id = "report_mcp_health", tag = "mcps", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), ("mcp_id" = String, Path)), request_body = HealthReport,
    responses((status = 200, body = McpView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn report_health(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(McpPath { slug, mcp_id }): Path<McpPath>,
    Json(body): Json<HealthReport>,
) -> Result<axum::Json<McpView>, Error> {
    let status = parse_health(&body.status).map_err(|m| Error::invalid("status", m))?;
    let (access, before) = load(&state, &credential, &slug, mcp_id.as_ref()).await?;
    access.require(Permission::Contribute)?;
    if before.health == status {
        return Ok(axum::Json(McpView::from(&before)));
    }
    let now = stored_now();
    let after = Mcp {
        health: status,
        updated_at: now,
        ..before.clone()
    };
    let data = event_data::McpHealthChanged {
        mcp_id: after.id.clone(),
        name: after.name.clone(),
        from: before.health.clone(),
        to: after.health.clone(),
    };
    let key = Key::mcp(&access.org.id, after.id.as_str());
    let committed = access
        .mutation(
            "mcp.health_changed",
            Category::Mcp,
            Target::new("mcp", &after.id),
            &client,
        )
        .details(data.json())
        .write_named(
            MCP_CHANGED,
            update_if(
                &state.table,
                &key,
                &after.changes_from(&before),
                Some(("health", s(&before.health))),
            )?,
        )
        .emit(Event::of(&access.org.id, &data, now))
        .commit(&state)
        .await;
    match committed {
        Ok(_) => Ok(axum::Json(McpView::from(&after))),
        // Another report changed it first; that report carried the event.
        Err(CommitError::Conflict(MCP_CHANGED)) => {
            let (_, now_stored) = load(&state, &credential, &slug, mcp_id.as_ref()).await?;
            Ok(axum::Json(McpView::from(&now_stored)))
        }
        Err(other) => Err(other.into()),
    }
}
