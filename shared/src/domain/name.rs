use super::is_forbidden_char;

/// A display name (a person's or an organization's): 1–100 characters after trimming,
/// no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err("must not be empty".into());
        }
        if chars > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if trimmed.chars().any(|c| is_forbidden_char(c, false)) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(Name::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert!(Name::parse("   ").is_err());
        assert!(
            Name::parse(&"é".repeat(100)).is_ok(),
            "counts characters, not bytes"
        );
        assert!(Name::parse(&"a".repeat(101)).is_err());
        assert!(Name::parse("a\u{0007}b").is_err());
        assert!(Name::parse("evil\u{202E}txt").is_err());
        assert!(Name::parse("two\nlines").is_err());
    }
}
