//! Audit logs as a product: how an organization's entries are indexed for the filters of
//! Settings → Audit Logs, how long they are kept, the entry as clients see it, and the
//! check of the hash chain.
//!
//! Every org entry carries four index keys, each `AUDITLOG#ORG#<id>[#<facet>]` with the
//! sort key `<occurred_at>#<seq>` (time order, newest first by reading backwards):
//! `gsi1` the whole log, `gsi2` by actor, `gsi3` by category, `gsi4` by the action's
//! resource (`mcp` of `mcp.created`). A query uses the most selective index its filters
//! allow, with the date range in the key condition; the remaining filters refine that
//! narrow range as a filter expression.

use crate::audit::{chain_hash, AuditEntry, Category};
use crate::error::Error;
use crate::store::{s, Item, ItemExt, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Days an org's entries are kept: Free and Pro 30, Team 365, Enterprise what the org set
/// (30–3,650; 365 until set).
pub fn retention_days(plan: &str, enterprise_days: Option<i64>) -> i64 {
    match plan {
        "team" => 365,
        "enterprise" => enterprise_days.unwrap_or(365).clamp(30, 3650),
        _ => 30,
    }
}

fn time_key(occurred_at: &str, seq: u64) -> String {
    format!("{occurred_at}#{seq:012}")
}

fn category_name(category: Category) -> String {
    serde_json::to_value(category)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `mcp` of `mcp.created`: what an action prefix filter (`mcp.*`) narrows to.
fn resource_of(action: &str) -> &str {
    action.split('.').next().unwrap_or(action)
}

/// The index keys (and filterable attributes) of an org's entry.
pub fn index_attributes(owner_pk: &str, entry: &AuditEntry) -> Vec<(String, AttributeValue)> {
    let base = crate::store::keys::audit_log_index(owner_pk);
    let time = time_key(&entry.occurred_at, entry.seq);
    let category = category_name(entry.category);
    let facets = [
        ("gsi1", base.clone()),
        ("gsi2", format!("{base}#ACTOR#{}", entry.actor.id)),
        ("gsi3", format!("{base}#CATEGORY#{category}")),
        (
            "gsi4",
            format!("{base}#RESOURCE#{}", resource_of(&entry.action)),
        ),
    ];
    let mut attributes = vec![("category".to_owned(), s(&category))];
    for (index, pk) in facets {
        attributes.push((format!("{index}pk"), s(pk)));
        attributes.push((format!("{index}sk"), s(&time)));
    }
    attributes
}

/// The filters of a query of the log, parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    /// Exact (`mcp.created`) or, ending in `.*`, a prefix (`mcp.`).
    pub action: Option<String>,
    pub category: Option<Category>,
}

/// The characters and length `bounded` takes.
const FILTER_TEXT: &str = "[A-Za-z0-9_.*-]";

fn filter_schema(description: &str, pattern: String) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some(description))
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(pattern))
        .build()
}

/// The `actor` filter as `Filters::parse` takes it.
pub fn actor_schema() -> utoipa::openapi::Object {
    filter_schema("A user id or an API key id.", format!("^{FILTER_TEXT}+$"))
}

pub fn actor_or_null_schema() -> utoipa::openapi::Object {
    crate::domain::schema::or_null(actor_schema())
}

/// The `action` filter as `Filters::parse` takes it.
pub fn action_schema() -> utoipa::openapi::Object {
    filter_schema(
        "An action (`mcp.created`) or, ending in `.*`, a prefix of actions (`mcp.*`).",
        r"^[A-Za-z0-9_.-]+(?:\.\*)?$".to_string(),
    )
}

pub fn action_or_null_schema() -> utoipa::openapi::Object {
    crate::domain::schema::or_null(action_schema())
}

fn bounded(text: &str, name: &str) -> Result<String, Error> {
    let ok = !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '-'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(Error::InvalidQuery(format!(
            "`{name}` is not a valid value"
        )))
    }
}

