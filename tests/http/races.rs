//! Decisions are conditions of the write. The local emulator serves one request at a
//! time, so a check-then-act race never shows by itself: each test pauses a request
//! between its reads and its commit (the local gateway's test hook), changes what the
//! request decided on through the API, and lets it commit. The change in between always
//! advances the org's audit chain, so the paused commit first fails on the chain head and
//! is retried — the retry must still hold the decision, not act on the stale read.

use plexmcp_tests::{interleaved, items, stack, Api, OrgFixture, Resp};
use reqwest::Method;
use serde_json::{json, Value};

const PIN: &str = "840317";

async fn with_pin(api: &Api, method: Method, path: &str, token: &str, pin: &str) -> Resp {
    api.send(
        api.raw(method, path)
            .bearer_auth(token)
            .header("X-PlexMCP-PIN", pin),
    )
    .await
}

#[tokio::test]
async fn pin_protection_turned_on_meanwhile_stops_a_gated_action() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let mcp = org.mcp(&api).await;
    let path = org.path(&format!("/mcps/{mcp}"));
    let (request_api, request_path, token) = (api.clone(), path.clone(), org.admin.token.clone());
    let answer = interleaved(
        "mcp.deleted",
        &org,
        async move { request_api.delete(&request_path, &token).await },
        async { org.enable_pin(&api, PIN).await },
    )
    .await;
    answer.problem(409, "conflict");
    api.get(&path, &org.owner.token).await.expect(200);
    // With the PIN, as the org now requires, it goes through.
    with_pin(&api, Method::DELETE, &path, &org.admin.token, PIN)
        .await
        .expect(204);
}

#[tokio::test]
async fn a_pin_changed_meanwhile_does_not_let_the_old_one_through() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.enable_pin(&api, PIN).await;
    let mcp = org.mcp(&api).await;
    let path = org.path(&format!("/mcps/{mcp}"));
    let (request_api, request_path, token) = (api.clone(), path.clone(), org.owner.token.clone());
    let answer = interleaved(
        "mcp.deleted",
        &org,
        async move { with_pin(&request_api, Method::DELETE, &request_path, &token, PIN).await },
        async {
            api.send(
                api.raw(Method::PUT, &org.path("/security/pin"))
                    .bearer_auth(&org.owner.token)
                    .header("X-PlexMCP-PIN", PIN)
                    .json(&json!({ "pin": "505919", "pin_confirmation": "505919" })),
            )
            .await
            .expect(200);
        },
    )
    .await;
    answer.problem(409, "conflict");
    api.get(&path, &org.owner.token).await.expect(200);
}

#[tokio::test]
async fn a_member_promoted_to_owner_meanwhile_is_not_removed() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let target = org.path(&format!("/members/{}", org.admin.id));
    let (request_api, request_path, token) = (api.clone(), target.clone(), org.owner.token.clone());
    let answer = interleaved(
        "team.member_removed",
        &org,
        async move { request_api.delete(&request_path, &token).await },
        async {
            api.patch(&target, &org.owner.token, json!({ "role": "owner" }))
                .await
                .expect(200);
        },
    )
    .await;
    answer.problem(409, "conflict");
    let owners: Vec<_> = items(&format!("ORG#{}", org.id), "MEMBER#")
        .await
        .into_iter()
        .filter(|m| m["role"].as_s().unwrap() == "owner")
        .collect();
    assert_eq!(owners.len(), 2, "both owners are still members");
    let org_item = items(&format!("ORG#{}", org.id), "ORG").await;
    assert_eq!(org_item[0]["owner_count"].as_n().unwrap(), "2");
}

#[tokio::test]
async fn a_caller_demoted_meanwhile_cannot_commit() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (request_api, request_path, token) = (api.clone(), org.path(""), org.admin.token.clone());
    let answer = interleaved(
        "org.updated",
        &org,
        async move {
            request_api
                .patch(&request_path, &token, json!({ "name": "Admin was here" }))
                .await
        },
        async {
            api.patch(
                &org.path(&format!("/members/{}", org.admin.id)),
                &org.owner.token,
                json!({ "role": "viewer" }),
            )
            .await
            .expect(200);
        },
    )
    .await;
    answer.problem(409, "conflict");
    let now = api.get(&org.path(""), &org.owner.token).await.expect(200);
    assert_eq!(now.body["name"], "Fixture Org");
}

