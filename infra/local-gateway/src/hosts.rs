//! Host routing as API Gateway does it: the API answers on its own endpoint (here the
//! gateway's address: an IP literal or `localhost`), on its own name (`API_DOMAIN_NAME`,
//! the template's `ApiDomainName`) and on the custom domain names mapped to it — an org's `<slug>.<PLATFORM_DOMAIN>` and each custom domain the domain worker
//! made `active`. A request on any other name gets API Gateway's `403 {"message":
//! "Forbidden"}`. The owner of a name is found as the gateway's lookup finds it
//! (`GET /v1/hostnames/{host}`: `shared::custom_domain::host`).

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::Response;
use shared::custom_domain::host::owner_of;
use shared::AppState;

pub async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<axum::http::uri::Authority>().ok())
        .map(|authority| authority.host().to_owned());
    let own_name = std::env::var("API_DOMAIN_NAME").unwrap_or_default();
    let Some(host) = host.filter(|h| !is_own_endpoint(h) && !h.eq_ignore_ascii_case(&own_name))
    else {
        return next.run(request).await;
    };
    match owner_of(&state, &host).await {
        Ok(Some(owner)) if owner.serves() => next.run(request).await,
        Ok(_) => crate::routes::forbidden(),
        Err(err) => {
            tracing::error!(%host, error = %err, "host lookup failed");
            axum::response::IntoResponse::into_response((
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(serde_json::json!({ "message": "Internal Server Error" })),
            ))
        }
    }
}

/// The gateway's own address, as the API's execute-api endpoint is in AWS.
fn is_own_endpoint(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::is_own_endpoint;

    #[test]
    fn the_gateway_answers_on_its_own_address() {
        for own in ["127.0.0.1", "localhost", "LOCALHOST", "[::1]", "10.0.0.2"] {
            assert!(is_own_endpoint(own), "{own}");
        }
        for other in [
            "api.example.com",
            "acme.plexmcp.local",
            "localhost.example.com",
        ] {
            assert!(!is_own_endpoint(other), "{other}");
        }
    }
}
