//! Webhook delivery as an endpoint owner sees it, with real receivers on loopback: signed
//! messages that the public Standard Webhooks library verifies, retries with one
//! `webhook-id`, the delivery log, Send Test, redelivery, 410, redirects, rotation, and a
//! receiver that hangs.

use aws_sdk_dynamodb::types::AttributeValue;
use plexmcp_tests::events::{new_message_id, outbox_drains, subscribe, subscribe_to, Endpoint};
use plexmcp_tests::receiver::{verify_with_standard_webhooks, Receiver, Reply};
use plexmcp_tests::{stack, Account, Api, OrgFixture, Pause};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ALL: [&str; 9] = [
    "mcp.created",
    "mcp.updated",
    "mcp.deleted",
    "mcp.health_changed",
    "api_key.created",
    "api_key.revoked",
    "team.member_added",
    "team.member_removed",
    "usage.threshold",
];

async fn deliveries(api: &Api, org: &OrgFixture, endpoint: &Endpoint) -> Vec<Value> {
    api.get(
        &org.path(&format!("/webhooks/{}/deliveries", endpoint.id)),
        &org.member.token,
    )
    .await
    .expect(200)
    .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// A delivery job for `endpoint` of `org`, as the fan-out puts it on the queue.
fn job(org: &OrgFixture, endpoint: &Endpoint, message_id: &str) -> String {
    json!({
        "org_id": org.id, "endpoint_id": endpoint.id, "message_id": message_id,
        "event": "mcp.created", "payload": json!({ "event": "mcp.created", "data": {} }).to_string(),
        "attempt": 1,
    })
    .to_string()
}

/// Puts `jobs` on the deliveries queue in one request, so that one poll takes them all.
async fn enqueue_together(jobs: &[String]) {
    let stack = stack();
    let entries = jobs.iter().enumerate().map(|(i, body)| {
        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
            .id(format!("job-{i}"))
            .message_body(body)
            .build()
            .unwrap()
    });
    stack
        .sqs()
        .await
        .send_message_batch()
        .queue_url(stack.env("WEBHOOK_DELIVERIES_QUEUE_URL"))
        .set_entries(Some(entries.collect()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn all_nine_event_types_arrive_signed_as_the_standard_says() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &ALL).await;

    let mcp = org.mcp(&api).await;
    let one = org.path(&format!("/mcps/{mcp}"));
    api.patch(&one, &org.owner.token, json!({ "name": "Renamed" }))
        .await
        .expect(200);
    api.put(
        &format!("{one}/health"),
        &org.owner.token,
        json!({ "status": "down" }),
    )
    .await
    .expect(200);
    let (key_id, key) = org.api_key(&api).await;
    // Half the free plan's 1,000 requests: the 50 % threshold.
    api.post(
        &org.path("/usage"),
        Some(&key),
        json!({ "mcp_id": mcp, "requests": 500, "tokens": 1 }),
    )
    .await
    .expect(200);
    api.delete(&org.path(&format!("/api-keys/{key_id}")), &org.owner.token)
        .await
        .expect(204);
    api.delete(&one, &org.owner.token).await.expect(204);
    let newcomer = Account::create(&api).await;
    org.add(&api, &newcomer, "viewer").await;
    api.delete(
        &org.path(&format!("/members/{}", newcomer.id)),
        &org.owner.token,
    )
    .await
    .expect(200);

    let received = endpoint.receiver.wait_for(9, Duration::from_secs(30)).await;
    let mut events: Vec<String> = received
        .iter()
        .map(|r| r.message()["event"].as_str().unwrap().to_owned())
        .collect();
    events.sort();
    let mut expected = ALL.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(events, expected);
    let signed: Vec<(&str, _)> = received
        .iter()
        .map(|r| (endpoint.secret.as_str(), r))
        .collect();
    verify_with_standard_webhooks(&signed);
    for request in &received {
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("user-agent"), "PlexMCP-Webhooks/1.0");
        assert!(request.header("webhook-id").starts_with("msg_"));
        let body: Value = serde_json::from_str(&request.body).unwrap();
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["data", "event", "organization_id", "timestamp", "type"]
        );
        assert_eq!(body["type"], body["event"]);
        assert_eq!(body["organization_id"], org.id.as_str());
    }
    // Another secret does not verify them.
    let stranger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verify_with_standard_webhooks(&[(stranger, &received[0])]);
    }));
    assert!(refused.is_err(), "a wrong secret must not verify");

    let log = deliveries(&api, &org, &endpoint).await;
    assert_eq!(log.len(), 9);
    assert!(log.iter().all(|d| d["status"] == "succeeded"
        && d["response_status"] == 200
        && d["attempt"] == 1
        && d["id"].as_str().unwrap().starts_with("dlv_")));
}

