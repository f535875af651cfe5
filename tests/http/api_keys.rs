//! Organization API keys: shown once, stored hashed, acting as a member of their own org
//! only, and rejected on the very next request after revocation.

use plexmcp_tests::{audit_chain, items, stack, OrgFixture, TwoOrgs};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_key_is_shown_once_and_stored_only_as_a_hash() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let created = api
        .post(
            &org.path("/api-keys"),
            Some(&org.member.token),
            json!({ "name": "Deploy bot" }),
        )
        .await
        .expect(201);
    let key = created.body["key"].as_str().unwrap();
    assert!(key.starts_with("pmcp_") && key.len() == 48, "{key}");
    assert!(
        key[5..].bytes().all(|b| b.is_ascii_alphanumeric()),
        "base62"
    );
    assert_eq!(created.body["prefix"], &key[..11]);
    let listed = api
        .get(&org.path("/api-keys"), &org.viewer.token)
        .await
        .expect(200);
    let item = &listed.body["items"][0];
    assert_eq!(item["id"], created.body["id"]);
    assert_eq!(item["created_by"], org.member.id.as_str());
    assert!(!listed.body.to_string().contains(key), "never listed again");

    let stored = serde_json::to_string(&format!(
        "{:?}",
        items(&format!("ORG#{}", org.id), "APIKEY#").await
    ))
    .unwrap();
    assert!(!stored.contains(key), "the key is not stored");
    let audit = serde_json::to_string(&audit_chain(&format!("ORG#{}", org.id)).await).unwrap();
    assert!(!audit.contains(key) && audit.contains("api_key.created"));
    api.post(
        &org.path("/api-keys"),
        Some(&org.viewer.token),
        json!({ "name": "Nope" }),
    )
    .await
    .problem(403, "forbidden");
    api.post(
        &org.path("/api-keys"),
        Some(&org.owner.token),
        json!({ "name": "" }),
    )
    .await
    .problem(422, "validation_failed");
}

#[tokio::test]
async fn a_key_acts_as_a_member_of_its_own_org_only() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let (_, key) = orgs.a.api_key(&api).await;
    api.get(&orgs.a.path(""), &key).await.expect(200);
    let mcp = api
        .post(
            &orgs.a.path("/mcps"),
            Some(&key),
            json!({ "name": "From CI", "url": "https://ci.example.com/mcp" }),
        )
        .await
        .expect(201);
    let mcp_id = mcp.body["id"].as_str().unwrap();
    api.post(
        &orgs.a.path("/usage"),
        Some(&key),
        json!({ "mcp_id": mcp_id, "requests": 3, "tokens": 120 }),
    )
    .await
    .expect(200);
    // Member rights: no settings, no team changes, no gated actions.
    api.patch(&orgs.a.path(""), &key, json!({ "name": "Hijack" }))
        .await
        .problem(403, "forbidden");
    api.delete(&orgs.a.path(&format!("/mcps/{mcp_id}")), &key)
        .await
        .problem(403, "forbidden");
    api.post(
        &orgs.a.path("/members"),
        Some(&key),
        json!({ "email": orgs.b.owner.email, "role": "admin" }),
    )
    .await
    .problem(403, "forbidden");
    // Key management and the team need a person: a key cannot mint, list or revoke keys.
    let (other_id, _) = orgs.a.api_key(&api).await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api-keys".to_owned(),
            Some(json!({ "name": "Child" })),
        ),
        (Method::GET, "/api-keys".to_owned(), None),
        (Method::DELETE, format!("/api-keys/{other_id}"), None),
        (Method::GET, "/invitations".to_owned(), None),
        (
            Method::PATCH,
            format!("/members/{}", orgs.a.viewer.id),
            Some(json!({ "role": "member" })),
        ),
        (
            Method::DELETE,
            format!("/members/{}", orgs.a.viewer.id),
            None,
        ),
    ] {
        api.call(method.clone(), &orgs.a.path(&path), Some(&key), body)
            .await
            .problem(403, "forbidden");
    }
    let keys = api
        .get(&orgs.a.path("/api-keys"), &orgs.a.owner.token)
        .await
        .expect(200);
    assert_eq!(
        keys.body["items"].as_array().unwrap().len(),
        2,
        "no child key"
    );
    // Its own org only, and no personal routes.
    api.get(&orgs.b.path(""), &key)
        .await
        .problem(404, "not_found");
    api.get("/v1/me", &key).await.problem(401, "unauthorized");
    api.call(
        Method::POST,
        "/v1/orgs",
        Some(&key),
        Some(json!({ "name": "X", "slug": "made-by-key" })),
    )
    .await
    .problem(401, "unauthorized");
    // The audit log names the key as the actor.
    let audit = audit_chain(&format!("ORG#{}", orgs.a.id)).await;
    let created = audit.iter().find(|e| e["action"] == "mcp.created").unwrap();
    assert_eq!(created["actor"]["type"], "api_key");
    // last_used_at is recorded.
    let listed = api
        .get(&orgs.a.path("/api-keys"), &orgs.a.owner.token)
        .await
        .expect(200);
    assert!(listed.body["items"][0]["last_used_at"].is_string());
}

