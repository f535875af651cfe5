//! `Idempotency-Key` on the POSTs that create or act, as Stripe has it: the first answer
//! to a (caller, key) is kept 24 hours with a hash of its request; a retry with the same
//! key and request gets the same status and body without acting again
//! (`Idempotent-Replayed: true`), the same key with another request is 422
//! `idempotency_key_reused`, and a retry while the first is still running is 409
//! `idempotency_key_in_use` (`Retry-After: 1`). A 5xx answer is not kept, so a retry
//! acts. The caller is the credential (a hash of the session token or API key). The
//! POSTs that create or act are those under `/v1/orgs` and `/v1/me/`; the others (sign-up,
//! sign-in, which have no credential to scope a key by) ignore the header. Two POSTs
//! without a key are two requests.
//!
//! The record is claimed with a conditional write before the handler runs (nobody holds
//! the key, or its holder's lock ran out: a crashed run), so two requests with one key
//! never both act.

use crate::error::Error;
use crate::store::item::time;
use crate::store::{n, s, ItemExt, Key, StoreError};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// What a key may be: 1 to 255 printable ASCII characters, no space.
pub const KEY_PATTERN: &str = "^[!-~]{1,255}$";
/// How long a first answer is kept.
pub const KEPT_FOR: Duration = Duration::hours(24);
/// How long a run holds its key before a retry may take it over (a crashed run).
const LOCK: Duration = Duration::seconds(60);
/// Bodies kept at most (an item holds 400 KB); a larger answer is not kept.
const MAX_KEPT_BODY: usize = 256 * 1024;
/// The answer headers a replay repeats.
const KEPT_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::RETRY_AFTER,
];

/// The layer (on every HTTP function's router).
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(key) = request.headers().get(&IDEMPOTENCY_KEY).cloned() else {
        return next.run(request).await;
    };
    if !applies(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(caller) = crate::http::browser::presented_token(&parts) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let caller = hex::encode(Sha256::digest(caller.as_bytes()));
    let key = match key.to_str().ok().filter(|k| well_formed(k)) {
        Some(key) => key.to_owned(),
        None => {
            return Error::BadRequest(
                "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
            )
            .into_response()
        }
    };
    // The body is read here anyway (the local gateway and API Gateway hand it whole).
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Error::PayloadTooLarge.into_response();
    };
    let fingerprint = {
        let mut hash = Sha256::new();
        hash.update(parts.uri.path().as_bytes());
        hash.update([0]);
        hash.update(&bytes);
        hex::encode(hash.finalize())
    };
    let record = Key::idempotency(&caller, &key);
    let now = Utc::now();
    match claim(&state, &record, &fingerprint, now).await {
        Ok(true) => {}
        Ok(false) => return earlier(&state, &record, &fingerprint).await,
        Err(error) => return error.into_response(),
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    keep(&state, &record, &fingerprint, now, response).await
}

/// Whether a request (or a route's path template) takes `Idempotency-Key`: the POSTs
/// under `/v1/orgs` and `/v1/me/`.
pub fn applies(method: &Method, path: &str) -> bool {
    method == Method::POST && (path.starts_with("/v1/orgs") || path.starts_with("/v1/me/"))
}

/// `KEY_PATTERN`'s rule.
fn well_formed(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Takes the key for this run: nobody holds it, its record expired, or its holder's lock
/// ran out. `false`: another run has it, or had it and answered.
async fn claim(
    state: &AppState,
    record: &Key,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let mut item = record.to_item();
    item.insert("state".into(), s("running"));
    item.insert("request_hash".into(), s(fingerprint));
    item.insert("started_at".into(), time(now));
    item.insert("locked_until".into(), time(now + LOCK));
    item.insert("expires_at".into(), time(now + KEPT_FOR));
    item.insert("ttl".into(), n((now + KEPT_FOR).timestamp()));
    let claimed = state
        .table
        .client()
        .put_item()
        .table_name(state.table.name())
        .set_item(Some(item))
        .condition_expression(
            "attribute_not_exists(pk) OR expires_at < :now \
             OR (#state = :running AND locked_until < :now)",
        )
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":now", time(now))
        .expression_attribute_values(":running", s("running"))
        .send()
        .await;
    match claimed {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(StoreError::from(err).into()),
    }
}

