//! Settings → Webhooks as a client sees it: endpoints, their rules, roles and tenancy,
//! the signing secret, and that the event fan-out follows what the API says.

use aws_sdk_dynamodb::types::AttributeValue;
use plexmcp_tests::events::subscribe;
use plexmcp_tests::{audit_chain, items, stack, stack_as_in_aws, OrgFixture, TwoOrgs};
use serde_json::{json, Value};
use std::time::Duration;

const RECEIVER: &str = "http://127.0.0.1:9/plexmcp";

fn endpoint(events: &[&str]) -> Value {
    json!({ "url": RECEIVER, "events": events, "description": "Ops alerts" })
}

#[tokio::test]
async fn nine_event_types_are_listed_with_descriptions_and_the_opt_in_one_apart() {
    let api = stack().api();
    let listed = api
        .call(reqwest::Method::GET, "/v1/webhooks/event-types", None, None)
        .await
        .expect(200);
    let names = |list: &str| -> Vec<String> {
        listed.body[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert!(!e["description"].as_str().unwrap().is_empty());
                e["name"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(names("opt_in"), ["custom_domain.status_changed"]);
    assert_eq!(
        names("items"),
        [
            "mcp.created",
            "mcp.updated",
            "mcp.deleted",
            "mcp.health_changed",
            "api_key.created",
            "api_key.revoked",
            "team.member_added",
            "team.member_removed",
            "usage.threshold"
        ]
    );
}

#[tokio::test]
async fn an_admin_adds_an_endpoint_and_sees_its_secret_only_once() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let created = api
        .post(
            &org.path("/webhooks"),
            Some(&org.admin.token),
            endpoint(&["team.member_added", "mcp.created", "mcp.created"]),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wh_"));
    assert_eq!(created.body["url"], RECEIVER);
    assert_eq!(
        created.body["events"],
        json!(["mcp.created", "team.member_added"])
    );
    assert_eq!(created.body["enabled"], true);
    assert_eq!(created.body["description"], "Ops alerts");
    let secret = created.body["secret"].as_str().unwrap();
    let key = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    assert_eq!(bytes.len(), 32);

    let one = api
        .get(&org.path(&format!("/webhooks/{id}")), &org.viewer.token)
        .await
        .expect(200);
    assert!(one.body.get("secret").is_none());
    let list = api
        .get(&org.path("/webhooks"), &org.member.token)
        .await
        .expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(!list.body.to_string().contains(key));

    // At rest the secret is sealed; the audit trail never holds it.
    let stored = items(&format!("ORG#{}", org.id), "WEBHOOK#").await;
    assert!(!format!("{:?}", stored[0]).contains(key));
    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    let entry = audit.last().unwrap();
    assert_eq!(entry["action"], "webhook.created");
    assert!(!audit.iter().any(|e| e.to_string().contains(key)));
}

#[tokio::test]
async fn bad_endpoints_are_refused_by_field_and_change_nothing() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let path = org.path("/webhooks");
    for (body, field) in [
        (json!({ "url": RECEIVER, "events": [] }), "events"),
        (
            json!({ "url": RECEIVER, "events": ["mcp.exploded"] }),
            "events",
        ),
        (
            json!({ "url": "ftp://example.com/x", "events": ["mcp.created"] }),
            "url",
        ),
        (
            json!({ "url": "https://user:pw@example.com/x", "events": ["mcp.created"] }),
            "url",
        ),
        (
            json!({ "url": "https://example.com/x#frag", "events": ["mcp.created"] }),
            "url",
        ),
        (
            json!({ "url": format!("https://example.com/{}", "a".repeat(2048)), "events": ["mcp.created"] }),
            "url",
        ),
        (
            json!({ "url": "not a url", "events": ["mcp.created"] }),
            "url",
        ),
        (
            json!({ "url": RECEIVER, "events": ["mcp.created"], "description": "d".repeat(501) }),
            "description",
        ),
    ] {
        let refused = api
            .post(&path, Some(&org.owner.token), body.clone())
            .await
            .problem(422, "validation_failed");
        assert_eq!(refused.body["errors"][0]["field"], field, "{body}");
    }
    let unknown = api
        .post(
            &path,
            Some(&org.owner.token),
            json!({ "url": RECEIVER, "events": ["mcp.exploded"] }),
        )
        .await;
    assert!(unknown.body.to_string().contains("mcp.exploded"));
    api.post(
        &path,
        Some(&org.owner.token),
        json!({ "url": RECEIVER, "events": ["mcp.created"], "secret": "mine" }),
    )
    .await
    .problem(422, "validation_failed");
    assert!(items(&format!("ORG#{}", org.id), "WEBHOOK#")
        .await
        .is_empty());
}

#[tokio::test]
async fn members_read_and_only_owners_and_admins_write() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (_, key) = org.api_key(&api).await;
    let id = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            endpoint(&["mcp.created"]),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = org.path(&format!("/webhooks/{id}"));
    for token in [&org.member.token, &org.viewer.token, &key] {
        api.get(&one, token).await.expect(200);
        api.post(
            &org.path("/webhooks"),
            Some(token),
            endpoint(&["mcp.created"]),
        )
        .await
        .problem(403, "forbidden");
        api.patch(&one, token, json!({ "enabled": false }))
            .await
            .problem(403, "forbidden");
        api.post(&format!("{one}/rotate-secret"), Some(token), json!({}))
            .await
            .problem(403, "forbidden");
        api.delete(&one, token).await.problem(403, "forbidden");
    }
    let after = api.get(&one, &org.owner.token).await.expect(200);
    assert_eq!(after.body["enabled"], true);
}

#[tokio::test]
async fn another_orgs_endpoints_do_not_exist_for_you() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    let id = api
        .post(
            &orgs.a.path("/webhooks"),
            Some(&orgs.a.owner.token),
            endpoint(&["mcp.created"]),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // B's owner, through B's org or A's, finds nothing of A's.
    for path in [
        orgs.b.path(&format!("/webhooks/{id}")),
        orgs.a.path(&format!("/webhooks/{id}")),
    ] {
        api.get(&path, &orgs.b.owner.token)
            .await
            .problem(404, "not_found");
        api.patch(&path, &orgs.b.owner.token, json!({ "enabled": false }))
            .await
            .problem(404, "not_found");
        api.delete(&path, &orgs.b.owner.token)
            .await
            .problem(404, "not_found");
    }
    let listed = api
        .get(&orgs.b.path("/webhooks"), &orgs.b.owner.token)
        .await
        .expect(200);
    assert_eq!(listed.body["items"], json!([]));
    api.get(&orgs.a.path("/webhooks/wh_nonsense"), &orgs.a.owner.token)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn an_org_holds_at_most_twenty_endpoints() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let path = org.path("/webhooks");
    let mut ids = Vec::new();
    for _ in 0..20 {
        let created = api
            .post(&path, Some(&org.owner.token), endpoint(&["mcp.created"]))
            .await
            .expect(201);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    api.post(&path, Some(&org.owner.token), endpoint(&["mcp.created"]))
        .await
        .problem(409, "webhook_limit");
    api.delete(
        &org.path(&format!("/webhooks/{}", ids[0])),
        &org.owner.token,
    )
    .await
    .expect(204);
    api.delete(
        &org.path(&format!("/webhooks/{}", ids[0])),
        &org.owner.token,
    )
    .await
    .problem(404, "not_found");
    api.post(&path, Some(&org.owner.token), endpoint(&["mcp.created"]))
        .await
        .expect(201);
    let page = api
        .get(&format!("{path}?limit=100"), &org.member.token)
        .await
        .expect(200);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn changes_apply_to_the_fan_out_and_disabling_stops_it() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let endpoint = subscribe(&api, &org, &["api_key.created"]).await;
    let id = endpoint.id.clone();
    let one = org.path(&format!("/webhooks/{id}"));
    // Subscribed to MCPs now, not keys.
    let changed = api
        .patch(
            &one,
            &org.admin.token,
            json!({ "events": ["mcp.created"], "description": "" }),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["events"], json!(["mcp.created"]));
    assert_eq!(changed.body["description"], "");
    org.api_key(&api).await;
    org.mcp(&api).await;
    let messages = endpoint.messages(2, Duration::from_secs(6)).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["event"], "mcp.created");
    // Standard Webhooks' name for it, the same value.
    assert_eq!(messages[0]["type"], "mcp.created");

    api.patch(&one, &org.admin.token, json!({ "enabled": false }))
        .await
        .expect(200);
    org.mcp(&api).await;
    assert_eq!(
        endpoint.messages(2, Duration::from_secs(4)).await.len(),
        1,
        "nothing while disabled"
    );
    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    let updates: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "webhook.updated")
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(
        updates[1]["details"]["changes"]["enabled"],
        json!({ "from": true, "to": false })
    );
    // A no-op change is no change.
    api.patch(&one, &org.admin.token, json!({ "enabled": false }))
        .await
        .expect(200);
    assert_eq!(
        audit_chain(&format!("ORG#{}", org.id)).await.len(),
        audit.len()
    );
}