#[tokio::test]
async fn a_failing_endpoint_is_tried_again_with_the_same_webhook_id() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let receiver = Receiver::scripted(vec![Reply::Status(500), Reply::Status(500)]).await;
    let endpoint = subscribe_to(&api, &org, &["mcp.created"], receiver).await;
    org.mcp(&api).await;
    let received = endpoint.receiver.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 3);
    let ids: Vec<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let signed: Vec<(&str, _)> = received
        .iter()
        .map(|r| (endpoint.secret.as_str(), r))
        .collect();
    verify_with_standard_webhooks(&signed);
    // Delivered on the third attempt: no fourth.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(endpoint.receiver.received().len(), 3);

    let log = deliveries(&api, &org, &endpoint).await;
    let summary: Vec<(String, i64, Value)> = log
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap().to_owned(),
                d["attempt"].as_i64().unwrap(),
                d["response_status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("succeeded".to_owned(), 3, json!(200)),
            ("failed".to_owned(), 2, json!(500)),
            ("failed".to_owned(), 1, json!(500)),
        ],
        "newest first"
    );
    assert!(log[1]["next_attempt_at"].is_string() && log[0]["next_attempt_at"].is_null());
    assert!(log.iter().all(|d| d["message_id"] == ids[0]));
    let endpoint_now = api
        .get(
            &org.path(&format!("/webhooks/{}", endpoint.id)),
            &org.owner.token,
        )
        .await
        .expect(200);
    assert_eq!(endpoint_now.body["enabled"], true);
}

#[tokio::test]
async fn a_receiver_that_hangs_delays_no_other_endpoint() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let hanging = subscribe_to(
        &api,
        &org,
        &["mcp.created"],
        Receiver::scripted(vec![Reply::Hang]).await,
    )
    .await;
    let fast = subscribe(&api, &org, &["mcp.created"]).await;
    let started = Instant::now();
    org.mcp(&api).await;
    let delivered = fast.receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].at - started < Duration::from_secs(5),
        "the fast endpoint waited {:?}",
        delivered[0].at - started
    );
    assert_eq!(
        hanging
            .receiver
            .wait_for(1, Duration::from_secs(5))
            .await
            .len(),
        1
    );
    // The hung attempt ends at the 15 s timeout and is tried again.
    let retried = hanging.receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(retried.len(), 2);
    let log = deliveries(&api, &org, &hanging).await;
    let failed = log.iter().find(|d| d["status"] == "failed").unwrap();
    assert!(failed["response_status"].is_null());
    assert!(
        failed["error"].as_str().unwrap().contains("timed out"),
        "{failed}"
    );
    assert!(failed["duration_ms"].as_i64().unwrap() >= 14_000);
}

#[tokio::test]
async fn redirects_are_not_followed_and_410_disables_the_endpoint() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let redirecting = subscribe_to(
        &api,
        &org,
        &["mcp.created"],
        Receiver::scripted(vec![Reply::Redirect]).await,
    )
    .await;
    let gone = subscribe_to(
        &api,
        &org,
        &["mcp.created"],
        Receiver::scripted(vec![Reply::Status(410)]).await,
    )
    .await;
    org.mcp(&api).await;
    // The redirect is an answer like any other non-2xx: a failed attempt, then a retry.
    let received = redirecting
        .receiver
        .wait_for(2, Duration::from_secs(15))
        .await;
    assert_eq!(
        received.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/hook", "/hook"],
        "never /elsewhere"
    );
    let log = deliveries(&api, &org, &redirecting).await;
    assert!(log.iter().any(|d| d["response_status"] == 302));

    assert_eq!(
        gone.receiver
            .wait_for(1, Duration::from_secs(10))
            .await
            .len(),
        1
    );
    let disabled = wait_until_disabled(&api, &org, &gone).await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{disabled}"
    );
    org.mcp(&api).await;
    redirecting
        .receiver
        .wait_for(3, Duration::from_secs(10))
        .await;
    assert_eq!(gone.receiver.received().len(), 1, "nothing after 410");
    // Turning it on again clears the reason.
    let enabled = api
        .patch(
            &org.path(&format!("/webhooks/{}", gone.id)),
            &org.owner.token,
            json!({ "enabled": true }),
        )
        .await
        .expect(200);
    assert!(enabled.body.get("disabled_reason").is_none());
}

