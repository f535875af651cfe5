//! PIN protection (Settings → Security) and the four actions it guards: deleting an MCP,
//! revoking an API key, removing a team member and changing the billing plan.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use plexmcp_tests::{audit_chain, set_attribute, stack, Account, Api, OrgFixture, Resp};
use reqwest::Method;
use serde_json::json;

const PIN: &str = "840317";
const WRONG: &str = "271828";

async fn with_pin(
    api: &Api,
    method: Method,
    path: &str,
    token: &str,
    pin: Option<&str>,
    body: Option<serde_json::Value>,
) -> Resp {
    let mut request = api.raw(method, path).bearer_auth(token);
    if let Some(pin) = pin {
        request = request.header("X-PlexMCP-PIN", pin);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    api.send(request).await
}

/// One gated action: prepares a fresh target, performs the action, and tells whether it took effect.
#[derive(Clone, Copy, Debug)]
enum Gated {
    DeleteMcp,
    RevokeApiKey,
    RemoveMember,
    ChangePlan,
}

impl Gated {
    const ALL: [Gated; 4] = [
        Gated::DeleteMcp,
        Gated::RevokeApiKey,
        Gated::RemoveMember,
        Gated::ChangePlan,
    ];

    /// Returns (method, path, body) for a fresh target.
    async fn prepare(
        self,
        api: &Api,
        org: &OrgFixture,
    ) -> (Method, String, Option<serde_json::Value>) {
        match self {
            Gated::DeleteMcp => (
                Method::DELETE,
                org.path(&format!("/mcps/{}", org.mcp(api).await)),
                None,
            ),
            Gated::RevokeApiKey => (
                Method::DELETE,
                org.path(&format!("/api-keys/{}", org.api_key(api).await.0)),
                None,
            ),
            Gated::RemoveMember => {
                let someone = Account::create(api).await;
                org.add(api, &someone, "viewer").await;
                (
                    Method::DELETE,
                    org.path(&format!("/members/{}", someone.id)),
                    None,
                )
            }
            Gated::ChangePlan => {
                let current = api.get(&org.path("/billing"), &org.owner.token).await.body["plan"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let next = if current == "pro" { "team" } else { "pro" };
                (
                    Method::PUT,
                    org.path("/billing"),
                    Some(json!({ "plan": next })),
                )
            }
        }
    }

    /// Whether the target of `path` still is as it was.
    async fn unchanged(
        self,
        api: &Api,
        org: &OrgFixture,
        path: &str,
        body: &Option<serde_json::Value>,
    ) -> bool {
        match self {
            Gated::DeleteMcp => api.get(path, &org.owner.token).await.status == 200,
            Gated::RevokeApiKey => {
                let id = path.rsplit('/').next().unwrap();
                let keys = api
                    .get(&org.path("/api-keys?limit=200"), &org.owner.token)
                    .await
                    .body;
                keys["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["id"] == id)
            }
            Gated::RemoveMember => {
                let id = path.rsplit('/').next().unwrap();
                let members = api
                    .get(&org.path("/members?limit=200"), &org.owner.token)
                    .await
                    .body;
                members["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["user_id"] == id)
            }
            Gated::ChangePlan => {
                api.get(&org.path("/billing"), &org.owner.token).await.body["plan"]
                    != body.as_ref().unwrap()["plan"]
            }
        }
    }
}

#[tokio::test]
async fn with_pin_protection_off_gated_actions_need_no_pin() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    for action in Gated::ALL {
        let (method, path, body) = action.prepare(&api, &org).await;
        let resp = with_pin(&api, method, &path, &org.admin.token, None, body.clone()).await;
        assert!(
            resp.status == 204 || resp.status == 200,
            "{action:?}: {}",
            resp.body
        );
        assert!(
            !action.unchanged(&api, &org, &path, &body).await,
            "{action:?} took effect"
        );
    }
}

#[tokio::test]
async fn every_gated_action_needs_the_right_pin_and_nothing_changes_without_it() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.enable_pin(&api, PIN).await;
    for action in Gated::ALL {
        let (method, path, body) = action.prepare(&api, &org).await;
        let missing = with_pin(
            &api,
            method.clone(),
            &path,
            &org.admin.token,
            None,
            body.clone(),
        )
        .await
        .problem(403, "pin_required");
        assert!(missing.body.get("attempts_remaining").is_none());
        assert!(
            action.unchanged(&api, &org, &path, &body).await,
            "{action:?} without PIN changed something"
        );
        let wrong = with_pin(
            &api,
            method.clone(),
            &path,
            &org.admin.token,
            Some(WRONG),
            body.clone(),
        )
        .await
        .problem(403, "pin_invalid");
        assert_eq!(wrong.body["attempts_remaining"], 4, "{action:?}");
        assert!(
            action.unchanged(&api, &org, &path, &body).await,
            "{action:?} with a wrong PIN changed something"
        );
        // The right PIN works, and resets the count of wrong ones.
        let done = with_pin(
            &api,
            method.clone(),
            &path,
            &org.admin.token,
            Some(PIN),
            body.clone(),
        )
        .await;
        assert!(
            done.status == 204 || done.status == 200,
            "{action:?}: {}",
            done.body
        );
        // Three round trips: the credential; the org, read by the write that reserves the
        // PIN attempt, beside the target; the transaction (beside it, changing the plan
        // reads the history it answers with). Four calls.
        let (calls, scans) = done.dynamodb_calls();
        let trips = done.dynamodb_round_trips();
        assert!(
            trips <= 3 && calls <= 4 && scans == 0,
            "{action:?} with a PIN made {calls} DynamoDB calls in {trips} round trips"
        );
        assert!(
            !action.unchanged(&api, &org, &path, &body).await,
            "{action:?} took effect"
        );
    }
    // Members cannot do any of them, PIN or not.
    let (method, path, body) = Gated::DeleteMcp.prepare(&api, &org).await;
    with_pin(&api, method, &path, &org.member.token, Some(PIN), body)
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn five_wrong_pins_lock_every_gated_action_for_fifteen_minutes() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.enable_pin(&api, PIN).await;
    let (method, path, body) = Gated::DeleteMcp.prepare(&api, &org).await;
    for remaining in (0..5).rev() {
        let wrong = with_pin(
            &api,
            method.clone(),
            &path,
            &org.owner.token,
            Some(WRONG),
            body.clone(),
        )
        .await
        .problem(403, "pin_invalid");
        assert_eq!(wrong.body["attempts_remaining"], remaining);
    }
    for action in Gated::ALL {
        let (method, path, body) = action.prepare(&api, &org).await;
        let locked = with_pin(
            &api,
            method,
            &path,
            &org.admin.token,
            Some(PIN),
            body.clone(),
        )
        .await
        .problem(423, "pin_locked");
        let retry = locked.body["retry_after"].as_u64().unwrap();
        assert!((800..=900).contains(&retry), "{retry}");
        assert!(
            action.unchanged(&api, &org, &path, &body).await,
            "{action:?} changed while locked"
        );
    }
    // The lock is on the PIN itself too.
    with_pin(
        &api,
        Method::DELETE,
        &org.path("/security/pin"),
        &org.owner.token,
        Some(PIN),
        None,
    )
    .await
    .problem(423, "pin_locked");

    // After the window, the right PIN works and resets the count. (The time as the table
    // keeps it; the login and 2FA tests write the older RFC 3339 form, still read.)
    let past =
        (Utc::now() - Duration::minutes(16)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    set_attribute(
        &format!("ORG#{}", org.id),
        "ORG",
        "pin_failures_at",
        AttributeValue::S(past),
    )
    .await;
    with_pin(
        &api,
        method.clone(),
        &path,
        &org.owner.token,
        Some(PIN),
        body.clone(),
    )
    .await
    .expect(204);
    let (method, path, body) = Gated::DeleteMcp.prepare(&api, &org).await;
    let wrong = with_pin(&api, method, &path, &org.owner.token, Some(WRONG), body)
        .await
        .problem(403, "pin_invalid");
    assert_eq!(wrong.body["attempts_remaining"], 4);

    let actions: Vec<String> = audit_chain(&format!("ORG#{}", org.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions
            .iter()
            .filter(|a| *a == "security.pin_failed")
            .count()
            >= 5,
        "{actions:?}"
    );
    assert!(
        actions.contains(&"security.pin_locked".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn twenty_parallel_wrong_pins_get_at_most_five_checked() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.enable_pin(&api, PIN).await;
    let (method, path, body) = Gated::DeleteMcp.prepare(&api, &org).await;
    let guesses = (0..20).map(|i| {
        with_pin(
            &api,
            method.clone(),
            &path,
            &org.owner.token,
            Some(["111112", "202021", "303032", "404043"][i % 4]),
            body.clone(),
        )
    });
    let results = futures::future::join_all(guesses).await;
    let checked = results.iter().filter(|r| r.status == 403).count();
    let locked = results.iter().filter(|r| r.status == 423).count();
    assert!(checked <= 5, "{checked} wrong PINs were checked");
    assert_eq!(checked + locked, 20);
    assert!(Gated::DeleteMcp.unchanged(&api, &org, &path, &body).await);
}

#[tokio::test]
async fn setting_changing_and_disabling_the_pin() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let security = api
        .get(&org.path("/security"), &org.viewer.token)
        .await
        .expect(200);
    assert_eq!(
        security.body,
        json!({ "pin_protection_enabled": false, "pin_set_at": null })
    );
    let put = |token: String, pin: Option<&'static str>, body: serde_json::Value| {
        let api = api.clone();
        let path = org.path("/security/pin");
        async move { with_pin(&api, Method::PUT, &path, &token, pin, Some(body)).await }
    };
    for bad in [
        json!({ "pin": "123456", "pin_confirmation": "123456" }),
        json!({ "pin": "000000", "pin_confirmation": "000000" }),
        json!({ "pin": "84031", "pin_confirmation": "84031" }),
        json!({ "pin": PIN, "pin_confirmation": "840318" }),
        json!({ "pin": PIN }),
    ] {
        put(org.owner.token.clone(), None, bad)
            .await
            .problem(422, "validation_failed");
    }
    put(
        org.member.token.clone(),
        None,
        json!({ "pin": PIN, "pin_confirmation": PIN }),
    )
    .await
    .problem(403, "forbidden");
    let (_, key) = org.api_key(&api).await;
    put(
        key.clone(),
        None,
        json!({ "pin": PIN, "pin_confirmation": PIN }),
    )
    .await
    .problem(403, "forbidden");

    let on = put(
        org.admin.token.clone(),
        None,
        json!({ "pin": PIN, "pin_confirmation": PIN }),
    )
    .await
    .expect(200);
    assert_eq!(on.body["pin_protection_enabled"], true);
    assert!(on.body["pin_set_at"].is_string());
    assert_eq!(
        api.get(&org.path(""), &org.viewer.token).await.body["pin_protection_enabled"],
        true
    );

    // Changing needs the current PIN.
    put(
        org.owner.token.clone(),
        None,
        json!({ "pin": "505919", "pin_confirmation": "505919" }),
    )
    .await
    .problem(403, "pin_required");
    put(
        org.owner.token.clone(),
        Some(WRONG),
        json!({ "pin": "505919", "pin_confirmation": "505919" }),
    )
    .await
    .problem(403, "pin_invalid");
    put(
        org.owner.token.clone(),
        Some(PIN),
        json!({ "pin": "505919", "pin_confirmation": "505919" }),
    )
    .await
    .expect(200);
    let (method, path, body) = Gated::DeleteMcp.prepare(&api, &org).await;
    with_pin(
        &api,
        method.clone(),
        &path,
        &org.owner.token,
        Some(PIN),
        body.clone(),
    )
    .await
    .problem(403, "pin_invalid");

    // Disabling needs it too; an API key cannot.
    with_pin(
        &api,
        Method::DELETE,
        &org.path("/security/pin"),
        &key,
        Some("505919"),
        None,
    )
    .await
    .problem(403, "forbidden");
    with_pin(
        &api,
        Method::DELETE,
        &org.path("/security/pin"),
        &org.owner.token,
        None,
        None,
    )
    .await
    .problem(403, "pin_required");
    with_pin(
        &api,
        Method::DELETE,
        &org.path("/security/pin"),
        &org.owner.token,
        Some("505919"),
        None,
    )
    .await
    .expect(204);
    with_pin(
        &api,
        Method::DELETE,
        &org.path("/security/pin"),
        &org.owner.token,
        Some("505919"),
        None,
    )
    .await
    .problem(409, "pin_not_enabled");
    with_pin(&api, method, &path, &org.owner.token, None, body)
        .await
        .expect(204);

    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "security.pin_set",
        "security.pin_changed",
        "security.pin_failed",
        "security.pin_disabled",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let text = serde_json::to_string(&audit).unwrap();
    assert!(
        !text.contains(PIN) && !text.contains("505919"),
        "no PIN in the audit log"
    );
}

#[tokio::test]
async fn correct_pins_never_add_up_to_a_lock_even_when_the_action_is_a_no_op() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.enable_pin(&api, PIN).await;
    // The plan is already `free`: six no-op changes, each with the right PIN.
    for _ in 0..6 {
        let resp = with_pin(
            &api,
            Method::PUT,
            &org.path("/billing"),
            &org.owner.token,
            Some(PIN),
            Some(json!({ "plan": "free" })),
        )
        .await
        .expect(200);
        assert_eq!(resp.body["plan"], "free");
    }
    let wrong = with_pin(
        &api,
        Method::PUT,
        &org.path("/billing"),
        &org.owner.token,
        Some(WRONG),
        Some(json!({ "plan": "pro" })),
    )
    .await
    .problem(403, "pin_invalid");
    assert_eq!(wrong.body["attempts_remaining"], 4);
}

/// The PIN attempt is reserved with the read of the org, before the request knows whether
/// the action can go ahead: a PIN presented to an action that is then refused for
/// another reason, or that needs no PIN, spends no attempt.
#[tokio::test]
async fn a_pin_spends_no_attempt_on_an_action_refused_for_another_reason() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let wrong_pin_left =
        |resp: Resp| resp.problem(403, "pin_invalid").body["attempts_remaining"].clone();
    // PIN protection off: a wrong PIN is ignored, and nothing is counted.
    for _ in 0..6 {
        let path = org.path(&format!("/mcps/{}", org.mcp(&api).await));
        with_pin(
            &api,
            Method::DELETE,
            &path,
            &org.admin.token,
            Some(WRONG),
            None,
        )
        .await
        .expect(204);
    }
    org.enable_pin(&api, PIN).await;
    let gone = org.path(&format!("/mcps/{}", org.mcp(&api).await));
    with_pin(
        &api,
        Method::DELETE,
        &gone,
        &org.admin.token,
        Some(PIN),
        None,
    )
    .await
    .expect(204);
    // The right PIN on an MCP that is gone: 404, and the attempt is given back.
    for _ in 0..6 {
        with_pin(
            &api,
            Method::DELETE,
            &gone,
            &org.admin.token,
            Some(PIN),
            None,
        )
        .await
        .problem(404, "not_found");
    }
    // A body the server refuses is refused before any attempt is reserved.
    for _ in 0..6 {
        with_pin(
            &api,
            Method::PUT,
            &org.path("/security/pin"),
            &org.owner.token,
            Some(WRONG),
            Some(json!({ "pin": "12", "pin_confirmation": "12" })),
        )
        .await
        .problem(422, "validation_failed");
    }
    // Leaving needs no PIN: one sent along spends nothing.
    let leaver = Account::create(&api).await;
    org.add(&api, &leaver, "viewer").await;
    let leave = org.path(&format!("/members/{}", leaver.id));
    with_pin(
        &api,
        Method::DELETE,
        &leave,
        &leaver.token,
        Some(WRONG),
        None,
    )
    .await
    .expect(200);
    // A member, who may not delete MCPs, spends nothing either.
    for _ in 0..6 {
        with_pin(
            &api,
            Method::DELETE,
            &gone,
            &org.member.token,
            Some(WRONG),
            None,
        )
        .await
        .problem(403, "forbidden");
    }
    let first_wrong = with_pin(
        &api,
        Method::DELETE,
        &gone,
        &org.admin.token,
        Some(WRONG),
        None,
    )
    .await;
    assert_eq!(wrong_pin_left(first_wrong), 4);
}
