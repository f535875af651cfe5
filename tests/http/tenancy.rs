//! Tenant isolation over every org-scoped route: another org's people get 404 (never a
//! hint that the org or object exists), lower roles get 403, and nothing changes.

use plexmcp_tests::{stack, Api, OrgFixture, Resp, TwoOrgs};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, PartialOrd, Debug)]
enum Least {
    Viewer,
    Member,
    Admin,
    Owner,
}

struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    least: Least,
}

fn route(method: Method, path: String, body: Option<Value>, least: Least) -> Route {
    Route {
        method,
        path,
        body,
        least,
    }
}

/// Every org-scoped route of the OpenAPI document, aimed at real objects of `org` (a
/// member to act on, an MCP, an API key, …), with its entry of the matrix.
async fn routes(api: &Api, org: &OrgFixture) -> Vec<Route> {
    let target = &org.admin.id;
    let mcp = org.mcp(api).await;
    let (key, _) = org.api_key(api).await;
    let invitation = api
        .post(
            &org.path("/members"),
            Some(&org.owner.token),
            json!({ "email": format!("{}@example.com", plexmcp_tests::unique("inv-")), "role": "viewer" }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["mcp.created"] }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let delivery = a_logged_delivery(api, org, &webhook).await;
    // A custom domain to read (the Pro plan has them).
    org.set_plan(api, "pro").await;
    let domain = |label: &str| format!("{}.example.com", plexmcp_tests::unique(label));
    api.put(
        &org.path("/custom-domain"),
        &org.owner.token,
        json!({ "domain": domain("tenancy-") }),
    )
    .await
    .expect(200);
    let export = api
        .post(
            &org.path("/exports"),
            Some(&org.owner.token),
            json!({ "format": "json", "include": ["members"] }),
        )
        .await
        .expect(202)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Finished before any snapshot is taken: a job that ends meanwhile is not a change.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api
        .get(&org.path(&format!("/exports/{export}")), &org.owner.token)
        .await
        .expect(200)
        .body["status"]
        != "ready"
    {
        assert!(std::time::Instant::now() < deadline, "export not ready");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let probe_domain = domain("probe-");
    let objects = [
        ("{user_id}", target.as_str()),
        ("{mcp_id}", mcp.as_str()),
        ("{key_id}", key.as_str()),
        ("{invitation_id}", invitation.as_str()),
        ("{webhook_id}", webhook.as_str()),
        ("{delivery_id}", delivery.as_str()),
        ("{export_id}", export.as_str()),
    ];
    let mut matrix = matrix(&probe_domain, &mcp);
    let document = api
        .call(Method::GET, "/v1/openapi.json", None, None)
        .await
        .expect(200)
        .body;
    let mut routes = Vec::new();
    let mut missing = Vec::new();
    for (template, operations) in document["paths"].as_object().unwrap() {
        let Some(rest) = template.strip_prefix("/v1/orgs/{slug}") else {
            continue;
        };
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            let Some((least, body)) = matrix.remove(id) else {
                missing.push(id.to_owned());
                continue;
            };
            let path = objects
                .iter()
                .fold(rest.to_owned(), |path, (name, id)| path.replace(name, id));
            assert!(!path.contains('{'), "{id}: no object for {path}");
            routes.push(route(
                method.to_uppercase().parse().unwrap(),
                path,
                body,
                least,
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "org routes of the OpenAPI document without a matrix entry: {missing:?}"
    );
    assert!(
        matrix.is_empty(),
        "matrix entries the document does not have: {:?}",
        matrix.keys()
    );
    routes
}

/// Who may call each org-scoped operation (design.md's matrix), and what a caller sends,
/// by the OpenAPI document's operationId: `routes` takes every org route from the
/// document, so an operation without an entry here fails every test of this file.
fn matrix(probe_domain: &str, mcp: &str) -> HashMap<&'static str, (Least, Option<Value>)> {
    use Least::*;
    HashMap::from([
        (
            "delete_organization",
            (
                Owner,
                Some(
                    json!({ "confirm_name": "Fixture Org", "password": plexmcp_tests::fixtures::PASSWORD }),
                ),
            ),
        ),
        ("list_exports", (Admin, None)),
        (
            "create_export",
            (Admin, Some(json!({ "format": "csv", "include": ["mcps"] }))),
        ),
        ("get_export", (Admin, None)),
        (
            "export_audit_logs",
            (Admin, Some(json!({ "format": "csv", "category": "mcp" }))),
        ),
        ("get_custom_domain", (Viewer, None)),
        (
            "put_custom_domain",
            (Admin, Some(json!({ "domain": probe_domain }))),
        ),
        ("verify_custom_domain", (Admin, None)),
        ("delete_custom_domain", (Admin, None)),
        ("list_audit_logs", (Admin, None)),
        ("verify_audit_logs", (Admin, None)),
        ("list_webhooks", (Viewer, None)),
        (
            "create_webhook",
            (
                Admin,
                Some(json!({ "url": "http://127.0.0.1:9/probe", "events": ["mcp.created"] })),
            ),
        ),
        ("get_webhook", (Viewer, None)),
        ("update_webhook", (Admin, Some(json!({ "enabled": false })))),
        ("rotate_webhook_secret", (Admin, None)),
        ("test_webhook", (Admin, None)),
        ("list_webhook_deliveries", (Viewer, None)),
        ("redeliver_webhook", (Admin, None)),
        ("delete_webhook", (Admin, None)),
        ("list_invitations", (Admin, None)),
        ("get_invitation", (Admin, None)),
        ("revoke_invitation", (Admin, None)),
        ("get_org", (Viewer, None)),
        ("update_org", (Admin, Some(json!({ "name": "Hijacked" })))),
        ("list_members", (Viewer, None)),
        ("get_member", (Viewer, None)),
        (
            "invite_member",
            (
                Admin,
                Some(json!({ "email": "x@example.com", "role": "viewer" })),
            ),
        ),
        (
            "change_member_role",
            (Admin, Some(json!({ "role": "viewer" }))),
        ),
        ("remove_member", (Admin, None)),
        ("get_security", (Viewer, None)),
        (
            "set_pin",
            (
                Admin,
                Some(json!({ "pin": "840317", "pin_confirmation": "840317" })),
            ),
        ),
        ("disable_pin", (Admin, None)),
        ("list_mcps", (Viewer, None)),
        (
            "create_mcp",
            (
                Member,
                Some(json!({ "name": "Probe", "url": "https://probe.example.com" })),
            ),
        ),
        ("get_mcp", (Viewer, None)),
        ("update_mcp", (Member, Some(json!({ "name": "Probe" })))),
        (
            "report_mcp_health",
            (Member, Some(json!({ "status": "degraded" }))),
        ),
        ("delete_mcp", (Admin, None)),
        ("list_api_keys", (Viewer, None)),
        ("create_api_key", (Member, Some(json!({ "name": "Probe" })))),
        ("revoke_api_key", (Admin, None)),
        ("get_billing", (Viewer, None)),
        ("change_plan", (Admin, Some(json!({ "plan": "team" })))),
        ("get_usage", (Viewer, None)),
        (
            "record_usage",
            (
                Member,
                Some(json!({ "mcp_id": mcp, "requests": 1, "tokens": 1 })),
            ),
        ),
        (
            "record_usage_batch",
            (
                Member,
                Some(json!({ "records": [{ "mcp_id": mcp, "requests": 1, "tokens": 1 }] })),
            ),
        ),
    ])
}

/// Sends a test message to `webhook` and waits for its attempt to be logged.
async fn a_logged_delivery(api: &Api, org: &OrgFixture, webhook: &str) -> String {
    let base = org.path(&format!("/webhooks/{webhook}"));
    api.post(&format!("{base}/test"), Some(&org.owner.token), json!({}))
        .await
        .expect(202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let log = api
            .get(&format!("{base}/deliveries"), &org.owner.token)
            .await
            .expect(200);
        if let Some(id) = log.body["items"][0]["id"].as_str() {
            return id.to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "no delivery logged");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn call(api: &Api, r: &Route, org: &OrgFixture, token: Option<&str>) -> Resp {
    api.call(r.method.clone(), &org.path(&r.path), token, r.body.clone())
        .await
}

/// What an owner sees of the org: it must not move when others are refused.
async fn snapshot(api: &Api, org: &OrgFixture) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "",
        "/members",
        "/invitations",
        "/mcps",
        "/api-keys",
        "/billing",
        "/security",
        "/webhooks",
        "/exports",
    ] {
        let mut body = api
            .get(&org.path(path), &org.owner.token)
            .await
            .expect(200)
            .body;
        if let Some(items) = body.get_mut("items").and_then(Value::as_array_mut) {
            items
                .iter_mut()
                .for_each(|i| drop(i.as_object_mut().map(|o| o.remove("last_used_at"))));
        }
        seen.push(body);
    }
    seen
}

#[tokio::test]
async fn another_orgs_people_get_404_on_every_route_and_change_nothing() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let routes = routes(&api, &orgs.a).await;
    let before = snapshot(&api, &orgs.a).await;
    let (_, b_key) = orgs.b.api_key(&api).await;
    for r in &routes {
        for (role, outsider) in orgs
            .b
            .everyone()
            .iter()
            .map(|(role, a)| (*role, a.token.as_str()))
            .chain([("api key", b_key.as_str())])
        {
            let resp = call(&api, r, &orgs.a, Some(outsider)).await;
            assert_eq!(
                (resp.status, resp.code()),
                (404, "not_found"),
                "{role} of B: {} {}: {}",
                r.method,
                r.path,
                resp.body
            );
        }
    }
    assert_eq!(snapshot(&api, &orgs.a).await, before);
    // B's owner naming A's objects through B's own org: not B's, so 404.
    let names_an_a_object = |r: &&Route| {
        ["/usr_", "/mcp_", "/key_", "/inv_", "/wh_", "/dlv_", "/exp_"]
            .iter()
            .any(|id| r.path.contains(id))
    };
    for r in routes.iter().filter(names_an_a_object) {
        let resp = call(&api, r, &orgs.b, Some(&orgs.b.owner.token)).await;
        assert_eq!(
            (resp.status, resp.code()),
            (404, "not_found"),
            "{} {}: {}",
            r.method,
            r.path,
            resp.body
        );
    }
    let usage = routes
        .iter()
        .find(|r| r.path == "/usage" && r.method == Method::POST)
        .unwrap();
    call(&api, usage, &orgs.b, Some(&orgs.b.owner.token))
        .await
        .problem(422, "validation_failed");
    assert_eq!(snapshot(&api, &orgs.a).await, before);
}

#[tokio::test]
async fn an_org_that_does_not_exist_looks_like_one_you_cannot_see() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let missing = api
        .get("/v1/orgs/no-such-org-here", &orgs.a.owner.token)
        .await
        .problem(404, "not_found");
    let hidden = api
        .get(&orgs.b.path(""), &orgs.a.owner.token)
        .await
        .problem(404, "not_found");
    assert_eq!(missing.body_of_any_request(), hidden.body_of_any_request());
    api.get("/v1/orgs/NOT_A_SLUG", &orgs.a.owner.token)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn lower_roles_get_403_where_the_matrix_says_so() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let routes = routes(&api, &org).await;
    let before = snapshot(&api, &org).await;
    for r in routes.iter().filter(|r| r.least >= Least::Admin) {
        let admin = (r.least == Least::Owner).then_some(("admin", &org.admin));
        let lower = [("member", &org.member), ("viewer", &org.viewer)];
        for (role, who) in admin.into_iter().chain(lower) {
            let resp = call(&api, r, &org, Some(&who.token)).await;
            assert_eq!(
                (resp.status, resp.code()),
                (403, "forbidden"),
                "{role}: {} {}: {}",
                r.method,
                r.path,
                resp.body
            );
        }
    }
    assert_eq!(
        snapshot(&api, &org).await,
        before,
        "refused admin actions changed nothing"
    );
    for r in routes.iter().filter(|r| r.least < Least::Admin) {
        for (role, who, rank) in [
            ("member", &org.member, Least::Member),
            ("viewer", &org.viewer, Least::Viewer),
        ] {
            let resp = call(&api, r, &org, Some(&who.token)).await;
            if rank >= r.least {
                assert!(
                    (200..300).contains(&resp.status),
                    "{role}: {} {}: {}",
                    r.method,
                    r.path,
                    resp.body
                );
            } else {
                assert_eq!(
                    (resp.status, resp.code()),
                    (403, "forbidden"),
                    "{role}: {} {}: {}",
                    r.method,
                    r.path,
                    resp.body
                );
            }
        }
    }
}

#[tokio::test]
async fn every_org_route_needs_a_valid_credential() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    for r in routes(&api, &org).await {
        let resp = call(&api, &r, &org, None).await;
        assert_eq!(
            (resp.status, resp.code()),
            (401, "unauthorized"),
            "{} {}",
            r.method,
            r.path
        );
        let resp = call(
            &api,
            &r,
            &org,
            Some("pmcp_notakeynotakeynotakeynotakeynotakeynotakey"),
        )
        .await;
        assert_eq!(resp.status, 401, "{} {}", r.method, r.path);
    }
    api.post(
        "/v1/orgs",
        None,
        json!({ "name": "X", "slug": "anonymous-org" }),
    )
    .await
    .problem(401, "unauthorized");
}

/// What an API key of the org itself may do: a member's rights, except managing API keys
/// and the team, which need a person's session.
fn api_key_may(r: &Route) -> bool {
    let person_only = r.path.starts_with("/api-keys")
        || r.path.starts_with("/members") && r.method != Method::GET
        || r.path.starts_with("/invitations");
    r.least <= Least::Member && !person_only
}

#[tokio::test]
async fn an_api_key_of_the_org_has_member_rights_without_keys_or_team() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let routes = routes(&api, &org).await;
    let (_, key) = org.api_key(&api).await;
    let before = snapshot(&api, &org).await;
    for r in routes.iter().filter(|r| !api_key_may(r)) {
        let resp = call(&api, r, &org, Some(&key)).await;
        assert_eq!(
            (resp.status, resp.code()),
            (403, "forbidden"),
            "API key: {} {}: {}",
            r.method,
            r.path,
            resp.body
        );
    }
    assert_eq!(snapshot(&api, &org).await, before);
    for r in routes.iter().filter(|r| api_key_may(r)) {
        let resp = call(&api, r, &org, Some(&key)).await;
        assert!(
            (200..300).contains(&resp.status),
            "API key: {} {}: {}",
            r.method,
            r.path,
            resp.body
        );
    }
}
