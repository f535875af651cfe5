//! Webhook events: the product page's nine event types, the opt-in ones past them, and
//! the envelope delivered to endpoints (what each one's `data` holds is `event_data`; how
//! it travels, `outbox`).

use crate::ids::{MessageId, OrgId};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "mcp.created")]
    McpCreated,
    #[serde(rename = "mcp.updated")]
    McpUpdated,
    #[serde(rename = "mcp.deleted")]
    McpDeleted,
    #[serde(rename = "mcp.health_changed")]
    McpHealthChanged,
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    #[serde(rename = "team.member_added")]
    TeamMemberAdded,
    #[serde(rename = "team.member_removed")]
    TeamMemberRemoved,
    #[serde(rename = "usage.threshold")]
    UsageThreshold,
    #[serde(rename = "custom_domain.status_changed")]
    CustomDomainStatusChanged,
}

impl EventType {
    /// Every event type, in catalogue order: the product page's nine, then the opt-in ones.
    pub const ALL: [EventType; 10] = [
        EventType::McpCreated,
        EventType::McpUpdated,
        EventType::McpDeleted,
        EventType::McpHealthChanged,
        EventType::ApiKeyCreated,
        EventType::ApiKeyRevoked,
        EventType::TeamMemberAdded,
        EventType::TeamMemberRemoved,
        EventType::UsageThreshold,
        EventType::CustomDomainStatusChanged,
    ];

    /// Past the product page's nine: the catalogue lists it apart (`opt_in`) and the
    /// settings page under its own heading, so that a client that takes "every event" from
    /// the list of nine does not start receiving it. (Like any event, an endpoint receives
    /// it only when it names it.)
    pub fn is_opt_in(self) -> bool {
        matches!(self, EventType::CustomDomainStatusChanged)
    }

    pub fn name(self) -> &'static str {
        match self {
            EventType::McpCreated => "mcp.created",
            EventType::McpUpdated => "mcp.updated",
            EventType::McpDeleted => "mcp.deleted",
            EventType::McpHealthChanged => "mcp.health_changed",
            EventType::ApiKeyCreated => "api_key.created",
            EventType::ApiKeyRevoked => "api_key.revoked",
            EventType::TeamMemberAdded => "team.member_added",
            EventType::TeamMemberRemoved => "team.member_removed",
            EventType::UsageThreshold => "usage.threshold",
            EventType::CustomDomainStatusChanged => "custom_domain.status_changed",
        }
    }

    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The position in [`EventType::ALL`]: the order lists show.
    pub fn ordinal(self) -> usize {
        EventType::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }

    /// A non-empty set of event names, each a known one: in canonical order, without
    /// repeats; an unknown name is refused by name.
    pub fn parse_set(names: &[String]) -> Result<Vec<EventType>, String> {
        if names.is_empty() {
            return Err("must name at least one event type".into());
        }
        let mut set = Vec::new();
        for name in names {
            let event = EventType::from_name(name).ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                format!("unknown event type: {shown:?}")
            })?;
            if !set.contains(&event) {
                set.push(event);
            }
        }
        set.sort_by_key(|e| e.ordinal());
        Ok(set)
    }

    pub fn description(self) -> &'static str {
        match self {
            EventType::McpCreated => "New MCP added",
            EventType::McpUpdated => "MCP settings changed",
            EventType::McpDeleted => "MCP removed",
            EventType::McpHealthChanged => "MCP health status changed",
            EventType::ApiKeyCreated => "New API key generated",
            EventType::ApiKeyRevoked => "API key revoked",
            EventType::TeamMemberAdded => "New team member joined",
            EventType::TeamMemberRemoved => "Team member removed",
            EventType::UsageThreshold => "Usage threshold reached",
            EventType::CustomDomainStatusChanged => {
                "Custom domain verified, served, failed or expired"
            }
        }
    }
}

/// The body delivered to webhook endpoints; `id` is the `webhook-id`, stable across
/// attempts (it travels beside the body, not in it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: MessageId,
    pub event: EventType,
    pub timestamp: String,
    pub organization_id: OrgId,
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(event: EventType, org: &OrgId, data: serde_json::Value, now: DateTime<Utc>) -> Self {
        Event {
            id: MessageId::generate(),
            event,
            timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            organization_id: org.clone(),
            data,
        }
    }

    /// The body delivered to endpoints: `{type, event, timestamp, organization_id, data}`
    /// (`type` is the Standard Webhooks name of `event`, the product page's: the same
    /// value; the message id travels as the `webhook-id` header).
    pub fn payload(&self) -> String {
        serde_json::json!({
            "type": self.event,
            "event": self.event,
            "timestamp": self.timestamp,
            "organization_id": self.organization_id,
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_event_types_and_the_opt_in_one_with_their_wire_names() {
        let nine: Vec<_> = EventType::ALL
            .into_iter()
            .filter(|e| !e.is_opt_in())
            .collect();
        assert_eq!(nine.len(), 9);
        assert_eq!(nine[..], EventType::ALL[..9], "the nine come first");
        for event in EventType::ALL {
            let wire = serde_json::to_value(event).unwrap();
            assert_eq!(wire, event.name());
            assert!(!event.description().is_empty());
        }
        let org = OrgId::generate();
        let event = Event::new(
            EventType::TeamMemberAdded,
            &org,
            serde_json::json!({"user_id": "usr_x"}),
            Utc::now(),
        );
        let body: serde_json::Value = serde_json::to_value(&event).unwrap();
        assert_eq!(body["event"], "team.member_added");
        assert_eq!(body["organization_id"], org.as_str());
        let payload: serde_json::Value = serde_json::from_str(&event.payload()).unwrap();
        assert_eq!(payload["type"], "team.member_added");
        assert_eq!(payload["type"], payload["event"]);
    }

    #[test]
    fn a_set_of_event_types_is_non_empty_known_and_in_order() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            EventType::parse_set(&names(&["team.member_added", "mcp.created", "mcp.created"])),
            Ok(vec![EventType::McpCreated, EventType::TeamMemberAdded])
        );
        assert!(EventType::parse_set(&[]).is_err());
        let err = EventType::parse_set(&names(&["mcp.created", "mcp.exploded"])).unwrap_err();
        assert!(err.contains("mcp.exploded"), "{err}");
    }
}
