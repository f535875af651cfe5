//! Watching events leave the system: a webhook endpoint subscribed behind the API (a
//! bare item with the fields the fan-out reads, for the outbox tests; the webhooks
//! tests use the API), and the delivery jobs the dispatch worker puts on the deliveries
//! queue for it.

use crate::stack;
use aws_sdk_dynamodb::types::AttributeValue::{Bool, Ss, S};
use serde_json::Value;
use std::time::{Duration, Instant};

pub async fn subscribe(org_id: &str, webhook_id: &str, events: &[&str]) {
    let stack = stack();
    stack
        .dynamodb()
        .await
        .put_item()
        .table_name(stack.table_name())
        .item("pk", S(format!("ORG#{org_id}")))
        .item("sk", S(format!("WEBHOOK#{webhook_id}")))
        .item("webhook_id", S(webhook_id.into()))
        .item("enabled", Bool(true))
        .item("events", Ss(events.iter().map(|e| e.to_string()).collect()))
        .send()
        .await
        .unwrap();
}

/// Delivery jobs for `org_id` that reach the deliveries queue within `wait`, until
/// `expected` have arrived (other orgs' jobs are left on the queue).
pub async fn delivery_jobs(org_id: &str, expected: usize, wait: Duration) -> Vec<Value> {
    let stack = stack();
    let sqs = stack.sqs().await;
    let url = stack.env("WEBHOOK_DELIVERIES_QUEUE_URL");
    let mut jobs = Vec::new();
    let deadline = Instant::now() + wait;
    while jobs.len() < expected && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        for message in out.messages.unwrap_or_default() {
            let job: Value = serde_json::from_str(message.body.as_deref().unwrap()).unwrap();
            if job["event"]["organization_id"] == org_id {
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(message.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
                jobs.push(job);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    jobs
}

/// Waits until every event of the org has been fanned out (its outbox is empty).
pub async fn outbox_drains(org_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !crate::items(&format!("ORG#{org_id}"), "OUTBOX#")
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the outbox of {org_id} did not drain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
