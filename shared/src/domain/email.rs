use super::{is_forbidden_char, normalized};

/// An e-mail address, normalised so that one mailbox has one spelling: NFC, the local part
/// in lower case, the domain in its IDNA (UTS 46) ASCII form (`bücher.example` →
/// `xn--bcher-kva.example`). Uniqueness and invitations compare this form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || Err("must be a valid e-mail address".to_string());
        let text = normalized(raw);
        // ':' would break the label of an otpauth URI (issuer:account).
        if text.len() > 254
            || text
                .chars()
                .any(|c| c.is_whitespace() || is_forbidden_char(c, false) || c == ':')
        {
            return invalid();
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return invalid();
        };
        let local = local.to_lowercase();
        let Ok(domain) = idna::domain_to_ascii_strict(domain) else {
            return invalid();
        };
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || !domain.contains('.')
            || !labels_ok
        {
            return invalid();
        }
        let email = format!("{local}@{domain}");
        if email.len() > 254 {
            return invalid();
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mailbox_has_one_spelling() {
        let ascii = Email::parse("ada@xn--bcher-kva.example").unwrap();
        for spelling in [
            "Ada@Bücher.example",
            "ada@bu\u{0308}cher.example",
            "ADA@BÜCHER.EXAMPLE",
        ] {
            assert_eq!(Email::parse(spelling).unwrap(), ascii, "{spelling}");
        }
        assert_eq!(ascii.as_str(), "ada@xn--bcher-kva.example");
        // The local part keeps its letters, composed and lower-cased.
        assert_eq!(
            Email::parse("Jose\u{0301}@example.com").unwrap().as_str(),
            "jos\u{E9}@example.com"
        );
    }

    #[test]
    fn normalises_case_and_rejects_garbage() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@-x.com",
            "ada\u{200B}@example.com",
            "ada@exa\u{200B}mple.com",
            "\u{FEFF}ada@example.com",
            "ada\u{2028}@example.com",
            "ada@exa mple.com",
            "ada@ex_ample.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