#[tokio::test]
async fn an_api_key_revoked_meanwhile_cannot_commit() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (key_id, key) = org.api_key(&api).await;
    let (request_api, request_path) = (api.clone(), org.path("/mcps"));
    let answer = interleaved(
        "mcp.created",
        &org,
        async move {
            request_api
                .post(
                    &request_path,
                    Some(&key),
                    json!({ "name": "Late", "url": "https://late.example.com" }),
                )
                .await
        },
        async {
            api.delete(&org.path(&format!("/api-keys/{key_id}")), &org.owner.token)
                .await
                .expect(204);
        },
    )
    .await;
    answer.problem(409, "conflict");
    assert!(items(&format!("ORG#{}", org.id), "MCP#").await.is_empty());
}

#[tokio::test]
async fn an_api_key_whose_creator_is_demoted_meanwhile_cannot_commit() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let key = api
        .post(
            &org.path("/api-keys"),
            Some(&org.member.token),
            json!({ "name": "member's key" }),
        )
        .await
        .expect(201)
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (request_api, request_path) = (api.clone(), org.path("/mcps"));
    let answer = interleaved(
        "mcp.created",
        &org,
        async move {
            request_api
                .post(
                    &request_path,
                    Some(&key),
                    json!({ "name": "Late", "url": "https://late.example.com" }),
                )
                .await
        },
        async {
            api.patch(
                &org.path(&format!("/members/{}", org.member.id)),
                &org.owner.token,
                json!({ "role": "viewer" }),
            )
            .await
            .expect(200);
        },
    )
    .await;
    answer.problem(409, "conflict");
    assert!(items(&format!("ORG#{}", org.id), "MCP#").await.is_empty());
}

fn webhook_body() -> serde_json::Value {
    json!({ "url": "http://127.0.0.1:9/hook", "events": ["mcp.created"] })
}

#[tokio::test]
async fn the_twentieth_webhook_cannot_be_created_twice() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let path = org.path("/webhooks");
    for _ in 0..19 {
        api.post(&path, Some(&org.owner.token), webhook_body())
            .await
            .expect(201);
    }
    let (request_api, request_path, token) = (api.clone(), path.clone(), org.owner.token.clone());
    let answer = interleaved(
        "webhook.created",
        &org,
        async move {
            request_api
                .post(&request_path, Some(&token), webhook_body())
                .await
        },
        async {
            api.post(&path, Some(&org.admin.token), webhook_body())
                .await
                .expect(201);
        },
    )
    .await;
    answer.problem(409, "conflict");
    assert_eq!(
        items(&format!("ORG#{}", org.id), "WEBHOOK#").await.len(),
        20
    );
}

#[tokio::test]
async fn a_webhook_change_does_not_undo_a_rotation_made_meanwhile() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let id = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            webhook_body(),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = org.path(&format!("/webhooks/{id}"));
    let (request_api, request_path, token) = (api.clone(), one.clone(), org.admin.token.clone());
    let answer = interleaved(
        "webhook.updated",
        &org,
        async move {
            request_api
                .patch(&request_path, &token, json!({ "enabled": false }))
                .await
        },
        async {
            api.post(
                &format!("{one}/rotate-secret"),
                Some(&org.owner.token),
                json!({}),
            )
            .await
            .expect(200);
        },
    )
    .await;
    answer.problem(409, "conflict");
    let stored = &items(&format!("ORG#{}", org.id), "WEBHOOK#").await[0];
    assert!(
        stored.contains_key("previous_secret"),
        "the rotation stands"
    );
    assert_eq!(
        api.get(&one, &org.owner.token).await.expect(200).body["enabled"],
        true
    );
}

/// The records the answer asks for, on the binary's DNS server (with `others`' tokens).
fn publish(answer: &Value, others: &[&Value]) {
    plexmcp_tests::dns::dns().publish(answer, others);
}

