//! Tenant isolation over every org-scoped route: another org's people get 404 (never a
//! hint that the org or object exists), lower roles get 403, and nothing changes.

use plexmcp_tests::{stack, Resp, TwoOrgs};
use reqwest::Method;
use serde_json::{json, Value};

/// (method, path under the org, body, whether member/viewer may do it)
fn routes(target_user: &str) -> Vec<(Method, String, Option<Value>, bool)> {
    vec![
        (Method::GET, String::new(), None, true),
        (
            Method::PATCH,
            String::new(),
            Some(json!({ "name": "Hijacked" })),
            false,
        ),
        (Method::GET, "/members".into(), None, true),
        (
            Method::POST,
            "/members".into(),
            Some(json!({ "email": "x@example.com", "role": "viewer" })),
            false,
        ),
        (
            Method::PATCH,
            format!("/members/{target_user}"),
            Some(json!({ "role": "admin" })),
            false,
        ),
        (
            Method::DELETE,
            format!("/members/{target_user}"),
            None,
            false,
        ),
    ]
}

async fn call(
    api: &plexmcp_tests::Api,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Resp {
    api.call(method, path, Some(token), body).await
}

#[tokio::test]
async fn another_orgs_people_get_404_on_every_route() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let before = api
        .get(&orgs.a.path(""), &orgs.a.owner.token)
        .await
        .expect(200)
        .body;
    for (method, rest, body, _) in routes(&orgs.a.member.id) {
        for (role, outsider) in orgs.b.everyone() {
            let resp = call(
                &api,
                method.clone(),
                &orgs.a.path(&rest),
                &outsider.token,
                body.clone(),
            )
            .await;
            assert_eq!(
                (resp.status, resp.code()),
                (404, "not_found"),
                "{role} of B: {method} {rest}: {}",
                resp.body
            );
        }
    }
    // B's owner naming A's member through B's own org: not B's member, so 404.
    api.delete(
        &orgs.b.path(&format!("/members/{}", orgs.a.member.id)),
        &orgs.b.owner.token,
    )
    .await
    .problem(404, "not_found");
    api.patch(
        &orgs.b.path(&format!("/members/{}", orgs.a.member.id)),
        &orgs.b.owner.token,
        json!({ "role": "admin" }),
    )
    .await
    .problem(404, "not_found");
    assert_eq!(
        api.get(&orgs.a.path(""), &orgs.a.owner.token)
            .await
            .expect(200)
            .body,
        before
    );
    let members = api
        .get(&orgs.a.path("/members"), &orgs.a.owner.token)
        .await
        .expect(200);
    assert_eq!(members.body["items"].as_array().unwrap().len(), 4);
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
async fn lower_roles_get_403_and_change_nothing() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let org = &orgs.a;
    for (method, rest, body, readable) in routes(&org.admin.id) {
        for (role, who) in [("member", &org.member), ("viewer", &org.viewer)] {
            let resp = call(
                &api,
                method.clone(),
                &org.path(&rest),
                &who.token,
                body.clone(),
            )
            .await;
            if readable {
                assert_eq!(resp.status, 200, "{role}: {method} {rest}");
            } else {
                assert_eq!(
                    (resp.status, resp.code()),
                    (403, "forbidden"),
                    "{role}: {method} {rest}: {}",
                    resp.body
                );
            }
        }
    }
    let members = api
        .get(&org.path("/members"), &org.owner.token)
        .await
        .expect(200);
    let admin = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == org.admin.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(admin["role"], "admin");
    assert_eq!(
        api.get(&org.path(""), &org.owner.token).await.body["name"],
        "Fixture Org"
    );
}

#[tokio::test]
async fn every_org_route_needs_a_valid_session() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    for (method, rest, body, _) in routes(&orgs.a.member.id) {
        let resp = api
            .call(method.clone(), &orgs.a.path(&rest), None, body.clone())
            .await;
        assert_eq!(
            (resp.status, resp.code()),
            (401, "unauthorized"),
            "{method} {rest}"
        );
    }
    api.post(
        "/v1/orgs",
        None,
        json!({ "name": "X", "slug": "anonymous-org" }),
    )
    .await
    .problem(401, "unauthorized");
}
