//! Cursor pagination: `?limit=` (default 50, max 200) and an opaque `cursor` that is the
//! base64url of the last DynamoDB key of the previous page.

use crate::error::Error;
use crate::store::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub struct PageRequest {
    pub limit: i32,
    pub start: Option<Item>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, Error> {
        let limit = match &self.limit {
            None => 50,
            Some(raw) => match raw.parse::<i32>() {
                Ok(n) if (1..=200).contains(&n) => n,
                _ => {
                    return Err(Error::InvalidQuery(
                        "limit must be a whole number from 1 to 200".into(),
                    ))
                }
            },
        };
        let start = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, start })
    }
}

/// Only string key attributes are ever used in cursors (`pk`, `sk`, index keys).
pub fn encode_cursor(key: &Item) -> String {
    let plain: BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).unwrap_or_default())
}

fn decode_cursor(raw: &str) -> Result<Item, Error> {
    let invalid = || Error::InvalidQuery("cursor is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let plain: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if plain.is_empty() || plain.len() > 4 {
        return Err(invalid());
    }
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

/// One page of the items of `pk` whose sort key starts with `prefix`, each shown as `T`.
pub async fn query_page<T>(
    table: &crate::store::Table,
    pk: &str,
    prefix: &str,
    query: &PageQuery,
    view: impl Fn(&Item) -> Result<T, crate::store::StoreError>,
) -> Result<Page<T>, Error> {
    let page = query.parse()?;
    let (items, last) = table
        .query_prefix(pk, prefix, page.limit, page.start, false)
        .await?;
    let items = items.iter().map(view).collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        next_cursor: last.as_ref().map(encode_cursor),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds_and_cursor_round_trip() {
        let q = |limit: &str| {
            PageQuery {
                limit: Some(limit.into()),
                cursor: None,
            }
            .parse()
        };
        assert_eq!(PageQuery::default().parse().unwrap().limit, 50);
        assert_eq!(q("200").unwrap().limit, 200);
        for bad in ["0", "201", "-1", "ten"] {
            assert!(q(bad).is_err(), "{bad}");
        }
        let key: Item = [("pk".to_string(), AttributeValue::S("ORG#x".into()))].into();
        let cursor = encode_cursor(&key);
        let back = PageQuery {
            limit: None,
            cursor: Some(cursor),
        }
        .parse()
        .unwrap();
        assert_eq!(back.start.unwrap(), key);
        assert!(PageQuery {
            limit: None,
            cursor: Some("!!".into())
        }
        .parse()
        .is_err());
    }
}
