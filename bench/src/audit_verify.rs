//! The audit-log chain check: time and DynamoDB calls of `GET …/audit-logs/verify` over an
//! org with `BENCH_AUDIT_ENTRIES` (default 1,000) entries written through the gateway,
//! stated per 1,000 entries.

use crate::functions::Fixture;
use serde_json::{json, Value};
use shared::http::layers::ROUND_TRIPS_HEADER;
use std::time::Instant;

pub struct VerifyCost {
    pub entries: u64,
    pub ms: f64,
    pub dynamodb_calls: u64,
}

pub fn measure(base_url: &str, fixture: &Fixture, entries: usize) -> VerifyCost {
    crate::block_on(async {
        let client = reqwest::Client::new();
        let send = |method: reqwest::Method, path: String, body: Option<Value>| {
            let mut request = client
                .request(method, format!("{base_url}{path}"))
                .bearer_auth(&fixture.token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            async move {
                let response = request.send().await.expect("the gateway answers");
                let status = response.status();
                let calls = response
                    .headers()
                    .get(ROUND_TRIPS_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(';').next()?.parse::<u64>().ok())
                    .unwrap_or(0);
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert!(status.is_success(), "{path}: {status} {body}");
                (body, calls)
            }
        };
        let slug = format!("{}-audit", fixture.slug);
        let org = format!("/v1/orgs/{slug}");
        send(
            reqwest::Method::POST,
            "/v1/orgs".into(),
            Some(json!({ "name": "Bench Audit", "slug": slug })),
        )
        .await;
        send(
            reqwest::Method::PUT,
            format!("{org}/billing"),
            Some(json!({ "plan": "pro" })),
        )
        .await;
        for i in 0..entries {
            send(
                reqwest::Method::PATCH,
                org.clone(),
                Some(json!({ "description": format!("v{i}") })),
            )
            .await;
        }
        let mut samples = Vec::new();
        let mut last = (Value::Null, 0);
        for _ in 0..5 {
            let started = Instant::now();
            last = send(
                reqwest::Method::GET,
                format!("{org}/audit-logs/verify"),
                None,
            )
            .await;
            samples.push(started.elapsed());
        }
        let (verification, calls) = last;
        assert_eq!(verification["valid"], true, "{verification}");
        samples.sort();
        VerifyCost {
            entries: verification["checked"].as_u64().unwrap_or(0),
            ms: samples[samples.len() / 2].as_secs_f64() * 1e3,
            dynamodb_calls: calls,
        }
    })
}
