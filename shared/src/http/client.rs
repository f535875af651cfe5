//! Who is calling: source IP and user agent, recorded on sessions and audit entries.
//! In Lambda the source IP comes from the API Gateway request context; in the local
//! gateway from the socket (put into the request as a `PeerAddr` extension).

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use std::convert::Infallible;
use std::net::IpAddr;

/// Set by a front end that knows the peer (the local gateway).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub IpAddr);

#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let ip = parts
            .extensions
            .get::<PeerAddr>()
            .map(|peer| peer.0.to_string())
            .or_else(|| lambda_source_ip(parts));
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}

fn lambda_source_ip(parts: &Parts) -> Option<String> {
    use lambda_http::request::RequestContext;
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