#[tokio::test]
async fn a_revoked_key_is_rejected_on_its_next_request() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let (id, key) = orgs.a.api_key(&api).await;
    api.get(&orgs.a.path(""), &key).await.expect(200);
    // Another org cannot revoke it, nor a member.
    api.delete(
        &orgs.b.path(&format!("/api-keys/{id}")),
        &orgs.b.owner.token,
    )
    .await
    .problem(404, "not_found");
    api.delete(
        &orgs.a.path(&format!("/api-keys/{id}")),
        &orgs.a.member.token,
    )
    .await
    .problem(403, "forbidden");
    api.get(&orgs.a.path(""), &key).await.expect(200);
    api.delete(
        &orgs.a.path(&format!("/api-keys/{id}")),
        &orgs.a.admin.token,
    )
    .await
    .expect(204);
    api.get(&orgs.a.path(""), &key)
        .await
        .problem(401, "unauthorized");
    api.delete(
        &orgs.a.path(&format!("/api-keys/{id}")),
        &orgs.a.admin.token,
    )
    .await
    .problem(404, "not_found");
    api.get(
        &orgs.a.path(""),
        "pmcp_0000000000000000000000000000000000000000000",
    )
    .await
    .problem(401, "unauthorized");
}

#[tokio::test]
async fn a_members_keys_die_with_the_membership() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let mut keys = Vec::new();
    for name in ["one", "two"] {
        let created = api
            .post(
                &org.path("/api-keys"),
                Some(&org.member.token),
                json!({ "name": name }),
            )
            .await
            .expect(201);
        keys.push(created.body["key"].as_str().unwrap().to_owned());
    }
    // One revoked before: the removal revokes what is left.
    let (admin_key_id, admin_key) = {
        let created = api
            .post(
                &org.path("/api-keys"),
                Some(&org.admin.token),
                json!({ "name": "admin's" }),
            )
            .await
            .expect(201);
        (
            created.body["id"].as_str().unwrap().to_owned(),
            created.body["key"].as_str().unwrap().to_owned(),
        )
    };
    let listed = api
        .get(&org.path("/api-keys"), &org.owner.token)
        .await
        .expect(200);
    let first = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "one")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.delete(&org.path(&format!("/api-keys/{first}")), &org.owner.token)
        .await
        .expect(204);
    for key in &keys[1..] {
        api.get(&org.path(""), key).await.expect(200);
    }
    let removed = api
        .delete(
            &org.path(&format!("/members/{}", org.member.id)),
            &org.owner.token,
        )
        .await
        .expect(200);
    assert_eq!(removed.body["revoked_api_keys"], 1);
    for key in &keys {
        api.get(&org.path(""), key)
            .await
            .problem(401, "unauthorized");
    }
    let left: Vec<String> = api
        .get(&org.path("/api-keys"), &org.owner.token)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, vec![admin_key_id], "only the admin's key is left");
    // Leaving on your own takes your keys too.
    let gone = api
        .delete(
            &org.path(&format!("/members/{}", org.admin.id)),
            &org.admin.token,
        )
        .await
        .expect(200);
    assert_eq!(gone.body["revoked_api_keys"], 1);
    api.get(&org.path(""), &admin_key)
        .await
        .problem(401, "unauthorized");
    let entry = audit_chain(&format!("ORG#{}", org.id))
        .await
        .into_iter()
        .rev()
        .find(|e| e["action"] == "team.member_removed")
        .unwrap();
    assert_eq!(entry["details"]["revoked_api_keys"], 1);
}

#[tokio::test]
async fn a_member_holds_at_most_forty_keys() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    for i in 0..40 {
        api.post(
            &org.path("/api-keys"),
            Some(&org.member.token),
            json!({ "name": format!("key {i}") }),
        )
        .await
        .expect(201);
    }
    api.post(
        &org.path("/api-keys"),
        Some(&org.member.token),
        json!({ "name": "one too many" }),
    )
    .await
    .problem(409, "api_key_limit");
    // All forty go with the membership, in one transaction.
    let removed = api
        .delete(
            &org.path(&format!("/members/{}", org.member.id)),
            &org.owner.token,
        )
        .await
        .expect(200);
    assert_eq!(removed.body["revoked_api_keys"], 40);
    assert!(items(&format!("ORG#{}", org.id), "APIKEY#")
        .await
        .is_empty());
}

#[tokio::test]
async fn a_key_has_no_more_rights_than_its_creator_has_now() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let created = api
        .post(
            &org.path("/api-keys"),
            Some(&org.member.token),
            json!({ "name": "member's key" }),
        )
        .await
        .expect(201);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let mcp = json!({ "name": "Via key", "url": "https://mcp.example.com/a" });
    api.post(&org.path("/mcps"), Some(&key), mcp.clone())
        .await
        .expect(201);

    // The creator is demoted to viewer: the key reads, and changes nothing, at once.
    let member_path = org.path(&format!("/members/{}", org.member.id));
    let role = |role: &str| api.patch(&member_path, &org.owner.token, json!({ "role": role }));
    role("viewer").await.expect(200);
    api.get(&org.path("/mcps"), &key).await.expect(200);
    api.post(&org.path("/mcps"), Some(&key), mcp.clone())
        .await
        .problem(403, "forbidden");
    api.post(
        &org.path("/usage"),
        Some(&key),
        json!({ "mcp_id": "mcp_01JDQX3Z8E6V4W2N9KQ5M7R1TA", "requests": 1, "tokens": 1 }),
    )
    .await
    .problem(403, "forbidden");
    // Made an admin: the key is still a member's, no more.
    role("admin").await.expect(200);
    api.post(&org.path("/mcps"), Some(&key), mcp.clone())
        .await
        .expect(201);
    api.patch(&org.path(""), &key, json!({ "name": "By a key" }))
        .await
        .problem(403, "forbidden");
}
