//! The gateway's lookup of a host name: which org a request that arrives on
//! `<slug>.<PLATFORM_DOMAIN>` or on a custom domain belongs to, and whether the name
//! serves (`active`). An internal route: API Gateway lets only IAM-signed calls (the
//! gateway's role) through (`AWS_IAM` in the template); a session or an API key is
//! refused there, and here too.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use shared::custom_domain::host::owner_of;
use shared::http::{Path, Problem};
use shared::{AppState, Error};
use utoipa::ToSchema;

/// What API Gateway's IAM authorizer lets through: a Signature Version 4 request.
const SIGV4: &str = "AWS4-HMAC-SHA256 ";

#[derive(Serialize, ToSchema)]
pub struct Hostname {
    /// The org the host name belongs to.
    org_id: String,
    slug: String,
    /// `active`: requests on the name are the org's. A custom domain's other states
    /// (`verified`, `certificate_pending`, `failed`) and an org being deleted
    /// (`deleting`) serve nothing.
    status: String,
}

/// API Gateway's own answer, before any function runs (`{"message":"Forbidden"}`).
#[derive(Serialize, ToSchema)]
pub struct GatewayMessage {
    message: String,
}

/// Which org a host name serves (for the gateway: IAM-signed calls only).
#[utoipa::path(get, path = "/v1/hostnames/{host}", operation_id = "get_hostname", tag = "hostnames", security(("iam" = [])),
    params(("host" = String, Path, description = "A host name, without the port")),
    responses(
        (status = 200, body = Hostname),
        (status = 403, description = "Not an IAM-signed call (none, a session or an API key): API Gateway's own answer", body = GatewayMessage, content_type = "application/json"),
        (status = 404, description = "No org has this host name", body = Problem),
    ))]
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(host): Path<String>,
) -> Result<axum::Json<Hostname>, Error> {
    let signed = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(SIGV4));
    // API Gateway refuses such a call before this function runs; a function invoked
    // some other way refuses it too.
    if !signed {
        return Err(Error::Forbidden(
            "only the gateway's IAM-signed calls may look up host names",
        ));
    }
    let owner = owner_of(&state, &host).await?.ok_or(Error::NotFound)?;
    Ok(axum::Json(Hostname {
        org_id: owner.org_id,
        slug: owner.slug,
        status: owner.status,
    }))
}
