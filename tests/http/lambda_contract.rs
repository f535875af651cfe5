//! The function binaries as Lambda runs them: started as real processes against a
//! Runtime API emulator, answering an API Gateway v2 HTTP event and an SQS event.

use local_runtime::events::{http_request, http_response, sqs_record};
use local_runtime::{FunctionProcess, Outcome, RuntimeApi};
use plexmcp_tests::{bin_dir, stack, unique};
use serde_json::{json, Value};

/// Starts `binary` as Lambda would, with the environment the template gives it.
fn start(binary: &str, runtime: &RuntimeApi) -> FunctionProcess {
    FunctionProcess::start(
        &bin_dir().join(binary),
        runtime,
        stack().function_env_of(binary),
    )
}

fn response(outcome: Outcome) -> (u64, Value) {
    let Outcome::Response(response) = outcome else {
        panic!("the function failed: {outcome:?}")
    };
    http_response(&response)
}

#[test]
fn http_functions_answer_api_gateway_v2_events() {
    let runtime = RuntimeApi::start();
    let _platform = start("platform", &runtime);
    let (status, body) = response(runtime.invoke(&http_request("GET", "/v1/health", None, None)));
    assert_eq!((status, body), (200, json!({ "status": "ok" })));
    let (status, body) = response(runtime.invoke(&http_request("GET", "/v1/nowhere", None, None)));
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // The request id is API Gateway's, from the event's request context.
    assert_eq!(body["request_id"], "local-request");

    let runtime = RuntimeApi::start();
    let _pages = start("settings-pages", &runtime);
    let Outcome::Response(page) = runtime.invoke(&http_request("GET", "/settings/", None, None))
    else {
        panic!("the settings pages failed")
    };
    assert_eq!(page["statusCode"], 200);
    assert!(page["headers"]["content-type"]
        .as_str()
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(page["body"].as_str().is_some_and(|b| b.contains("<html")));
    let (status, body) = response(runtime.invoke(&http_request(
        "GET",
        "/settings/assets/nothing.0000000000000000.js",
        None,
        None,
    )));
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    let runtime = RuntimeApi::start();
    let _identity = start("identity", &runtime);
    let email = format!("{}@example.com", unique("lambda-"));
    let signup = json!({ "email": email, "password": "correct horse battery", "name": "Lambda" });
    let (status, body) = response(runtime.invoke(&http_request(
        "POST",
        "/v1/auth/signup",
        None,
        Some(&signup),
    )));
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "verification_sent");
    let (status, body) = response(runtime.invoke(&http_request(
        "POST",
        "/v1/auth/login",
        None,
        Some(&json!({ "email": email, "password": "correct horse battery" })),
    )));
    assert_eq!(status, 200);
    // The session records the caller's address from the API Gateway request context.
    let token = body["token"].as_str().unwrap();
    let list = http_request("GET", "/v1/me/sessions", Some(token), None);
    let (status, body) = response(runtime.invoke(&list));
    assert_eq!(status, 200);
    assert_eq!(body["items"][0]["ip"], "203.0.113.9");
}

#[test]
fn the_event_worker_reports_only_the_failed_records() {
    let runtime = RuntimeApi::start();
    let _worker = start("event-dispatch", &runtime);
    let event = json!({
        "id": "msg_01JDQX3Z8E6V4W2N9KQ5M7R1TE", "event": "mcp.created", "timestamp": "2026-11-29T00:00:00Z",
        "organization_id": "org_01JDQX3Z8E6V4W2N9KQ5M7R1TF", "data": { "mcp_id": "mcp_1", "name": "Weather API" }
    });
    let batch = json!({ "Records": [
        sqs_record("good-1", &event.to_string()),
        sqs_record("bad-1", "this is not an event"),
        sqs_record("bad-2", &json!({ "event": "no.such_event" }).to_string()),
    ] });
    let Outcome::Response(response) = runtime.invoke(&batch) else {
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

    let Outcome::Response(all_good) =
        runtime.invoke(&json!({ "Records": [sqs_record("good-2", &event.to_string())] }))
    else {
        panic!()
    };
    assert_eq!(all_good["batchItemFailures"], json!([]));
}

/// Init builds clients and reads configuration, and talks to no AWS service, not even
/// Secrets Manager: the three functions given the data-key secret read it on the first
/// request that needs a key. With every AWS endpoint unreachable, each function still
/// starts and answers an event that needs no AWS call.
#[test]
fn functions_start_without_reaching_aws() {
    let stack = stack();
    let unreachable = format!("http://127.0.0.1:{}", plexmcp_tests::free_port());
    let mut env = stack.function_env();
    env.retain(|(key, _)| *key != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", &unreachable));
    env.retain(|(key, _)| *key != "DATA_KEY");
    assert!(
        env.iter().any(|(key, _)| *key == "DATA_KEY_SECRET_ARN"),
        "the keys are the secret's, as in AWS"
    );
    let cases = [
        (
            "platform",
            http_request("GET", "/v1/nowhere", None, None),
            404,
        ),
        (
            "settings-pages",
            http_request("GET", "/settings/", None, None),
            200,
        ),
        ("identity", http_request("GET", "/v1/me", None, None), 401),
        (
            "organization",
            http_request("GET", "/v1/orgs/x", None, None),
            401,
        ),
    ];
    for (binary, event, status) in cases {
        let runtime = RuntimeApi::start();
        let _function = FunctionProcess::start(&bin_dir().join(binary), &runtime, env.clone());
        assert_eq!(response(runtime.invoke(&event)).0, status, "{binary}");
    }
    let runtime = RuntimeApi::start();
    let _worker = FunctionProcess::start(&bin_dir().join("event-dispatch"), &runtime, env);
    let Outcome::Response(empty) = runtime.invoke(&json!({ "Records": [] })) else {
        panic!("the worker failed on an empty batch")
    };
    assert_eq!(empty["batchItemFailures"], json!([]));
}

/// The log lines a function writes in Lambda are Powertools-style JSON: each names the
/// invocation it belongs to (request id, X-Ray trace id) and whether it was the cold
/// start, and carries the event's own fields at the top level.
#[test]
fn log_lines_are_powertools_json_naming_their_invocation() {
    let runtime = RuntimeApi::start();
    let dir = plexmcp_tests::repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.log", unique("event-dispatch-")));
    let log = std::fs::File::create(&path).unwrap();
    let _worker = FunctionProcess::start_logging_to(
        &bin_dir().join("event-dispatch"),
        &runtime,
        stack().function_env(),
        Some(&log),
    );
    let batch = json!({ "Records": [sqs_record("bad-1", "this is not an event")] });
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let id = runtime.submit(&batch);
            runtime.wait(&id);
            id
        })
        .collect();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|l: &Value| l["message"] == "queue message not done; the queue gives it back")
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, (id, cold)) in lines.iter().zip([(&ids[0], true), (&ids[1], false)]) {
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["service"], "event-dispatch");
        assert_eq!(line["function_name"], "event-dispatch");
        assert_eq!(line["function_request_id"], id.as_str());
        assert_eq!(line["cold_start"], cold);
        assert!(
            line["xray_trace_id"]
                .as_str()
                .unwrap()
                .starts_with("Root=1-"),
            "{line}"
        );
        assert_eq!(line["message_id"], "bad-1");
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}

