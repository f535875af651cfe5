//! Tenant isolation over every org-scoped route: another org's people get 404 (never a
//! hint that the org or object exists), lower roles get 403, and nothing changes.

use plexmcp_tests::{stack, Api, OrgFixture, Resp, TwoOrgs};
use reqwest::Method;
use serde_json::{json, Value};

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

/// Every org-scoped route, aimed at real objects of `org` (a member to act on, an MCP, an API key).
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
    use Least::*;
    vec![
        route(
            Method::POST,
            "/delete".into(),
            Some(
                json!({ "confirm_name": "Fixture Org", "password": plexmcp_tests::fixtures::PASSWORD }),
            ),
            Owner,
        ),
        route(Method::GET, "/exports".into(), None, Admin),
        route(
            Method::POST,
            "/exports".into(),
            Some(json!({ "format": "csv", "include": ["mcps"] })),
            Admin,
        ),
        route(Method::GET, format!("/exports/{export}"), None, Admin),
        route(
            Method::POST,
            "/audit-logs/export".into(),
            Some(json!({ "format": "csv", "category": "mcp" })),
            Admin,
        ),
        route(Method::GET, "/custom-domain".into(), None, Viewer),
        route(
            Method::PUT,
            "/custom-domain".into(),
            Some(json!({ "domain": domain("probe-") })),
            Admin,
        ),
        route(Method::POST, "/custom-domain/verify".into(), None, Admin),
        route(Method::DELETE, "/custom-domain".into(), None, Admin),
        route(Method::GET, "/audit-logs".into(), None, Admin),
        route(Method::GET, "/audit-logs/verify".into(), None, Admin),
        route(Method::GET, "/webhooks".into(), None, Viewer),
        route(
            Method::POST,
            "/webhooks".into(),
            Some(json!({ "url": "http://127.0.0.1:9/probe", "events": ["mcp.created"] })),
            Admin,
        ),
        route(Method::GET, format!("/webhooks/{webhook}"), None, Viewer),
        route(
            Method::PATCH,
            format!("/webhooks/{webhook}"),
            Some(json!({ "enabled": false })),
            Admin,
        ),
        route(
            Method::POST,
            format!("/webhooks/{webhook}/rotate-secret"),
            None,
            Admin,
        ),
        route(
            Method::POST,
            format!("/webhooks/{webhook}/test"),
            None,
            Admin,
        ),
        route(
            Method::GET,
            format!("/webhooks/{webhook}/deliveries"),
            None,
            Viewer,
        ),
        route(
            Method::POST,
            format!("/webhooks/{webhook}/deliveries/{delivery}/redeliver"),
            None,
            Admin,
        ),
        route(Method::DELETE, format!("/webhooks/{webhook}"), None, Admin),
        route(Method::GET, "/invitations".into(), None, Admin),
        route(
            Method::GET,
            format!("/invitations/{invitation}"),
            None,
            Admin,
        ),
        route(
            Method::DELETE,
            format!("/invitations/{invitation}"),
            None,
            Admin,
        ),
        route(Method::GET, String::new(), None, Viewer),
        route(
            Method::PATCH,
            String::new(),
            Some(json!({ "name": "Hijacked" })),
            Admin,
        ),
        route(Method::GET, "/members".into(), None, Viewer),
        route(
            Method::POST,
            "/members".into(),
            Some(json!({ "email": "x@example.com", "role": "viewer" })),
            Admin,
        ),
        route(
            Method::PATCH,
            format!("/members/{target}"),
            Some(json!({ "role": "viewer" })),
            Admin,
        ),
        route(Method::DELETE, format!("/members/{target}"), None, Admin),
        route(Method::GET, "/security".into(), None, Viewer),
        route(
            Method::PUT,
            "/security/pin".into(),
            Some(json!({ "pin": "840317", "pin_confirmation": "840317" })),
            Admin,
        ),
        route(Method::DELETE, "/security/pin".into(), None, Admin),
        route(Method::GET, "/mcps".into(), None, Viewer),
        route(
            Method::POST,
            "/mcps".into(),
            Some(json!({ "name": "Probe", "url": "https://probe.example.com" })),
            Member,
        ),
        route(Method::GET, format!("/mcps/{mcp}"), None, Viewer),
        route(
            Method::PATCH,
            format!("/mcps/{mcp}"),
            Some(json!({ "name": "Probe" })),
            Member,
        ),
        route(
            Method::PUT,
            format!("/mcps/{mcp}/health"),
            Some(json!({ "status": "degraded" })),
            Member,
        ),
        route(Method::DELETE, format!("/mcps/{mcp}"), None, Admin),
        route(Method::GET, "/api-keys".into(), None, Viewer),
        route(
            Method::POST,
            "/api-keys".into(),
            Some(json!({ "name": "Probe" })),
            Member,
        ),
        route(Method::DELETE, format!("/api-keys/{key}"), None, Admin),
        route(Method::GET, "/billing".into(), None, Viewer),
        route(
            Method::PUT,
            "/billing".into(),
            Some(json!({ "plan": "team" })),
            Admin,
        ),
        route(Method::GET, "/usage".into(), None, Viewer),
        route(
            Method::POST,
            "/usage".into(),
            Some(json!({ "mcp_id": mcp, "requests": 1, "tokens": 1 })),
            Member,
        ),
    ]
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
    assert_eq!(missing.body, hidden.body);
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