async fn wait_until_disabled(api: &Api, org: &OrgFixture, endpoint: &Endpoint) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = api
            .get(
                &org.path(&format!("/webhooks/{}", endpoint.id)),
                &org.owner.token,
            )
            .await
            .expect(200)
            .body;
        if now["enabled"] == false {
            return now;
        }
        assert!(Instant::now() < deadline, "still enabled: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn after_a_rotation_both_secrets_verify_a_delivery() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["mcp.created"]).await;
    let rotated = api
        .post(
            &org.path(&format!("/webhooks/{}/rotate-secret", endpoint.id)),
            Some(&org.owner.token),
            json!({}),
        )
        .await
        .expect(200);
    let new_secret = rotated.body["secret"].as_str().unwrap();
    org.mcp(&api).await;
    let received = endpoint.receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        received[0].header("webhook-signature").split(' ').count(),
        2
    );
    verify_with_standard_webhooks(&[
        (endpoint.secret.as_str(), &received[0]),
        (new_secret, &received[0]),
    ]);
}

#[tokio::test]
async fn send_test_and_redeliver_go_through_the_signed_path() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let endpoint = subscribe(&api, &org, &["mcp.created"]).await;
    let base = org.path(&format!("/webhooks/{}", endpoint.id));
    for token in [&org.member.token, &org.viewer.token] {
        api.post(&format!("{base}/test"), Some(token), json!({}))
            .await
            .problem(403, "forbidden");
    }
    let queued = api
        .post(&format!("{base}/test"), Some(&org.admin.token), json!({}))
        .await
        .expect(202);
    let message_id = queued.body["message_id"].as_str().unwrap().to_owned();
    let received = endpoint.receiver.wait_for(1, Duration::from_secs(10)).await;
    let message = received[0].message();
    assert_eq!(message["id"], message_id.as_str());
    assert_eq!(message["event"], "webhook.test");
    assert_eq!(message["type"], "webhook.test");
    assert!(message["data"]["message"]
        .as_str()
        .unwrap()
        .contains("test"));
    verify_with_standard_webhooks(&[(endpoint.secret.as_str(), &received[0])]);

    // Wait for the log entry, then send that message again: same webhook-id.
    let deadline = Instant::now() + Duration::from_secs(5);
    let logged = loop {
        let log = deliveries(&api, &org, &endpoint).await;
        if let Some(first) = log.first() {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "no delivery logged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let redeliver = format!(
        "{base}/deliveries/{}/redeliver",
        logged["id"].as_str().unwrap()
    );
    api.post(&redeliver, Some(&org.member.token), json!({}))
        .await
        .problem(403, "forbidden");
    api.post(&redeliver, Some(&org.owner.token), json!({}))
        .await
        .expect(202);
    let again = endpoint.receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].header("webhook-id"), message_id.as_str());
    api.post(
        &format!("{base}/deliveries/dlv_01JDQX3Z8E6V4W2N9KQ5M7R1TA/redeliver"),
        Some(&org.owner.token),
        json!({}),
    )
    .await
    .problem(404, "not_found");

    // A disabled endpoint gets no test.
    api.patch(&base, &org.owner.token, json!({ "enabled": false }))
        .await
        .expect(200);
    api.post(&format!("{base}/test"), Some(&org.owner.token), json!({}))
        .await
        .problem(409, "webhook_disabled");
}

#[tokio::test]
async fn a_job_seen_twice_is_delivered_once() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["mcp.created"]).await;
    org.mcp(&api).await;
    let first = endpoint.receiver.wait_for(1, Duration::from_secs(10)).await;
    // The queue hands the same job over again (at-least-once delivery).
    let job = json!({
        "org_id": org.id,
        "endpoint_id": endpoint.id,
        "message_id": first[0].header("webhook-id"),
        "event": "mcp.created",
        "payload": first[0].body,
        "attempt": 1,
    });
    let stack = stack();
    stack
        .sqs()
        .await
        .send_message()
        .queue_url(stack.env("WEBHOOK_DELIVERIES_QUEUE_URL"))
        .message_body(job.to_string())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(endpoint.receiver.received().len(), 1, "no second request");
    assert_eq!(deliveries(&api, &org, &endpoint).await.len(), 1);
}

