//! The functions of `template.yaml` and the baseline, and what the bench sends each.

use local_runtime::events::{http_request, scheduled, sqs_record};
use serde_json::{json, Value};

/// The bare `lambda_runtime` function every figure is compared with.
pub const BASELINE: &str = "hello-world";

/// Every function binary of the template (`BuildProperties: { Binary: … }`), as
/// `make package` reads them: a new function is measured without editing the bench.
pub fn functions(template: &str) -> Vec<String> {
    template
        .lines()
        .filter_map(|line| line.split("BuildProperties: { Binary: ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Functions whose requests may hash with argon2 (passwords, PINs, backup codes).
pub fn hashes(function: &str) -> bool {
    matches!(function, "identity" | "organization")
}

/// The first event of a cold start, and what it is. Chosen to need no network I/O where
/// the function allows it, so that the figure is init plus one dispatch; the sweeper has
/// no such event (each run is 16 queries of the outbox index).
pub fn cold_event(function: &str) -> (Value, &'static str) {
    match function {
        "platform" => (
            http_request("GET", "/v1/nowhere", None, None),
            "GET unknown path → 404",
        ),
        "settings-pages" => (
            http_request("GET", "/settings/", None, None),
            "GET /settings/ → 200 (HTML)",
        ),
        "identity" => (
            http_request("GET", "/v1/me", None, None),
            "GET /v1/me unauthenticated → 401",
        ),
        "organization" => (
            http_request("GET", "/v1/orgs/bench", None, None),
            "GET /v1/orgs/{slug} unauthenticated → 401",
        ),
        "event-dispatch" | "webhook-delivery" | "domain-check" | "data-export" | "org-deletion"
        | "mail" => (json!({ "Records": [] }), "empty SQS batch"),
        "outbox-sweeper" => (
            scheduled(),
            "schedule → 16 concurrent Queries, one a shard (emulator)",
        ),
        _ => (scheduled(), "any event"),
    }
}

/// Functions whose every invocation waits on the table, so that their first answer is
/// mostly the emulator's work (the same, warm): their cold start is judged on init, as
/// AWS's Init Duration, with everything such a run needs built there.
pub fn judged_on_init(function: &str) -> bool {
    function == "outbox-sweeper"
}

/// What a warm function serves, 1,000 times over: requests that touch the table.
#[derive(Clone)]
pub struct Fixture {
    pub token: String,
    pub email: String,
    pub slug: String,
    pub org_id: String,
    pub mcp_id: String,
}

pub const PASSWORD: &str = "correct horse battery staple";
pub const PIN: &str = "840317";

/// The `n`th warm invocation of `function`, and a description of the mix.
pub fn warm_event(function: &str, fixture: &Fixture, n: usize) -> Value {
    let token = Some(fixture.token.as_str());
    let org = format!("/v1/orgs/{}", fixture.slug);
    match function {
        "platform" if n.is_multiple_of(2) => http_request("GET", "/v1/health", None, None),
        "platform" => http_request("GET", "/v1/openapi.json", None, None),
        "settings-pages" if n.is_multiple_of(2) => http_request("GET", "/settings/", None, None),
        "settings-pages" => http_request("GET", "/settings/webhooks", None, None),
        "identity" if n.is_multiple_of(2) => http_request("GET", "/v1/me", token, None),
        "identity" => http_request("GET", "/v1/me/sessions", token, None),
        "organization" => match n % 3 {
            0 => http_request("GET", &org, token, None),
            1 => http_request("GET", &format!("{org}/mcps"), token, None),
            _ => http_request("GET", &format!("{org}/security"), token, None),
        },
        "event-dispatch" => {
            let event = json!({
                "id": format!("msg_BENCH{n:021}"), "event": "mcp.updated",
                "timestamp": "2026-11-29T00:00:00Z", "organization_id": fixture.org_id,
                "data": { "mcp_id": fixture.mcp_id }
            });
            json!({ "Records": [sqs_record(&format!("m-{n}"), &event.to_string())] })
        }
        "webhook-delivery" => {
            let job = json!({
                "org_id": fixture.org_id, "endpoint_id": "wh_BENCH0000000000000000000000",
                "message_id": format!("msg_BENCH{n:021}"), "event": "mcp.updated",
                "payload": "{}", "attempt": 1
            });
            json!({ "Records": [sqs_record(&format!("m-{n}"), &job.to_string())] })
        }
        "domain-check" => {
            let job = json!({ "org_id": fixture.org_id, "token": format!("gone-{n}"), "check": 0 });
            json!({ "Records": [sqs_record(&format!("m-{n}"), &job.to_string())] })
        }
        "data-export" => {
            let job = json!({
                "id": format!("msg_BENCH{n:021}"), "organization_id": fixture.org_id,
                "timestamp": "2026-11-29T00:00:00Z", "export_id": format!("exp_BENCH{n:021}")
            });
            json!({ "Records": [sqs_record(&format!("m-{n}"), &job.to_string())] })
        }
        "org-deletion" => {
            let message = json!({
                "id": format!("msg_BENCH{n:021}"), "organization_id": fixture.org_id,
                "timestamp": "2026-11-29T00:00:00Z", "deleted_by": "usr_BENCH"
            });
            json!({ "Records": [sqs_record(&format!("m-{n}"), &message.to_string())] })
        }
        "mail" => {
            // One message, sent by the first invocation: the rest find it sent (one read).
            let mail = json!({
                "id": "msg_BENCH000000000000000000000", "owner": format!("ORG#{}", fixture.org_id),
                "to": "bench@example.com", "subject": "Bench", "text": "Bench", "html": "<p>Bench</p>",
                "timestamp": "2026-11-29T00:00:00Z"
            });
            json!({ "Records": [sqs_record(&format!("m-{n}"), &mail.to_string())] })
        }
        _ => scheduled(),
    }
}

pub fn warm_mix(function: &str) -> &'static str {
    match function {
        "platform" => "health / openapi.json",
        "settings-pages" => "/settings/ / a deep link",
        "identity" => "GET me / sessions",
        "organization" => "GET org / mcps / security",
        "event-dispatch" => "1-record batch, no endpoints",
        "webhook-delivery" => "1-record batch, endpoint gone (one read)",
        "domain-check" => "1-record batch, domain gone (one read)",
        "data-export" => "1-record batch, job gone (one read)",
        "org-deletion" => "1-record batch, org not being deleted (one read)",
        "mail" => "1-record batch, message sent already (one read)",
        "outbox-sweeper" => "schedule",
        _ => "any event",
    }
}

/// One invocation that hashes: a password login, or a (wrong) PIN on a gated delete.
pub fn hashing_event(function: &str, fixture: &Fixture) -> Value {
    match function {
        "identity" => http_request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({ "email": fixture.email, "password": PASSWORD })),
        ),
        _ => {
            let mut event = http_request(
                "DELETE",
                &format!("/v1/orgs/{}/mcps/{}", fixture.slug, fixture.mcp_id),
                Some(&fixture.token),
                None,
            );
            event["headers"]["x-plexmcp-pin"] = json!("271828");
            event
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_binaries_of_the_template() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
                .unwrap();
        let functions = super::functions(&template);
        assert!(functions.len() >= 5, "{functions:?}");
        assert!(functions.iter().any(|f| f == "identity"));
    }
}
