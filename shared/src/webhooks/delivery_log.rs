//! The delivery log: one item per attempt (`ORG#o / WEBHOOK#w#DELIVERY#d`), kept 30 days.
//! The delivery worker writes it; the log's pages and redelivery read it. This is the one
//! place that knows its attributes.

use crate::ids::{DeliveryId, MessageId, OrgId, WebhookId};
use crate::store::item::time;
use crate::store::{n, s, Item, ItemExt, Key, StoreError};
use chrono::{DateTime, Duration, Utc};

/// How long an attempt stays in the log (the item's `ttl`), and a delivered message's
/// idempotency record.
pub const LOG_RETENTION: Duration = Duration::days(30);

pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// One attempt to deliver a message to an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedDelivery {
    pub id: DeliveryId,
    /// The `webhook-id` of the message (the same for every attempt and redelivery).
    pub message_id: MessageId,
    pub event: String,
    /// `SUCCEEDED` (the endpoint answered 2xx) or `FAILED`.
    pub status: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub duration_ms: i64,
    /// The exact body that was signed and sent.
    pub payload: String,
    /// The endpoint's HTTP status; absent when it gave none (timeout, refused target).
    pub response_status: Option<i64>,
    /// The start of the endpoint's answer.
    pub response_body: Option<String>,
    /// Why there was no answer.
    pub error: Option<String>,
    /// When the next attempt is due, after a failure that will be retried.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl LoggedDelivery {
    pub fn item(&self, org: &OrgId, endpoint: &WebhookId) -> Item {
        let mut item = Key::delivery(org, endpoint.as_str(), self.id.as_str()).to_item();
        item.insert("delivery_id".into(), s(self.id.as_str()));
        item.insert("message_id".into(), s(self.message_id.as_str()));
        item.insert("event".into(), s(&self.event));
        item.insert("status".into(), s(&self.status));
        item.insert("attempt".into(), n(self.attempt));
        item.insert("duration_ms".into(), n(self.duration_ms));
        item.insert("payload".into(), s(&self.payload));
        if let Some(status) = self.response_status {
            item.insert("response_status".into(), n(status));
        }
        if let Some(body) = &self.response_body {
            item.insert("response_body".into(), s(body));
        }
        if let Some(error) = &self.error {
            item.insert("error".into(), s(error));
        }
        if let Some(at) = self.next_attempt_at {
            item.insert("next_attempt_at".into(), time(at));
        }
        item.insert("created_at".into(), time(self.created_at));
        item.insert(
            "ttl".into(),
            n((self.created_at + LOG_RETENTION).timestamp()),
        );
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("delivery {what}"));
        Ok(LoggedDelivery {
            id: DeliveryId::parse(item.str("delivery_id")?).ok_or_else(|| corrupt("id"))?,
            message_id: MessageId::parse(item.str("message_id")?)
                .ok_or_else(|| corrupt("message_id"))?,
            event: item.str("event")?.to_owned(),
            status: item.str("status")?.to_owned(),
            attempt: item.num("attempt")?,
            duration_ms: item.num("duration_ms")?,
            payload: item.str("payload")?.to_owned(),
            response_status: item.opt_num("response_status"),
            response_body: item.opt_str("response_body").map(str::to_owned),
            error: item.opt_str("error").map(str::to_owned),
            next_attempt_at: item.time("next_attempt_at").ok(),
            created_at: item.time("created_at")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_reads_back_as_it_was_written() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let answered = LoggedDelivery {
            id: DeliveryId::generate(),
            message_id: MessageId::generate(),
            event: "mcp.created".into(),
            status: SUCCEEDED.into(),
            attempt: 1,
            duration_ms: 12,
            payload: "{}".into(),
            response_status: Some(204),
            response_body: Some(String::new()),
            error: None,
            next_attempt_at: None,
            created_at: at,
        };
        let refused = LoggedDelivery {
            status: FAILED.into(),
            response_status: None,
            response_body: None,
            error: Some("target refused: loopback".into()),
            next_attempt_at: Some(at + Duration::seconds(5)),
            attempt: 2,
            ..answered.clone()
        };
        let (org, endpoint) = (OrgId::generate(), WebhookId::generate());
        for logged in [answered, refused] {
            let item = logged.item(&org, &endpoint);
            assert_eq!(item.opt_num("ttl"), Some((at + LOG_RETENTION).timestamp()));
            assert_eq!(LoggedDelivery::from_item(&item).unwrap(), logged);
        }
    }
}
