//! An endpoint's deliveries: Send Test, the delivery log (every attempt, newest first,
//! kept 30 days) and redelivering a logged message with its original `webhook-id`.

use crate::webhooks::WebhookPath;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::access::{Credential, OrgAccess};
use shared::audit::{Category, Target};
use shared::client_info::ClientInfo;
use shared::domain::Permission;
use shared::http::page::query_page_ordered;
use shared::http::{Page, PageQuery, Path, PathId, Problem, Query};
use shared::ids::{DeliveryId, MessageId, WebhookId};
use shared::mutation::CommitError;
use shared::store::item::time;
use shared::store::keys::delivery_prefix;
use shared::store::{n, s, update_with, Cond, Item, ItemExt, Key};
use shared::webhooks::delivery_log::LoggedDelivery;
use shared::webhooks::endpoint::Webhook;
use shared::webhooks::DeliveryJob;
use shared::{AppState, Error};
use utoipa::ToSchema;

fn delivery_status_schema() -> utoipa::openapi::Object {
    shared::domain::schema::one_of(
        "`succeeded` (the endpoint answered 2xx) or `failed`.",
        &["succeeded", "failed"],
    )
}

/// One delivery attempt.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    id: DeliveryId,
    /// The `webhook-id` of the message (the same for every attempt and redelivery).
    message_id: MessageId,
    event: String,
    #[schema(schema_with = delivery_status_schema)]
    status: String,
    /// The endpoint's HTTP status; absent when it gave none (timeout, refused target).
    response_status: Option<i64>,
    /// The start of the endpoint's answer (at most 20 KB).
    response_body: Option<String>,
    /// Why there was no answer.
    error: Option<String>,
    duration_ms: i64,
    /// 1 for the first attempt.
    attempt: i64,
    /// When the next attempt is due, after a failure that will be retried.
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<LoggedDelivery> for DeliveryView {
    fn from(logged: LoggedDelivery) -> Self {
        DeliveryView {
            id: logged.id,
            message_id: logged.message_id,
            event: logged.event,
            status: logged.status,
            response_status: logged.response_status,
            response_body: logged.response_body,
            error: logged.error,
            duration_ms: logged.duration_ms,
            attempt: logged.attempt,
            next_attempt_at: logged.next_attempt_at,
            created_at: logged.created_at,
        }
    }
}

/// A message on its way (its deliveries appear in the log).
#[derive(Serialize, ToSchema)]
pub struct MessageQueued {
    message_id: MessageId,
}

/// `/v1/orgs/{slug}/webhooks/{webhook_id}/deliveries/{delivery_id}/…`.
#[derive(Deserialize)]
pub struct DeliveryPath {
    slug: String,
    webhook_id: PathId<WebhookId>,
    delivery_id: PathId<DeliveryId>,
}

/// Loads the caller's access, the endpoint and (optionally) one of its logged deliveries.
async fn load(
    state: &AppState,
    credential: &Credential,
    slug: &str,
    webhook: Option<&WebhookId>,
    delivery: Option<&PathId<DeliveryId>>,
) -> Result<(OrgAccess, Webhook, Option<Item>), Error> {
    let keys = |org: &shared::ids::OrgId| -> Vec<Key> {
        let mut keys: Vec<Key> = webhook
            .iter()
            .map(|w| Key::webhook(org, w.as_str()))
            .collect();
        if let (Some(w), Some(PathId(Some(d)))) = (webhook, delivery) {
            keys.push(Key::delivery(org, w.as_str(), d.as_str()));
        }
        keys
    };
    let access = OrgAccess::load_with(state, credential, slug, &[], |m, _| keys(&m.org_id)).await?;
    let found = keys(&access.org.id);
    let endpoint = found
        .first()
        .and_then(|k| access.items.get(k))
        .ok_or(Error::NotFound)?;
    let endpoint = Webhook::from_item(endpoint)?;
    let logged = found.get(1).and_then(|k| access.items.get(k)).cloned();
    if delivery.is_some() && logged.is_none() {
        return Err(Error::NotFound);
    }
    Ok((access, endpoint, logged))
}

/// Send test and redeliver, together: at most this many a minute per endpoint, so
/// nobody turns an endpoint's owner's server into a target of our requests.
const MANUAL_SENDS: i64 = 10;
const MANUAL_WINDOW: chrono::Duration = chrono::Duration::minutes(1);

/// One manual send taken from the endpoint's budget, decided on the endpoint item as read
/// and written in the send's own transaction (no round trip of its own) under a condition
/// that it is still as read — or 429 with the time the window has left.
fn manual_send(
    state: &AppState,
    key: &Key,
    endpoint: &Item,
    now: DateTime<Utc>,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, Error> {
    let count = endpoint.opt_num("manual_sends").unwrap_or(0);
    let since = endpoint.opt_str("manual_sends_since");
    let window_end = since
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc) + MANUAL_WINDOW)
        .filter(|end| *end > now);
    let (expression, cond) = match window_end {
        Some(end) if count >= MANUAL_SENDS => {
            return Err(Error::RateLimited {
                retry_after: (end - now).num_seconds().max(1) as u64,
            })
        }
        Some(_) => (
            "SET manual_sends = manual_sends + :one",
            Cond::new("manual_sends = :count AND manual_sends_since = :since")
                .value(":count", n(count))
                .value(":since", s(since.unwrap_or_default())),
        ),
        None => (
            "SET manual_sends = :one, manual_sends_since = :now",
            match since {
                Some(since) => Cond::new("manual_sends_since = :since").value(":since", s(since)),
                None => {
                    Cond::new("attribute_exists(pk) AND attribute_not_exists(manual_sends_since)")
                }
            }
            .value(":now", time(now)),
        ),
    };
    Ok(update_with(
        &state.table,
        key,
        expression,
        &cond.value(":one", n(1)),
    )?)
}