impl Filters {
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        actor: Option<&str>,
        action: Option<&str>,
        category: Option<&str>,
    ) -> Result<Self, Error> {
        let time = |raw: Option<&str>, name: &str| {
            raw.map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| Error::InvalidQuery(format!("`{name}` must be an RFC 3339 time")))
            })
            .transpose()
        };
        let filters = Filters {
            from: time(from, "from")?,
            to: time(to, "to")?,
            actor: actor.map(|a| bounded(a, "actor")).transpose()?,
            action: action
                .map(|a| {
                    let a = bounded(a, "action")?;
                    let stars = a.matches('*').count();
                    if stars == 0 || (stars == 1 && a.ends_with(".*") && a.len() > 2) {
                        Ok(a)
                    } else {
                        Err(Error::InvalidQuery(
                            "`action` is an action (`mcp.created`) or a prefix (`mcp.*`)".into(),
                        ))
                    }
                })
                .transpose()?,
            category: category
                .map(|c| {
                    serde_json::from_value(serde_json::Value::String(c.to_owned())).map_err(|_| {
                        Error::InvalidQuery(
                            "`category` is one of authentication, mcp, api_key, team, settings, billing"
                                .into(),
                        )
                    })
                })
                .transpose()?,
        };
        if let (Some(from), Some(to)) = (filters.from, filters.to) {
            if from > to {
                return Err(Error::InvalidQuery("`from` is after `to`".into()));
            }
        }
        Ok(filters)
    }

    /// A stable text of the filters: cursors are bound to it.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// One `Query` of an audit index: its key condition and what refines it.
#[derive(Debug, PartialEq)]
pub struct IndexQuery {
    pub index: &'static str,
    pub key_condition: String,
    pub filter: Option<String>,
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, AttributeValue)>,
}

impl IndexQuery {
    /// The `Query` request, with its placeholders (paging and order are the caller's).
    pub fn request(
        &self,
        table: &crate::store::Table,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut request = table
            .client()
            .query()
            .table_name(table.name())
            .index_name(self.index)
            .key_condition_expression(&self.key_condition)
            .set_filter_expression(self.filter.clone());
        for (placeholder, name) in &self.names {
            request = request.expression_attribute_names(placeholder, name);
        }
        for (placeholder, value) in &self.values {
            request = request.expression_attribute_values(placeholder, value.clone());
        }
        request
    }
}

/// The query for `filters` over the log of `owner_pk` (`ORG#<id>`).
pub fn index_query(owner_pk: &str, filters: &Filters) -> IndexQuery {
    let base = crate::store::keys::audit_log_index(owner_pk);
    let mut refine = Vec::new();
    let mut names = Vec::new();
    let mut values = Vec::new();
    let action = filters.action.as_deref();
    // The most selective facet leads; the others refine.
    let (index, pk) = if let Some(actor) = &filters.actor {
        ("gsi2", format!("{base}#ACTOR#{actor}"))
    } else if let Some(action) = action {
        ("gsi4", format!("{base}#RESOURCE#{}", resource_of(action)))
    } else if let Some(category) = filters.category {
        (
            "gsi3",
            format!("{base}#CATEGORY#{}", category_name(category)),
        )
    } else {
        ("gsi1", base)
    };
    if let Some(action) = action {
        names.push(("#action".to_owned(), "action".to_owned()));
        match action.strip_suffix('*') {
            Some(prefix) => {
                refine.push("begins_with(#action, :action)".to_owned());
                values.push((":action".to_owned(), s(prefix)));
            }
            None => {
                refine.push("#action = :action".to_owned());
                values.push((":action".to_owned(), s(action)));
            }
        }
    }
    if let (Some(category), true) = (filters.category, index != "gsi3") {
        names.push(("#category".to_owned(), "category".to_owned()));
        refine.push("#category = :category".to_owned());
        values.push((":category".to_owned(), s(category_name(category))));
    }
    let pk_attr = format!("{index}pk");
    let sk_attr = format!("{index}sk");
    names.push(("#pk".to_owned(), pk_attr));
    if filters.from.is_some() || filters.to.is_some() {
        names.push(("#sk".to_owned(), sk_attr));
    }
    values.push((":pk".to_owned(), s(pk)));
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let key_condition = match (filters.from, filters.to) {
        (Some(from), Some(to)) => {
            values.push((":from".to_owned(), s(stamp(from))));
            values.push((":to".to_owned(), s(format!("{}#~", stamp(to)))));
            "#pk = :pk AND #sk BETWEEN :from AND :to"
        }
        (Some(from), None) => {
            values.push((":from".to_owned(), s(stamp(from))));
            "#pk = :pk AND #sk >= :from"
        }
        (None, Some(to)) => {
            values.push((":to".to_owned(), s(format!("{}#~", stamp(to)))));
            "#pk = :pk AND #sk <= :to"
        }
        (None, None) => "#pk = :pk",
    };
    IndexQuery {
        index,
        key_condition: key_condition.to_owned(),
        filter: (!refine.is_empty()).then(|| refine.join(" AND ")),
        names,
        values,
    }
}

