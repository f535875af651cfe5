use super::{is_forbidden_char, normalized, FORBIDDEN_CHARS};

/// A display name (a person's, an organization's, an MCP's, an API key's): 1–100
/// characters after trimming and NFC normalisation, no control, zero-width or
/// bidirectional-override characters and no line breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = normalized(raw);
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err("must not be empty".into());
        }
        if chars > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if trimmed.chars().any(|c| is_forbidden_char(c, false)) {
            return Err(FORBIDDEN_CHARS.into());
        }
        Ok(Self(trimmed))
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

    #[test]
    fn normalises_to_nfc_and_rejects_invisible_characters() {
        // "é" as "e" + COMBINING ACUTE ACCENT becomes the single code point.
        assert_eq!(
            Name::parse("Caf\u{0065}\u{0301}").unwrap().as_str(),
            "Caf\u{E9}"
        );
        assert_eq!(
            Name::parse(&"e\u{0301}".repeat(100)).unwrap().as_str(),
            "\u{E9}".repeat(100),
            "the limit counts characters after normalisation"
        );
        for invisible in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{2028}', '\u{2029}',
            '\u{FEFF}',
        ] {
            assert!(
                Name::parse(&format!("Ac{invisible}me")).is_err(),
                "{invisible:?}"
            );
        }
        assert!(Name::parse("\u{FEFF}").is_err());
    }
}
