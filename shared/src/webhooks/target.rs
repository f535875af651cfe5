//! Where a webhook may be sent: the URL rules and the SSRF guard.
//!
//! A URL is parsed the WHATWG way (the `url` crate), which already turns every spelling
//! of an IPv4 address — `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1` — into its
//! dotted form, so an address literal is judged as the address it is. A name is
//! resolved, and the target is refused if ANY address it resolves to is not a public
//! unicast address; the addresses that passed are what the sender connects to (no
//! second lookup between the check and the connection).
//!
//! With `WEBHOOK_ALLOW_PRIVATE_TARGETS=1` (local testing only) http and private targets
//! are allowed.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

pub const MAX_URL_CHARS: usize = 2048;
/// How long resolving an endpoint's name may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// An endpoint URL that passed the syntax rules (not yet the address check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

/// Why a target is refused: the message a client sees.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetRefused(pub String);

fn refused(message: impl Into<String>) -> TargetRefused {
    TargetRefused(message.into())
}

/// The URL rules of [`WebhookUrl::parse`] in JSON Schema. That the host resolves only to
/// public addresses is a fact of DNS at the time of the request, not of the document.
pub fn url_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some("An https URL (http only where the deployment allows private targets, as local stacks do), at most 2,048 characters, with no user name, password or fragment; its host must resolve only to public addresses."))
        .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
        .max_length(Some(MAX_URL_CHARS))
        .pattern(Some("^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+(?:[/?][^#]*)?$"))
        .build()
}

pub fn url_or_null_schema() -> utoipa::openapi::Object {
    crate::domain::schema::or_null(url_schema())
}

impl WebhookUrl {
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, TargetRefused> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(refused(format!(
                "must be at most {MAX_URL_CHARS} characters"
            )));
        }
        let url = url::Url::parse(raw).map_err(|_| refused("must be an absolute https URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            _ => return Err(refused("must be an https URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("must not contain a user name or password"));
        }
        if url.fragment().is_some() {
            return Err(refused("must not contain a fragment (#…)"));
        }
        let Some(host) = url.host() else {
            return Err(refused("must name a host"));
        };
        if !allow_private {
            match host {
                url::Host::Ipv4(ip) => check(IpAddr::V4(ip))?,
                url::Host::Ipv6(ip) => check(IpAddr::V6(ip))?,
                url::Host::Domain(name) => {
                    let name = name.trim_end_matches('.');
                    if name == "localhost" || name.ends_with(".localhost") || !name.contains('.') {
                        return Err(refused("must name a public host"));
                    }
                }
            }
        }
        Ok(WebhookUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host as written in the URL (brackets stripped from IPv6 literals).
    pub fn host(&self) -> String {
        match self.0.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// The addresses a delivery may connect to: every address the host resolves to, each
    /// of them public unless `allow_private`. One private address refuses the target.
    pub async fn vet(
        &self,
        resolver: &impl Resolve,
        allow_private: bool,
    ) -> Result<Vec<SocketAddr>, TargetRefused> {
        let port = self.port();
        let addresses = match self.0.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => {
                let host = self.host();
                let lookup = resolver.resolve(&host, port);
                match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                    Ok(Ok(found)) => found,
                    Ok(Err(_)) => return Err(refused(format!("{host} does not resolve"))),
                    Err(_) => return Err(refused(format!("resolving {host} timed out"))),
                }
            }
        };
        if addresses.is_empty() {
            return Err(refused(format!("{} has no address", self.host())));
        }
        if !allow_private {
            all_public(&addresses)?;
        }
        Ok(addresses)
    }
}

/// A webhook URL as people below admin see it: every query value, and every path
/// segment that looks like a token (16+ characters of letters and digits), is `••••` —
/// endpoints often carry their credential in the URL itself.
pub fn redacted(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "••••".into();
    };
    let looks_like_token = |segment: &str| {
        segment.len() >= 16
            && segment.chars().any(|c| c.is_ascii_digit())
            && segment.chars().any(|c| c.is_ascii_alphabetic())
    };
    let path: Vec<String> = parsed
        .path_segments()
        .map(|segments| {
            segments
                .map(|s| {
                    if looks_like_token(s) {
                        "••••".to_owned()
                    } else {
                        s.to_owned()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    parsed.set_path(&path.join("/"));
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(name, _)| (name.into_owned(), "••••".to_owned()))
        .collect();
    if pairs.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // `••••` stays readable rather than percent-encoded.
    parsed
        .as_str()
        .replace("%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2", "••••")
}

/// Refuses the lot when any address is not public: a name that resolves to one public and
/// one private address could be steered to the private one.
/// The refusal names the kind of address, not the address: what a name resolves to
/// inside someone's network is not for the caller to learn.
pub fn all_public(addresses: &[SocketAddr]) -> Result<(), TargetRefused> {
    match addresses.iter().find_map(|address| blocked(address.ip())) {
        Some(kind) => Err(refused(format!(
            "resolves to a {kind} address, which webhooks may not reach"
        ))),
        None => Ok(()),
    }
}

fn check(ip: IpAddr) -> Result<(), TargetRefused> {
    match blocked(ip) {
        Some(kind) => Err(refused(format!(
            "must not point to a {kind} address ({ip})"
        ))),
        None => Ok(()),
    }
}

/// What kind of non-public address `ip` is, or `None` for a public unicast address.
pub fn blocked(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "\"this network\"",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT)",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local (cloud metadata)",
        (192, 0, 0) => "IETF protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        // ::ffff:a.b.c.d reaches a.b.c.d.
        return blocked_v4(v4).map(|_| "IPv4-mapped non-public");
    }
    let s = ip.segments();
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback",
        // ::a.b.c.d (IPv4-compatible, deprecated) and the rest of ::/96.
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible",
        // NAT64 (well-known and local-use prefixes): a translator reaches an IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => "NAT64",
        [0x100, 0, 0, 0, ..] => "discard-only",
        [0x2001, 0, ..] => "Teredo",
        [0x2001, 0x2, 0, ..] => "benchmarking",
        [0x2001, 0x10..=0x2f, ..] => "ORCHID",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x2002, ..] => "6to4",
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique local (ULA)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local",
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local",
        [first, ..] if first & 0xff00 == 0xff00 => "multicast",
        // Only global unicast (2000::/3) is public.
        [first, ..] if first & 0xe000 != 0x2000 => "reserved",
        _ => return None,
    })
}

