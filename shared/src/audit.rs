//! Audit entries: append-only and hash-chained per owner (an organization, or a user for
//! personal security events): `hash = SHA-256(prev_hash ‖ canonical entry)`, where the
//! canonical entry is the entry's JSON with its fields in declaration order. No secret or
//! token ever goes into an entry.

use crate::client_info::ClientInfo;
use crate::crypto::sha256_hex;
use crate::ids::AuditId;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// `prev_hash` of the first entry of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = AuditCategory)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Authentication,
    Mcp,
    ApiKey,
    Team,
    Settings,
    Billing,
}

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    #[schema(schema_with = actor_kind)]
    pub kind: String,
    /// A user id, an API key id, the worker's name, or a network's fingerprint.
    pub id: String,
    /// The user's address (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

fn actor_kind() -> utoipa::openapi::Object {
    crate::domain::schema::one_of(
        "`user`, `api_key`, `system` (a worker) or `network` (a refused API key, logged by its source network).",
        &["user", "api_key", "system", "network"],
    )
}

impl Actor {
    pub fn user(id: impl ToString, email: Option<&str>) -> Self {
        Actor {
            kind: "user".into(),
            id: id.to_string(),
            email: email.map(str::to_owned),
        }
    }
}

/// What the action was done to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    /// The kind of thing: `organization`, `user`, `session`, `invitation`, `mcp`,
    /// `api_key`, `webhook`, `custom_domain` or `export`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl Target {
    pub fn new(kind: &str, id: impl ToString) -> Self {
        Target {
            kind: kind.into(),
            id: id.to_string(),
        }
    }
}

/// What a change says about itself; the chain fields are added at commit.
#[derive(Clone, Debug)]
pub struct AuditDraft {
    pub actor: Actor,
    pub action: &'static str,
    pub category: Category,
    pub target: Target,
    pub outcome: &'static str,
    pub client: ClientInfo,
    pub details: serde_json::Value,
}

impl AuditDraft {
    pub fn new(
        actor: Actor,
        action: &'static str,
        category: Category,
        target: Target,
        client: &ClientInfo,
    ) -> Self {
        AuditDraft {
            actor,
            action,
            category,
            target,
            outcome: "success",
            client: client.clone(),
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn failed(mut self) -> Self {
        self.outcome = "failure";
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub seq: u64,
    pub occurred_at: String,
    pub actor: Actor,
    pub action: String,
    pub category: Category,
    pub target: Target,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
}

impl AuditEntry {
    pub fn from_draft(draft: AuditDraft, seq: u64, prev_hash: &str, now: DateTime<Utc>) -> Self {
        AuditEntry {
            id: AuditId::generate(),
            seq,
            occurred_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            actor: draft.actor,
            action: draft.action.to_owned(),
            category: draft.category,
            target: draft.target,
            ip: draft.client.ip,
            user_agent: draft.client.user_agent,
            outcome: draft.outcome.to_owned(),
            details: draft.details,
            prev_hash: prev_hash.to_owned(),
        }
    }

    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn hash(&self) -> String {
        chain_hash(&self.prev_hash, &self.canonical())
    }
}

pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut input = Vec::with_capacity(prev_hash.len() + canonical.len());
    input.extend_from_slice(prev_hash.as_bytes());
    input.extend_from_slice(canonical.as_bytes());
    sha256_hex(&input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> AuditDraft {
        AuditDraft::new(
            Actor::user("usr_1", Some("a@example.com")),
            "org.updated",
            Category::Settings,
            Target::new("organization", "org_1"),
            &ClientInfo::default(),
        )
    }

    #[test]
    fn each_hash_covers_the_previous_one() {
        let now = Utc::now();
        let first = AuditEntry::from_draft(draft(), 1, GENESIS_HASH, now);
        let second = AuditEntry::from_draft(draft(), 2, &first.hash(), now);
        assert_eq!(second.prev_hash, first.hash());
        let mut tampered = first.clone();
        tampered.action = "org.deleted".into();
        assert_ne!(tampered.hash(), first.hash());
        assert_eq!(first.hash(), chain_hash(GENESIS_HASH, &first.canonical()));
    }
}
