//! MCP servers: registration, updates, health and deletion, with their events.

use plexmcp_tests::events::{outbox_drains, subscribe};
use plexmcp_tests::{audit_chain, items, stack, OrgFixture, TwoOrgs};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_life_of_an_mcp_and_its_events() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    outbox_drains(&org.id).await;
    let endpoint = subscribe(
        &api,
        &org,
        &[
            "mcp.created",
            "mcp.updated",
            "mcp.deleted",
            "mcp.health_changed",
        ],
    )
    .await;

    let created = api
        .post(&org.path("/mcps"), Some(&org.member.token), json!({ "name": "Weather API", "url": "https://weather.example.com/mcp", "config": { "region": "eu" } }))
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("mcp_"));
    assert_eq!(created.body["transport"], "streamable_http");
    assert_eq!(created.body["health"], "unknown");
    assert_eq!(created.body["config"], json!({ "region": "eu" }));
    let path = org.path(&format!("/mcps/{id}"));
    assert_eq!(
        api.get(&path, &org.viewer.token).await.expect(200).body,
        created.body
    );
    assert_eq!(
        api.get(&org.path("/mcps"), &org.viewer.token)
            .await
            .expect(200)
            .body["items"][0]["id"],
        id.as_str()
    );

    let renamed = api
        .patch(
            &path,
            &org.member.token,
            json!({ "name": "Weather", "transport": "sse" }),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            renamed.body["name"].as_str(),
            renamed.body["transport"].as_str()
        ),
        (Some("Weather"), Some("sse"))
    );
    // The same values again change nothing and announce nothing.
    api.patch(&path, &org.member.token, json!({ "name": "Weather" }))
        .await
        .expect(200);

    let health_path = format!("{path}/health");
    let down = |status: &'static str| {
        api.put(&health_path, &org.member.token, json!({ "status": status }))
    };
    assert_eq!(down("down").await.expect(200).body["health"], "down");
    down("down").await.expect(200);
    down("healthy").await.expect(200);
    api.delete(&path, &org.admin.token).await.expect(204);
    api.get(&path, &org.owner.token)
        .await
        .problem(404, "not_found");
    api.delete(&path, &org.admin.token)
        .await
        .problem(404, "not_found");

    let jobs = endpoint.messages(5, Duration::from_secs(20)).await;
    let mut events: Vec<&str> = jobs.iter().map(|j| j["event"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(
        events,
        [
            "mcp.created",
            "mcp.deleted",
            "mcp.health_changed",
            "mcp.health_changed",
            "mcp.updated"
        ]
    );
    let update = jobs.iter().find(|j| j["event"] == "mcp.updated").unwrap();
    assert_eq!(
        update["data"]["changes"]["name"],
        json!({ "from": "Weather API", "to": "Weather" })
    );
    let health: Vec<(&str, &str)> = jobs
        .iter()
        .filter(|j| j["event"] == "mcp.health_changed")
        .map(|j| {
            (
                j["data"]["from"].as_str().unwrap(),
                j["data"]["to"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        health.contains(&("unknown", "down")) && health.contains(&("down", "healthy")),
        "{health:?}"
    );
    let created_event = jobs.iter().find(|j| j["event"] == "mcp.created").unwrap();
    assert_eq!(
        created_event["data"],
        json!({ "mcp_id": id, "name": "Weather API", "url": "https://weather.example.com/mcp", "transport": "streamable_http" })
    );
    let actions: Vec<String> = audit_chain(&format!("ORG#{}", org.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| a.starts_with("mcp.")).count(),
        5,
        "{actions:?}"
    );
}

#[tokio::test]
async fn bad_mcp_input_is_rejected_and_roles_apply() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let bad = [
        json!({ "name": "", "url": "https://x.example.com" }),
        json!({ "name": "X", "url": "https://user:secret@x.example.com" }),
        json!({ "name": "X", "url": "ftp://x.example.com" }),
        json!({ "name": "X", "url": "https://x.example.com", "transport": "pigeon" }),
        json!({ "name": "X", "url": "https://x.example.com", "config": [1, 2] }),
        json!({ "name": "X", "url": "https://x.example.com", "config": { "big": "x".repeat(17 * 1024) } }),
        json!({ "name": "X", "url": "https://x.example.com", "owner": "me" }),
    ];
    for body in bad {
        api.post(&org.path("/mcps"), Some(&org.owner.token), body.clone())
            .await
            .problem(422, "validation_failed");
    }
    assert!(
        api.get(&org.path("/mcps"), &org.owner.token).await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    api.post(
        &org.path("/mcps"),
        Some(&org.viewer.token),
        json!({ "name": "X", "url": "https://x.example.com" }),
    )
    .await
    .problem(403, "forbidden");
    let id = org.mcp(&api).await;
    let path = org.path(&format!("/mcps/{id}"));
    api.patch(&path, &org.viewer.token, json!({ "name": "Y" }))
        .await
        .problem(403, "forbidden");
    api.delete(&path, &org.member.token)
        .await
        .problem(403, "forbidden");
    api.call(
        Method::PUT,
        &format!("{path}/health"),
        Some(&org.member.token),
        Some(json!({ "status": "dead" })),
    )
    .await
    .problem(422, "validation_failed");
    api.patch(&path, &org.owner.token, json!({ "url": "not a url" }))
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        api.get(&path, &org.owner.token).await.body["url"],
        "https://weather.example.com/mcp"
    );
}

#[tokio::test]
async fn another_orgs_mcp_is_not_found() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let theirs = orgs.b.mcp(&api).await;
    let through_mine = orgs.a.path(&format!("/mcps/{theirs}"));
    api.get(&through_mine, &orgs.a.owner.token)
        .await
        .problem(404, "not_found");
    api.patch(
        &through_mine,
        &orgs.a.owner.token,
        json!({ "name": "Stolen" }),
    )
    .await
    .problem(404, "not_found");
    api.delete(&through_mine, &orgs.a.owner.token)
        .await
        .problem(404, "not_found");
    api.get(
        &orgs.b.path(&format!("/mcps/{theirs}")),
        &orgs.a.owner.token,
    )
    .await
    .problem(404, "not_found");
    assert_eq!(
        api.get(
            &orgs.b.path(&format!("/mcps/{theirs}")),
            &orgs.b.owner.token
        )
        .await
        .expect(200)
        .body["name"],
        "Weather API"
    );
}

#[tokio::test]
async fn mcp_credentials_are_write_only_for_everyone() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (_, key) = org.api_key(&api).await;
    let secret = "Bearer sk_live_9f8e7d6c5b4a3210";
    let created = api
        .post(
            &org.path("/mcps"),
            Some(&org.member.token),
            json!({
                "name": "Secretive",
                "url": "https://mcp.example.com/x",
                "config": {
                    "headers": { "Authorization": secret, "Accept": "application/json" },
                    "upstream": "https://u.example.com/feed?access_token=tok_abcdef123456"
                }
            }),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = org.path(&format!("/mcps/{id}"));
    for token in [&org.owner.token, &org.viewer.token, &key] {
        let read = api.get(&path, token).await.expect(200).body;
        assert_eq!(read["config"]["headers"]["Authorization"], "••••3210");
        assert_eq!(read["config"]["headers"]["Accept"], "application/json");
        assert_eq!(read["config"]["upstream"], "••••");
        let listed = api.get(&org.path("/mcps"), token).await.expect(200).body;
        assert!(!listed.to_string().contains("sk_live"), "{listed}");
    }
    // At rest: sealed, never in the clear; and no audit entry holds it.
    let stored = items(&format!("ORG#{}", org.id), &format!("MCP#{id}")).await;
    let stored = format!("{:?}", stored[0]);
    assert!(
        !stored.contains("sk_live") && !stored.contains("tok_abcdef"),
        "{stored}"
    );
    assert!(stored.contains("config_secrets"));

    // Sending back what was read keeps the secrets: nothing changes.
    let read = api.get(&path, &org.owner.token).await.expect(200).body;
    let same = api
        .patch(&path, &org.owner.token, json!({ "config": read["config"] }))
        .await
        .expect(200)
        .body;
    assert_eq!(same["updated_at"], read["updated_at"]);
    // A new value replaces the secret.
    let mut config = read["config"].clone();
    config["headers"]["Authorization"] = "Bearer sk_live_rotated_00009999".into();
    let changed = api
        .patch(&path, &org.owner.token, json!({ "config": config }))
        .await
        .expect(200)
        .body;
    assert_eq!(changed["config"]["headers"]["Authorization"], "••••9999");
    assert_eq!(changed["config"]["upstream"], "••••");
    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    assert!(!audit.iter().any(|e| e.to_string().contains("sk_live")));

    // Credentials in the MCP's own URL are refused: they belong in the config.
    api.post(
        &org.path("/mcps"),
        Some(&org.owner.token),
        json!({ "name": "Leaky", "url": "https://mcp.example.com/x?api_key=abc" }),
    )
    .await
    .problem(422, "validation_failed");
}
