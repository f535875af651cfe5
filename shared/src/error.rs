//! The error of the application layer. Every handler returns it; `http::problem` turns it
//! into an RFC 9457 problem response — the only place that maps errors to HTTP.

use crate::store::StoreError;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    MalformedBody(String),
    #[error("{0}")]
    InvalidQuery(String),
    /// A `cursor` that this list did not issue (tampered, or from another list or org).
    #[error("the cursor is not valid for this list; start again without one")]
    InvalidCursor,
    /// A request the router could not take apart (a path that does not decode, say).
    #[error("{0}")]
    BadRequest(String),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is larger than 1 MB")]
    PayloadTooLarge,
    #[error("authentication is required: send a valid `Authorization: Bearer <token>`")]
    Unauthorized,
    #[error("the e-mail address or password is incorrect")]
    InvalidCredentials,
    #[error("the two-factor code or backup code is not valid")]
    InvalidCode,
    /// A re-authentication body (2FA setup, org deletion) whose password is not the
    /// account's: the body was valid, the caller is not allowed.
    #[error("the password is not correct")]
    PasswordIncorrect,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the resource does not exist")]
    NotFound,
    #[error("this action needs the organization PIN in the X-PlexMCP-PIN header")]
    PinRequired,
    #[error("the PIN is not correct")]
    PinInvalid { attempts_remaining: u32 },
    #[error("too many wrong PINs; PIN checks are locked for {retry_after} seconds")]
    PinLocked { retry_after: u64 },
    #[error("{0}")]
    PlanRequired(&'static str),
    #[error("the method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the slug of an organization cannot be changed")]
    SlugImmutable,
    #[error("too many requests of this kind; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    /// The action needs an e-mail address the account has proven (`/v1/auth/verify-email`).
    #[error("verify your e-mail address first: follow the link we sent, or ask for a new one with POST /v1/me/verify-email")]
    EmailUnverified,
    /// A verification token that is unknown, used, replaced by a newer one or expired.
    #[error(
        "the verification link is not valid: it was used, replaced by a newer one or has expired"
    )]
    InvalidToken,
    /// An `Idempotency-Key` sent again with another request.
    #[error("this Idempotency-Key was used with another request; use a new key for a new request")]
    IdempotencyKeyReused,
    /// `If-Match` names another version than the resource has (or had at commit time).
    #[error(
        "the resource changed since the version If-Match names; read it again (its ETag) and retry"
    )]
    PreconditionFailed,
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A list cursor the list did not issue is the client's 400, never DynamoDB's.
impl From<crate::store::cursor::InvalidCursor> for Error {
    fn from(_: crate::store::cursor::InvalidCursor) -> Self {
        Error::InvalidCursor
    }
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            detail: detail.into(),
        }
    }
}

/// Collects field errors while a request body is turned into domain values, so a client
/// hears about every bad field at once.
#[derive(Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    /// Parses one field, remembering the error; `None` when it was invalid.
    pub fn field<T>(&mut self, name: &str, parsed: Result<T, String>) -> Option<T> {
        parsed
            .map_err(|message| self.0.push(FieldError::new(name, message)))
            .ok()
    }

    pub fn has_errors(&self) -> bool {
        !self.0.is_empty()
    }

    /// The error for fields that failed; call when a `field` returned `None`.
    pub fn error(self) -> Error {
        Error::Validation(self.0)
    }
}
