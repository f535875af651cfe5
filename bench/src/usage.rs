//! Usage records against the local stack: `BENCH_USAGE_RECORDS` (default 200) concurrent
//! `POST …/usage` with the org's API key, as a gateway would send them, next to the same
//! number of bare concurrent `UpdateItem ADD`s on one item (the least a record costs: its
//! monthly counter is one hot item). The totals must come out exact.

use crate::functions::Fixture;
use aws_sdk_dynamodb::types::AttributeValue;
use local_runtime::LocalStack;
use serde_json::{json, Value};
use std::time::Instant;

pub struct UsageRun {
    pub records: usize,
    pub seconds: f64,
    pub bare_seconds: f64,
    /// The day's and the month's totals equal what was sent, and the bare counter too.
    pub exact: bool,
}

const REQUESTS: u64 = 3;
const TOKENS: u64 = 7;

/// One request through the local stack; it must answer `expect`.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<&Value>,
    expect: u16,
) -> Value {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, expect, "{body}");
    body
}

pub fn measure(stack: &LocalStack, fixture: &Fixture, records: usize) -> UsageRun {
    use reqwest::Method;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let slug = format!("{}-usage", fixture.slug);
        let org = format!("{}/v1/orgs/{slug}", stack.base_url);
        let owner = fixture.token.as_str();
        // An org of its own on an unlimited plan: no threshold event in the figures.
        let new_org = json!({ "name": "Bench Usage", "slug": slug });
        let orgs = format!("{}/v1/orgs", stack.base_url);
        call(&http, Method::POST, orgs, owner, Some(&new_org), 201).await;
        let plan = json!({ "plan": "enterprise" });
        call(
            &http,
            Method::PUT,
            format!("{org}/billing"),
            owner,
            Some(&plan),
            200,
        )
        .await;
        let mcp = json!({ "name": "Bench", "url": "https://bench.example.com" });
        let mcp = call(
            &http,
            Method::POST,
            format!("{org}/mcps"),
            owner,
            Some(&mcp),
            201,
        )
        .await;
        let key = json!({ "name": "gateway" });
        let key = call(
            &http,
            Method::POST,
            format!("{org}/api-keys"),
            owner,
            Some(&key),
            201,
        )
        .await;
        let (mcp, key) = (mcp["id"].as_str().unwrap(), key["key"].as_str().unwrap());

        let record = json!({ "mcp_id": mcp, "requests": REQUESTS, "tokens": TOKENS });
        let started = Instant::now();
        let answers = futures::future::join_all((0..records).map(|_| {
            call(
                &http,
                Method::POST,
                format!("{org}/usage"),
                key,
                Some(&record),
                200,
            )
        }))
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let mut month_requests: Vec<u64> = answers
            .iter()
            .map(|answer| answer["month_requests"].as_u64().unwrap())
            .collect();
        month_requests.sort_unstable();
        let sent = records as u64 * REQUESTS;
        let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let report = format!("{org}/usage?from={day}&to={day}");
        let report = call(&http, Method::GET, report, owner, None, 200).await;
        let today = &report["items"][0];
        // Each record saw the month's counter at a different value: ADD is atomic.
        let every_count_once = month_requests
            == (1..=records as u64)
                .map(|n| n * REQUESTS)
                .collect::<Vec<_>>();
        let mut exact = every_count_once
            && today["requests"] == json!(sent)
            && today["tokens"] == json!(records as u64 * TOKENS);

        let db = crate::export::dynamodb(stack).await;
        let table = stack.stack_file["env"]["TABLE_NAME"]
            .as_str()
            .expect("TABLE_NAME");
        let counter = [
            (
                "pk".to_owned(),
                AttributeValue::S(format!("BENCH#USAGE#{slug}")),
            ),
            ("sk".to_owned(), AttributeValue::S("COUNTER".into())),
        ];
        let add = || {
            db.update_item()
                .table_name(table)
                .set_key(Some(counter.clone().into()))
                .update_expression("ADD requests :r")
                .expression_attribute_values(":r", AttributeValue::N(REQUESTS.to_string()))
                .send()
        };
        let started = Instant::now();
        let bare = futures::future::join_all((0..records).map(|_| add())).await;
        let bare_seconds = started.elapsed().as_secs_f64();
        assert!(bare.iter().all(Result::is_ok), "bare UpdateItems answered");
        let total = db
            .get_item()
            .table_name(table)
            .set_key(Some(counter.clone().into()))
            .consistent_read(true)
            .send()
            .await
            .expect("the bare counter");
        exact &= total
            .item()
            .and_then(|i| i.get("requests"))
            .and_then(|v| v.as_n().ok())
            == Some(&sent.to_string());
        UsageRun {
            records,
            seconds,
            bare_seconds,
            exact,
        }
    })
}
