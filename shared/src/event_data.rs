//! What each webhook event says in its `data`: one type per event type, so the payload a
//! handler emits, the audit entry's details beside it, and the OpenAPI document's
//! `webhooks` section are the same thing.

use crate::domain::Role;
use crate::events::{Event, EventType};
use crate::ids::{ApiKeyId, InvitationId, McpId, OrgId, UserId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The `data` of one event type.
pub trait EventData: Serialize {
    const TYPE: EventType;

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("event data is plain JSON")
    }
}

impl Event {
    /// The event whose `data` is `data`.
    pub fn of<D: EventData>(org: &OrgId, data: &D, now: DateTime<Utc>) -> Self {
        Event::new(D::TYPE, org, data.json(), now)
    }
}

/// Each event type with the schema of its `data`, in catalogue order.
pub fn schemas() -> Vec<(EventType, RefOr<Schema>)> {
    fn entry<D: EventData + PartialSchema>() -> (EventType, RefOr<Schema>) {
        (D::TYPE, D::schema())
    }
    let mut all = vec![
        entry::<McpCreated>(),
        entry::<McpUpdated>(),
        entry::<McpDeleted>(),
        entry::<McpHealthChanged>(),
        entry::<ApiKeyCreated>(),
        entry::<ApiKeyRevoked>(),
        entry::<TeamMemberAdded>(),
        entry::<TeamMemberRemoved>(),
        entry::<UsageThreshold>(),
        entry::<CustomDomainStatusChanged>(),
    ];
    all.sort_by_key(|(event, _)| event.ordinal());
    all
}

#[derive(Serialize, ToSchema)]
pub struct McpCreated {
    pub mcp_id: McpId,
    pub name: String,
    pub url: String,
    #[schema(schema_with = crate::domain::schema::transport)]
    pub transport: String,
}

#[derive(Serialize, ToSchema)]
pub struct McpUpdated {
    pub mcp_id: McpId,
    /// The name after the change.
    pub name: String,
    /// Per changed setting `{from, to}`; `config` only `{changed: true}` (its values may
    /// be secrets).
    #[schema(value_type = Object)]
    pub changes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct McpDeleted {
    pub mcp_id: McpId,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct McpHealthChanged {
    pub mcp_id: McpId,
    pub name: String,
    #[schema(schema_with = crate::domain::schema::health_shown)]
    pub from: String,
    #[schema(schema_with = crate::domain::schema::health)]
    pub to: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub key_id: ApiKeyId,
    pub name: String,
    /// The key's first characters, as lists show it.
    pub prefix: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyRevoked {
    pub key_id: ApiKeyId,
    pub name: String,
    pub prefix: String,
}

#[derive(Serialize, ToSchema)]
pub struct TeamMemberAdded {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The invitation the member accepted.
    pub invitation_id: InvitationId,
}

#[derive(Serialize, ToSchema)]
pub struct TeamMemberRemoved {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The member's API keys, revoked with the membership.
    pub revoked_api_keys: usize,
}

#[derive(Serialize, ToSchema)]
pub struct UsageThreshold {
    /// 50, 75, 90 or 100: the share of the plan's monthly requests reached.
    pub threshold_percent: u64,
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Requests this month so far.
    pub requests: u64,
    /// Requests a month the plan includes.
    pub limit: u64,
    #[schema(schema_with = crate::domain::schema::plan)]
    pub plan: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomDomainStatusChanged {
    /// The domain in its ASCII (IDNA) form.
    pub domain: String,
    #[schema(schema_with = crate::domain::schema::custom_domain_status)]
    pub from: String,
    #[schema(schema_with = crate::domain::schema::custom_domain_status)]
    pub to: String,
    /// Why it is not (or no longer) verified or served, as `GET …/custom-domain` says.
    pub reason: Option<String>,
}

/// What Send Test delivers as `webhook.test`.
#[derive(Serialize, ToSchema)]
pub struct TestMessage {
    pub message: String,
}

impl EventData for McpCreated {
    const TYPE: EventType = EventType::McpCreated;
}
impl EventData for McpUpdated {
    const TYPE: EventType = EventType::McpUpdated;
}
impl EventData for McpDeleted {
    const TYPE: EventType = EventType::McpDeleted;
}
impl EventData for McpHealthChanged {
    const TYPE: EventType = EventType::McpHealthChanged;
}
impl EventData for ApiKeyCreated {
    const TYPE: EventType = EventType::ApiKeyCreated;
}
impl EventData for ApiKeyRevoked {
    const TYPE: EventType = EventType::ApiKeyRevoked;
}
impl EventData for TeamMemberAdded {
    const TYPE: EventType = EventType::TeamMemberAdded;
}
impl EventData for TeamMemberRemoved {
    const TYPE: EventType = EventType::TeamMemberRemoved;
}
impl EventData for UsageThreshold {
    const TYPE: EventType = EventType::UsageThreshold;
}
impl EventData for CustomDomainStatusChanged {
    const TYPE: EventType = EventType::CustomDomainStatusChanged;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_one_data_type() {
        let types: Vec<EventType> = schemas().into_iter().map(|(event, _)| event).collect();
        assert_eq!(types, EventType::ALL);
    }
}
