//! Billing (the plan and its history) and usage (daily totals and the monthly
//! thresholds that emit `usage.threshold` once each).

use plexmcp_tests::events::{outbox_drains, subscribe, Endpoint};
use plexmcp_tests::{audit_chain, items, stack, Api, OrgFixture, Resp};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_plan_and_its_history() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let billing = api
        .get(&org.path("/billing"), &org.viewer.token)
        .await
        .expect(200);
    assert_eq!(
        billing.body,
        json!({ "plan": "free", "monthly_request_limit": 1000, "history": [] })
    );
    let billing = org.path("/billing");
    api.put(&billing, &org.member.token, json!({ "plan": "pro" }))
        .await
        .problem(403, "forbidden");
    api.put(&billing, &org.owner.token, json!({ "plan": "platinum" }))
        .await
        .problem(422, "validation_failed");
    let pro = api
        .put(&billing, &org.admin.token, json!({ "plan": "pro" }))
        .await
        .expect(200);
    assert_eq!(
        (
            pro.body["plan"].as_str(),
            pro.body["monthly_request_limit"].as_u64()
        ),
        (Some("pro"), Some(50_000))
    );
    let enterprise = api
        .put(&billing, &org.owner.token, json!({ "plan": "enterprise" }))
        .await
        .expect(200);
    assert_eq!(enterprise.body["monthly_request_limit"], json!(null));
    let history = enterprise.body["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[0]["from"].as_str(), history[0]["to"].as_str()),
        (Some("pro"), Some("enterprise")),
        "newest first"
    );
    assert_eq!(history[1]["changed_by"], org.admin.id.as_str());
    assert_eq!(
        api.get(&org.path(""), &org.viewer.token).await.body["plan"],
        "enterprise"
    );
    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e["action"] == "billing.plan_changed")
            .count(),
        2
    );
}

#[tokio::test]
async fn usage_is_counted_per_day_and_validated() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let mcp = org.mcp(&api).await;
    let (_, key) = org.api_key(&api).await;
    for (requests, tokens) in [(3, 100), (4, 50)] {
        api.post(
            &org.path("/usage"),
            Some(&key),
            json!({ "mcp_id": mcp, "requests": requests, "tokens": tokens }),
        )
        .await
        .expect(200);
    }
    let today = chrono::Utc::now().date_naive().to_string();
    let report = api
        .get(
            &org.path(&format!("/usage?from={today}&to={today}")),
            &org.viewer.token,
        )
        .await
        .expect(200);
    assert_eq!(
        report.body,
        json!({ "items": [{ "date": today, "requests": 7, "tokens": 150 }], "total_requests": 7, "total_tokens": 150 })
    );
    let month = api
        .get(&org.path("/usage"), &org.viewer.token)
        .await
        .expect(200);
    assert_eq!(month.body["items"].as_array().unwrap().len(), 30);
    assert_eq!(month.body["total_requests"], 7);

    for bad in [
        json!({ "mcp_id": mcp, "requests": 0, "tokens": 0 }),
        json!({ "mcp_id": "mcp_nope", "requests": 1, "tokens": 0 }),
        json!({ "mcp_id": "mcp_01JDQX3Z8E6V4W2N9KQ5M7R1TH", "requests": 1, "tokens": 0 }),
        json!({ "mcp_id": mcp, "requests": -1, "tokens": 0 }),
    ] {
        api.post(&org.path("/usage"), Some(&key), bad)
            .await
            .problem(422, "validation_failed");
    }
    api.post(
        &org.path("/usage"),
        Some(&org.viewer.token),
        json!({ "mcp_id": mcp, "requests": 1, "tokens": 0 }),
    )
    .await
    .problem(403, "forbidden");
    for bad in [
        "from=yesterday",
        "from=2026-02-30",
        "from=2026-03-01&to=2026-02-01",
        "from=2024-01-01&to=2026-01-01",
    ] {
        api.get(&org.path(&format!("/usage?{bad}")), &org.owner.token)
            .await
            .problem(400, "invalid_query");
    }
}