#[tokio::test]
async fn rotating_the_secret_keeps_the_old_one_signing_for_a_day() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let created = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            endpoint(&["mcp.created"]),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap();
    let rotated = api
        .post(
            &org.path(&format!("/webhooks/{id}/rotate-secret")),
            Some(&org.admin.token),
            json!({}),
        )
        .await
        .expect(200);
    let new = rotated.body["secret"].as_str().unwrap();
    assert!(new.starts_with("whsec_"));
    assert_ne!(new, created.body["secret"].as_str().unwrap());
    let until = chrono::DateTime::parse_from_rfc3339(
        rotated.body["previous_secret_expires_at"].as_str().unwrap(),
    )
    .unwrap();
    let hours = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{hours} minutes");
    let stored = &items(&format!("ORG#{}", org.id), "WEBHOOK#").await[0];
    assert!(stored["previous_secret"].is_s());
    assert!(!format!("{stored:?}").contains(new.trim_start_matches("whsec_")));
}

#[tokio::test]
async fn as_in_aws_no_spelling_of_a_private_target_is_accepted() {
    let api = stack_as_in_aws().api();
    let org = OrgFixture::create(&api).await;
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://127.1/x",
        "https://2130706433/x",
        "https://0x7f000001/x",
        "https://0177.0.0.1/x",
        "https://0.0.0.0/x",
        "https://10.0.0.8/x",
        "https://100.64.1.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://224.0.0.251/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[64:ff9b::a9fe:a9fe]/x",
        "https://[fd00:ec2::254]/x",
        "https://[fe80::1]/x",
        "https://localhost/x",
        "https://does-not-exist.invalid/x",
    ] {
        let refused = api
            .post(
                &org.path("/webhooks"),
                Some(&org.owner.token),
                json!({ "url": url, "events": ["mcp.created"] }),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(refused.body["errors"][0]["field"], "url", "{url}");
    }
    let listed = api
        .get(&org.path("/webhooks"), &org.owner.token)
        .await
        .expect(200);
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn as_in_aws_a_target_that_turned_private_is_refused_at_delivery() {
    let stack = stack_as_in_aws();
    let api = stack.api();
    let org = OrgFixture::create(&api).await;
    let receiver = plexmcp_tests::receiver::Receiver::start().await;
    let created = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": "https://93.184.215.14/hook", "events": ["mcp.created"] }),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap();
    // The target now names this machine, as a changed DNS record could make a name do.
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    stack
        .dynamodb()
        .await
        .update_item()
        .table_name(stack.table_name())
        .key("pk", AttributeValue::S(format!("ORG#{}", org.id)))
        .key("sk", AttributeValue::S(format!("WEBHOOK#{id}")))
        .update_expression("SET #u = :u")
        .expression_attribute_names("#u", "url")
        .expression_attribute_values(
            ":u",
            AttributeValue::S(format!("https://127.0.0.1:{port}/hook")),
        )
        .send()
        .await
        .unwrap();
    org.mcp(&api).await;
    let deliveries = org.path(&format!("/webhooks/{id}/deliveries"));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let logged = loop {
        let log = api.get(&deliveries, &org.owner.token).await.expect(200);
        if let Some(first) = log.body["items"].as_array().unwrap().last() {
            break first.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no attempt logged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(logged["status"], "failed");
    assert!(
        logged["error"].as_str().unwrap().contains("loopback"),
        "{logged}"
    );
    assert!(
        receiver.received().is_empty(),
        "nothing reached the private target"
    );
}

#[tokio::test]
async fn a_change_keeps_what_the_delivery_worker_tracks() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let id = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            endpoint(&["mcp.created"]),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let since = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    plexmcp_tests::set_attribute(
        &format!("ORG#{}", org.id),
        &format!("WEBHOOK#{id}"),
        "failing_since",
        AttributeValue::S(since.clone()),
    )
    .await;
    let one = org.path(&format!("/webhooks/{id}"));
    api.patch(&one, &org.admin.token, json!({ "description": "edited" }))
        .await
        .expect(200);
    api.post(
        &format!("{one}/rotate-secret"),
        Some(&org.admin.token),
        json!({}),
    )
    .await
    .expect(200);
    let stored = &items(&format!("ORG#{}", org.id), "WEBHOOK#").await[0];
    assert_eq!(
        stored["failing_since"].as_s().unwrap(),
        &since,
        "the 5-day clock runs on"
    );
    assert_eq!(stored["description"].as_s().unwrap(), "edited");
}

#[tokio::test]
async fn as_in_aws_a_name_that_resolves_inside_is_refused_without_saying_where() {
    let stack = stack_as_in_aws();
    let api = stack.api();
    let org = OrgFixture::create(&api).await;
    let host = format!("{}.example.com", plexmcp_tests::unique("inside-"));
    // The name resolves to one public and one private address (test DNS).
    std::fs::write(
        stack.hooks_dir.join(format!("resolve.{host}")),
        "93.184.215.14\n10.20.30.40\n",
    )
    .unwrap();
    let refused = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": format!("https://{host}/hook"), "events": ["mcp.created"] }),
        )
        .await
        .problem(422, "validation_failed");
    let said = refused.body.to_string();
    assert!(said.contains("private"), "{said}");
    assert!(!said.contains("10.20.30.40"), "{said}");
    // A name that resolves to public addresses only is taken.
    std::fs::write(
        stack.hooks_dir.join(format!("resolve.{host}")),
        "93.184.215.14\n",
    )
    .unwrap();
    api.post(
        &org.path("/webhooks"),
        Some(&org.owner.token),
        json!({ "url": format!("https://{host}/hook"), "events": ["mcp.created"] }),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn send_test_and_redeliver_are_limited_per_endpoint() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let created = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["mcp.created"] }),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let test = org.path(&format!("/webhooks/{id}/test"));
    for _ in 0..10 {
        api.post(&test, Some(&org.admin.token), json!({}))
            .await
            .expect(202);
    }
    let refused = api
        .post(&test, Some(&org.owner.token), json!({}))
        .await
        .problem(429, "rate_limited");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Redelivering draws on the same budget.
    let deliveries = org.path(&format!("/webhooks/{id}/deliveries"));
    let mut logged = Vec::new();
    for _ in 0..100 {
        logged = api
            .get(&deliveries, &org.owner.token)
            .await
            .expect(200)
            .body["items"]
            .as_array()
            .unwrap()
            .clone();
        if !logged.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let redeliver = format!(
        "{deliveries}/{}/redeliver",
        logged[0]["id"].as_str().unwrap()
    );
    api.post(&redeliver, Some(&org.owner.token), json!({}))
        .await
        .problem(429, "rate_limited");
    // Another endpoint has its own budget; and a minute later (time moves for this
    // endpoint) this one sends again.
    let other = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": "http://127.0.0.1:9/other", "events": ["mcp.created"] }),
        )
        .await
        .expect(201);
    api.post(
        &org.path(&format!(
            "/webhooks/{}/test",
            other.body["id"].as_str().unwrap()
        )),
        Some(&org.owner.token),
        json!({}),
    )
    .await
    .expect(202);
    plexmcp_tests::set_attribute(
        &format!("ORG#{}", org.id),
        &format!("WEBHOOK#{id}"),
        "manual_sends_since",
        aws_sdk_dynamodb::types::AttributeValue::S("2020-01-01T00:00:00.000Z".into()),
    )
    .await;
    api.post(&redeliver, Some(&org.owner.token), json!({}))
        .await
        .expect(202);
}

#[tokio::test]
async fn below_admin_a_webhook_url_shows_no_credential() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let (_, key) = org.api_key(&api).await;
    let url = "http://127.0.0.1:9/services/T0001/B0002/XyZ123abcDEF456ghi?token=s3cr3t";
    let id = api
        .post(
            &org.path("/webhooks"),
            Some(&org.admin.token),
            json!({ "url": url, "events": ["mcp.created"] }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = org.path(&format!("/webhooks/{id}"));
    for token in [&org.owner.token, &org.admin.token] {
        assert_eq!(api.get(&one, token).await.expect(200).body["url"], url);
    }
    for token in [&org.member.token, &org.viewer.token, &key] {
        let shown = api.get(&one, token).await.expect(200).body["url"].clone();
        assert_eq!(
            shown,
            "http://127.0.0.1:9/services/T0001/B0002/••••?token=••••"
        );
        let listed = api
            .get(&org.path("/webhooks"), token)
            .await
            .expect(200)
            .body;
        assert!(!listed.to_string().contains("s3cr3t"), "{listed}");
        assert!(!listed.to_string().contains("XyZ123"), "{listed}");
    }
}
