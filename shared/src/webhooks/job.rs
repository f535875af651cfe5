//! A delivery job: one message for one endpoint, as it travels on the deliveries queue —
//! put there by the fan-out (first attempt), by the delivery worker (a retry), and by the
//! API (Send Test, redeliver).

use crate::events::Event;
use crate::ids::{MessageId, OrgId, WebhookId};
use crate::store::StoreError;
use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub org_id: OrgId,
    pub endpoint_id: WebhookId,
    /// The `webhook-id`: the same for every attempt and redelivery of the message.
    pub message_id: MessageId,
    /// The event type (`mcp.created`, …, or `webhook.test`).
    pub event: String,
    /// The exact body that is signed and sent.
    pub payload: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// A retry further away than a queue delay reaches (15 minutes) waits on the queue in
    /// hops until this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// Set on a redelivery: it is delivered even though the message was delivered
    /// before, once (the redelivery has its own idempotency record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivery: Option<String>,
}

impl DeliveryJob {
    /// The first attempt of an event for one endpoint.
    pub fn of_event(event: &Event, endpoint_id: &WebhookId) -> Self {
        DeliveryJob {
            org_id: event.organization_id.clone(),
            endpoint_id: endpoint_id.clone(),
            message_id: event.id.clone(),
            event: event.event.name().to_owned(),
            payload: event.payload(),
            attempt: 1,
            not_before: None,
            redelivery: None,
        }
    }

    /// What makes a delivery happen at most once: the message and endpoint, and for a
    /// redelivery its own id.
    pub fn idempotency_key(&self) -> String {
        match &self.redelivery {
            Some(id) => format!("{}#{}#{id}", self.endpoint_id, self.message_id),
            None => format!("{}#{}", self.endpoint_id, self.message_id),
        }
    }

    /// Puts the job on the deliveries queue, to be received after `wait` (at most 15
    /// minutes, SQS's limit; a longer wait is covered by `not_before`).
    pub async fn enqueue(&self, state: &AppState, wait: Duration) -> Result<(), StoreError> {
        state
            .sqs
            .send_after(&state.config.webhook_deliveries_queue_url, self, wait)
            .await?;
        Ok(())
    }

    /// The job of the next attempt.
    pub fn next(&self, not_before: DateTime<Utc>) -> Self {
        DeliveryJob {
            attempt: self.attempt + 1,
            not_before: Some(not_before),
            ..self.clone()
        }
    }
}
