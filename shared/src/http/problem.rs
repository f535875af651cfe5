//! RFC 9457 problem details: the single mapping from `Error` to an HTTP response.

use crate::error::{Error, FieldError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The body of every error response (`Content-Type: application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://docs.plexmcp.com/errors/<code>`
    #[serde(rename = "type")]
    pub type_url: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case error code.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Seconds until the action may be tried again (with `rate_limited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Wrong PINs left before PIN checks lock (with `pin_invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_remaining: Option<u32>,
    /// The request's id, as its `X-Request-Id` header says: quote it when reporting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Error {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Error::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            Error::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            Error::InvalidCursor => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Error::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Error::InvalidCode => (StatusCode::UNAUTHORIZED, "invalid_code"),
            Error::PasswordIncorrect => (StatusCode::FORBIDDEN, "password_incorrect"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::PinRequired => (StatusCode::FORBIDDEN, "pin_required"),
            Error::PinInvalid { .. } => (StatusCode::FORBIDDEN, "pin_invalid"),
            Error::PinLocked { .. } => (StatusCode::LOCKED, "pin_locked"),
            Error::PlanRequired(_) => (StatusCode::FORBIDDEN, "plan_required"),
            Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Error::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Error::SlugImmutable => (StatusCode::UNPROCESSABLE_ENTITY, "slug_immutable"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Error::EmailUnverified => (StatusCode::FORBIDDEN, "email_unverified"),
            Error::InvalidToken => (StatusCode::NOT_FOUND, "invalid_token"),
            Error::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            Error::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, "precondition_failed"),
            Error::Store(_) | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
        }
    }

    pub fn to_problem(&self) -> Problem {
        let (status, code) = self.status_and_code();
        let detail = match self {
            // Never leak storage or internal details to a client; they are logged instead.
            Error::Store(_) | Error::Internal(_) => {
                "an unexpected error occurred; it has been logged".into()
            }
            other => other.to_string(),
        };
        Problem {
            type_url: format!("https://docs.plexmcp.com/errors/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            errors: match self {
                Error::Validation(errors) => Some(errors.clone()),
                // Names the field, so a form marks it as it marks a validation error.
                Error::PasswordIncorrect => Some(vec![FieldError {
                    field: "password".into(),
                    message: self.to_string(),
                }]),
                _ => None,
            },
            retry_after: match self {
                Error::RateLimited { retry_after } | Error::PinLocked { retry_after } => {
                    Some(*retry_after)
                }
                _ => None,
            },
            attempts_remaining: match self {
                Error::PinInvalid { attempts_remaining } => Some(*attempts_remaining),
                _ => None,
            },
            request_id: super::request_id::current(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        if problem.status >= 500 {
            tracing::error!(error = %self, "request failed");
        }
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = problem.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if problem.status == 401 {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_details() {
        let problem = Error::Internal("table xyz missing".into()).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (500, "internal_error")
        );
        assert!(!problem.detail.contains("xyz"));
    }

    #[test]
    fn validation_lists_fields() {
        let problem = Error::invalid("slug", "is reserved").to_problem();
        assert_eq!(problem.status, 422);
        assert_eq!(
            problem.type_url,
            "https://docs.plexmcp.com/errors/validation_failed"
        );
        assert_eq!(problem.errors.unwrap()[0].field, "slug");
    }
}