/// The answer to a retry of a key another run holds or answered.
async fn earlier(state: &AppState, record: &Key, fingerprint: &str) -> Response {
    let item = match state.table.get(record).await {
        Ok(Some(item)) => item,
        // Released meanwhile (its run failed): the client retries.
        Ok(None) => return in_use(),
        Err(err) => return Error::from(err).into_response(),
    };
    if item.opt_str("request_hash") != Some(fingerprint) {
        return Error::IdempotencyKeyReused.into_response();
    }
    if item.opt_str("state") != Some("done") {
        return in_use();
    }
    replay(&item).unwrap_or_else(|| {
        Error::Internal("an idempotency record without its answer".into()).into_response()
    })
}

fn in_use() -> Response {
    let mut response = Error::conflict(
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still running; retry in a moment",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(1));
    response
}

fn replay(item: &crate::store::Item) -> Option<Response> {
    let status = StatusCode::from_u16(u16::try_from(item.opt_num("status")?).ok()?).ok()?;
    let body = item.get("body")?.as_b().ok()?.clone().into_inner();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some(kept) = item.get("headers").and_then(|v| v.as_m().ok()) {
        for (name, value) in kept {
            let (Ok(name), Some(value)) = (
                HeaderName::try_from(name.as_str()),
                value
                    .as_s()
                    .ok()
                    .and_then(|v| HeaderValue::from_str(v).ok()),
            ) else {
                continue;
            };
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    Some(response)
}

/// Keeps the first answer (or releases the key after a 5xx, so a retry acts).
async fn keep(
    state: &AppState,
    record: &Key,
    fingerprint: &str,
    started: DateTime<Utc>,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_KEPT_BODY).await;
    let ours = "started_at = :started AND request_hash = :hash";
    let kept = match (&bytes, parts.status.is_server_error()) {
        (Ok(bytes), false) => {
            let mut item = record.to_item();
            let headers = KEPT_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(name)?.to_str().ok()?;
                    Some((name.as_str().to_owned(), s(value)))
                })
                .collect();
            item.insert("state".into(), s("done"));
            item.insert("request_hash".into(), s(fingerprint));
            item.insert("started_at".into(), time(started));
            item.insert("expires_at".into(), time(started + KEPT_FOR));
            item.insert("ttl".into(), n((started + KEPT_FOR).timestamp()));
            item.insert("status".into(), n(i64::from(parts.status.as_u16())));
            item.insert(
                "headers".into(),
                aws_sdk_dynamodb::types::AttributeValue::M(headers),
            );
            item.insert(
                "body".into(),
                aws_sdk_dynamodb::types::AttributeValue::B(bytes.to_vec().into()),
            );
            state
                .table
                .client()
                .put_item()
                .table_name(state.table.name())
                .set_item(Some(item))
                .condition_expression(ours)
                .expression_attribute_values(":started", time(started))
                .expression_attribute_values(":hash", s(fingerprint))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        _ => state
            .table
            .client()
            .delete_item()
            .table_name(state.table.name())
            .set_key(Some(record.to_item()))
            .condition_expression(ours)
            .expression_attribute_values(":started", time(started))
            .expression_attribute_values(":hash", s(fingerprint))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    if let Err(err) = kept {
        // The answer stands; a retry with the key then finds the run's lock and, once it
        // ran out, acts again.
        tracing::warn!(error = %err, "the idempotency record was not written");
    }
    match bytes {
        Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
        Err(_) => Error::Internal("an answer too large to keep".into()).into_response(),
    }
}
