/// An e-mail address, normalised to lower case so that uniqueness is case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let invalid = || Err("must be a valid e-mail address".to_string());
        // ':' would break the label of an otpauth URI (issuer:account).
        if email.len() > 254
            || email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ':')
        {
            return invalid();
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return invalid();
        };
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || !domain.contains('.')
            || !labels_ok
        {
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
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