/// Two orgs on Pro, each with `domain` set; their PUT answers.
async fn both_set(api: &Api, domain: &str) -> [(OrgFixture, Value); 2] {
    [set_on_pro(api, domain).await, set_on_pro(api, domain).await]
}

async fn set_on_pro(api: &Api, domain: &str) -> (OrgFixture, Value) {
    let org = OrgFixture::create(api).await;
    org.set_plan(api, "pro").await;
    let answer = api
        .put(
            &org.path("/custom-domain"),
            &org.admin.token,
            json!({ "domain": domain }),
        )
        .await
        .expect(200)
        .body;
    (org, answer)
}

fn verify_later(api: &Api, org: &OrgFixture) -> impl std::future::Future<Output = Resp> {
    let (api, path, token) = (
        api.clone(),
        org.path("/custom-domain/verify"),
        org.admin.token.clone(),
    );
    async move { api.post(&path, Some(&token), json!({})).await }
}

async fn verified(api: &Api, org: &OrgFixture) {
    let answer = verify_later(api, org).await.expect(200).body;
    assert_eq!(answer["status"], "verified", "{answer}");
}

#[tokio::test]
async fn two_orgs_proving_a_name_at_once_only_the_first_gets_it() {
    let api = stack().api();
    let domain = format!("{}.example.com", plexmcp_tests::unique("race-"));
    let [(owner, won), (loser, lost)] = both_set(&api, &domain).await;
    publish(&won, &[&lost]);
    let answer = interleaved(
        "custom_domain.verified",
        &loser,
        verify_later(&api, &loser),
        verified(&api, &owner),
    )
    .await;
    answer.problem(409, "domain_taken");
    let read = api
        .get(&loser.path("/custom-domain"), &loser.admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(read["status"], "pending");
    assert_eq!(
        read["reason"],
        "another organization verified this domain first"
    );
    let read = api
        .get(&owner.path("/custom-domain"), &owner.admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(read["status"], "verified");
}

#[tokio::test]
async fn a_name_verified_by_another_org_meanwhile_is_not_set() {
    let api = stack().api();
    let domain = format!("{}.example.com", plexmcp_tests::unique("race-"));
    let late = OrgFixture::create(&api).await;
    late.set_plan(&api, "pro").await;
    let (request_api, path, token) = (
        api.clone(),
        late.path("/custom-domain"),
        late.admin.token.clone(),
    );
    let body = json!({ "domain": domain });
    let answer = interleaved(
        "custom_domain.added",
        &late,
        async move { request_api.put(&path, &token, body).await },
        async {
            let (owner, answer) = set_on_pro(&api, &domain).await;
            publish(&answer, &[]);
            verified(&api, &owner).await;
        },
    )
    .await;
    answer.problem(409, "domain_taken");
    api.get(&late.path("/custom-domain"), &late.admin.token)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn a_domain_replaced_meanwhile_is_not_verified_by_the_old_check() {
    let api = stack().api();
    let (org, other) = (
        OrgFixture::create(&api).await,
        OrgFixture::create(&api).await,
    );
    org.set_plan(&api, "pro").await;
    other.set_plan(&api, "pro").await;
    let path = org.path("/custom-domain");
    let first = format!("{}.example.com", plexmcp_tests::unique("race-"));
    let answer = api
        .put(&path, &org.admin.token, json!({ "domain": first }))
        .await
        .expect(200)
        .body;
    publish(&answer, &[]);
    let second = format!("{}.example.com", plexmcp_tests::unique("race-"));
    let (request_api, verify_path, token) = (
        api.clone(),
        org.path("/custom-domain/verify"),
        org.admin.token.clone(),
    );
    let answer = interleaved(
        "custom_domain.verified",
        &org,
        async move {
            request_api
                .post(&verify_path, Some(&token), json!({}))
                .await
        },
        async {
            api.put(&path, &org.owner.token, json!({ "domain": second }))
                .await
                .expect(200);
        },
    )
    .await;
    answer.problem(409, "conflict");
    let now = api.get(&path, &org.admin.token).await.expect(200).body;
    assert_eq!(now["domain"], second.as_str());
    assert_eq!(now["status"], "pending");
    // The first name is not the org's: another org proves it.
    let theirs = api
        .put(
            &other.path("/custom-domain"),
            &other.admin.token,
            json!({ "domain": first }),
        )
        .await
        .expect(200)
        .body;
    publish(&theirs, &[]);
    verified(&api, &other).await;
}

/// `If-Match` holds until the commit: a change made while the request waits between its
/// read (which matched) and its commit makes it 412. For each resource with a version,
/// the version as read is a condition of the write (the org's viewed attributes, the
/// MCP's `updated_at`, the member's role and membership, the plan's newest change, the
/// PIN's state), and the change made meanwhile is the one that stays.
#[tokio::test]
async fn a_version_changed_after_if_match_was_checked_is_412() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let mcp = format!("/mcps/{}", org.mcp(&api).await);
    let member = format!("/members/{}", org.member.id);
    let pins = |pin: &str| json!({ "pin": pin, "pin_confirmation": pin });
    for (read, method, write, action, mine, theirs) in [
        (
            "",
            Method::PATCH,
            "",
            "org.updated",
            json!({ "description": "Paused" }),
            json!({ "description": "Meanwhile" }),
        ),
        (
            &mcp,
            Method::PATCH,
            &mcp,
            "mcp.updated",
            json!({ "name": "Paused" }),
            json!({ "name": "Meanwhile" }),
        ),
        (
            &member,
            Method::PATCH,
            &member,
            "team.role_changed",
            json!({ "role": "viewer" }),
            json!({ "role": "admin" }),
        ),
        (
            "/billing",
            Method::PUT,
            "/billing",
            "billing.plan_changed",
            json!({ "plan": "pro" }),
            json!({ "plan": "team" }),
        ),
        (
            "/security",
            Method::PUT,
            "/security/pin",
            "security.pin_set",
            pins("840317"),
            pins("193755"),
        ),
    ] {
        let (read, write) = (org.path(read), org.path(write));
        let answer = api.get(&read, &org.owner.token).await.expect(200);
        let version = answer.headers["etag"].to_str().unwrap().to_owned();
        let request = api
            .raw(method.clone(), &write)
            .bearer_auth(&org.owner.token)
            .header("If-Match", version)
            .json(&mine);
        let request_api = api.clone();
        let answer = interleaved(
            action,
            &org,
            async move { request_api.send(request).await },
            async {
                api.call(
                    method.clone(),
                    &write,
                    Some(&org.admin.token),
                    Some(theirs.clone()),
                )
                .await
                .expect(200);
            },
        )
        .await;
        answer.problem(412, "precondition_failed");
        let now = api.get(&read, &org.owner.token).await.expect(200);
        for (field, value) in theirs.as_object().unwrap() {
            if let Some(shown) = now.body.get(field) {
                assert_eq!(shown, value, "{read}: {field}");
            }
        }
    }
}

/// A retry sent while the first request with its Idempotency-Key is still running is 409
/// (`idempotency_key_in_use`), and only the first acts.
#[tokio::test]
async fn a_retry_while_the_first_runs_is_409_and_only_the_first_acts() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let send = |api: Api, path: String, token: String| async move {
        api.send(
            api.raw(Method::POST, &path)
                .bearer_auth(token)
                .header("Idempotency-Key", "in-flight-1")
                .json(&json!({ "name": "Once", "url": "https://once.example.com/mcp" })),
        )
        .await
    };
    let (path, token) = (org.path("/mcps"), org.owner.token.clone());
    let first = interleaved(
        "mcp.created",
        &org,
        send(api.clone(), path.clone(), token.clone()),
        async {
            let retry = send(api.clone(), path.clone(), token.clone()).await;
            let retry = retry.problem(409, "idempotency_key_in_use");
            assert_eq!(retry.headers["retry-after"], "1");
        },
    )
    .await
    .expect(201);
    let replay = send(api.clone(), path.clone(), token.clone())
        .await
        .expect(201);
    assert_eq!(replay.body["id"], first.body["id"]);
    let list = api.get(&path, &token).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}
