//! Optimistic concurrency for the resources people edit: a GET answers a strong `ETag`
//! (a hash of the representation, so any change to what the caller sees changes it), and
//! a change sent with `If-Match` is made only to that version: 412
//! `precondition_failed` when the resource is another one as read — or becomes another
//! one before the commit, because the handler makes the version as read a condition of
//! its write. Without `If-Match`, changes behave as before.

use crate::error::Error;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::convert::Infallible;

/// The strong entity tag of a representation: `"<32 hex>"`.
pub fn of(view: &impl Serialize) -> String {
    let json = serde_json::to_vec(view).unwrap_or_default();
    let digest = Sha256::digest(&json);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// The request's `If-Match`: `None` when absent.
#[derive(Debug, Default)]
pub struct IfMatch(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let value = parts
            .headers
            .get(header::IF_MATCH)
            .map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
        Ok(IfMatch(value))
    }
}

impl IfMatch {
    /// Whether the request names a version.
    pub fn given(&self) -> bool {
        self.0.is_some()
    }

    /// Passes when there is no `If-Match`, it is `*`, or it lists `current` (strong
    /// comparison: a weak tag never matches).
    pub fn check(&self, current: &str) -> Result<(), Error> {
        let Some(listed) = &self.0 else {
            return Ok(());
        };
        let matches = listed.trim() == "*" || listed.split(',').any(|tag| tag.trim() == current);
        matches.then_some(()).ok_or(Error::PreconditionFailed)
    }

    /// What a failed condition of the write means: with `If-Match`, the version changed
    /// before the commit (412); without, `otherwise`.
    pub fn changed(&self, otherwise: Error) -> Error {
        if self.given() {
            Error::PreconditionFailed
        } else {
            otherwise
        }
    }
}

/// A JSON answer with its `ETag`.
pub struct Tagged<T>(pub T);

impl<T: Serialize> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let tag = of(&self.0);
        let mut response = axum::Json(self.0).into_response();
        if let Ok(value) = HeaderValue::from_str(&tag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_strongly() {
        let tag = of(&serde_json::json!({ "name": "Acme" }));
        assert!(tag.starts_with('"') && tag.len() == 34, "{tag}");
        assert_ne!(tag, of(&serde_json::json!({ "name": "Acme Inc" })));
        let header = |v: &str| IfMatch(Some(v.to_owned()));
        assert!(IfMatch(None).check(&tag).is_ok());
        assert!(header("*").check(&tag).is_ok());
        assert!(header(&format!("\"x\", {tag}")).check(&tag).is_ok());
        assert!(header(&format!("W/{tag}")).check(&tag).is_err());
        assert!(header("\"stale\"").check(&tag).is_err());
    }
}
