//! Property test of the whole router: arbitrary paths, queries, headers and bodies, aimed
//! at every operation of the OpenAPI document with a valid session (and an API key of the
//! org), never get a 5xx, and every 4xx is an RFC 9457 problem (but API Gateway's own
//! refusal of a call without an IAM signature on the gateway's routes).
//!
//! The run is bounded (`FUZZ_CASES`, default 1,500 requests) and reproducible: the seed
//! is printed, and `FUZZ_SEED` replays it.

use plexmcp_tests::{stack, Api, OrgFixture, Resp};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};

const HOSTILE: &[&str] = &[
    "",
    "%FF",
    "%C0%AF",
    "..",
    "%2e%2e%2f",
    "-262143-01-01",
    "+262142-12-31",
    "9999999999999999999999",
    "-1",
    "0",
    "null",
    "%00",
    "usr_01JDQX3Z8E6V4W2N9KQ5M7R1TA",
    "mcp_01JDQX3Z8E6V4W2N9KQ5M7R1TA",
    "key_01JDQX3Z8E6V4W2N9KQ5M7R1TA",
    "inv_01JDQX3Z8E6V4W2N9KQ5M7R1TA",
    "ses_01JDQX3Z8E6V4W2N9KQ5M7R1TA",
    "%E2%80%AE",
    "a%20b",
    "%F0%9F%92%A9",
];

fn junk_string(rng: &mut StdRng) -> String {
    match rng.gen_range(0..5) {
        0 => HOSTILE.choose(rng).unwrap().to_string(),
        1 => (0..rng.gen_range(0..40))
            .map(|_| rng.gen_range(0x20u8..0x7f) as char)
            .collect(),
        2 => "x".repeat(rng.gen_range(0..5000)),
        3 => (0..rng.gen_range(0..20))
            .map(|_| char::from_u32(rng.gen_range(0x80..0x2FFFF)).unwrap_or('\u{FFFD}'))
            .collect(),
        _ => [
            "2026-01-01",
            "2000-01-01",
            "pro",
            "owner",
            "840317",
            "https://x.example.com",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
    }
}

fn junk_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen::<f64>() * 1e300),
        4 | 5 => json!(junk_string(rng)),
        6 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| junk_value(rng, depth + 1))
                .collect(),
        ),
        _ => junk_object(rng, &[], depth + 1),
    }
}

/// An object with some of the fields the routes know, each of any type.
fn junk_object(rng: &mut StdRng, fields: &[String], depth: u32) -> Value {
    let known = [
        "name",
        "slug",
        "description",
        "email",
        "password",
        "role",
        "pin",
        "pin_confirmation",
        "url",
        "transport",
        "config",
        "status",
        "plan",
        "mcp_id",
        "requests",
        "tokens",
        "code",
        "backup_code",
        "challenge_token",
    ];
    let mut object = serde_json::Map::new();
    for _ in 0..rng.gen_range(0..6) {
        let field = if !fields.is_empty() && rng.gen_bool(0.7) {
            fields.choose(rng).unwrap().clone()
        } else {
            known.choose(rng).unwrap().to_string()
        };
        object.insert(field, junk_value(rng, depth));
    }
    Value::Object(object)
}

/// Request-body property names of an operation, from the document.
fn body_fields(spec: &Value, operation: &Value) -> Vec<String> {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let resolved = match schema["$ref"].as_str() {
        Some(r) => spec
            .pointer(&r.replace("#/", "/"))
            .cloned()
            .unwrap_or(Value::Null),
        None => schema.clone(),
    };
    resolved["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn fill_path(template: &str, org: &OrgFixture, rng: &mut StdRng) -> String {
    let mut out = String::new();
    for segment in template.split('/').skip(1) {
        out.push('/');
        if segment.starts_with('{') {
            if segment == "{slug}" && rng.gen_bool(0.7) {
                out.push_str(&org.slug);
            } else {
                let raw = junk_string(rng);
                let keep_raw = HOSTILE.contains(&raw.as_str());
                out.push_str(&if keep_raw { raw } else { urlencode(&raw) });
            }
        } else {
            out.push_str(segment);
        }
    }
    out
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn junk_query(rng: &mut StdRng) -> String {
    let keys = ["limit", "cursor", "from", "to", "x", "limit[]", "cursor"];
    (0..rng.gen_range(0..4))
        .map(|_| {
            let value = junk_string(rng);
            let value = if HOSTILE.contains(&value.as_str()) {
                value
            } else {
                urlencode(&value)
            };
            format!("{}={value}", keys.choose(rng).unwrap())
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn check(resp: &Resp, what: &str) {
    assert!(resp.status < 500, "{what}: {} {}", resp.status, resp.body);
    if resp.status >= 400 {
        assert!(
            resp.content_type().starts_with("application/problem+json"),
            "{what}: {} answered {}",
            resp.status,
            resp.content_type()
        );
        assert_eq!(resp.body["status"], resp.status, "{what}: {}", resp.body);
        assert!(resp.body["code"].is_string(), "{what}: {}", resp.body);
    }
}

#[tokio::test]
async fn arbitrary_requests_to_every_route_are_never_5xx_and_every_4xx_is_a_problem() {
    let api: Api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (_, key) = org.api_key(&api).await;
    let spec = api
        .get("/v1/openapi.json", &org.owner.token)
        .await
        .expect(200)
        .body;
    let operations: Vec<(Method, String, Value)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .filter_map(move |(method, op)| {
                    let method = Method::from_bytes(method.to_uppercase().as_bytes()).ok()?;
                    Some((method, path.clone(), op.clone()))
                })
        })
        .collect();
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    let cases: usize = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_500);
    println!(
        "fuzz seed {seed} ({cases} cases over {} operations)",
        operations.len()
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let tokens = [
        org.owner.token.clone(),
        org.viewer.token.clone(),
        key.clone(),
    ];
    for case in 0..cases {
        let (method, template, operation) = &operations[case % operations.len()];
        let mut path = fill_path(template, &org, &mut rng);
        let query = junk_query(&mut rng);
        if !query.is_empty() {
            path = format!("{path}?{query}");
        }
        let mut request = api.raw(method.clone(), &path);
        if rng.gen_bool(0.9) {
            request = request.bearer_auth(tokens.choose(&mut rng).unwrap());
        }
        if rng.gen_bool(0.3) {
            request = request.header(
                "X-PlexMCP-PIN",
                junk_string(&mut rng).replace(['\r', '\n'], ""),
            );
        }
        let fields = body_fields(&spec, operation);
        request = match rng.gen_range(0..5) {
            0 => request,
            1 => request.header("content-type", "application/json").body(
                (0..rng.gen_range(0..64))
                    .map(|_| rng.gen::<u8>())
                    .collect::<Vec<u8>>(),
            ),
            2 => request
                .header("content-type", "text/plain")
                .body(junk_string(&mut rng)),
            _ => request.json(&junk_object(&mut rng, &fields, 0)),
        };
        let resp = api.send(request).await;
        let what = format!("seed {seed} case {case}: {method} {path}");
        // The gateway's own routes (`iam`) are refused by API Gateway, in its own words.
        let iam = operation["security"]
            .as_array()
            .is_some_and(|all| all.iter().any(|s| s.get("iam").is_some()));
        if iam && resp.status == 403 {
            assert_eq!(resp.body, json!({ "message": "Forbidden" }), "{what}");
            continue;
        }
        check(&resp, &what);
    }
}
