//! Cursor pagination: `?limit=` (default 50, max 200) and an opaque `cursor`
//! (`store::cursor`). A cursor of another list, another org, or one a client made up is a
//! 400 `invalid_cursor` and never reaches DynamoDB.

use crate::error::Error;
use crate::store::{Item, Key};
use serde::{Deserialize, Serialize};

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
}
