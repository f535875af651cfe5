//! Who may call what. A handler names `session` (a person signed in) and, where an org
//! API key can do it, `api_key` (keys act with `member` rights at most, so routes for
//! owners and admins, and a person's own settings, do not name it). The browser's session
//! cookie is another way to present a session: every operation that takes `session` also
//! takes the cookie, with the CSRF header on anything but a GET. `iam` is the gateway's
//! own (AWS Signature Version 4). An operation that names no scheme is public
//! (`security: []`).

use shared::http::browser::{CSRF_HEADER, LOOPBACK_SESSION_COOKIE, SESSION_COOKIE};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::OpenApi;

const NO_SCOPES: [&str; 0] = [];

pub fn describe(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        bearer(
            "session token",
            "A person's session token, from `POST /v1/auth/login` (or `/v1/auth/login/2fa`).",
        ),
    );
    components.add_security_scheme(
        "api_key",
        bearer(
            "pmcp_…",
            "An organization API key (`pmcp_…`): on its own org's routes only, with `member` \
             rights or its creator's current role, whichever is less.",
        ),
    );
    components.add_security_scheme(
        "iam",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "An AWS Signature Version 4 signature (`AWS4-HMAC-SHA256 …`) of a principal the \
             stack's IAM policy lets call the API: the gateway's own lookups only.",
        ))),
    );
    components.add_security_scheme(
        "session_cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            SESSION_COOKIE.to_owned(),
            format!(
                "The session as the cookie a sign-in sent with `X-PlexMCP-Session: cookie` \
                 sets (`{LOOPBACK_SESSION_COOKIE}` over plain http on loopback). Ignored when \
                 an `Authorization` header is sent."
            ),
        ))),
    );
    components.add_security_scheme(
        "csrf",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            CSRF_HEADER,
            "`1`: required beside the session cookie on anything but a GET.",
        ))),
    );

    let session = SecurityRequirement::new("session", NO_SCOPES);
    for (method, operation) in crate::operations_mut(doc) {
        let requirements = operation.security.get_or_insert_with(Vec::new);
        if requirements.contains(&session) {
            let cookie = SecurityRequirement::new("session_cookie", NO_SCOPES);
            requirements.push(match method {
                "get" => cookie,
                _ => cookie.add("csrf", NO_SCOPES),
            });
        }
    }
}

fn bearer(format: &str, description: &str) -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format(format)
            .description(Some(description))
            .build(),
    )
}
