/// An organization slug: 3–48 characters of `^[a-z0-9]+(-[a-z0-9]+)*$`, not reserved.
/// Immutable once the organization exists.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrgSlug(String);

/// Names that collide with platform hostnames (`<slug>.<PLATFORM_DOMAIN>`) or routes.
pub(crate) const RESERVED: &[&str] = &[
    "api",
    "www",
    "admin",
    "gateway",
    "app",
    "docs",
    "status",
    "help",
    "support",
    "mail",
    "blog",
    "dashboard",
    "console",
    "login",
    "signup",
    "auth",
    "oauth",
    "settings",
    "billing",
    "static",
    "assets",
    "cdn",
    "mcp",
    "plexmcp",
    "root",
    "system",
    "internal",
    "security",
    "webhooks",
    "new",
];

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.len();
        if !(3..=48).contains(&len) {
            return Err("must be 3 to 48 characters".into());
        }
        let well_formed = raw.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !well_formed {
            return Err(
                "must be lowercase letters, numbers and single hyphens between them".into(),
            );
        }
        if RESERVED.contains(&raw) {
            return Err("is reserved".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_format() {
        for ok in ["my-company", "abc", "a1-b2-c3", &"a".repeat(48)] {
            assert!(OrgSlug::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "ab",
            &"a".repeat(49),
            "My-Company",
            "-abc",
            "abc-",
            "a--b",
            "a_b",
            "a b",
            "api",
            "admin",
            "ab\u{e9}",
        ] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
