//! The account, organization (PIN protection on) and MCP the warm workloads use, made by
//! the function binaries themselves through the Runtime API.

use crate::functions::{Fixture, PASSWORD, PIN};
use crate::Launcher;
use local_runtime::events::{http_request, http_response};
use local_runtime::{LocalStack, Outcome, RuntimeApi};
use serde_json::{json, Value};
use shared::aws::LazyDynamoDb;
use shared::store::Table;
use std::path::Path;

/// The stack's table, as the functions reach it (the bench's floors and checks).
pub fn table(stack: &LocalStack) -> Table {
    let client = crate::block_on(crate::export::dynamodb(stack));
    let name = stack.stack_file["env"]["TABLE_NAME"]
        .as_str()
        .expect("TABLE_NAME");
    Table::new(LazyDynamoDb::built(client), name.to_owned())
}

pub fn call(runtime: &RuntimeApi, request: Value, expect: u64) -> Value {
    let Outcome::Response(response) = runtime.invoke(&request) else {
        panic!("setup request failed: {request}")
    };
    let (status, body) = http_response(&response);
    assert_eq!(status, expect, "setup {}: {body}", request["rawPath"]);
    body
}

/// The token of the verification mail to `email`, from the local stack's mailbox (the mail
/// goes outbox → events queue → mail worker → the emulator's SES: a few seconds).
fn verification_token(base_url: &str, email: &str) -> String {
    crate::block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let mailbox: Value = client
                .get(format!("{base_url}/_local/mailbox"))
                .query(&[("to", email)])
                .send()
                .await
                .expect("the gateway answers")
                .json()
                .await
                .expect("the mailbox is JSON");
            let token = mailbox["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|mail| mail["token"].as_str());
            if let Some(token) = token {
                return token.to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no verification mail to {email} within 30 s")
    })
}

pub fn fixture(launcher: &Launcher, bin: &Path) -> Fixture {
    let stamp = chrono::Utc::now().timestamp_micros();
    let email = format!("bench-{stamp}@example.com");
    let slug = format!("bench-{stamp}");

    let runtime = RuntimeApi::start();
    let _identity = launcher.start(&bin.join("identity"), &runtime);
    let signup = json!({ "email": email, "password": PASSWORD, "name": "Bench" });
    call(
        &runtime,
        http_request("POST", "/v1/auth/signup", None, Some(&signup)),
        202,
    );
    let token = verification_token(&launcher.stack.base_url, &email);
    call(
        &runtime,
        http_request(
            "POST",
            "/v1/auth/verify-email",
            None,
            Some(&json!({ "token": token })),
        ),
        200,
    );
    let login = json!({ "email": email, "password": PASSWORD });
    let session = call(
        &runtime,
        http_request("POST", "/v1/auth/login", None, Some(&login)),
        200,
    );
    let token = session["token"]
        .as_str()
        .expect("a session token")
        .to_owned();

    let runtime = RuntimeApi::start();
    let _organization = launcher.start(&bin.join("organization"), &runtime);
    let auth = Some(token.as_str());
    let org = json!({ "name": "Bench Org", "slug": slug });
    let org = call(
        &runtime,
        http_request("POST", "/v1/orgs", auth, Some(&org)),
        201,
    );
    let pin = json!({ "pin": PIN, "pin_confirmation": PIN });
    let path = format!("/v1/orgs/{slug}");
    call(
        &runtime,
        http_request("PUT", &format!("{path}/security/pin"), auth, Some(&pin)),
        200,
    );
    let mcp = json!({ "name": "Weather API", "url": "https://weather.example.com/mcp" });
    let mcp = call(
        &runtime,
        http_request("POST", &format!("{path}/mcps"), auth, Some(&mcp)),
        201,
    );

    Fixture {
        token,
        email,
        slug,
        org_id: org["id"].as_str().expect("org id").to_owned(),
        mcp_id: mcp["id"].as_str().expect("mcp id").to_owned(),
    }
}