/// Name resolution, injectable so the guard can be tested with any answer.
pub trait Resolve: Sync {
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<Vec<SocketAddr>>> + Send;
}

/// The system's resolver (getaddrinfo, on a blocking thread).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        #[cfg(feature = "test-hooks")]
        if let Some(ips) = crate::test_hooks::resolved(host) {
            return Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect());
        }
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_at_create(url: &str) -> bool {
        WebhookUrl::parse(url, false).is_err()
    }

    #[test]
    fn every_spelling_of_a_private_address_is_refused() {
        for url in [
            "https://127.0.0.1/hook",
            "https://127.1/hook",
            "https://2130706433/hook",
            "https://0x7f000001/hook",
            "https://0177.0.0.1/hook",
            "https://0.0.0.0/hook",
            "https://10.1.2.3/hook",
            "https://172.16.0.1/hook",
            "https://192.168.1.1/hook",
            "https://100.64.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://224.0.0.1/hook",
            "https://255.255.255.255/hook",
            "https://[::1]/hook",
            "https://[::]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:7f00:1]/hook",
            "https://[::ffff:169.254.169.254]/hook",
            "https://[64:ff9b::a9fe:a9fe]/hook",
            "https://[64:ff9b::7f00:1]/hook",
            "https://[fc00::1]/hook",
            "https://[fd00:ec2::254]/hook",
            "https://[fe80::1]/hook",
            "https://[ff02::1]/hook",
            "https://[2001:db8::1]/hook",
            "https://[2002:7f00:1::]/hook",
            "https://localhost/hook",
            "https://api.localhost/hook",
            "https://intranet/hook",
        ] {
            assert!(refused_at_create(url), "{url} should be refused");
        }
    }

    #[test]
    fn public_https_urls_pass_and_the_syntax_rules_hold() {
        for url in [
            "https://hooks.example.com/plexmcp",
            "https://93.184.215.14/hook",
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook",
            "https://example.com:8443/a?b=c",
        ] {
            assert!(WebhookUrl::parse(url, false).is_ok(), "{url}");
        }
        for (url, why) in [
            ("http://hooks.example.com/", "https"),
            ("ftp://hooks.example.com/", "https"),
            ("https://user:pw@hooks.example.com/", "user name"),
            ("https://hooks.example.com/#frag", "fragment"),
            ("hooks.example.com/x", "absolute"),
        ] {
            let err = WebhookUrl::parse(url, false).unwrap_err();
            assert!(err.0.contains(why), "{url}: {err}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(WebhookUrl::parse(&long, false).is_err());
        // Locally, http and loopback are allowed.
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true).is_ok());
    }

    struct Answer(Vec<&'static str>);

    impl Resolve for Answer {
        async fn resolve(&self, _host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            Ok(self
                .0
                .iter()
                .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
                .collect())
        }
    }

    #[test]
    fn below_admin_the_credential_in_a_url_is_not_shown() {
        assert_eq!(
            redacted("https://hooks.example.com/services/T0001/B0002/XyZ123abcDEF456ghi?token=s3cr3t&v=2"),
            "https://hooks.example.com/services/T0001/B0002/••••?token=••••&v=••••"
        );
        assert_eq!(
            redacted("https://hooks.example.com/plexmcp"),
            "https://hooks.example.com/plexmcp"
        );
    }

    #[tokio::test]
    async fn a_name_with_one_private_address_among_public_ones_is_refused() {
        let url = WebhookUrl::parse("https://hooks.example.com/x", false).unwrap();
        let vetted = url
            .vet(&Answer(vec!["93.184.215.14", "2606:2800::1"]), false)
            .await
            .unwrap();
        assert_eq!(vetted.len(), 2);
        assert!(vetted.iter().all(|a| a.port() == 443));
        for private in [
            "10.0.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            let answer = Answer(vec!["93.184.215.14", private]);
            let err = url.vet(&answer, false).await.unwrap_err();
            // Refused, without telling what the name resolves to.
            assert!(err.0.contains("resolves to a"), "{err}");
            assert!(!err.0.contains(private), "{err}");
        }
        assert!(url.vet(&Answer(vec![]), false).await.is_err());
        // Allowed locally.
        assert!(url.vet(&Answer(vec!["127.0.0.1"]), true).await.is_ok());
    }
}
