//! Cursor pagination: `?limit=` (default 50, max 200) and an opaque `cursor`: the last
//! DynamoDB key of the previous page with an HMAC that binds it to the list (partition
//! and sort-key prefix) that issued it. A cursor of another list, another org, or one a
//! client made up is a 400 `invalid_cursor` and never reaches DynamoDB.

use crate::error::Error;
use crate::store::{Item, Key};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (empty is the same as absent: the first page).
    #[serde(default, deserialize_with = "empty_as_absent")]
    pub cursor: Option<String>,
}

/// A query value that is empty (`?cursor=`, as a generated client may send for null) is
/// the same as no value.
pub fn empty_as_absent<'de, D: serde::Deserializer<'de>>(
    value: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(value)?.filter(|text| !text.is_empty()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts (`?cursor=`); null on the last page.
    pub next_cursor: Option<String>,
    /// Whether there is a next page (`next_cursor` is set). Exact for every list but the
    /// audit log, whose filtered pages may end in an empty one.
    pub has_more: bool,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        let has_more = next_cursor.is_some();
        Page {
            items,
            next_cursor,
            has_more,
        }
    }
}

/// The signing key of cursors, derived from the data key: a cursor is only ever read
/// back by the list (partition and prefix) that issued it.
pub struct CursorKey(Option<Vec<u8>>);

impl CursorKey {
    /// Signed with the current data key: after a rotation, older cursors are refused
    /// (400 `invalid_cursor`) and a client starts its list again.
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
    pub fn decode(&self, scope: &str, raw: &str) -> Result<Item, Error> {
        let (plain, tag) = raw.split_once('.').ok_or(Error::InvalidCursor)?;
        let plain = URL_SAFE_NO_PAD
            .decode(plain)
            .map_err(|_| Error::InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| Error::InvalidCursor)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            tag.as_slice(),
            self.tag(scope, &plain).as_slice(),
        )) {
            return Err(Error::InvalidCursor);
        }
        let plain: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|_| Error::InvalidCursor)?;
        Ok(plain
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect())
    }
}

impl PageQuery {
    /// Items per page.
    pub fn limit(&self) -> Result<i32, Error> {
        match &self.limit {
            None => Ok(50),
            Some(raw) => match raw.parse::<i32>() {
                Ok(n) if (1..=200).contains(&n) => Ok(n),
                _ => Err(Error::InvalidQuery(
                    "limit must be a whole number from 1 to 200".into(),
                )),
            },
        }
    }
}

/// One page of the items of `pk` whose sort key starts with `prefix`, each shown as `T`.
pub async fn query_page<T>(
    state: &crate::AppState,
    pk: &str,
    prefix: &str,
    query: &PageQuery,
    view: impl Fn(&Item) -> Result<T, crate::store::StoreError>,
) -> Result<Page<T>, Error> {
    query_page_ordered(state, pk, prefix, query, false, view).await
}

/// As `query_page`, in descending sort-key order when `newest_first` (time-ordered ids).
pub async fn query_page_ordered<T>(
    state: &crate::AppState,
    pk: &str,
    prefix: &str,
    query: &PageQuery,
    newest_first: bool,
    view: impl Fn(&Item) -> Result<T, crate::store::StoreError>,
) -> Result<Page<T>, Error> {
    let limit = query.limit()?;
    let scope = format!("{pk}\n{prefix}");
    let cursors = &state.keys().await?.cursors;
    let start = query
        .cursor
        .as_deref()
        .map(|raw| cursors.decode(&scope, raw))
        .transpose()?;
    // One item more than asked: whether it exists is whether there is a next page, so
    // the last page says so and no empty page follows it.
    let (mut items, _) = state
        .table
        .query_prefix(pk, prefix, limit + 1, start, newest_first)
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = match (more, items.last()) {
        (true, Some(last)) => Some(cursors.encode(&scope, &Key::of(last)?.to_item())),
        _ => None,
    };
    let items = items.iter().map(view).collect::<Result<_, _>>()?;
    Ok(Page::new(items, next_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        let q = |limit: &str| {
            PageQuery {
                limit: Some(limit.into()),
                cursor: None,
            }
            .limit()
        };
        assert_eq!(PageQuery::default().limit().unwrap(), 50);
        assert_eq!(q("200").unwrap(), 200);
        for bad in ["0", "201", "-1", "ten"] {
            assert!(q(bad).is_err(), "{bad}");
        }
    }

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
        let invalid = |r: Result<Item, Error>| matches!(r, Err(Error::InvalidCursor));
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
