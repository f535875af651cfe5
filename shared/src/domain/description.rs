use super::is_forbidden_char;

/// An organization's optional description: 0–500 characters (line breaks allowed).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if trimmed.chars().any(|c| is_forbidden_char(c, true)) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(trimmed.to_owned()))
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
    }
}