/// Rotating the data keys as an operator does: the secret gains a new key under a new
/// id and makes it current. Functions started after the rotation read the new ring (on
/// their first request that needs it) and still open the TOTP secret and check the PIN made under the old key; a ring
/// without the old key (given directly in `DATA_KEY`) no longer checks its PIN.
#[test]
fn after_a_data_key_rotation_what_the_old_key_made_still_works() {
    use plexmcp_tests::fixtures::PASSWORD;
    use plexmcp_tests::{authenticator_code, OrgFixture};
    const PIN: &str = "840317";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = stack().api();
    let secret_arn = stack().env("DATA_KEY_SECRET_ARN");
    // Made under the stack's key: a PIN, and the owner's TOTP secret; then the rotation.
    let (org, mcps, uri, old_id, rotated) = runtime.block_on(async {
        let org = OrgFixture::create(&api).await;
        let mcps = [org.mcp(&api).await, org.mcp(&api).await];
        org.enable_pin(&api, PIN).await;
        let uri = org.owner.enable_two_factor(&api).await.otpauth_uri;
        let secrets = stack().secrets_manager().await;
        let ring = secrets
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await
            .unwrap();
        let mut ring: serde_json::Map<String, Value> =
            serde_json::from_str(ring.secret_string().unwrap()).unwrap();
        let old_id = ring["current"].as_str().unwrap().to_owned();
        ring.insert(
            "k-next".into(),
            json!(unique("a-new-key-of-enough-length-")),
        );
        ring.insert("current".into(), json!("k-next"));
        secrets
            .put_secret_value()
            .secret_id(&secret_arn)
            .secret_string(Value::Object(ring.clone()).to_string())
            .send()
            .await
            .unwrap();
        (org, mcps, uri, old_id, ring)
    });
    let start_with = |binary: &str, runtime: &RuntimeApi, data_key: Option<&str>| {
        let mut env = stack().function_env();
        if let Some(ring) = data_key {
            env.push(("DATA_KEY", ring));
        }
        FunctionProcess::start(&bin_dir().join(binary), runtime, env)
    };
    let gated_delete = |mcp: &str| {
        let mut event = http_request(
            "DELETE",
            &format!("/v1/orgs/{}/mcps/{mcp}", org.slug),
            Some(&org.owner.token),
            None,
        );
        event["headers"]["x-plexmcp-pin"] = json!(PIN);
        event
    };

    let organization = RuntimeApi::start();
    let _org_fn = start_with("organization", &organization, None);
    let (status, body) = response(organization.invoke(&gated_delete(&mcps[0])));
    assert_eq!(status, 204, "the PIN set under the old key: {body}");

    let identity = RuntimeApi::start();
    let _identity_fn = start_with("identity", &identity, None);
    let login = json!({ "email": org.owner.email, "password": PASSWORD });
    let (status, body) =
        response(identity.invoke(&http_request("POST", "/v1/auth/login", None, Some(&login))));
    assert_eq!(status, 200, "{body}");
    let second = json!({
        "challenge_token": body["challenge_token"],
        "code": authenticator_code(&uri, 30),
    });
    let (status, body) = response(identity.invoke(&http_request(
        "POST",
        "/v1/auth/login/2fa",
        None,
        Some(&second),
    )));
    assert_eq!(
        status, 200,
        "the TOTP secret sealed under the old key: {body}"
    );

    let mut retired = rotated;
    retired.remove(&old_id);
    let retired = Value::Object(retired).to_string();
    let organization = RuntimeApi::start();
    let _org_fn = start_with("organization", &organization, Some(&retired));
    let (status, body) = response(organization.invoke(&gated_delete(&mcps[1])));
    assert_eq!(status, 500, "the old key left the ring: {body}");
}
