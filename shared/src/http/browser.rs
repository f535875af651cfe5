//! Browser sessions, for the settings pages.
//!
//! A sign-in sent with `X-PlexMCP-Session: cookie` gets its session token as a cookie —
//! `HttpOnly; Secure; SameSite=Strict; Path=/` — and not in the answer's body, so no
//! script ever reads it. A request that presents that cookie (and no `Authorization`
//! header) must also carry `X-PlexMCP-CSRF: 1` unless it is a GET or HEAD: a header no
//! other site's page can add without a CORS preflight, which this API never grants, on
//! top of SameSite=Strict. API clients keep sending `Authorization: Bearer`, which wins
//! over any cookie.
//!
//! The cookie is `__Host-plexmcp_session`: the prefix makes browsers keep it only with
//! `Secure`, `Path=/` and no `Domain`, so no sibling subdomain can plant or shadow it.
//! Only where the configuration allows it (`LOCAL_HTTP_COOKIES=1`, the local stack) *and*
//! the request is for a loopback host, where the pages are served over plain http, is
//! `Secure` left out — and with it the prefix, which browsers refuse without `Secure`:
//! there the cookie is `plexmcp_session`, read only from requests for a loopback host.

use crate::error::Error;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderValue, Method};
use std::convert::Infallible;
use std::net::IpAddr;

pub const SESSION_COOKIE: &str = "__Host-plexmcp_session";
/// The cookie's name over plain http on loopback (the local stack).
pub const LOOPBACK_SESSION_COOKIE: &str = "plexmcp_session";
/// `cookie`: deliver the new session as the cookie.
pub const SESSION_DELIVERY_HEADER: &str = "x-plexmcp-session";
pub const CSRF_HEADER: &str = "x-plexmcp-csrf";

/// The session token (or API key) a request presents: `Authorization: Bearer …`, else the
/// browser session cookie — with the CSRF header on anything but a GET or HEAD.
pub fn presented_token(parts: &Parts) -> Result<&str, Error> {
    if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
        return authorization
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(Error::Unauthorized);
    }
    let token = cookie(parts, SESSION_COOKIE)
        .or_else(|| {
            loopback_host(parts)
                .then(|| cookie(parts, LOOPBACK_SESSION_COOKIE))
                .flatten()
        })
        .ok_or(Error::Unauthorized)?;
    let safe = parts.method == Method::GET || parts.method == Method::HEAD;
    let csrf = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !safe && csrf != Some("1") {
        return Err(Error::Forbidden(
            "a change signed in with the browser session cookie needs the header X-PlexMCP-CSRF: 1",
        ));
    }
    Ok(token)
}

/// The value of the cookie `name`, if the request sends it.
fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// How an answer that starts or ends a session delivers it.
pub struct SessionDelivery {
    /// The request asked for the cookie (`X-PlexMCP-Session: cookie`).
    pub cookie: bool,
    secure: bool,
}

impl FromRequestParts<AppState> for SessionDelivery {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let asked = parts
            .headers
            .get(SESSION_DELIVERY_HEADER)
            .and_then(|v| v.to_str().ok())
            == Some("cookie");
        Ok(SessionDelivery {
            cookie: asked,
            secure: !(state.config.local_http_cookies && loopback_host(parts)),
        })
    }
}

impl SessionDelivery {
    /// `Set-Cookie` for a new session token, kept for `max_age_seconds`.
    pub fn set(&self, token: &str, max_age_seconds: i64) -> HeaderValue {
        self.header(token, max_age_seconds)
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age: i64) -> HeaderValue {
        let (name, secure) = match self.secure {
            true => (SESSION_COOKIE, "; Secure"),
            false => (LOOPBACK_SESSION_COOKIE, ""),
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
        ))
        .expect("a token is a header value")
    }
}

/// The request is for `localhost` or a loopback address (any port).
fn loopback_host(parts: &Parts) -> bool {
    let Some(host) = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().method(method).uri("/v1/me");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_wins_and_the_cookie_needs_the_csrf_header_to_change_anything() {
        let both = parts(
            Method::POST,
            &[
                ("authorization", "Bearer abc"),
                ("cookie", "__Host-plexmcp_session=xyz"),
            ],
        );
        assert_eq!(presented_token(&both).unwrap(), "abc");
        let read = parts(
            Method::GET,
            &[("cookie", "a=1; __Host-plexmcp_session=xyz; b=2")],
        );
        assert_eq!(presented_token(&read).unwrap(), "xyz");
        let change = parts(Method::DELETE, &[("cookie", "__Host-plexmcp_session=xyz")]);
        assert!(matches!(presented_token(&change), Err(Error::Forbidden(_))));
        let wrong = parts(
            Method::POST,
            &[
                ("cookie", "__Host-plexmcp_session=xyz"),
                ("x-plexmcp-csrf", "yes"),
            ],
        );
        assert!(matches!(presented_token(&wrong), Err(Error::Forbidden(_))));
        let guarded = parts(
            Method::POST,
            &[
                ("cookie", "__Host-plexmcp_session=xyz"),
                ("x-plexmcp-csrf", "1"),
            ],
        );
        assert_eq!(presented_token(&guarded).unwrap(), "xyz");
        let none = parts(
            Method::GET,
            &[("cookie", "other=1; __Host-plexmcp_session=")],
        );
        assert!(matches!(presented_token(&none), Err(Error::Unauthorized)));
        let malformed = parts(Method::GET, &[("authorization", "Basic abc")]);
        assert!(matches!(
            presented_token(&malformed),
            Err(Error::Unauthorized)
        ));
    }

    #[test]
    fn the_unprefixed_cookie_counts_only_on_loopback() {
        let cookie = ("cookie", "plexmcp_session=xyz");
        let local = parts(Method::GET, &[cookie, ("host", "127.0.0.1:3000")]);
        assert_eq!(presented_token(&local).unwrap(), "xyz");
        let deployed = parts(Method::GET, &[cookie, ("host", "api.plexmcp.com")]);
        assert!(matches!(
            presented_token(&deployed),
            Err(Error::Unauthorized)
        ));
        let prefixed = parts(
            Method::GET,
            &[
                (
                    "cookie",
                    "plexmcp_session=planted; __Host-plexmcp_session=xyz",
                ),
                ("host", "api.plexmcp.com"),
            ],
        );
        assert_eq!(presented_token(&prefixed).unwrap(), "xyz");
    }

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        for (host, loopback) in [
            ("127.0.0.1:3000", true),
            ("localhost", true),
            ("LOCALHOST:8080", true),
            ("[::1]:3000", true),
            ("127.8.9.10", true),
            ("api.plexmcp.com", false),
            ("127.0.0.1.example.com", false),
            ("localhost.example.com:443", false),
            ("[2001:db8::1]:443", false),
        ] {
            assert_eq!(
                loopback_host(&parts(Method::GET, &[("host", host)])),
                loopback,
                "{host}"
            );
        }
    }
}
