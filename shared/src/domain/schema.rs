//! What each domain type's `parse` accepts, stated in JSON Schema for the OpenAPI
//! document: request fields name these with `#[schema(schema_with = …)]`, so a client
//! generated from the document sends what the server takes, and nothing the server
//! refuses is schema-valid. Patterns are ECMA-262 (the dialect of JSON Schema) and use
//! only what Python's `re` reads the same way; the tests below hold each one to its
//! parser. What JSON Schema cannot say (one field equal to another, a name that must
//! resolve) is in the operation's description.

use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type};

/// Characters a name never carries (`is_forbidden_char`): C0 and C1 controls, zero-width
/// marks, line and paragraph separators, bidirectional overrides and isolates, BOM.
const FORBIDDEN: &str = r"\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff";
/// The same, less the tab and line breaks a description may carry.
const FORBIDDEN_IN_TEXT: &str =
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff";

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// The same schema, also taking `null` (an optional field a client may send as null).
pub fn or_null(mut schema: Object) -> Object {
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    if let Some(values) = schema.enum_values.as_mut() {
        values.push(serde_json::Value::Null);
    }
    schema
}

/// `max` characters at most between the first and the last that is not a space, with
/// any spaces around (the server trims them): a length rule JSON Schema's `maxLength`
/// cannot say, as it counts the spaces too.
fn trimmed_pattern(forbidden: &str, min: usize, max: usize) -> String {
    let text = format!(
        r"[^\s{forbidden}](?:[^{forbidden}]{{0,{}}}[^\s{forbidden}])?",
        max - 2
    );
    let text = if min == 0 {
        format!("(?:{text})?")
    } else {
        text
    };
    format!(r"^\s*{text}\s*$")
}

fn name_pattern() -> String {
    trimmed_pattern(FORBIDDEN, 1, super::Name::MAX_CHARS)
}

/// A display name ([`super::Name`]).
pub fn name() -> Object {
    string("1–100 characters after trimming (Unicode NFC), not only spaces; no control, zero-width or bidirectional-override characters.")
        .pattern(Some(name_pattern()))
        .build()
}

pub fn name_or_null() -> Object {
    or_null(name())
}

fn description_pattern() -> String {
    trimmed_pattern(FORBIDDEN_IN_TEXT, 0, super::Description::MAX_CHARS)
}

/// An organization's description ([`super::Description`]).
pub fn description() -> Object {
    string("0–500 characters after trimming (Unicode NFC); line breaks and tabs allowed, no other control, zero-width or bidirectional-override characters. `null` or `\"\"` clears it.")
        .pattern(Some(description_pattern()))
        .build()
}

pub fn description_or_null() -> Object {
    or_null(description())
}

fn slug_pattern() -> String {
    format!(
        r"^(?!(?:{})$)[a-z0-9]+(?:-[a-z0-9]+)*$",
        super::slug::RESERVED.join("|")
    )
}

/// An organization slug ([`super::OrgSlug`]).
pub fn slug() -> Object {
    string("3–48 lowercase letters and digits with single inner hyphens, not a reserved name (`api`, `www`, `admin`, …). Cannot be changed later.")
        .min_length(Some(3))
        .max_length(Some(48))
        .pattern(Some(slug_pattern()))
        .build()
}

/// An e-mail address ([`super::Email`]).
pub fn email() -> Object {
    string("An e-mail address, at most 254 characters; stored with the local part in lower case and the domain in IDNA ASCII form.")
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(254))
        .build()
}

/// A new password ([`super::Password`]).
pub fn new_password() -> Object {
    string("8–128 characters.")
        .min_length(Some(8))
        .max_length(Some(128))
        .build()
}

/// A password being checked: any text up to 1,024 characters (a wrong one is refused
/// like a wrong password, not as malformed).
pub fn password() -> Object {
    string("The account's password.")
        .min_length(Some(1))
        .max_length(Some(1024))
        .build()
}