#[tokio::test]
async fn a_batch_holding_the_same_job_twice_sends_it_once() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["mcp.created"]).await;
    let message_id = new_message_id();
    let copy = job(&org, &endpoint, &message_id);
    enqueue_together(&[copy.clone(), copy]).await;
    endpoint.receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = endpoint.receiver.received();
    assert_eq!(received.len(), 1, "one request");
    assert_eq!(received[0].header("webhook-id"), message_id);
    assert_eq!(deliveries(&api, &org, &endpoint).await.len(), 1);
}

/// Another copy of a job logs its success between this batch's read and its commit: the
/// batch's transaction is cancelled by the delivered record's condition, and each success
/// is then committed on its own — the other job's log is kept, this copy's is not doubled.
#[tokio::test]
async fn a_success_logged_meanwhile_by_another_copy_is_not_logged_twice() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(&api, &org, &["mcp.created"]).await;
    let (first, second) = (new_message_id(), new_message_id());
    let pause = Pause::before_commit("webhook.delivered", &format!("ORG#{}", org.id)).await;
    enqueue_together(&[job(&org, &endpoint, &first), job(&org, &endpoint, &second)]).await;
    pause.reached().await;
    let stack = stack();
    // The other copy of the first job: its delivered record, as its commit writes it.
    stack
        .dynamodb()
        .await
        .put_item()
        .table_name(stack.table_name())
        .item("pk", AttributeValue::S(format!("ORG#{}", org.id)))
        .item(
            "sk",
            AttributeValue::S(format!("DELIVERED#{}#{first}", endpoint.id)),
        )
        .item(
            "delivered_at",
            AttributeValue::S(chrono::Utc::now().to_rfc3339()),
        )
        .send()
        .await
        .unwrap();
    pause.resume();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let logged = deliveries(&api, &org, &endpoint).await;
    let ids: Vec<&str> = logged
        .iter()
        .map(|d| d["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [second.as_str()],
        "only the second job's success is logged here"
    );
    // Neither job came back from the queue for a second request.
    assert_eq!(endpoint.receiver.received().len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_far_retry_waits_on_the_queue() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    // The stack's schedule retries after 1 s; the receiver asks for 2 s (within 2×).
    let endpoint = subscribe_to(
        &api,
        &org,
        &["mcp.created"],
        Receiver::scripted(vec![Reply::RetryAfter(429, 2)]).await,
    )
    .await;
    org.mcp(&api).await;
    let received = endpoint.receiver.wait_for(2, Duration::from_secs(15)).await;
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_millis(1900), "retried after {gap:?}");

    // A job due in 3 s (as a retry hours away is, in hops of at most 15 minutes) waits.
    let due = chrono::Utc::now() + chrono::Duration::seconds(3);
    let job = json!({
        "org_id": org.id,
        "endpoint_id": endpoint.id,
        "message_id": "msg_01JDQX3Z8E6V4W2N9KQ5M7R1TZ",
        "event": "mcp.created",
        "payload": received[0].body,
        "attempt": 2,
        "not_before": due.to_rfc3339(),
    });
    let stack = stack();
    stack
        .sqs()
        .await
        .send_message()
        .queue_url(stack.env("WEBHOOK_DELIVERIES_QUEUE_URL"))
        .message_body(job.to_string())
        .send()
        .await
        .unwrap();
    let all = endpoint.receiver.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[2].header("webhook-id"),
        "msg_01JDQX3Z8E6V4W2N9KQ5M7R1TZ"
    );
    let arrived = chrono::Utc::now() - chrono::Duration::from_std(all[2].at.elapsed()).unwrap();
    assert!(
        arrived >= due - chrono::Duration::milliseconds(1100),
        "sent before its time"
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_with_the_reason() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe_to(
        &api,
        &org,
        &["mcp.created"],
        Receiver::scripted(vec![Reply::Status(500)]).await,
    )
    .await;
    // Its deliveries have failed since six days ago (time the test controls).
    let since = chrono::Utc::now() - chrono::Duration::days(6);
    plexmcp_tests::set_attribute(
        &format!("ORG#{}", org.id),
        &format!("WEBHOOK#{}", endpoint.id),
        "failing_since",
        aws_sdk_dynamodb::types::AttributeValue::S(since.to_rfc3339()),
    )
    .await;
    org.mcp(&api).await;
    let disabled = wait_until_disabled(&api, &org, &endpoint).await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("every delivery failed since"),
        "{disabled}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        endpoint.receiver.received().len(),
        1,
        "no retry once disabled"
    );
    let log = deliveries(&api, &org, &endpoint).await;
    assert!(log[0]["next_attempt_at"].is_null());
}
