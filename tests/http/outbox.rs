//! Events: written to the outbox with their change, relayed to the events queue, fanned
//! out by the dispatch worker to subscribed webhook endpoints, and removed from the
//! outbox; an entry whose relay was lost is picked up by the sweep.

use aws_sdk_dynamodb::types::AttributeValue::{Bool, Ss, S};
use plexmcp_tests::{items, stack, Account, OrgFixture};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Subscribes a webhook endpoint of `org` to `events` (the webhooks API comes later; its
/// item shape is in docs/data-model.md).
async fn subscribe(org: &OrgFixture, webhook_id: &str, events: &[&str]) {
    let stack = stack();
    stack
        .dynamodb()
        .await
        .put_item()
        .table_name(stack.table_name())
        .item("pk", S(format!("ORG#{}", org.id)))
        .item("sk", S(format!("WEBHOOK#{webhook_id}")))
        .item("webhook_id", S(webhook_id.into()))
        .item("enabled", Bool(true))
        .item("events", Ss(events.iter().map(|e| e.to_string()).collect()))
        .send()
        .await
        .unwrap();
}

/// Waits for the delivery jobs of `org` on the deliveries queue (other tests' jobs stay).
async fn delivery_jobs(org: &OrgFixture, expected: usize, wait: Duration) -> Vec<Value> {
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
            if job["event"]["organization_id"] == org.id.as_str() {
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

async fn outbox_drains(org: &OrgFixture) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !items(&format!("ORG#{}", org.id), "OUTBOX#")
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the outbox of {} did not drain",
            org.slug
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_team_change_reaches_each_subscribed_endpoint_once() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org).await;
    subscribe(
        &org,
        "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TA",
        &["team.member_added", "team.member_removed"],
    )
    .await;
    subscribe(&org, "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TB", &["mcp.created"]).await;
    let newcomer = Account::create(&api).await;
    api.post(
        &org.path("/members"),
        Some(&org.owner.token),
        json!({ "email": newcomer.email, "role": "viewer" }),
    )
    .await
    .expect(201);

    let jobs = delivery_jobs(&org, 1, Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job["endpoint_id"], "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TA");
    assert_eq!(job["event"]["event"], "team.member_added");
    assert!(job["event"]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(job["event"]["data"]["user_id"], newcomer.id.as_str());
    assert_eq!(job["event"]["data"]["role"], "viewer");
    outbox_drains(&org).await;
    // The outbox drained, so fan-out has finished: a short look suffices.
    assert!(
        delivery_jobs(&org, 1, Duration::from_secs(1))
            .await
            .is_empty(),
        "the unsubscribed endpoint got nothing, the other nothing more"
    );
}

#[tokio::test]
async fn an_event_whose_relay_was_lost_is_swept_and_delivered() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org).await;
    subscribe(
        &org,
        "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TC",
        &["team.member_removed"],
    )
    .await;
    // What a commit leaves when the process dies before relaying: only the outbox entry.
    let id = "msg_01JDQX3Z8E6V4W2N9KQ5M7R1TD";
    let event = json!({ "id": id, "event": "team.member_removed", "timestamp": "2026-01-01T00:00:00Z", "organization_id": org.id, "data": { "user_id": "usr_x" } });
    let stack = stack();
    stack
        .dynamodb()
        .await
        .put_item()
        .table_name(stack.table_name())
        .item("pk", S(format!("ORG#{}", org.id)))
        .item("sk", S(format!("OUTBOX#{id}")))
        .item("gsi1pk", S("OUTBOX".into()))
        .item("gsi1sk", S(format!("2026-01-01T00:00:00Z#{id}")))
        .item("body", S(event.to_string()))
        .send()
        .await
        .unwrap();
    let jobs = delivery_jobs(&org, 1, Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0]["event"]["id"], id,
        "the message id survives the sweep"
    );
    outbox_drains(&org).await;
}
