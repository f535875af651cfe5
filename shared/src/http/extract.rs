//! Extractors whose rejections are problem responses: a malformed body is a 400, a body
//! of the wrong shape a 422, a missing JSON content type a 415 — never a 500.

use crate::error::{Error, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde::de::DeserializeOwned;

/// The largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct Json<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Turns serde's complaint into the client's error: syntax → 400, shape → 422.
pub fn body_error(err: serde_json::Error) -> Error {
    use serde_json::error::Category;
    match err.classify() {
        Category::Data => {
            let message = err.to_string();
            let field = message
                .split('`')
                .nth(1)
                .filter(|_| {
                    message.starts_with("unknown field") || message.starts_with("missing field")
                })
                .unwrap_or("body");
            Error::Validation(vec![FieldError::new(field, message.clone())])
        }
        Category::Syntax | Category::Eof | Category::Io => {
            Error::MalformedBody(format!("the body is not valid JSON: {err}"))
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if !is_json(&req) {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::MalformedBody(rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(Json).map_err(body_error)
    }
}

/// Query string parameters.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        let raw = parts.uri.query().unwrap_or_default();
        serde_urlencoded_from_str(raw).map(Query)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(raw: &str) -> Result<T, Error> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{raw}")
            .parse()
            .map_err(|_| Error::InvalidQuery("the query string is malformed".into()))?,
    )
    .map(|q| q.0)
    .map_err(|e| Error::InvalidQuery(e.body_text()))
}

/// Path parameters. A path that does not decode (`/v1/orgs/%FF`) names no resource: 404.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| Error::NotFound)
    }
}
