//! A webhook endpoint of an organization: where events go, which ones, and the sealed
//! signing secrets (the current one, and for 24 h after a rotation the previous one).

use super::WebhookSecret;
use crate::crypto::SecretBox;
use crate::events::EventType;
use crate::ids::{OrgId, WebhookId};
use crate::store::item::time;
use crate::store::{s, update_with, Cond, Item, ItemExt, Key, StoreError, Table};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Duration, Utc};

/// The most endpoints one organization may have (kept as `webhook_count` on the org).
pub const MAX_WEBHOOKS_PER_ORG: i64 = 20;
/// The org item's count of endpoints: the cap is a condition of each create.
pub const WEBHOOK_COUNT: &str = "webhook_count";
/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    pub description: String,
    /// Why deliveries stopped, when the platform disabled the endpoint (410, 5 days of
    /// failures); `None` when a person disabled it or it is enabled.
    pub disabled_reason: Option<String>,
    /// The signing secret, sealed and bound to the endpoint id.
    pub secret: String,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// The first failed attempt since the last delivered one: 5 days of failures disable
    /// the endpoint.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("webhook {what}"));
        let events = item
            .get("events")
            .and_then(|v| v.as_ss().ok())
            .ok_or_else(|| corrupt("events"))?;
        let mut events: Vec<EventType> = events
            .iter()
            .filter_map(|name| EventType::from_name(name))
            .collect();
        events.sort_by_key(|e| e.ordinal());
        let previous_secret = match (
            item.opt_str("previous_secret"),
            item.time("previous_secret_expires_at").ok(),
        ) {
            (Some(sealed), Some(until)) => Some((sealed.to_owned(), until)),
            _ => None,
        };
        Ok(Webhook {
            id: WebhookId::parse(item.str("webhook_id")?).ok_or_else(|| corrupt("id"))?,
            url: item.str("url")?.to_owned(),
            events,
            enabled: item.flag("enabled"),
            description: item.opt_str("description").unwrap_or("").to_owned(),
            disabled_reason: item.opt_str("disabled_reason").map(str::to_owned),
            secret: item.str("secret")?.to_owned(),
            previous_secret,
            failing_since: item.time("failing_since").ok(),
            created_at: item.time("created_at")?,
            updated_at: item.time("updated_at")?,
        })
    }

    pub fn item(&self, org: &OrgId) -> Item {
        let mut item = Key::webhook(org, self.id.as_str()).to_item();
        item.insert("webhook_id".into(), s(self.id.as_str()));
        item.insert("url".into(), s(&self.url));
        item.insert("events".into(), self.events_value());
        item.insert("enabled".into(), AttributeValue::Bool(self.enabled));
        item.insert("description".into(), s(&self.description));
        if let Some(reason) = &self.disabled_reason {
            item.insert("disabled_reason".into(), s(reason));
        }
        item.insert("secret".into(), s(&self.secret));
        if let Some((sealed, until)) = &self.previous_secret {
            item.insert("previous_secret".into(), s(sealed));
            item.insert("previous_secret_expires_at".into(), time(*until));
        }
        if let Some(since) = self.failing_since {
            item.insert("failing_since".into(), time(since));
        }
        item.insert("created_at".into(), time(self.created_at));
        item.insert("updated_at".into(), time(self.updated_at));
        item
    }

    /// The write of what people change (URL, events, on/off, description, secrets) over
    /// the endpoint as read at `read_at` (`updated_at`); what the delivery worker keeps
    /// (`failing_since`) is left as it is. Another change meanwhile fails the condition.
    pub fn update_as_read(
        &self,
        table: &Table,
        org: &OrgId,
        read_at: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut sets = vec![
            "#url = :url",
            "events = :events",
            "enabled = :enabled",
            "description = :description",
            "secret = :secret",
            "updated_at = :updated_at",
        ];
        let mut removes = Vec::new();
        let mut cond = Cond::new("updated_at = :read")
            .name("#url", "url")
            .value(":read", time(read_at))
            .value(":url", s(&self.url))
            .value(":events", self.events_value())
            .value(":enabled", AttributeValue::Bool(self.enabled))
            .value(":description", s(&self.description))
            .value(":secret", s(&self.secret))
            .value(":updated_at", time(self.updated_at));
        match &self.disabled_reason {
            Some(reason) => {
                sets.push("disabled_reason = :reason");
                cond = cond.value(":reason", s(reason));
            }
            None => removes.push("disabled_reason"),
        }
        match &self.previous_secret {
            Some((sealed, until)) => {
                sets.push("previous_secret = :previous");
                sets.push("previous_secret_expires_at = :until");
                cond = cond
                    .value(":previous", s(sealed))
                    .value(":until", time(*until));
            }
            None => removes.extend(["previous_secret", "previous_secret_expires_at"]),
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        update_with(
            table,
            &Key::webhook(org, self.id.as_str()),
            &expression,
            &cond,
        )
    }

    /// The subscribed event types as stored: a string set of their names.
    fn events_value(&self) -> AttributeValue {
        AttributeValue::Ss(self.events.iter().map(|e| e.name().to_owned()).collect())
    }

    /// Seals `secret` for this endpoint (bound to its id: a sealed secret copied to
    /// another endpoint does not open).
    pub fn seal(secrets: &SecretBox, id: &WebhookId, secret: &WebhookSecret) -> String {
        secrets.seal(secret.as_bytes(), id.as_str())
    }

    /// The secrets that sign a delivery now: the current one, then the previous one while
    /// its overlap lasts.
    pub fn signing_secrets(
        &self,
        secrets: &SecretBox,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookSecret>, StoreError> {
        let open = |sealed: &str| {
            secrets
                .open(sealed, self.id.as_str())
                .map(WebhookSecret::from_bytes)
                .ok_or_else(|| StoreError::Corrupt("webhook secret does not open".into()))
        };
        let mut signing = vec![open(&self.secret)?];
        if let Some((sealed, until)) = &self.previous_secret {
            if *until > now {
                signing.push(open(sealed)?);
            }
        }
        Ok(signing)
    }
}
