//! Organization API keys: `pmcp_` + 256 random bits in base62 (43 characters). Only the
//! SHA-256 is stored, in a global pointer item that names the key's org and id; the key
//! is shown once, at creation. `ApiKey` and `ApiKeyPointer` are the one place that builds
//! and reads their items.

use crate::crypto::sha256_hex;
use crate::ids::{ApiKeyId, OrgId, UserId};
use crate::store::item::time;
use crate::store::{s, Item, ItemExt, Key, StoreError};
use chrono::{DateTime, Duration, Utc};
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

/// An API key as its org's item keeps it (`ORG#o / APIKEY#id`): what lists show, and the
/// key's hash, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// `pmcp_` and the key's first 6 characters.
    pub prefix: String,
    pub key_hash: String,
    /// Who created it: a user id, or the id of the API key that did.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Written at most once a minute (`API_KEY_TOUCH_INTERVAL`).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn item(&self, org: &OrgId) -> Item {
        let mut item = Key::api_key(org, self.id.as_str()).to_item();
        item.insert("key_id".into(), s(self.id.as_str()));
        item.insert("name".into(), s(&self.name));
        item.insert("prefix".into(), s(&self.prefix));
        item.insert("key_hash".into(), s(&self.key_hash));
        item.insert("created_by".into(), s(&self.created_by));
        item.insert("created_at".into(), time(self.created_at));
        if let Some(at) = self.last_used_at {
            item.insert("last_used_at".into(), time(at));
        }
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: ApiKeyId::parse(item.str("key_id")?)
                .ok_or_else(|| StoreError::Corrupt("key_id".into()))?,
            name: item.str("name")?.to_owned(),
            prefix: item.str("prefix")?.to_owned(),
            key_hash: item.str("key_hash")?.to_owned(),
            created_by: item.str("created_by")?.to_owned(),
            created_at: item.time("created_at")?,
            last_used_at: item.time("last_used_at").ok(),
        })
    }

    /// The global item a request's key is found by (`APIKEY#<hash>`): whose key it is, and
    /// whose rights it borrows.
    pub fn pointer_item(&self, org: &OrgId) -> Item {
        let mut pointer = Key::api_key_pointer(&self.key_hash).to_item();
        pointer.insert("org_id".into(), s(org.as_str()));
        pointer.insert("key_id".into(), s(self.id.as_str()));
        pointer.insert("created_by".into(), s(&self.created_by));
        pointer
    }
}

/// What a request's key leads to, read from its pointer item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyPointer {
    pub org_id: OrgId,
    pub key_id: String,
    /// The member whose rights the key borrows (none: a key made by another key).
    pub created_by: Option<UserId>,
}

impl ApiKeyPointer {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(ApiKeyPointer {
            org_id: OrgId::parse(item.str("org_id")?)
                .ok_or_else(|| StoreError::Corrupt("org_id".into()))?,
            key_id: item.str("key_id")?.to_owned(),
            created_by: item.opt_str("created_by").and_then(UserId::parse),
        })
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

    #[test]
    fn a_key_and_its_pointer_read_back_as_written() {
        let secret = ApiKeySecret::generate();
        let (org, user) = (OrgId::generate(), UserId::generate());
        let key = ApiKey {
            id: ApiKeyId::generate(),
            name: "CI".into(),
            prefix: secret.display_prefix(),
            key_hash: secret.hash(),
            created_by: user.as_str().to_owned(),
            created_at: DateTime::parse_from_rfc3339("2026-12-05T10:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            last_used_at: None,
        };
        assert_eq!(ApiKey::from_item(&key.item(&org)).unwrap(), key);
        let pointer = ApiKeyPointer::from_item(&key.pointer_item(&org)).unwrap();
        assert_eq!(
            pointer,
            ApiKeyPointer {
                org_id: org,
                key_id: key.id.as_str().to_owned(),
                created_by: Some(user),
            }
        );
        assert!(!format!("{:?}", key.item(&OrgId::generate())).contains(secret.expose()));
    }
}