#[tokio::test]
async fn each_threshold_is_announced_once_even_under_fifty_concurrent_records() {
    let api = stack().api();
    let (org, mcp, key, endpoint) = subscribed_to_thresholds(&api).await;
    // The free plan allows 1,000 requests a month: 50 records of 25 cross 50, 75, 90 and 100 %.
    let path = org.path("/usage");
    let records = (0..50).map(|_| {
        api.post(
            &path,
            Some(&key),
            json!({ "mcp_id": mcp, "requests": 25, "tokens": 10 }),
        )
    });
    let results = futures::future::join_all(records).await;
    assert!(
        results.iter().all(|r| r.status == 200),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(crossed(&results), [50, 75, 90, 100]);
    // More usage this month announces nothing more.
    api.post(
        &path,
        Some(&key),
        json!({ "mcp_id": mcp, "requests": 500, "tokens": 0 }),
    )
    .await
    .expect(200);

    let jobs = announced_once(&endpoint, &org).await;
    assert!(jobs
        .iter()
        .all(|j| j["data"]["limit"] == 1000 && j["data"]["plan"] == "free"));
    assert_eq!(
        items(&format!("ORG#{}", org.id), "USAGETHRESHOLD#")
            .await
            .len(),
        4
    );
    let today = chrono::Utc::now().date_naive().to_string();
    let report = api
        .get(
            &org.path(&format!("/usage?from={today}&to={today}")),
            &org.owner.token,
        )
        .await
        .expect(200);
    assert_eq!(report.body["total_requests"], 1750);
}

/// An org on the free plan (1,000 requests a month) with an MCP, an API key, and an
/// endpoint subscribed to `usage.threshold` (after the outbox emptied of its setup).
async fn subscribed_to_thresholds(api: &Api) -> (OrgFixture, String, String, Endpoint) {
    let org = OrgFixture::create(api).await;
    let mcp = org.mcp(api).await;
    let (_, key) = org.api_key(api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(api, &org, &["usage.threshold"]).await;
    (org, mcp, key, endpoint)
}

/// Every threshold the answers say they crossed, in order.
fn crossed(answers: &[Resp]) -> Vec<u64> {
    let mut crossed: Vec<u64> = answers
        .iter()
        .flat_map(|r| r.body["thresholds_crossed"].as_array().unwrap().clone())
        .map(|t| t.as_u64().unwrap())
        .collect();
    crossed.sort();
    crossed
}

/// The four thresholds arrive at `endpoint`, each once (and nothing more once the
/// outbox is empty): their jobs.
async fn announced_once(endpoint: &Endpoint, org: &OrgFixture) -> Vec<serde_json::Value> {
    let jobs = endpoint.messages(4, Duration::from_secs(20)).await;
    let mut announced: Vec<u64> = jobs
        .iter()
        .map(|j| j["data"]["threshold_percent"].as_u64().unwrap())
        .collect();
    announced.sort();
    assert_eq!(announced, [50, 75, 90, 100]);
    outbox_drains(&org.id).await;
    assert_eq!(endpoint.messages(5, Duration::from_secs(1)).await.len(), 4);
    jobs
}

/// The records of a batch, `records` of (mcp, requests, tokens).
fn batch(records: &[(&str, u64, u64)]) -> serde_json::Value {
    let records: Vec<_> = records
        .iter()
        .map(|(mcp, requests, tokens)| json!({ "mcp_id": mcp, "requests": requests, "tokens": tokens }))
        .collect();
    json!({ "records": records })
}

#[tokio::test]
async fn a_batch_is_counted_whole_with_one_write_per_mcp_or_not_at_all() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let weather = org.mcp(&api).await;
    let search = org.mcp(&api).await;
    let (_, key) = org.api_key(&api).await;
    // One single record first: the key's first use writes its last_used_at.
    let one = json!({ "mcp_id": weather, "requests": 1, "tokens": 1 });
    api.post(&org.path("/usage"), Some(&key), one)
        .await
        .expect(200);

    let mut records: Vec<(&str, u64, u64)> = (0..60).map(|_| (weather.as_str(), 2, 5)).collect();
    records.extend((0..40).map(|_| (search.as_str(), 3, 7)));
    let counted = api
        .post(&org.path("/usage/batch"), Some(&key), batch(&records))
        .await
        .expect(200);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(counted.body["records"], 100);
    assert_eq!(counted.body["requests"], 60 * 2 + 40 * 3);
    assert_eq!(counted.body["tokens"], 60 * 5 + 40 * 7);
    assert_eq!(counted.body["month_requests"], 1 + 240);
    assert_eq!(counted.body["date"], today.as_str());
    assert_eq!(counted.body["monthly_request_limit"], 1000);
    assert_eq!(counted.body["thresholds_crossed"], json!([]));
    // The key and its pointer, the org, its MCPs; then each MCP's day and the month, side
    // by side: the cost of one record, for a hundred.
    assert_eq!(
        counted.dynamodb_round_trips(),
        3,
        "{:?}",
        counted.dynamodb_calls()
    );
    assert_eq!(counted.dynamodb_calls(), (5, 0));

    let report = org.path(&format!("/usage?from={today}&to={today}"));
    let totals = json!({ "items": [{ "date": today, "requests": 241, "tokens": 581 }], "total_requests": 241, "total_tokens": 581 });
    assert_eq!(
        api.get(&report, &org.viewer.token).await.expect(200).body,
        totals
    );

    // A bad record counts none of the batch, and says which it is.
    let unknown = "mcp_01JDQX3Z8E6V4W2N9KQ5M7R1TH";
    for (bad, field) in [
        (json!({ "records": [] }), "records"),
        (batch(&vec![(weather.as_str(), 1, 0); 101]), "records"),
        (
            batch(&[(&weather, 1, 0), (&weather, 0, 0)]),
            "records[1].requests",
        ),
        (
            batch(&[(&weather, 1, 0), ("mcp_nope", 1, 0)]),
            "records[1].mcp_id",
        ),
        (batch(&[(&weather, 1, 2_000_000_000)]), "records[0].tokens"),
        (
            batch(&[(&search, 1, 0), (unknown, 1, 0)]),
            "records[1].mcp_id",
        ),
    ] {
        let refused = api
            .post(&org.path("/usage/batch"), Some(&key), bad)
            .await
            .problem(422, "validation_failed");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{}",
            refused.body
        );
    }
    api.post(
        &org.path("/usage/batch"),
        Some(&key),
        json!({ "records": [{ "mcp_id": weather, "requests": 1, "tokens": 0, "cost": 3 }] }),
    )
    .await
    .problem(422, "validation_failed");
    api.post(
        &org.path("/usage/batch"),
        Some(&org.viewer.token),
        batch(&[(&weather, 1, 0)]),
    )
    .await
    .problem(403, "forbidden");
    let other = OrgFixture::create(&api).await;
    api.post(
        &other.path("/usage/batch"),
        Some(&key),
        batch(&[(&weather, 1, 0)]),
    )
    .await
    .problem(404, "not_found");
    assert_eq!(
        api.get(&report, &org.viewer.token).await.expect(200).body,
        totals
    );
}

#[tokio::test]
async fn each_threshold_is_announced_once_across_concurrent_batches() {
    let api = stack().api();
    let (org, mcp, key, endpoint) = subscribed_to_thresholds(&api).await;
    // 8 batches of 25 records of 5 requests: 1,000, the free plan's month.
    let records = vec![(mcp.as_str(), 5, 1); 25];
    let path = org.path("/usage/batch");
    let batches = (0..8).map(|_| api.post(&path, Some(&key), batch(&records)));
    let results = futures::future::join_all(batches).await;
    assert!(results.iter().all(|r| r.status == 200));
    let mut totals: Vec<u64> = results
        .iter()
        .map(|r| r.body["month_requests"].as_u64().unwrap())
        .collect();
    totals.sort();
    assert_eq!(totals, (1..=8).map(|n| n * 125).collect::<Vec<_>>());
    assert_eq!(crossed(&results), [50, 75, 90, 100]);
    announced_once(&endpoint, &org).await;
}
