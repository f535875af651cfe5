//! Extractors whose rejections are problem responses: a malformed body is a 400, a body
//! of the wrong shape a 422, a missing JSON content type a 415 — never a 500.

use crate::error::{Error, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

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
/// A whole number as JSON Schema's `integer` has it: `40739` or `40739.0` (a number with
/// no fractional part), for `#[serde(deserialize_with = "whole_number")]` on an integer
/// field. A fraction or a number out of the field's range is a 422 like any wrong type.
pub fn whole_number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    use serde::de::Error as _;
    let n = serde_json::Number::deserialize(d)?;
    let wrong = || {
        D::Error::custom(format!(
            "invalid value: {n}, expected a whole number in range"
        ))
    };
    if let Some(u) = n.as_u64() {
        return T::try_from(u).map_err(|_| wrong());
    }
    if let Some(i) = n.as_i64() {
        return T::try_from(i).map_err(|_| wrong());
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            T::try_from(f as i64).map_err(|_| wrong())
        }
        _ => Err(wrong()),
    }
}

/// [`whole_number`] for an optional field (absent or `null` is `None`).
pub fn optional_whole_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    #[derive(serde::Deserialize)]
    struct Whole<T: TryFrom<i64> + TryFrom<u64>>(#[serde(deserialize_with = "whole_number")] T);
    Ok(Option::<Whole<T>>::deserialize(d)?.map(|w| w.0))
}

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

/// An id segment of a path, parsed: `None` when it is not a well-formed id of its kind,
/// which names no resource. A handler still checks the caller's access before answering
/// 404 for it, so a malformed id teaches a caller nothing its role would not.
#[derive(Debug)]
pub struct PathId<T>(pub Option<T>);

impl<T> PathId<T> {
    pub fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: TryFrom<String>> Deserialize<'de> for PathId<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PathId(T::try_from(String::deserialize(d)?).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Counts {
        #[serde(deserialize_with = "whole_number")]
        requests: u64,
        #[serde(default, deserialize_with = "optional_whole_number")]
        days: Option<i64>,
    }

    fn parse(json: &str) -> Result<Counts, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_path_id_is_none_when_malformed() {
        use crate::ids::McpId;
        let id = McpId::generate();
        let parsed: PathId<McpId> = serde_json::from_value(id.as_str().into()).unwrap();
        assert_eq!(parsed.0, Some(id));
        for malformed in [
            "",
            "mcp_",
            "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TB",
            "mcp_01jdqx3z8e6v4w2n9kq5m7r1tb!",
        ] {
            let parsed: PathId<McpId> = serde_json::from_value(malformed.into()).unwrap();
            assert_eq!(parsed.0, None, "{malformed}");
        }
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_zero_fraction() {
        let counts = parse(r#"{"requests": 40739.0, "days": -3.0}"#).unwrap();
        assert_eq!((counts.requests, counts.days), (40739, Some(-3)));
        assert_eq!(parse(r#"{"requests": 7}"#).unwrap().days, None);
        assert_eq!(
            parse(r#"{"requests": 7, "days": null}"#).unwrap().days,
            None
        );
        for refused in [
            r#"{"requests": 1.5}"#,
            r#"{"requests": -1}"#,
            r#"{"requests": -1.0}"#,
            r#"{"requests": "1"}"#,
            r#"{"requests": 1e300}"#,
            r#"{"requests": 1, "days": 0.5}"#,
        ] {
            let err = parse(refused).unwrap_err();
            assert_eq!(
                err.classify(),
                serde_json::error::Category::Data,
                "{refused}"
            );
        }
    }
}
