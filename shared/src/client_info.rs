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

impl ClientInfo {
    /// The network a login budget is kept for: the IPv4 address, or the /64 of an IPv6
    /// address (one subscriber usually holds a whole /64, so counting single IPv6
    /// addresses would give each attacker billions of budgets).
    pub fn network(&self) -> Option<String> {
        let ip: IpAddr = self.ip.as_deref()?.parse().ok()?;
        Some(match ip.to_canonical() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        })
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

#[cfg(test)]
mod tests {
    use super::ClientInfo;

    fn network(ip: &str) -> Option<String> {
        ClientInfo {
            ip: Some(ip.into()),
            user_agent: None,
        }
        .network()
    }

    #[test]
    fn ipv4_counts_alone_and_ipv6_by_its_64() {
        assert_eq!(network("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(
            network("::ffff:203.0.113.9").as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            network("2001:db8:1:2:aaaa::1"),
            network("2001:db8:1:2:bbbb:cccc:dddd:eeee")
        );
        assert_eq!(
            network("2001:db8:1:2::9").as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_ne!(network("2001:db8:1:2::1"), network("2001:db8:1:3::1"));
        assert_eq!(network("not an address"), None);
    }
}
