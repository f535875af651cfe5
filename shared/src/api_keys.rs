//! Organization API keys: `pmcp_` + 256 random bits in base62 (43 characters). Only the
//! SHA-256 is stored, in a global pointer item that names the key's org and id; the key
//! is shown once, at creation.

use crate::crypto::sha256_hex;
use chrono::Duration;
use rand::Rng;

pub const PREFIX: &str = "pmcp_";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 symbols carry 256.0 bits.
const SECRET_LEN: usize = 43;
pub const API_KEY_TOUCH_INTERVAL: Duration = Duration::minutes(1);

pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        let body: String = (0..SECRET_LEN)
            .map(|_| BASE62[rng.gen_range(0..62)] as char)
            .collect();
        ApiKeySecret(format!("{PREFIX}{body}"))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(PREFIX)?;
        (body.len() == SECRET_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| ApiKeySecret(raw.to_owned()))
    }

    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// What lists show to recognise a key: `pmcp_` and the first 6 symbols.
    pub fn display_prefix(&self) -> String {
        self.0[..PREFIX.len() + 6].to_owned()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parsing() {
        let key = ApiKeySecret::generate();
        assert_eq!(key.expose().len(), 5 + 43);
        assert!(ApiKeySecret::parse(key.expose()).is_some());
        assert_eq!(key.display_prefix().len(), 11);
        assert!(ApiKeySecret::parse("pmcp_short").is_none());
        assert!(ApiKeySecret::parse(&key.expose().replace("pmcp_", "pmcx_")).is_none());
        assert_ne!(ApiKeySecret::generate().hash(), key.hash());
    }
}