fn outcome_schema() -> utoipa::openapi::Object {
    crate::domain::schema::one_of(
        "`success`, or `failure` (a refused attempt).",
        &["success", "failure"],
    )
}

/// One audit entry; `hash = SHA-256(prev_hash ‖ the entry without hash)`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditLogEntry {
    id: String,
    /// The entry's position in the org's chain.
    seq: u64,
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    occurred_at: String,
    actor: crate::audit::Actor,
    action: String,
    category: crate::audit::Category,
    target: crate::audit::Target,
    ip: Option<String>,
    user_agent: Option<String>,
    #[schema(schema_with = outcome_schema)]
    outcome: String,
    /// What the action changed or found, by action (`{changes: {field: {from, to}}}`
    /// for an edit); `{}` when there is nothing to add.
    #[schema(value_type = Object)]
    details: serde_json::Value,
    prev_hash: String,
    hash: String,
}

impl AuditLogEntry {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let entry: AuditEntry = serde_json::from_str(item.str("entry")?)
            .map_err(|e| StoreError::Corrupt(format!("audit entry: {e}")))?;
        let hash = item.str("hash")?.to_owned();
        let AuditEntry {
            id,
            seq,
            occurred_at,
            actor,
            action,
            category,
            target,
            ip,
            user_agent,
            outcome,
            details,
            prev_hash,
        } = entry;
        Ok(AuditLogEntry {
            id: id.to_string(),
            seq,
            occurred_at,
            actor,
            action,
            category,
            target,
            ip,
            user_agent,
            outcome,
            details,
            prev_hash,
            hash,
        })
    }
}

/// What a check of the chain found.
#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub valid: bool,
    /// Entries checked.
    pub checked: usize,
    /// The first entry that does not hold, and why.
    pub first_bad: Option<BadEntry>,
    /// The newest entries are gone: the newest entry found is behind the chain head the
    /// organization keeps (checked when the range reaches the present).
    pub truncated: bool,
    /// The entries checked start at this sequence number and the one before it is gone
    /// (past the plan's retention, or deleted): the first link could not be checked.
    pub starts_after_gap: Option<u64>,
}

#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BadEntry {
    pub id: String,
    pub reason: String,
}

/// The head of a chain as its owner item keeps it: the newest entry's sequence number
/// and hash.
pub struct ChainHead<'a> {
    pub seq: u64,
    pub hash: &'a str,
}

