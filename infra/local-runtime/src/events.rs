//! The events Lambda hands our functions, shaped as AWS sends them.

use serde_json::{json, Value};

/// An API Gateway HTTP API (payload v2) request.
pub fn http_request(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Value {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = json!({ "content-type": "application/json", "user-agent": "local-runtime" });
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "local-runtime" },
            "requestId": "local-request", "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000", "timeEpochMs": 1796000000000u64
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

/// One record of an SQS batch.
pub fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
        "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": "1796000000000", "SenderId": "x", "ApproximateFirstReceiveTimestamp": "1796000000000" },
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:EventsQueue", "awsRegion": "us-east-1"
    })
}

/// An EventBridge scheduled event.
pub fn scheduled() -> Value {
    json!({
        "version": "0", "id": "local-schedule", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-29T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/local"], "detail": {}
    })
}

/// The status and JSON body of an API Gateway response.
pub fn http_response(response: &Value) -> (u64, Value) {
    let body = response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (response["statusCode"].as_u64().unwrap_or(0), body)
}
