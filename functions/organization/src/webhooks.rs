//! Settings → Webhooks: endpoints that receive the org's events. Owners and admins
//! manage them, every member reads them (never a secret). The signing secret is shown on
//! create and on rotation only, and stored sealed.
//!
//! The URL is checked by the SSRF guard (`shared::webhooks::target`) at create and
//! update — every address its host resolves to must be public — and again by the
//! delivery worker at every attempt.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::{Description, Permission};
use shared::error::Validator;
use shared::events::EventType;
use shared::http::etag::{self, IfMatch, Tagged};
use shared::http::page::query_page;
use shared::http::{Created, Json, Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::WebhookId;
use shared::mutation::CommitError;
use shared::store::item::stored_now;
use shared::store::keys::WEBHOOK_PREFIX;
use shared::store::{delete, n, put, ItemExt, Key};
use shared::webhooks::endpoint::{Webhook, MAX_WEBHOOKS_PER_ORG, ROTATION_OVERLAP, WEBHOOK_COUNT};
use shared::webhooks::{SystemResolver, WebhookSecret, WebhookUrl};
use shared::{AppState, Error};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct EventTypeView {
    /// The event's wire name, e.g. `mcp.created`.
    #[schema(value_type = EventType)]
    name: &'static str,
    description: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct EventTypes {
    /// The product page's nine event types.
    items: Vec<EventTypeView>,
    /// Event types past the nine (`custom_domain.status_changed`): listed apart, so that a
    /// client that subscribes to every item does not start receiving them. An endpoint
    /// receives one when it names it, as any other.
    opt_in: Vec<EventTypeView>,
}

/// A webhook endpoint, without its secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    id: WebhookId,
    url: String,
    events: Vec<EventType>,
    enabled: bool,
    description: String,
    /// Why the platform stopped deliveries (410 from the endpoint, or 5 days of failed
    /// attempts); absent otherwise. Enabling the endpoint again clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl WebhookView {
    /// The endpoint as `access` may see it: its URL whole for owners and admins, and
    /// redacted for the rest (`target::redacted`).
    fn for_reader(w: &Webhook, access: &OrgAccess) -> Self {
        let mut view = WebhookView::from(w);
        if !access.role.allows(Permission::Administer) {
            view.url = shared::webhooks::target::redacted(&view.url);
        }
        view
    }
}

impl From<&Webhook> for WebhookView {
    fn from(w: &Webhook) -> Self {
        WebhookView {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            enabled: w.enabled,
            description: w.description.clone(),
            disabled_reason: w.disabled_reason.clone(),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A new endpoint, with its signing secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    webhook: WebhookView,
    /// `whsec_` + base64 of 32 random bytes: the Standard Webhooks signing key.
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct SecretRotated {
    /// The new signing secret, shown this once. The previous one keeps signing (as a
    /// second signature) for 24 hours.
    secret: String,
    previous_secret_expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    #[schema(schema_with = shared::webhooks::target::url_schema)]
    url: String,
    /// One or more of the nine event types (a repeated one counts once).
    #[schema(value_type = Vec<EventType>, min_items = 1)]
    events: Vec<String>,
    #[schema(schema_with = shared::domain::schema::description_or_null)]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(schema_with = shared::webhooks::target::url_or_null_schema)]
    url: Option<String>,
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    events: Option<Vec<String>>,
    /// `false` stops deliveries; events of the time it is off are not sent later.
    enabled: Option<bool>,
    #[schema(schema_with = shared::domain::schema::description_or_null)]
    description: Option<String>,
}

/// The URL after the syntax rules and the address check (422 naming `url`).
async fn checked_url(state: &AppState, raw: &str) -> Result<WebhookUrl, Error> {
    let allow = state.config.webhook_allow_private_targets;
    let url = WebhookUrl::parse(raw, allow).map_err(|e| Error::invalid("url", e.0))?;
    url.vet(&SystemResolver, allow)
        .await
        .map_err(|e| Error::invalid("url", e.0))?;
    Ok(url)
}

/// `/v1/orgs/{slug}/webhooks/{webhook_id}` and the routes under it.
#[derive(Deserialize)]
pub struct WebhookPath {
    pub slug: String,
    pub webhook_id: PathId<WebhookId>,
}

/// The org's endpoint `id` (404 when it is none).
async fn load(
    state: &AppState,
    credential: &Credential,
    slug: &str,
    id: Option<&WebhookId>,
) -> Result<(OrgAccess, Webhook), Error> {
    let (access, item) = OrgAccess::load_target(state, credential, slug, |org| {
        id.map(|id| Key::webhook(org, id.as_str()))
    })
    .await?;
    let webhook = Webhook::from_item(&item.ok_or(Error::NotFound)?)?;
    Ok((access, webhook))
}

/// The endpoint is not as read any more (changed, disabled by the worker, or deleted).
const WEBHOOK_CHANGED: &str = "webhook_changed";

/// Writes what people change of the endpoint as `after`, with its audit entry, only while
/// it is still as read (`before`): another change meanwhile (a person's, or the worker
/// disabling it) → 409. What the worker keeps (`failing_since`) is left alone.
async fn commit_change(
    state: &AppState,
    access: &OrgAccess,
    client: &ClientInfo,
    action: &'static str,
    details: serde_json::Value,
    (before, after): (&Webhook, &Webhook),
    if_match: &IfMatch,
) -> Result<(), Error> {
    access
        .mutation(
            action,
            Category::Settings,
            Target::new("webhook", &after.id),
            client,
        )
        .details(details)
        .write_named(
            WEBHOOK_CHANGED,
            after.update_as_read(&state.table, &access.org.id, before.updated_at)?,
        )
        .commit(state)
        .await
        .map_err(|error| match error {
            CommitError::Conflict(WEBHOOK_CHANGED) => if_match.changed(Error::conflict(
                "conflict",
                "the webhook changed meanwhile; read it again and retry",
            )),
            other => other.into(),
        })?;
    Ok(())
}

/// The event types an endpoint can subscribe to: the nine, and the opt-in ones.
#[utoipa::path(get, path = "/v1/webhooks/event-types", operation_id = "list_webhook_event_types", tag = "webhooks",
    responses((status = 200, body = EventTypes)))]
pub async fn event_types() -> axum::Json<EventTypes> {
    let (opt_in, nine): (Vec<EventType>, Vec<EventType>) =
        EventType::ALL.into_iter().partition(|e| e.is_opt_in());
    let views = |events: Vec<EventType>| {
        events
            .into_iter()
            .map(|e| EventTypeView {
                name: e.name(),
                description: e.description(),
            })
            .collect()
    };
    axum::Json(EventTypes {
        items: views(nine),
        opt_in: views(opt_in),
    })
}

/// Add a webhook endpoint (owners and admins; at most 20 per org).
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks", operation_id = "create_webhook", tag = "webhooks", security(("session" = [])),
    params(("slug" = String, Path)), request_body = CreateWebhook,
    responses(
        (status = 201, body = WebhookCreated, headers(("Location" = String, description = "the new resource's path"))),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`webhook_limit`: 20 endpoints already", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn create(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(slug): Path<String>,
    Json(body): Json<CreateWebhook>,
) -> Result<Created<WebhookCreated>, Error> {
    let allow = state.config.webhook_allow_private_targets;
    let mut v = Validator::default();
    let syntax = v.field("url", WebhookUrl::parse(&body.url, allow).map_err(|e| e.0));
    let events = v.field("events", EventType::parse_set(&body.events));
    let description = v.field(
        "description",
        Description::parse(body.description.as_deref().unwrap_or("")),
    );
    let (Some(_), Some(events), Some(description)) = (syntax, events, description) else {
        return Err(v.error());
    };
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Administer)?;
    let url = checked_url(&state, &body.url).await?;
    let count = access.org_item.opt_num(WEBHOOK_COUNT).unwrap_or(0);
    if count >= MAX_WEBHOOKS_PER_ORG {
        return Err(Error::conflict(
            "webhook_limit",
            format!("an organization can have at most {MAX_WEBHOOKS_PER_ORG} webhook endpoints"),
        ));
    }
    let id = WebhookId::generate();
    let secret = WebhookSecret::generate();
    let now = stored_now();
    let webhook = Webhook {
        secret: Webhook::seal(&state.keys().await?.secrets, &id, &secret),
        id,
        url: url.as_str().to_owned(),
        events,
        enabled: true,
        description: description.as_str().to_owned(),
        disabled_reason: None,
        previous_secret: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    access
        .mutation(
            "webhook.created",
            Category::Settings,
            Target::new("webhook", &webhook.id),
            &client,
        )
        .details(json!({ "webhook_id": webhook.id, "url": webhook.url, "events": webhook.events }))
        .decided_on(WEBHOOK_COUNT, access.org_item.get(WEBHOOK_COUNT).cloned())
        .set(WEBHOOK_COUNT, n(count + 1))
        .write(put(
            &state.table,
            webhook.item(&access.org.id),
            "attribute_not_exists(pk)",
        )?)
        .commit(&state)
        .await?;
    Ok(Created::at(
        access.org_path(&format!("/webhooks/{}", webhook.id)),
        WebhookCreated {
            webhook: WebhookView::from(&webhook),
            secret: secret.reveal(),
        },
    ))
}

/// The org's webhook endpoints (any member; no secrets).
#[utoipa::path(get, path = "/v1/orgs/{slug}/webhooks", operation_id = "list_webhooks", tag = "webhooks", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), PageQuery),
    responses((status = 200, body = Page<WebhookView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<WebhookView>>, Error> {
    let access = OrgAccess::load(&state, &credential, &slug).await?;
    access.require(Permission::Read)?;
    let page = query_page(&state, &access.org_key().pk, WEBHOOK_PREFIX, &query, |i| {
        Webhook::from_item(i).map(|w| WebhookView::for_reader(&w, &access))
    })
    .await?;
    Ok(axum::Json(page))
}

/// One webhook endpoint (any member; no secret).
#[utoipa::path(get, path = "/v1/orgs/{slug}/webhooks/{webhook_id}", operation_id = "get_webhook", tag = "webhooks", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 200, body = WebhookView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change only that version"))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    credential: Credential,
    Path(WebhookPath { slug, webhook_id }): Path<WebhookPath>,
) -> Result<Tagged<WebhookView>, Error> {
    let (access, webhook) = load(&state, &credential, &slug, webhook_id.as_ref()).await?;
    access.require(Permission::Read)?;
    Ok(Tagged(WebhookView::for_reader(&webhook, &access)))
}

/// Change an endpoint's URL, events, description, or turn it off and on (owners and
/// admins). Turning it on clears `disabled_reason`.
#[utoipa::path(patch, path = "/v1/orgs/{slug}/webhooks/{webhook_id}", operation_id = "update_webhook", tag = "webhooks", security(("session" = [])),
    params(("slug" = String, Path), ("webhook_id" = String, Path), ("If-Match" = Option<String>, Header, description = "an ETag: the change is made only to that version")), request_body = UpdateWebhook,
    responses(
        (status = 200, body = WebhookView, headers(("ETag" = String, description = "the version of what this answer shows; send it back as `If-Match` to change only that version"))),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`conflict`: changed meanwhile", body = Problem),
        (status = 412, description = "`precondition_failed`: the endpoint is not (or no longer) the version If-Match names", body = Problem),
        (status = 422, body = Problem),
    ))]
pub async fn update(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(WebhookPath { slug, webhook_id }): Path<WebhookPath>,
    if_match: IfMatch,
    Json(body): Json<UpdateWebhook>,
) -> Result<Tagged<WebhookView>, Error> {
    let allow = state.config.webhook_allow_private_targets;
    let mut v = Validator::default();
    if let Some(raw) = &body.url {
        v.field("url", WebhookUrl::parse(raw, allow).map_err(|e| e.0));
    }
    let events = body
        .events
        .as_ref()
        .and_then(|raw| v.field("events", EventType::parse_set(raw)));
    let description = body
        .description
        .as_ref()
        .and_then(|raw| v.field("description", Description::parse(raw)));
    if v.has_errors() {
        return Err(v.error());
    }
    let (access, before) = load(&state, &credential, &slug, webhook_id.as_ref()).await?;
    access.require(Permission::Administer)?;
    // The write is conditioned on the version read (`updated_at`).
    if_match.check(&etag::of(&WebhookView::for_reader(&before, &access)))?;
    let mut after = before.clone();
    if let Some(raw) = &body.url {
        after.url = checked_url(&state, raw).await?.as_str().to_owned();
    }
    if let Some(events) = events {
        after.events = events;
    }
    if let Some(description) = description {
        after.description = description.as_str().to_owned();
    }
    if let Some(enabled) = body.enabled {
        if enabled && !before.enabled {
            after.disabled_reason = None;
        }
        after.enabled = enabled;
    }
    let mut changes = serde_json::Map::new();
    let (old, new) = (WebhookView::from(&before), WebhookView::from(&after));
    for (field, from, to) in [
        ("url", json!(old.url), json!(new.url)),
        ("events", json!(old.events), json!(new.events)),
        ("enabled", json!(old.enabled), json!(new.enabled)),
        (
            "description",
            json!(old.description),
            json!(new.description),
        ),
    ] {
        if from != to {
            changes.insert(field.into(), json!({ "from": from, "to": to }));
        }
    }
    if changes.is_empty() {
        return Ok(Tagged(new));
    }
    after.updated_at = stored_now();
    let details = json!({ "webhook_id": after.id, "changes": changes });
    commit_change(
        &state,
        &access,
        &client,
        "webhook.updated",
        details,
        (&before, &after),
        &if_match,
    )
    .await?;
    Ok(Tagged(WebhookView::from(&after)))
}

/// Delete a webhook endpoint (owners and admins). Deliveries already queued for it are
/// dropped by the worker.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/webhooks/{webhook_id}", operation_id = "delete_webhook", tag = "webhooks", security(("session" = [])),
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(WebhookPath { slug, webhook_id }): Path<WebhookPath>,
) -> Result<StatusCode, Error> {
    let (access, webhook) = load(&state, &credential, &slug, webhook_id.as_ref()).await?;
    access.require(Permission::Administer)?;
    let count = access.org_item.opt_num(WEBHOOK_COUNT).unwrap_or(1);
    access
        .mutation(
            "webhook.deleted",
            Category::Settings,
            Target::new("webhook", &webhook.id),
            &client,
        )
        .details(json!({ "webhook_id": webhook.id, "url": webhook.url }))
        .decided_on(WEBHOOK_COUNT, access.org_item.get(WEBHOOK_COUNT).cloned())
        .set(WEBHOOK_COUNT, n((count - 1).max(0)))
        .write_named(
            WEBHOOK_CHANGED,
            delete(
                &state.table,
                &Key::webhook(&access.org.id, webhook.id.as_str()),
                Some("attribute_exists(pk)"),
            ),
        )
        .commit(&state)
        .await
        .map_err(|e| match e {
            CommitError::Conflict(WEBHOOK_CHANGED) => Error::NotFound,
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret (owners and admins). For 24 hours deliveries carry two
/// signatures, one with each secret, so receivers can switch without losing any.
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks/{webhook_id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks", security(("session" = [])),
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses(
        (status = 200, body = SecretRotated),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`conflict`: changed meanwhile", body = Problem),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(WebhookPath { slug, webhook_id }): Path<WebhookPath>,
) -> Result<axum::Json<SecretRotated>, Error> {
    let (access, before) = load(&state, &credential, &slug, webhook_id.as_ref()).await?;
    access.require(Permission::Administer)?;
    let now = stored_now();
    let secret = WebhookSecret::generate();
    let overlap_until = now + ROTATION_OVERLAP;
    let mut after = before.clone();
    after.previous_secret = Some((before.secret.clone(), overlap_until));
    after.secret = Webhook::seal(&state.keys().await?.secrets, &after.id, &secret);
    after.updated_at = now;
    let details = json!({ "webhook_id": after.id, "previous_secret_expires_at": overlap_until });
    commit_change(
        &state,
        &access,
        &client,
        "webhook.secret_rotated",
        details,
        (&before, &after),
        &IfMatch::default(),
    )
    .await?;
    Ok(axum::Json(SecretRotated {
        secret: secret.reveal(),
        previous_secret_expires_at: overlap_until,
    }))
}