/// Checks `items` (one chain's entries, in any order) and, when given, the entry just
/// before the first (`previous`): each entry's hash is the hash of its content and its
/// predecessor's hash, and no position in the sequence is missing. With `head` the
/// newest entry must be the chain head (nothing was cut off the end).
pub fn verify(
    mut items: Vec<Item>,
    previous: Option<&Item>,
    head: Option<ChainHead>,
) -> Verification {
    let seq_of = |item: &Item| {
        item.opt_str("sk")
            .and_then(|sk| sk.rsplit('#').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    items.sort_by_key(seq_of);
    let starts_after_gap = items
        .first()
        .map(seq_of)
        .filter(|first| *first > 1 && previous.is_none());
    let bad = |item: &Item, reason: String| Verification {
        valid: false,
        checked: 0,
        first_bad: Some(BadEntry {
            id: item.opt_str("id").unwrap_or("").to_owned(),
            reason,
        }),
        truncated: false,
        starts_after_gap,
    };
    let mut last: Option<(u64, String)> =
        previous.map(|p| (seq_of(p), p.opt_str("hash").unwrap_or("").to_owned()));
    for (checked, item) in items.iter().enumerate() {
        let seq = seq_of(item);
        let (Some(stored), Some(prev_hash), Some(canonical)) = (
            item.opt_str("hash"),
            item.opt_str("prev_hash"),
            item.opt_str("entry"),
        ) else {
            return Verification {
                checked,
                ..bad(item, "the entry is incomplete".into())
            };
        };
        if chain_hash(prev_hash, canonical) != stored {
            return Verification {
                checked,
                ..bad(item, "its content does not match its hash (edited)".into())
            };
        }
        let inner: Option<serde_json::Value> = serde_json::from_str(canonical).ok();
        if inner.as_ref().and_then(|e| e["prev_hash"].as_str()) != Some(prev_hash)
            || inner.as_ref().and_then(|e| e["seq"].as_u64()) != Some(seq)
        {
            return Verification {
                checked,
                ..bad(item, "its position in the chain was changed".into())
            };
        }
        if let Some((last_seq, last_hash)) = &last {
            if seq != last_seq + 1 {
                return Verification {
                    checked,
                    ..bad(
                        item,
                        format!("entry {} of the chain is missing (deleted)", last_seq + 1),
                    )
                };
            }
            if prev_hash != last_hash {
                return Verification {
                    checked,
                    ..bad(item, "it does not follow the previous entry's hash".into())
                };
            }
        }
        last = Some((seq, stored.to_owned()));
    }
    if let Some(head) = head {
        let (newest, newest_hash) = last.unwrap_or((0, String::new()));
        if newest < head.seq || (newest == head.seq && newest_hash != head.hash) {
            let id = items.last().and_then(|i| i.opt_str("id")).unwrap_or("");
            return Verification {
                valid: false,
                checked: items.len(),
                first_bad: Some(BadEntry {
                    id: id.to_owned(),
                    reason: format!(
                        "the chain was truncated: its head is entry {}, the newest entry found is {newest}",
                        head.seq
                    ),
                }),
                truncated: true,
                starts_after_gap,
            };
        }
    }
    Verification {
        valid: true,
        checked: items.len(),
        first_bad: None,
        truncated: false,
        starts_after_gap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_follows_the_plan() {
        assert_eq!(retention_days("free", None), 30);
        assert_eq!(retention_days("pro", None), 30);
        assert_eq!(retention_days("team", None), 365);
        assert_eq!(retention_days("enterprise", Some(2000)), 2000);
        assert_eq!(retention_days("enterprise", Some(5)), 30);
        assert_eq!(retention_days("enterprise", None), 365);
    }

    #[test]
    fn the_most_selective_filter_leads_and_the_others_refine() {
        let f = Filters::parse(
            Some("2026-11-01T00:00:00Z"),
            Some("2026-11-30T00:00:00+01:00"),
            Some("usr_x"),
            Some("mcp.*"),
            Some("mcp"),
        )
        .unwrap();
        let q = index_query("ORG#org_1", &f);
        assert_eq!(q.index, "gsi2");
        assert_eq!(q.key_condition, "#pk = :pk AND #sk BETWEEN :from AND :to");
        assert_eq!(
            q.filter.as_deref(),
            Some("begins_with(#action, :action) AND #category = :category")
        );
        let to = q.values.iter().find(|(k, _)| k == ":to").unwrap();
        assert_eq!(to.1.as_s().unwrap(), "2026-11-29T23:00:00.000Z#~");
        let by_action = index_query(
            "ORG#o",
            &Filters::parse(None, None, None, Some("team.member_added"), None).unwrap(),
        );
        assert_eq!(
            (by_action.index, by_action.filter.as_deref()),
            ("gsi4", Some("#action = :action"))
        );
        let by_category = index_query(
            "ORG#o",
            &Filters::parse(None, None, None, None, Some("billing")).unwrap(),
        );
        assert_eq!((by_category.index, by_category.filter), ("gsi3", None));
        assert_eq!(index_query("ORG#o", &Filters::default()).index, "gsi1");
    }

    #[test]
    fn bad_filters_are_refused() {
        assert!(Filters::parse(Some("yesterday"), None, None, None, None).is_err());
        assert!(Filters::parse(None, None, None, Some("*"), None).is_err());
        assert!(Filters::parse(None, None, None, Some("mcp*.x"), None).is_err());
        assert!(Filters::parse(None, None, Some("usr x"), None, None).is_err());
        assert!(Filters::parse(None, None, None, None, Some("everything")).is_err());
        assert!(Filters::parse(
            Some("2026-02-01T00:00:00Z"),
            Some("2026-01-01T00:00:00Z"),
            None,
            None,
            None
        )
        .is_err());
    }
}
