//! CORS as API Gateway applies an HTTP API's `CorsConfiguration` (the template's, from
//! `CorsAllowedOrigins`): a preflight (`OPTIONS` with `Access-Control-Request-Method`)
//! is answered by the gateway, never the functions; any other answer to an allowed
//! origin carries `Access-Control-Allow-Origin` and the exposed headers. An origin not
//! on the list gets no CORS headers, so the browser keeps the answer from its page.
//! Without a configuration, requests pass untouched (an `OPTIONS` reaches the functions,
//! which answer 405).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cors {
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub max_age: Option<u64>,
}

impl Cors {
    /// The request's `Origin`, if the configuration allows it.
    fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.allow_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }

    fn preflight(&self, headers: &HeaderMap) -> Response {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let Some(origin) = self.allowed_origin(headers) else {
            return response;
        };
        let asked = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or_default();
        if !self
            .allow_methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(asked))
        {
            return response;
        }
        let out = response.headers_mut();
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        out.insert(header::VARY, HeaderValue::from_static("origin"));
        for (name, list) in [
            (header::ACCESS_CONTROL_ALLOW_METHODS, &self.allow_methods),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, &self.allow_headers),
        ] {
            if let Ok(value) = HeaderValue::from_str(&list.join(",")) {
                out.insert(name, value);
            }
        }
        if let Some(seconds) = self.max_age {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(seconds));
        }
        response
    }
}

/// The middleware: `None` is an API without CORS.
pub async fn apply(
    State(cors): State<Arc<Option<Cors>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(cors) = cors.as_ref() else {
        return next.run(request).await;
    };
    let is_preflight = request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        return cors.preflight(request.headers());
    }
    let origin = cors.allowed_origin(request.headers());
    let mut response = next.run(request).await;
    if let Some(origin) = origin {
        let out = response.headers_mut();
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        out.append(header::VARY, HeaderValue::from_static("origin"));
        if let Ok(value) = HeaderValue::from_str(&cors.expose_headers.join(",")) {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allow_origins: vec!["https://app.example.com".into()],
            allow_methods: vec!["GET".into(), "PATCH".into()],
            allow_headers: vec!["authorization".into()],
            expose_headers: vec!["etag".into()],
            max_age: Some(600),
        }
    }

    fn asking(origin: &str, method: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, origin.parse().unwrap());
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            method.parse().unwrap(),
        );
        headers
    }

    #[test]
    fn a_preflight_is_allowed_only_for_a_listed_origin_and_method() {
        let allowed = cors().preflight(&asking("https://app.example.com", "PATCH"));
        assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
        let headers = allowed.headers();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_METHODS], "GET,PATCH");
        assert_eq!(headers[header::ACCESS_CONTROL_MAX_AGE], "600");
        for (origin, method) in [
            ("https://evil.example", "PATCH"),
            ("https://app.example.com", "DELETE"),
        ] {
            let refused = cors().preflight(&asking(origin, method));
            assert_eq!(refused.status(), StatusCode::NO_CONTENT);
            assert!(!refused
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        }
    }
}
