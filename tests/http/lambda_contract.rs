//! The function binaries as Lambda runs them: started as real processes against a
//! Runtime API emulator, answering an API Gateway v2 HTTP event and an SQS event.

use plexmcp_tests::runtime_api::{Outcome, RuntimeApi};
use plexmcp_tests::{bin_dir, die_with_parent, stack, unique};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// Starts `binary` as Lambda would, with the environment the template gives it.
fn start(binary: &str, runtime: &RuntimeApi) -> Function {
    let stack = stack();
    let mut command = Command::new(bin_dir().join(binary));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "contract")
        .env("AWS_ENDPOINT_URL", &stack.aws_endpoint)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (key, value) in stack.stack_file["env"].as_object().unwrap() {
        command.env(key, value.as_str().unwrap());
    }
    die_with_parent(&mut command);
    Function(command.spawn().expect("function binary starts"))
}

fn http_event(method: &str, path: &str, body: Option<Value>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "content-type": "application/json", "user-agent": "contract-test" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "contract-test" },
            "requestId": unique("r-"), "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000", "timeEpochMs": 1796000000000u64
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

fn response(outcome: Outcome) -> (u64, Value) {
    let Outcome::Response(response) = outcome else {
        panic!("the function failed: {outcome:?}")
    };
    let body = response["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap())
        .unwrap_or(Value::Null);
    (response["statusCode"].as_u64().unwrap(), body)
}

#[tokio::test]
async fn http_functions_answer_api_gateway_v2_events() {
    let runtime = RuntimeApi::start().await;
    let _platform = start("platform", &runtime);
    let (status, body) = response(runtime.invoke(http_event("GET", "/v1/health", None)).await);
    assert_eq!((status, body), (200, json!({ "status": "ok" })));
    let (status, body) = response(runtime.invoke(http_event("GET", "/v1/nowhere", None)).await);
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    let runtime = RuntimeApi::start().await;
    let _identity = start("identity", &runtime);
    let email = format!("{}@example.com", unique("lambda-"));
    let signup = json!({ "email": email, "password": "correct horse battery", "name": "Lambda" });
    let (status, body) = response(
        runtime
            .invoke(http_event("POST", "/v1/auth/signup", Some(signup)))
            .await,
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], email.as_str());
    let (status, body) = response(
        runtime
            .invoke(http_event(
                "POST",
                "/v1/auth/login",
                Some(json!({ "email": email, "password": "correct horse battery" })),
            ))
            .await,
    );
    assert_eq!(status, 200);
    // The session records the caller's address from the API Gateway request context.
    let token = body["token"].as_str().unwrap();
    let mut list = http_event("GET", "/v1/me/sessions", None);
    list["headers"]["authorization"] = json!(format!("Bearer {token}"));
    let (status, body) = response(runtime.invoke(list).await);
    assert_eq!(status, 200);
    assert_eq!(body["items"][0]["ip"], "203.0.113.9");
}

#[tokio::test]
async fn the_event_worker_reports_only_the_failed_records() {
    let runtime = RuntimeApi::start().await;
    let _worker = start("event-dispatch", &runtime);
    let record = |id: &str, body: String| {
        json!({
            "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
            "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": "1796000000000", "SenderId": "x", "ApproximateFirstReceiveTimestamp": "1796000000000" },
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:EventsQueue", "awsRegion": "us-east-1"
        })
    };
    let event = json!({
        "id": "msg_01JDQX3Z8E6V4W2N9KQ5M7R1TE", "event": "mcp.created", "timestamp": "2026-11-29T00:00:00Z",
        "organization_id": "org_01JDQX3Z8E6V4W2N9KQ5M7R1TF", "data": { "mcp_id": "mcp_1", "name": "Weather API" }
    });
    let batch = json!({ "Records": [
        record("good-1", event.to_string()),
        record("bad-1", "this is not an event".into()),
        record("bad-2", json!({ "event": "no.such_event" }).to_string()),
    ] });
    let Outcome::Response(response) = runtime.invoke(batch).await else {
        panic!("the worker failed")
    };
    let mut failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    failed.sort();
    assert_eq!(failed, ["bad-1", "bad-2"]);

    let Outcome::Response(all_good) = runtime
        .invoke(json!({ "Records": [record("good-2", event.to_string())] }))
        .await
    else {
        panic!()
    };
    assert_eq!(all_good["batchItemFailures"], json!([]));
}
