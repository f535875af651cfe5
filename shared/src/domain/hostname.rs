//! A custom domain an organization serves its gateway on: one spelling per host name, and
//! only names that can be somebody's own DNS name.

use std::net::IpAddr;

/// Trimmed, lower case, IDNA (UTS 46) ASCII form (`bücher.example` →
/// `xn--bcher-kva.example`), no trailing dot: RFC 1123 labels of 1–63 letters, digits and
/// inner hyphens, at most 253 characters, at least two labels, not an IP address, no
/// wildcard, and neither the platform's zone nor the gateway's own name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomDomain(String);

/// Where a custom domain stands: not proven yet.
pub const PENDING: &str = "pending";
pub const VERIFIED: &str = "verified";
/// Verified; its certificate is not issued yet (or left `ISSUED`).
pub const CERTIFICATE_PENDING: &str = "certificate_pending";
/// Served: the certificate is issued and API Gateway maps the name to the API.
pub const ACTIVE: &str = "active";
pub const FAILED: &str = "failed";
pub const EXPIRED: &str = "expired";
/// Every status, in the order a domain goes through them.
pub const STATUSES: [&str; 6] = [
    PENDING,
    VERIFIED,
    CERTIFICATE_PENDING,
    ACTIVE,
    FAILED,
    EXPIRED,
];

/// Where custom domains may not point into (`Config::reserved`).
pub struct Reserved<'a> {
    /// `PLATFORM_DOMAIN`: the zone of the orgs' own host names.
    pub platform_domain: &'a str,
    /// `GATEWAY_CNAME_TARGET`: what custom domains CNAME to.
    pub cname_target: &'a str,
}

impl CustomDomain {
    /// The domain, or the rule it breaks (the client sees it).
    pub fn parse(raw: &str, reserved: &Reserved) -> Result<Self, &'static str> {
        let text = raw.trim().to_lowercase();
        let text = text.strip_suffix('.').unwrap_or(&text);
        if text.is_empty() {
            return Err("must be a domain name, like api.example.com");
        }
        if text.contains('*') {
            return Err("must not be a wildcard");
        }
        let bare = text.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return Err("must be a domain name, not an IP address");
        }
        let ascii = idna::domain_to_ascii_strict(text)
            .map_err(|_| "must be a valid internationalized domain name (IDNA)")?;
        if ascii.len() > 253 {
            return Err("must be at most 253 characters (in its ASCII form)");
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err("must have at least two labels, like example.com");
        }
        let label_ok = |label: &&str| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !labels.iter().all(label_ok) {
            return Err("each label must be 1–63 letters, digits or inner hyphens (RFC 1123)");
        }
        // A dotted quad that is not a valid address (`999.1.1.1`) is no host name either.
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("must be a domain name, not an IP address");
        }
        let under = |zone: &str| {
            let zone = zone.trim_end_matches('.').to_lowercase();
            !zone.is_empty() && (ascii == zone || ascii.ends_with(&format!(".{zone}")))
        };
        if under(reserved.cname_target) {
            return Err("must not be the gateway's own name");
        }
        if under(reserved.platform_domain) {
            return Err("must not be under the platform's domain");
        }
        Ok(CustomDomain(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the ownership token must be published.
    pub fn challenge_name(&self) -> String {
        format!("_plexmcp-challenge.{}", self.0)
    }
}

impl std::fmt::Display for CustomDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESERVED: Reserved = Reserved {
        platform_domain: "plexmcp.local",
        cname_target: "gateway.plexmcp.com",
    };

    fn parse(raw: &str) -> Result<String, &'static str> {
        CustomDomain::parse(raw, &RESERVED).map(|d| d.0)
    }

    #[test]
    fn one_spelling_per_name() {
        assert_eq!(parse("  API.Example.COM. ").unwrap(), "api.example.com");
        assert_eq!(parse("bücher.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(
            parse("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(parse("a-b.c0.example").unwrap(), "a-b.c0.example");
    }

    #[test]
    fn names_nobody_can_own_are_refused() {
        for bad in [
            "",
            ".",
            "localhost",
            "*.example.com",
            "127.0.0.1",
            "999.1.1.1",
            "[::1]",
            "::1",
            "-a.example.com",
            "a-.example.com",
            "a..example.com",
            "a_b.example.com",
            "a b.example.com",
            "https://example.com",
            "example.com/path",
            "user@example.com",
            "example.com:443",
            "acme.plexmcp.local",
            "plexmcp.local",
            "gateway.plexmcp.com",
            "x.gateway.plexmcp.com",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long_label = format!("{}.example.com", "a".repeat(64));
        assert!(parse(&long_label).is_err());
        let long_name = format!("{}example.com", "abcdefghi.".repeat(25));
        assert!(long_name.len() > 253 && parse(&long_name).is_err());
        assert!(parse(&format!("{}.example.com", "a".repeat(63))).is_ok());
    }

    #[test]
    fn the_challenge_lives_beside_the_name() {
        let domain = CustomDomain::parse("api.example.com", &RESERVED).unwrap();
        assert_eq!(
            domain.challenge_name(),
            "_plexmcp-challenge.api.example.com"
        );
    }
}
