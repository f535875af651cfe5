//! Validated domain types: a value of one of these types can only exist if it is valid,
//! so no handler checks it again. Each `parse` returns the message a client sees.

pub mod backup_code;
pub mod description;
pub mod email;
pub mod hostname;
pub mod mcp;
pub mod name;
pub mod password;
pub mod pin;
pub mod plan;
pub mod role;
pub mod schema;
pub mod slug;
pub mod totp;

pub use description::Description;
pub use email::Email;
pub use hostname::CustomDomain;
pub use name::Name;
pub use password::{Password, PasswordHash};
pub use pin::Pin;
pub use role::{Permission, Role};
pub use slug::OrgSlug;
pub use totp::TotpSecret;

/// True for characters a name, description or e-mail must never carry: C0/C1 controls,
/// the bidirectional overrides used to disguise text, zero-width characters and marks
/// (U+200B–U+200F, U+FEFF) that make two different strings look alike, and the Unicode
/// line and paragraph separators (U+2028/U+2029) that break log lines and JSON-in-JS.
pub(crate) fn is_forbidden_char(c: char, allow_line_breaks: bool) -> bool {
    if allow_line_breaks && (c == '\n' || c == '\t' || c == '\r') {
        return false;
    }
    c.is_control()
        || ('\u{200B}'..='\u{200F}').contains(&c)
        || ('\u{2028}'..='\u{2029}').contains(&c)
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{FEFF}'
}

/// Trimmed and in Unicode Normalization Form C, so that "é" typed as one code point or as
/// "e" plus a combining accent is one string (for display, comparison and length).
pub(crate) fn normalized(raw: &str) -> String {
    icu_normalizer::ComposingNormalizer::new_nfc()
        .normalize(raw.trim())
        .into_owned()
}

/// The message for a text that carries a forbidden character.
pub(crate) const FORBIDDEN_CHARS: &str =
    "must not contain control, zero-width or bidirectional-override characters";