/// Queues `job` and records who asked, in the org's audit log.
async fn send(
    state: &AppState,
    access: &OrgAccess,
    client: &ClientInfo,
    endpoint: &Webhook,
    action: &'static str,
    job: DeliveryJob,
) -> Result<(StatusCode, axum::Json<MessageQueued>), Error> {
    if !endpoint.enabled {
        return Err(Error::conflict(
            "webhook_disabled",
            "the endpoint is disabled; enable it first",
        ));
    }
    let key = Key::webhook(&access.org.id, endpoint.id.as_str());
    let item = access.items.get(&key).ok_or(Error::NotFound)?;
    let budget = manual_send(state, &key, item, Utc::now())?;
    access
        .mutation(
            action,
            Category::Settings,
            Target::new("webhook", &endpoint.id),
            client,
        )
        .details(
            json!({ "webhook_id": endpoint.id, "message_id": job.message_id, "event": job.event }),
        )
        .write_named(BUDGET_TAKEN, budget)
        .commit(state)
        .await
        .map_err(|e| match e {
            // Another send took from the budget meanwhile: this one may come back soon.
            CommitError::Conflict(BUDGET_TAKEN) => Error::RateLimited { retry_after: 1 },
            other => other.into(),
        })?;
    job.enqueue(state, chrono::Duration::zero()).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(MessageQueued {
            message_id: job.message_id,
        }),
    ))
}

/// The endpoint's budget of manual sends is not as read (another send took from it).
const BUDGET_TAKEN: &str = "send_budget_taken";

/// Send a test event (`webhook.test`) to this endpoint only, through the same signed path
/// as every event (owners and admins).
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks/{webhook_id}/test", operation_id = "test_webhook", tag = "webhooks", security(("session" = [])),
    params(("slug" = String, Path), ("webhook_id" = String, Path)),
    responses(
        (status = 202, body = MessageQueued),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`webhook_disabled`", body = Problem),
        (status = 429, description = "`rate_limited`: 10 test sends and redeliveries a minute per endpoint", body = Problem),
    ))]
pub async fn test(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(WebhookPath { slug, webhook_id }): Path<WebhookPath>,
) -> Result<(StatusCode, axum::Json<MessageQueued>), Error> {
    let (access, endpoint, _) = load(&state, &credential, &slug, webhook_id.as_ref(), None).await?;
    access.require(Permission::Administer)?;
    let message_id = MessageId::generate();
    let payload = json!({
        "type": "webhook.test",
        "event": "webhook.test",
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "organization_id": access.org.id,
        "data": shared::event_data::TestMessage {
            message: "This is a test event from PlexMCP.".into(),
        },
    });
    let job = DeliveryJob {
        org_id: access.org.id.clone(),
        endpoint_id: endpoint.id.clone(),
        message_id,
        event: "webhook.test".into(),
        payload: payload.to_string(),
        attempt: 1,
        not_before: None,
        redelivery: None,
    };
    send(
        &state,
        &access,
        &client,
        &endpoint,
        "webhook.test_sent",
        job,
    )
    .await
}

/// The endpoint's delivery attempts, newest first (any member; kept 30 days).
#[utoipa::path(get, path = "/v1/orgs/{slug}/webhooks/{webhook_id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks", security(("session" = []), ("api_key" = [])),
    params(("slug" = String, Path), ("webhook_id" = String, Path), PageQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    credential: Credential,
    Path(WebhookPath { slug, webhook_id }): Path<WebhookPath>,
    Query(query): Query<PageQuery>,
) -> Result<axum::Json<Page<DeliveryView>>, Error> {
    let (access, endpoint, _) = load(&state, &credential, &slug, webhook_id.as_ref(), None).await?;
    access.require(Permission::Read)?;
    let page = query_page_ordered(
        &state,
        &access.org_key().pk,
        &delivery_prefix(endpoint.id.as_str()),
        &query,
        true,
        |item| LoggedDelivery::from_item(item).map(DeliveryView::from),
    )
    .await?;
    Ok(axum::Json(page))
}

/// Send a logged message again, with its original `webhook-id` (owners and admins). It
/// is sent even if it was delivered before.
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", operation_id = "redeliver_webhook", tag = "webhooks", security(("session" = [])),
    params(("slug" = String, Path), ("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses(
        (status = 202, body = MessageQueued),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "`webhook_disabled`", body = Problem),
        (status = 429, description = "`rate_limited`: 10 test sends and redeliveries a minute per endpoint", body = Problem),
    ))]
pub async fn redeliver(
    State(state): State<AppState>,
    credential: Credential,
    client: ClientInfo,
    Path(DeliveryPath {
        slug,
        webhook_id,
        delivery_id,
    }): Path<DeliveryPath>,
) -> Result<(StatusCode, axum::Json<MessageQueued>), Error> {
    let (access, endpoint, logged) = load(
        &state,
        &credential,
        &slug,
        webhook_id.as_ref(),
        Some(&delivery_id),
    )
    .await?;
    access.require(Permission::Administer)?;
    let logged = LoggedDelivery::from_item(&logged.ok_or(Error::NotFound)?)?;
    let job = DeliveryJob {
        org_id: access.org.id.clone(),
        endpoint_id: endpoint.id.clone(),
        message_id: logged.message_id,
        event: logged.event,
        payload: logged.payload,
        attempt: 1,
        not_before: None,
        redelivery: Some(DeliveryId::generate().to_string()),
    };
    send(
        &state,
        &access,
        &client,
        &endpoint,
        "webhook.redelivered",
        job,
    )
    .await
}