/// Six digits that are not a trivial PIN ([`super::Pin`]): not repeated pairs or
/// triples (which include one repeated digit), no run up or down, none of the common
/// ones.
fn pin_pattern() -> String {
    const RUNS: &[&str] = &[
        "012345", "123456", "234567", "345678", "456789", "987654", "876543", "765432", "654321",
        "543210",
    ];
    format!(
        r"^(?!(?:([0-9])([0-9])\1\2\1\2|([0-9])([0-9])([0-9])\3\4\5|{}|{})$)[0-9]{{6}}$",
        RUNS.join("|"),
        super::pin::COMMON.join("|")
    )
}

/// The organization PIN ([`super::Pin`]).
pub fn pin() -> Object {
    string("Exactly 6 digits, not a trivial PIN: no repeated digits, pairs or triples (111111, 121212, 123123), no runs (123456, 654321), none of the most common ones.")
        .min_length(Some(6))
        .max_length(Some(6))
        .pattern(Some(pin_pattern()))
        .build()
}

/// A code of an authenticator app.
pub fn totp_code() -> Object {
    string("The 6-digit code of the authenticator app.")
        .pattern(Some("^[0-9]{6}$"))
        .build()
}

pub fn totp_code_or_null() -> Object {
    or_null(totp_code())
}

/// A backup code as a person types it ([`super::backup_code::normalise`]).
fn backup_code_pattern() -> &'static str {
    r"^[\s-]*(?:[0-9a-tv-zA-TV-Z][\s-]*){10}$"
}

pub fn backup_code_or_null() -> Object {
    or_null(
        string("One unused backup code, `xxxxx-xxxxx`; case, spaces and the hyphen do not matter (i and l read as 1, o as 0).")
            .pattern(Some(backup_code_pattern()))
            .build(),
    )
}

/// An MCP server's URL ([`super::mcp::McpUrl`]).
pub fn mcp_url() -> Object {
    string("An absolute http or https URL with a host, no user name or password, at most 2,048 characters.")
        .format(Some(SchemaFormat::Custom("uri".into())))
        .max_length(Some(2048))
        .pattern(Some("^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+(?:[/?#].*)?$"))
        .build()
}

pub fn mcp_url_or_null() -> Object {
    or_null(mcp_url())
}

/// A string that is one of `values` (an enumeration a generated client can switch on).
pub fn one_of(description: &str, values: &[&str]) -> Object {
    string(description)
        .enum_values(Some(values.iter().copied()))
        .build()
}

pub fn transport_or_null() -> Object {
    or_null(one_of(
        "`streamable_http` (the default) or `sse`.",
        super::mcp::TRANSPORTS,
    ))
}

pub fn health() -> Object {
    one_of("The MCP server's health.", super::mcp::HEALTH)
}

/// What an answer shows of the values above.
pub fn transport() -> Object {
    one_of("`streamable_http` or `sse`.", super::mcp::TRANSPORTS)
}

pub fn health_shown() -> Object {
    one_of(
        "`unknown` until reported; then `healthy`, `degraded` or `down`.",
        &["unknown", "healthy", "degraded", "down"],
    )
}

/// The organization's plan.
pub fn plan() -> Object {
    one_of("`free`, `pro`, `team` or `enterprise`.", super::plan::PLANS)
}

/// An invitation's state: accepted and declined ones are gone, not shown.
pub fn invitation_status() -> Object {
    one_of(
        "`pending`, or `expired` (past `expires_at`).",
        &["pending", "expired"],
    )
}

/// Where a custom domain's verification and serving stand.
pub fn custom_domain_status() -> Object {
    one_of(
        "`pending` (DNS not proven yet), `verified`, `certificate_pending`, `active` (served), `failed` (records gone; released after 7 days) or `expired`.",
        &super::hostname::STATUSES,
    )
}

