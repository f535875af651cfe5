//! Validated domain types: a value of one of these types can only exist if it is valid,
//! so no handler checks it again. Each `parse` returns the message a client sees.

pub mod backup_code;
pub mod description;
pub mod email;
pub mod mcp;
pub mod name;
pub mod password;
pub mod pin;
pub mod role;
pub mod slug;
pub mod totp;

pub use description::Description;
pub use email::Email;
pub use name::Name;
pub use password::{Password, PasswordHash};
pub use pin::Pin;
pub use role::{Permission, Role};
pub use slug::OrgSlug;
pub use totp::TotpSecret;

/// True for characters a name or description must never carry: C0/C1 controls and the
/// bidirectional overrides used to disguise text.
pub(crate) fn is_forbidden_char(c: char, allow_line_breaks: bool) -> bool {
    if allow_line_breaks && (c == '\n' || c == '\t' || c == '\r') {
        return false;
    }
    c.is_control()
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}
