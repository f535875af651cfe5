//! What each category exports: where its items are, and the row each item becomes. Every
//! row is built from an allow-list of attributes, so nothing secret an item holds (an API
//! key's hash, a webhook's sealed secret) can reach an export.

use serde_json::{json, Value};
use shared::audit_log::{index_query, AuditLogEntry, Filters};
use shared::exports::Category;
use shared::store::keys::{
    API_KEY_PREFIX, MCP_PREFIX, MEMBER_PREFIX, USAGE_PREFIX, WEBHOOK_PREFIX,
};
use shared::store::{Item, ItemExt, StoreError};
use shared::usage::UsageDay;
use shared::AppState;

/// Items read from DynamoDB per page.
pub const PAGE: i32 = 500;

/// The CSV columns of a category: the header, and where in the row's JSON the value is.
pub fn columns(category: Category) -> &'static [(&'static str, &'static str)] {
    match category {
        Category::Mcps => &[
            ("id", "/id"),
            ("name", "/name"),
            ("url", "/url"),
            ("transport", "/transport"),
            ("config", "/config"),
            ("health", "/health"),
            ("created_at", "/created_at"),
            ("updated_at", "/updated_at"),
        ],
        Category::ApiKeys => &[
            ("id", "/id"),
            ("name", "/name"),
            ("prefix", "/prefix"),
            ("created_by", "/created_by"),
            ("created_at", "/created_at"),
            ("last_used_at", "/last_used_at"),
        ],
        Category::Members => &[
            ("user_id", "/user_id"),
            ("email", "/email"),
            ("name", "/name"),
            ("role", "/role"),
            ("joined_at", "/joined_at"),
        ],
        Category::Usage => &[
            ("date", "/date"),
            ("mcp_id", "/mcp_id"),
            ("requests", "/requests"),
            ("tokens", "/tokens"),
        ],
        Category::Webhooks => &[
            ("id", "/id"),
            ("url", "/url"),
            ("events", "/events"),
            ("enabled", "/enabled"),
            ("description", "/description"),
            ("disabled_reason", "/disabled_reason"),
            ("created_at", "/created_at"),
            ("updated_at", "/updated_at"),
        ],
        Category::AuditLogs => &[
            ("id", "/id"),
            ("occurred_at", "/occurred_at"),
            ("actor_type", "/actor/type"),
            ("actor_id", "/actor/id"),
            ("actor_email", "/actor/email"),
            ("action", "/action"),
            ("category", "/category"),
            ("target_type", "/target/type"),
            ("target_id", "/target/id"),
            ("ip", "/ip"),
            ("user_agent", "/user_agent"),
            ("outcome", "/outcome"),
            ("hash", "/hash"),
            ("prev_hash", "/prev_hash"),
        ],
    }
}

fn text(item: &Item, attr: &str) -> Value {
    item.opt_str(attr)
        .map_or(Value::Null, |v| Value::String(v.to_owned()))
}

/// The row an item of `category` becomes.
pub fn row(category: Category, item: &Item) -> Result<Value, StoreError> {
    Ok(match category {
        Category::Mcps => json!({
            "id": text(item, "mcp_id"),
            "name": text(item, "name"),
            "url": text(item, "url"),
            "transport": text(item, "transport"),
            "config": item.opt_str("config").and_then(|c| serde_json::from_str::<Value>(c).ok()),
            "health": text(item, "health"),
            "created_at": text(item, "created_at"),
            "updated_at": text(item, "updated_at"),
        }),
        Category::ApiKeys => json!({
            "id": text(item, "key_id"),
            "name": text(item, "name"),
            "prefix": text(item, "prefix"),
            "created_by": text(item, "created_by"),
            "created_at": text(item, "created_at"),
            "last_used_at": text(item, "last_used_at"),
        }),
        Category::Members => json!({
            "user_id": text(item, "user_id"),
            "email": text(item, "email"),
            "name": text(item, "name"),
            "role": text(item, "role"),
            "joined_at": text(item, "joined_at"),
        }),
        Category::Usage => {
            let day = UsageDay::from_item(item)?;
            json!({
                "date": day.date,
                "mcp_id": day.mcp_id,
                "requests": day.requests,
                "tokens": day.tokens,
            })
        }
        Category::Webhooks => json!({
            "id": text(item, "webhook_id"),
            "url": text(item, "url"),
            "events": item.get("events").and_then(|e| e.as_ss().ok()).cloned().unwrap_or_default(),
            "enabled": item.flag("enabled"),
            "description": text(item, "description"),
            "disabled_reason": text(item, "disabled_reason"),
            "created_at": text(item, "created_at"),
            "updated_at": text(item, "updated_at"),
        }),
        Category::AuditLogs => serde_json::to_value(AuditLogEntry::from_item(item)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

/// The sort-key prefix of a category's items in the org's partition; the audit log is
/// read through its index instead.
fn partition_prefix(category: Category) -> Option<&'static str> {
    match category {
        Category::Mcps => Some(MCP_PREFIX),
        Category::ApiKeys => Some(API_KEY_PREFIX),
        Category::Members => Some(MEMBER_PREFIX),
        Category::Usage => Some(USAGE_PREFIX),
        Category::Webhooks => Some(WEBHOOK_PREFIX),
        Category::AuditLogs => None,
    }
}

/// Where a category's items are read from, a page at a time, oldest first.
pub struct Source<'a> {
    state: &'a AppState,
    owner_pk: String,
    category: Category,
    filters: Filters,
    start: Option<Item>,
    done: bool,
}

impl<'a> Source<'a> {
    pub fn new(state: &'a AppState, owner_pk: &str, category: Category, filters: Filters) -> Self {
        Source {
            state,
            owner_pk: owner_pk.to_owned(),
            category,
            filters,
            start: None,
            done: false,
        }
    }

    /// The next page, `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Item>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let (items, last) = match partition_prefix(self.category) {
            None => {
                let out = index_query(&self.owner_pk, &self.filters)
                    .request(&self.state.table)
                    .scan_index_forward(true)
                    .limit(PAGE)
                    .set_exclusive_start_key(self.start.take())
                    .send()
                    .await?;
                (out.items.unwrap_or_default(), out.last_evaluated_key)
            }
            Some(prefix) => {
                self.state
                    .table
                    .query_prefix(&self.owner_pk, prefix, PAGE, self.start.take(), false)
                    .await?
            }
        };
        self.done = last.is_none();
        self.start = last;
        Ok(Some(items))
    }
}