/// A custom domain ([`super::CustomDomain`]), in its ASCII form.
pub fn custom_domain() -> Object {
    string("A host name you own, like `api.example.com`: at least two labels of 1–63 letters, digits and inner hyphens, a top-level label that is not all digits, at most 253 characters; not an IP address, no wildcard, not under the platform's domain. Internationalized names are also accepted and stored in their IDNA ASCII form.")
        .min_length(Some(1))
        .max_length(Some(253))
        .pattern(Some(
            r"^\s*(?:(?!(?![xX][nN])[a-zA-Z0-9]{2}--)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+(?!(?![xX][nN])[a-zA-Z0-9]{2}--)(?=[a-zA-Z0-9-]*[a-zA-Z])[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.?\s*$",
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fancy_regex::Regex;

    fn agrees(pattern: &str, parse: impl Fn(&str) -> bool, samples: &[&str]) {
        let re = Regex::new(pattern).expect("the pattern compiles");
        for sample in samples {
            assert_eq!(
                re.is_match(sample).unwrap(),
                parse(sample),
                "{sample:?} against {pattern}"
            );
        }
    }

    #[test]
    fn the_pin_pattern_is_the_pin_rule_for_every_pin() {
        let re = Regex::new(&pin_pattern()).unwrap();
        for n in 0..1_000_000 {
            let pin = format!("{n:06}");
            assert_eq!(
                re.is_match(&pin).unwrap(),
                super::super::Pin::parse(&pin).is_ok(),
                "{pin}"
            );
        }
        agrees(
            &pin_pattern(),
            |p| super::super::Pin::parse(p).is_ok(),
            &["12345", "1234567", "12a456", "٣٤٥٦٧٨"],
        );
    }

    #[test]
    fn the_slug_pattern_is_the_slug_rule() {
        let samples = [
            "acme",
            "acme-corp",
            "a1-b2-c3",
            "api",
            "www",
            "admin",
            "apis",
            "my-api",
            "-acme",
            "acme-",
            "ac--me",
            "Acme",
            "ac_me",
            "ab",
            "new",
            "news",
        ];
        let re = Regex::new(&slug_pattern()).unwrap();
        for s in samples {
            let len_ok = (3..=48).contains(&s.len());
            assert_eq!(
                re.is_match(s).unwrap() && len_ok,
                super::super::OrgSlug::parse(s).is_ok(),
                "{s}"
            );
        }
    }

    #[test]
    fn the_name_and_description_patterns_are_their_rules() {
        let long = [
            format!(" {} ", "é".repeat(100)),
            "a".repeat(101),
            "x".repeat(500),
            format!("\n{}\n", "y".repeat(499)),
            "z".repeat(501),
        ];
        let mut samples = vec![
            "Acme",
            "  Acme  ",
            " ",
            "\u{3000}",
            "a\u{0007}b",
            "evil\u{202E}txt",
            "two\nlines",
            "tab\there",
            "Ac\u{200B}me",
            "\u{FEFF}",
            "Café",
            "\u{85}x",
            "x\u{85}y",
            "x\u{2028}y",
            "ok\r\n",
            "",
            "ab",
        ];
        samples.extend(long.iter().map(String::as_str));
        agrees(
            &name_pattern(),
            |s| super::super::Name::parse(s).is_ok(),
            &samples,
        );
        agrees(
            &description_pattern(),
            |s| super::super::Description::parse(s).is_ok(),
            &samples,
        );
    }

    #[test]
    fn the_backup_code_pattern_is_what_normalise_reads() {
        let re = Regex::new(backup_code_pattern()).unwrap();
        for code in [
            "abcde-fghjk",
            "ABCDE FGHJK",
            "abcdefghjk",
            "0il0o-12345",
            "abcd-efgh",
            "uuuuu-uuuuu",
            "ab cd-e fg hj k",
        ] {
            assert_eq!(
                re.is_match(code).unwrap(),
                super::super::backup_code::normalise(code).is_some(),
                "{code}"
            );
        }
    }

    #[test]
    fn the_custom_domain_pattern_is_the_host_name_rule() {
        let reserved = super::super::hostname::Reserved {
            platform_domain: "plexmcp.test",
            cname_target: "gw.plexmcp.test",
        };
        let samples = [
            "api.example.com",
            "API.Example.COM",
            "a.b",
            "example",
            "1.2.3.4",
            "999.1.1.1",
            "*.example.com",
            "-a.example.com",
            "a-.example.com",
            "ab--c.example.com",
            "xn--bcher-kva.example",
            "api.example.com.",
            " api.example.com ",
            "a..b",
            "example.c0m",
            "example.123",
        ];
        agrees(
            custom_domain().pattern.as_deref().unwrap(),
            |s| super::super::CustomDomain::parse(s, &reserved).is_ok(),
            &samples,
        );
    }
}
