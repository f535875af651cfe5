//! An MCP server the gateway routes to, as its org's item keeps it (`ORG#o / MCP#id`): the
//! one place that builds the item and reads it back.

use crate::ids::{McpId, OrgId};
use crate::store::item::time;
use crate::store::{s, Item, ItemExt, Key, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// The health of an MCP nobody has reported on yet.
pub const UNKNOWN_HEALTH: &str = "unknown";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mcp {
    pub id: McpId,
    pub name: String,
    pub url: String,
    pub transport: String,
    /// The config as shown (JSON text): every secret in it replaced by its mask.
    pub config: String,
    /// The config's secrets, sealed with the data keys and bound to the MCP's id.
    pub config_secrets: Option<String>,
    pub health: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Mcp {
    pub fn item(&self, org: &OrgId) -> Item {
        let mut item = Key::mcp(org, self.id.as_str()).to_item();
        item.insert("mcp_id".into(), s(self.id.as_str()));
        item.extend(
            self.attributes()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value)),
        );
        item.insert("created_at".into(), time(self.created_at));
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Mcp {
            id: McpId::parse(item.str("mcp_id")?)
                .ok_or_else(|| StoreError::Corrupt("mcp_id".into()))?,
            name: item.str("name")?.to_owned(),
            url: item.str("url")?.to_owned(),
            transport: item.str("transport")?.to_owned(),
            config: item.str("config")?.to_owned(),
            config_secrets: item.opt_str("config_secrets").map(str::to_owned),
            health: item.str("health")?.to_owned(),
            created_at: item.time("created_at")?,
            updated_at: item.time("updated_at")?,
        })
    }

    /// What an update from `before` to `self` sets: the attributes that differ.
    pub fn changes_from(&self, before: &Mcp) -> Vec<(&'static str, AttributeValue)> {
        let before = before.attributes();
        self.attributes()
            .into_iter()
            .filter(|(name, value)| !before.iter().any(|(n, v)| n == name && v == value))
            .collect()
    }

    /// Every attribute that changes over the MCP's life, by name.
    fn attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        let mut attributes = vec![
            ("name", s(&self.name)),
            ("url", s(&self.url)),
            ("transport", s(&self.transport)),
            ("config", s(&self.config)),
            ("health", s(&self.health)),
            ("updated_at", time(self.updated_at)),
        ];
        if let Some(sealed) = &self.config_secrets {
            attributes.push(("config_secrets", s(sealed)));
        }
        attributes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn mcp() -> Mcp {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        Mcp {
            id: McpId::generate(),
            name: "Search".into(),
            url: "https://mcp.example.com/sse".into(),
            transport: "sse".into(),
            config: r#"{"token":"••••"}"#.into(),
            config_secrets: Some("sealed".into()),
            health: UNKNOWN_HEALTH.into(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn an_mcp_reads_back_as_it_was_written_and_an_update_sets_what_differs() {
        let org = OrgId::generate();
        let before = mcp();
        assert_eq!(Mcp::from_item(&before.item(&org)).unwrap(), before);
        let plain = Mcp {
            config_secrets: None,
            ..before.clone()
        };
        assert_eq!(Mcp::from_item(&plain.item(&org)).unwrap(), plain);

        let after = Mcp {
            name: "Search (EU)".into(),
            updated_at: before.updated_at + Duration::seconds(1),
            ..before.clone()
        };
        let names: Vec<&str> = after
            .changes_from(&before)
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, ["name", "updated_at"]);
        assert!(before.changes_from(&before).is_empty());
    }
}
