//! List cursors: the last DynamoDB key of the previous page with an HMAC that binds it to
//! the list (partition and sort-key prefix) that issued it.

use crate::store::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::BTreeMap;

/// A cursor this list did not issue (another list, another key, made up).
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidCursor;

/// The signing key of cursors, derived from the data key: a cursor is only ever read
/// back by the list (partition and prefix) that issued it.
pub struct CursorKey(Option<Vec<u8>>);

impl CursorKey {
    /// Signed with the current data key: after a rotation, older cursors are refused
    /// (`InvalidCursor`) and a client starts its list again.
    pub fn new(keys: &crate::crypto::Keyring) -> Self {
        CursorKey(keys.derive_current("plexmcp/cursor/v1"))
    }

    fn tag(&self, scope: &str, plain: &[u8]) -> Vec<u8> {
        use hmac::{Hmac, Mac};
        let key = self.0.as_deref().expect(
            "this function has no data keys: template.yaml gives it no DATA_KEY_SECRET_ARN",
        );
        let mut mac =
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(plain);
        mac.finalize().into_bytes().to_vec()
    }

    /// `<base64url(key as JSON)>.<base64url(HMAC(scope, key))>`; only string key
    /// attributes are ever used in cursors (`pk`, `sk`, index keys).
    pub fn encode(&self, scope: &str, key: &Item) -> String {
        let plain: BTreeMap<&str, &str> = key
            .iter()
            .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
            .collect();
        let plain = serde_json::to_vec(&plain).unwrap_or_default();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&plain),
            URL_SAFE_NO_PAD.encode(self.tag(scope, &plain))
        )
    }

    /// The key a cursor of this `scope` carries; anything else is `invalid_cursor`.
    pub fn decode(&self, scope: &str, raw: &str) -> Result<Item, InvalidCursor> {
        let (plain, tag) = raw.split_once('.').ok_or(InvalidCursor)?;
        let plain = URL_SAFE_NO_PAD.decode(plain).map_err(|_| InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidCursor)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            tag.as_slice(),
            self.tag(scope, &plain).as_slice(),
        )) {
            return Err(InvalidCursor);
        }
        let plain: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|_| InvalidCursor)?;
        Ok(plain
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_only_in_their_own_scope() {
        let keys = CursorKey::new(
            &crate::crypto::Keyring::parse("a data key of at least thirty-two characters").unwrap(),
        );
        let key: Item = [
            ("pk".to_string(), AttributeValue::S("ORG#x".into())),
            ("sk".to_string(), AttributeValue::S("MCP#y".into())),
        ]
        .into();
        let cursor = keys.encode("ORG#x\nMCP#", &key);
        assert_eq!(keys.decode("ORG#x\nMCP#", &cursor).unwrap(), key);
        let invalid = |r: Result<Item, InvalidCursor>| matches!(r, Err(InvalidCursor));
        assert!(invalid(keys.decode("ORG#z\nMCP#", &cursor)), "other org");
        assert!(
            invalid(keys.decode("ORG#x\nAPIKEY#", &cursor)),
            "other list"
        );
        let other = CursorKey::new(
            &crate::crypto::Keyring::parse("another data key of at least thirty-two chars")
                .unwrap(),
        );
        assert!(invalid(other.decode("ORG#x\nMCP#", &cursor)), "other key");
        // A crafted key with a tag copied from a real cursor.
        let (_, tag) = cursor.split_once('.').unwrap();
        let forged = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(br#"{"pk":"ORG#z","sk":"MCP#"}"#)
        );
        assert!(invalid(keys.decode("ORG#x\nMCP#", &forged)));
        for junk in ["", "!!", "abc", "e30.", ".", "e30.AAAA"] {
            assert!(invalid(keys.decode("ORG#x\nMCP#", junk)), "{junk}");
        }
    }
}
