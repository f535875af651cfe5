//! What every HTTP router gets: problem responses for unknown routes and methods, the
//! 1 MB body limit, a per-request count of DynamoDB round trips (logged, and sent as
//! `x-plexmcp-dynamodb-calls` when the config asks for it, as the local stack does),
//! `Cache-Control: no-store` unless an answer sets its own, the request's id
//! (`request_id`), and two safety nets: a panic
//! in a handler is a 500 problem (the release profile unwinds, so the sandbox lives on),
//! and any error answer that is not already a problem — a rejection from an extractor
//! we did not wrap, say — is turned into one.

use crate::aws::count_round_trips;
use crate::error::Error;
use crate::http::extract::MAX_BODY_BYTES;
use crate::http::request_id;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::Router;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

pub const ROUND_TRIPS_HEADER: &str = "x-plexmcp-dynamodb-calls";

async fn not_found() -> Error {
    Error::NotFound
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

async fn measure(expose: bool, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let client_request_id = request_id::from_client(&request);
    let (mut response, trips) = count_round_trips(next.run(request)).await;
    tracing::info!(
        %method, %path, status = response.status().as_u16(),
        request_id = request_id::current().unwrap_or_default(),
        client_request_id,
        dynamodb_calls = trips.calls(), dynamodb_scans = trips.scans(),
        dynamodb_round_trips = trips.trips(), "request"
    );
    if expose {
        let value = format!(
            "{};scans={};trips={}",
            trips.calls(),
            trips.scans(),
            trips.trips()
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(ROUND_TRIPS_HEADER, value);
        }
    }
    response
}

async fn contain_panics(request: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Error::Internal(format!("handler panicked: {what}")).into_response()
        }
    }
}

fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"))
}

/// An error answer that is not a problem yet becomes one, keeping its status.
async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_owned();
    let error = match status {
        StatusCode::NOT_FOUND => Error::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType,
        StatusCode::UNAUTHORIZED => Error::Unauthorized,
        s if s.is_server_error() => Error::Internal(detail),
        _ => Error::BadRequest(if detail.is_empty() {
            "the request is not valid".into()
        } else {
            detail
        }),
    };
    let mut problem = error.into_response();
    // Keep any headers the original answer set, like `Allow`.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// `Cache-Control: no-store` on every answer that does not say otherwise: API answers
/// carry tokens, secrets shown once and per-caller data, which no browser or proxy may
/// keep. (The settings pages set their own: `no-cache`, and a year for hashed assets.)
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Finishes a function's router (or the local gateway's merged one).
pub fn finish(router: Router, state: &crate::AppState) -> Router {
    around(
        // Outside the panic net, so a panic's 500 releases the key for a retry.
        within(router).layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::idempotency::layer,
        )),
        state.config.expose_round_trips,
    )
}

/// Finishes the router of a function that keeps no state (the settings pages): every
/// layer of `finish` but the idempotency keys, which only writes need.
pub fn finish_stateless(router: Router, expose_round_trips: bool) -> Router {
    around(within(router), expose_round_trips)
}

/// The layers inside the idempotency keys.
fn within(router: Router) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(contain_panics))
}

/// The layers outside them.
fn around(router: Router, expose_round_trips: bool) -> Router {
    router
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn(no_store))
        .layer(middleware::from_fn(move |req, next| {
            measure(expose_round_trips, req, next)
        }))
        .layer(middleware::from_fn(request_id::layer))
}
