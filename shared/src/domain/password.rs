//! Passwords: 8–128 characters, stored only as argon2id (m=19 MiB, t=2, p=1, 16-byte salt).

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;

/// A password as typed; never logged (no `Debug` of the content).
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if !(8..=128).contains(&chars) {
            return Err("must be 8 to 128 characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A PHC-format argon2id hash as stored.
#[derive(Clone, Debug)]
pub struct PasswordHash(pub String);

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(19 * 1024, 2, 1, Some(32)).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verified against when the account does not exist, so that an unknown e-mail costs the
/// same time as a wrong password.
static DECOY: LazyLock<String> = LazyLock::new(|| {
    hash_secret("decoy password that matches nothing").expect("argon2 with static params")
});

/// argon2id with a fresh 16-byte salt (`SaltString::generate` draws 16 bytes).
pub fn hash_secret(secret: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(secret.as_bytes(), &salt)?
        .to_string())
}

/// True only if `secret` matches `phc`; a malformed stored hash verifies as false.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    argon2::PasswordHash::new(phc)
        .map(|parsed| hasher().verify_password(secret.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

impl PasswordHash {
    pub fn of(password: &Password) -> Result<Self, argon2::password_hash::Error> {
        hash_secret(password.expose()).map(Self)
    }

    pub fn verify(&self, password: &str) -> bool {
        verify_secret(password, &self.0)
    }

    /// Spend one verification's worth of time for an account that does not exist.
    pub fn verify_decoy(password: &str) {
        let _ = verify_secret(password, &DECOY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse(&"ü".repeat(128)).is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("hunter22!").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn hashes_with_the_design_parameters() {
        let hash = PasswordHash::of(&Password::parse("correct horse").unwrap()).unwrap();
        assert!(
            hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.0
        );
        let salt_b64 = hash.0.split('$').nth(4).unwrap();
        assert_eq!(salt_b64.len(), 22, "16-byte salt, unpadded base64");
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("wrong horse"));
        assert!(!PasswordHash("garbage".into()).verify("x"));
    }
}
