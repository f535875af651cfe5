//! What every HTTP router gets: problem responses for unknown routes and methods, the
//! 1 MB body limit, and a per-request count of DynamoDB round trips (logged, and sent
//! as `x-plexmcp-dynamodb-calls` when the config asks for it, as the local stack does).

use crate::aws::count_round_trips;
use crate::error::Error;
use crate::http::extract::MAX_BODY_BYTES;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

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
    let (mut response, trips) = count_round_trips(next.run(request)).await;
    tracing::info!(
        %method, %path, status = response.status().as_u16(),
        dynamodb_calls = trips.calls(), dynamodb_scans = trips.scans(), "request"
    );
    if expose {
        let value = format!("{};scans={}", trips.calls(), trips.scans());
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(ROUND_TRIPS_HEADER, value);
        }
    }
    response
}

/// Finishes a function's router (or the local gateway's merged one).
pub fn finish(router: Router, expose_round_trips: bool) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(move |req, next| {
            measure(expose_round_trips, req, next)
        }))
}
