//! Events: written to the outbox with their change, relayed to the events queue, fanned
//! out by the dispatch worker to subscribed webhook endpoints, and removed from the
//! outbox; an entry whose relay was lost is picked up by the sweep.

use aws_sdk_dynamodb::types::AttributeValue::S;
use plexmcp_tests::events::{delivery_jobs, outbox_drains, subscribe};
use plexmcp_tests::{stack, Account, OrgFixture};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_team_change_reaches_each_subscribed_endpoint_once() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    subscribe(
        &org.id,
        "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TA",
        &["team.member_added", "team.member_removed"],
    )
    .await;
    subscribe(&org.id, "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TB", &["mcp.created"]).await;
    let newcomer = Account::create(&api).await;
    org.add(&api, &newcomer, "viewer").await;

    let jobs = delivery_jobs(&org.id, 1, Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job["endpoint_id"], "wh_01JDQX3Z8E6V4W2N9KQ5M7R1TA");
    assert_eq!(job["event"]["event"], "team.member_added");
    assert!(job["event"]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(job["event"]["data"]["user_id"], newcomer.id.as_str());
    assert_eq!(job["event"]["data"]["role"], "viewer");
    outbox_drains(&org.id).await;
    // The outbox drained, so fan-out has finished: a short look suffices.
    assert!(
        delivery_jobs(&org.id, 1, Duration::from_secs(1))
            .await
            .is_empty(),
        "the unsubscribed endpoint got nothing, the other nothing more"
    );
}

#[tokio::test]
async fn an_event_whose_relay_was_lost_is_swept_and_delivered() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    subscribe(
        &org.id,
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
    let jobs = delivery_jobs(&org.id, 1, Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0]["event"]["id"], id,
        "the message id survives the sweep"
    );
    outbox_drains(&org.id).await;
}
