use super::{is_forbidden_char, normalized, FORBIDDEN_CHARS};

/// An organization's optional description: 0–500 characters after trimming and NFC
/// normalisation; line breaks allowed, but not U+2028/U+2029 nor invisible characters.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = normalized(raw);
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if trimmed.chars().any(|c| is_forbidden_char(c, true)) {
            return Err(FORBIDDEN_CHARS.into());
        }
        Ok(Self(trimmed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_line_breaks() {
        assert_eq!(Description::parse("").unwrap().as_str(), "");
        assert!(Description::parse("line one\nline two").is_ok());
        assert!(Description::parse(&"x".repeat(500)).is_ok());
        assert!(Description::parse(&"x".repeat(501)).is_err());
        assert!(Description::parse("bell\u{0007}").is_err());
        assert!(Description::parse("line\u{2028}separator").is_err());
        assert!(Description::parse("para\u{2029}graph").is_err());
        assert!(Description::parse("zero\u{200B}width").is_err());
        assert_eq!(
            Description::parse("cre\u{0300}me").unwrap().as_str(),
            "cr\u{E8}me"
        );
    }
}
