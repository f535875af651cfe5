//! Events: written to the outbox with their change, relayed to the events queue, fanned
//! out by the dispatch worker to subscribed webhook endpoints, and removed from the
//! outbox; an entry whose relay was lost is picked up by the sweep.

use aws_sdk_dynamodb::types::AttributeValue::{N, S};
use plexmcp_tests::events::{new_message_id, outbox_drains, subscribe};
use plexmcp_tests::{set_attribute, stack, Account, OrgFixture};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_team_change_reaches_each_subscribed_endpoint_once() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let team = subscribe(&api, &org, &["team.member_added", "team.member_removed"]).await;
    let mcps = subscribe(&api, &org, &["mcp.created"]).await;
    let newcomer = Account::create(&api).await;
    org.add(&api, &newcomer, "viewer").await;

    let messages = team.messages(1, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["event"], "team.member_added");
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(message["organization_id"], org.id.as_str());
    assert_eq!(message["data"]["user_id"], newcomer.id.as_str());
    assert_eq!(message["data"]["role"], "viewer");
    outbox_drains(&org.id).await;
    // The outbox drained, so fan-out has finished: a short look suffices.
    assert!(
        mcps.messages(1, Duration::from_secs(2)).await.is_empty(),
        "the endpoint not subscribed to team events got nothing"
    );
    assert_eq!(
        team.messages(2, Duration::from_secs(1)).await.len(),
        1,
        "nothing more"
    );
}

/// What a commit leaves when the process dies before relaying: only the outbox entry,
/// here in index shard `shard` and `age` old (the sweep leaves entries younger than 60 s).
async fn lost_entry(org_id: &str, shard: u8, id: &str, body: &str, age: chrono::Duration) {
    let at = (chrono::Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let stack = stack();
    stack
        .dynamodb()
        .await
        .put_item()
        .table_name(stack.table_name())
        .item("pk", S(format!("ORG#{org_id}")))
        .item("sk", S(format!("OUTBOX#{id}")))
        .item("gsi1pk", S(format!("OUTBOX#{shard}")))
        .item("gsi1sk", S(format!("{at}#{id}")))
        .item("body", S(body.into()))
        .send()
        .await
        .unwrap();
}

fn event_body(id: &str, org_id: &str) -> String {
    json!({ "id": id, "event": "team.member_removed", "timestamp": "2026-01-01T00:00:00Z", "organization_id": org_id, "data": { "user_id": "usr_x" } }).to_string()
}

#[tokio::test]
async fn events_whose_relay_was_lost_are_swept_from_every_shard_and_delivered() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["team.member_removed"]).await;
    let (first, last) = (new_message_id(), new_message_id());
    lost_entry(
        &org.id,
        0,
        &first,
        &event_body(&first, &org.id),
        chrono::Duration::hours(1),
    )
    .await;
    lost_entry(
        &org.id,
        15,
        &last,
        &event_body(&last, &org.id),
        chrono::Duration::hours(1),
    )
    .await;
    let messages = endpoint.messages(2, Duration::from_secs(20)).await;
    let mut ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![first.as_str(), last.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "the message ids survive the sweep");
    outbox_drains(&org.id).await;
}

#[tokio::test]
async fn a_relay_that_fails_after_commit_is_made_good_by_the_sweep_once() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["mcp.created"]).await;
    let switch = stack().hooks_dir.join(format!("relay-fails.{}", org.id));
    std::fs::write(&switch, b"").unwrap();
    org.mcp(&api).await;
    std::fs::remove_file(&switch).unwrap();
    assert!(
        endpoint
            .messages(1, Duration::from_secs(3))
            .await
            .is_empty(),
        "the relay after commit failed"
    );
    let outbox = plexmcp_tests::items(&format!("ORG#{}", org.id), "OUTBOX#").await;
    assert_eq!(outbox.len(), 1, "the event waits in the outbox");
    // A minute passes (the sweep leaves younger entries to the normal relay).
    let id = outbox[0]["sk"]
        .as_s()
        .unwrap()
        .trim_start_matches("OUTBOX#")
        .to_owned();
    let past = (chrono::Utc::now() - chrono::Duration::minutes(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    set_attribute(
        &format!("ORG#{}", org.id),
        &outbox[0]["sk"].as_s().unwrap().clone(),
        "gsi1sk",
        S(format!("{past}#{id}")),
    )
    .await;
    // The sweep's relay arrives (a loaded machine may take a while), and nothing after it.
    let first = endpoint.messages(1, Duration::from_secs(20)).await;
    assert_eq!(first.len(), 1, "the sweep relayed the event");
    let messages = endpoint.messages(2, Duration::from_secs(4)).await;
    assert_eq!(messages.len(), 1, "exactly one webhook-id: {messages:?}");
    assert_eq!(messages[0]["id"], id.as_str());
    assert_eq!(messages[0]["event"], "mcp.created");
    outbox_drains(&org.id).await;
}

#[tokio::test]
async fn a_poison_event_is_parked_after_ten_relays_and_cannot_hold_others_up() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["team.member_removed"]).await;
    let pk = format!("ORG#{}", org.id);
    // 130 entries no consumer will ever take off the outbox, older than a good one in
    // the same shard: the sweep takes 64 a shard a run, and moves each relayed entry to
    // the back, so the good one is reached within three runs.
    let poison: Vec<String> = (0..130).map(|_| new_message_id()).collect();
    for id in &poison {
        lost_entry(&org.id, 5, id, "not an event", chrono::Duration::hours(3)).await;
    }
    let good = new_message_id();
    lost_entry(
        &org.id,
        5,
        &good,
        &event_body(&good, &org.id),
        chrono::Duration::hours(2),
    )
    .await;
    let messages = endpoint.messages(1, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], good.as_str());
    let entries = plexmcp_tests::items(&pk, "OUTBOX#").await;
    assert_eq!(entries.len(), 130, "the good one left the outbox");
    assert!(entries.iter().all(|e| e["relays"].as_n().unwrap() == "1"));

    // One of them comes to its tenth relay, then a minute later to the sweep again: it
    // is parked, not relayed an eleventh time, and stays for an operator to look at.
    let stuck = format!("OUTBOX#{}", poison[0]);
    let old = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    set_attribute(&pk, &stuck, "relays", N("9".into())).await;
    set_attribute(&pk, &stuck, "gsi1sk", S(format!("{old}#{}", poison[0]))).await;
    let relayed_tenth_time = || async {
        let entry = plexmcp_tests::items(&pk, &stuck).await.remove(0);
        entry["relays"].as_n().unwrap() == "10"
    };
    wait_for(relayed_tenth_time).await;
    set_attribute(&pk, &stuck, "gsi1sk", S(format!("{old}#{}", poison[0]))).await;
    let parked = || async {
        let entry = plexmcp_tests::items(&pk, &stuck).await.remove(0);
        entry["gsi1pk"].as_s().unwrap() == "OUTBOX#PARKED"
    };
    wait_for(parked).await;
    let entry = plexmcp_tests::items(&pk, &stuck).await.remove(0);
    assert_eq!(entry["relays"].as_n().unwrap(), "10");
    assert!(entry.contains_key("parked_at"));

    // Leave no poison behind for the other tests of this stack.
    let stack = stack();
    let dynamodb = stack.dynamodb().await;
    for id in &poison {
        dynamodb
            .delete_item()
            .table_name(stack.table_name())
            .key("pk", S(pk.clone()))
            .key("sk", S(format!("OUTBOX#{id}")))
            .send()
            .await
            .unwrap();
    }
}

async fn wait_for<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep did not get there"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
