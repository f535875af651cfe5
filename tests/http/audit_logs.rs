//! Settings → Audit Logs as an owner sees it: plan gating, every category, each filter and
//! their combinations, pagination under concurrent writes, the chain check finding an
//! edited and a deleted entry, roles, and the personal trail.

use aws_sdk_dynamodb::types::AttributeValue;
use plexmcp_tests::{delete_item, items, stack, Api, OrgFixture, TwoOrgs};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;

const PIN: &str = "840317";

/// An org on the Pro plan (audit logs need it).
async fn pro_org(api: &Api) -> OrgFixture {
    let org = OrgFixture::create(api).await;
    org.set_plan(api, "pro").await;
    org
}

async fn log(api: &Api, org: &OrgFixture, query: &str) -> Vec<Value> {
    let page = api
        .get(
            &org.path(&format!("/audit-logs?limit=200{query}")),
            &org.admin.token,
        )
        .await
        .expect(200);
    assert!(page.body["next_cursor"].is_null(), "one page expected");
    page.body["items"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_free_plan_keeps_entries_and_shows_them_after_an_upgrade() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    api.get(&org.path("/audit-logs"), &org.owner.token)
        .await
        .problem(403, "plan_required");
    api.get(&org.path("/audit-logs/verify"), &org.owner.token)
        .await
        .problem(403, "plan_required");
    api.put(
        &org.path("/billing"),
        &org.owner.token,
        json!({ "plan": "pro" }),
    )
    .await
    .expect(200);
    let entries = log(&api, &org, "").await;
    let seen = actions(&entries);
    assert_eq!(seen.first(), Some(&"billing.plan_changed"), "newest first");
    assert_eq!(seen.last(), Some(&"org.created"));
    assert!(seen.contains(&"team.member_added"));
    // Written with the retention of the plan at the time: 30 days.
    let stored = items(&format!("ORG#{}", org.id), "AUDIT#").await;
    let ttl: i64 = stored[0]["ttl"].as_n().unwrap().parse().unwrap();
    let days = (ttl - chrono::Utc::now().timestamp()) / 86_400;
    assert!((29..=30).contains(&days), "{days} days");
}

#[tokio::test]
async fn each_category_appears_and_each_filter_narrows() {
    let api = stack().api();
    let org = pro_org(&api).await;
    let mcp = org.mcp(&api).await;
    let (key_id, _) = org.api_key(&api).await;
    api.patch(
        &org.path(""),
        &org.admin.token,
        json!({ "description": "audited" }),
    )
    .await
    .expect(200);
    let marker = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    api.patch(
        &org.path(&format!("/mcps/{mcp}")),
        &org.admin.token,
        json!({ "name": "Later" }),
    )
    .await
    .expect(200);
    org.enable_pin(&api, PIN).await;

    let all = log(&api, &org, "").await;
    let categories: HashSet<&str> = all
        .iter()
        .map(|e| e["category"].as_str().unwrap())
        .collect();
    for category in ["mcp", "api_key", "team", "settings", "billing"] {
        assert!(
            categories.contains(category),
            "{category} missing: {categories:?}"
        );
    }
    let by_category = log(&api, &org, "&category=mcp").await;
    assert_eq!(actions(&by_category), ["mcp.updated", "mcp.created"]);
    let exact = log(&api, &org, "&action=mcp.created").await;
    assert_eq!(actions(&exact), ["mcp.created"]);
    let prefix = log(&api, &org, "&action=mcp.*").await;
    assert_eq!(actions(&prefix), ["mcp.updated", "mcp.created"]);
    let admin = log(&api, &org, &format!("&actor={}", org.admin.id)).await;
    // The admin's own acts, joining included (accepting the invitation).
    assert_eq!(
        actions(&admin),
        ["mcp.updated", "org.updated", "team.member_added"]
    );
    assert!(admin
        .iter()
        .all(|e| e["actor"]["id"] == org.admin.id.as_str()));
    let since = marker.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let later = log(&api, &org, &format!("&from={since}")).await;
    assert_eq!(actions(&later), ["security.pin_set", "mcp.updated"]);
    let earlier = log(&api, &org, &format!("&to={since}&category=mcp")).await;
    assert_eq!(actions(&earlier), ["mcp.created"]);
    let combined = log(
        &api,
        &org,
        &format!(
            "&from={since}&actor={}&action=mcp.*&category=mcp",
            org.admin.id
        ),
    )
    .await;
    assert_eq!(actions(&combined), ["mcp.updated"]);
    let key_entries = log(&api, &org, "&action=api_key.*&category=api_key").await;
    assert_eq!(key_entries[0]["target"]["id"], key_id.as_str());
    // Entries keep their hashes beside them.
    assert!(all.iter().all(|e| e["hash"].as_str().unwrap().len() == 64));

    for bad in [
        "&from=yesterday",
        "&category=everything",
        "&action=*",
        "&limit=0",
    ] {
        let resp = api
            .get(&org.path(&format!("/audit-logs?{bad}")), &org.owner.token)
            .await;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.body);
    }
}

#[tokio::test]
async fn no_secret_token_or_pin_is_in_any_entry() {
    let api = stack().api();
    let org = pro_org(&api).await;
    org.enable_pin(&api, PIN).await;
    let (_, key) = org.api_key(&api).await;
    let webhook = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["mcp.created"] }),
        )
        .await
        .expect(201);
    let secret = webhook.body["secret"]
        .as_str()
        .unwrap()
        .trim_start_matches("whsec_");
    let text = api
        .get(&org.path("/audit-logs?limit=200"), &org.owner.token)
        .await
        .expect(200)
        .body
        .to_string();
    for needle in [PIN, key.as_str(), secret, org.owner.token.as_str()] {
        assert!(!text.contains(needle), "an entry holds a secret");
    }
}

/// `times` changes of the org's description by its owner: as many audit entries.
/// `GET …/audit-logs/verify<query>` as an admin: the verification.
async fn verify_chain(api: &Api, org: &OrgFixture, query: &str) -> Value {
    api.get(
        &org.path(&format!("/audit-logs/verify{query}")),
        &org.admin.token,
    )
    .await
    .expect(200)
    .body
}

async fn describe_times(api: &Api, org: &OrgFixture, times: usize) {
    for i in 0..times {
        api.patch(
            &org.path(""),
            &org.owner.token,
            json!({ "description": format!("v{i}") }),
        )
        .await
        .expect(200);
    }
}

/// Every entry, page by page newest first: (seq, id).
async fn page_through(api: &Api, org: &OrgFixture, limit: usize) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/audit-logs?limit={limit}&cursor={c}"),
            None => format!("/audit-logs?limit={limit}"),
        };
        let page = api
            .get(&org.path(&query), &org.owner.token)
            .await
            .expect(200);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
            )
        }));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn pages_lose_and_repeat_nothing_while_entries_are_written() {
    let api = stack().api();
    let org = pro_org(&api).await;
    describe_times(&api, &org, 1_000).await;
    let before: HashSet<String> = page_through(&api, &org, 200)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert!(before.len() > 1_000, "{} entries", before.len());
    let writer = {
        let (api, path, token) = (api.clone(), org.path(""), org.owner.token.clone());
        tokio::spawn(async move {
            for i in 0..20 {
                api.patch(&path, &token, json!({ "description": format!("w{i}") }))
                    .await
                    .expect(200);
            }
        })
    };
    let seen = page_through(&api, &org, 37).await;
    writer.await.unwrap();
    let ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    let unique: HashSet<&String> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an entry came twice");
    assert!(
        before.iter().all(|id| unique.contains(id)),
        "an entry was lost"
    );
    assert!(seen.windows(2).all(|w| w[0].0 > w[1].0), "newest first");
    // A cursor of another filter is not this list's.
    let page = api
        .get(&org.path("/audit-logs?limit=1"), &org.owner.token)
        .await
        .expect(200);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    api.get(
        &org.path(&format!(
            "/audit-logs?limit=1&category=team&cursor={cursor}"
        )),
        &org.owner.token,
    )
    .await
    .problem(400, "invalid_cursor");
    let empty = api
        .get(&org.path("/audit-logs?limit=1&cursor="), &org.owner.token)
        .await
        .expect(200);
    assert_eq!(
        empty.body["items"], page.body["items"],
        "empty is the first page"
    );
}

#[tokio::test]
async fn the_chain_check_finds_an_edited_and_a_deleted_entry() {
    let api = stack().api();
    let org = pro_org(&api).await;
    describe_times(&api, &org, 4).await;
    let clean = verify_chain(&api, &org, "").await;
    assert_eq!(clean["valid"], true);
    assert_eq!(clean["first_bad"], Value::Null);
    let pk = format!("ORG#{}", org.id);
    let stored = items(&pk, "AUDIT#").await;
    assert_eq!(clean["checked"].as_u64().unwrap() as usize, stored.len());

    // Someone with table access rewrites what an entry says.
    let victim = &stored[stored.len() - 2];
    let edited = victim["entry"]
        .as_s()
        .unwrap()
        .replace("org.updated", "org.viewed");
    plexmcp_tests::set_attribute(
        &pk,
        victim["sk"].as_s().unwrap(),
        "entry",
        AttributeValue::S(edited),
    )
    .await;
    let found = verify_chain(&api, &org, "").await;
    assert_eq!(found["valid"], false);
    assert_eq!(
        found["first_bad"]["id"],
        victim["id"].as_s().unwrap().as_str()
    );
    assert!(found["first_bad"]["reason"]
        .as_str()
        .unwrap()
        .contains("edited"));

    // Someone deletes an entry instead (restore the edited one first).
    plexmcp_tests::set_attribute(
        &pk,
        victim["sk"].as_s().unwrap(),
        "entry",
        victim["entry"].clone(),
    )
    .await;
    assert_eq!(verify_chain(&api, &org, "").await["valid"], true);
    let gone = &stored[stored.len() - 3];
    delete_item(&pk, gone["sk"].as_s().unwrap()).await;
    let found = verify_chain(&api, &org, "").await;
    assert_eq!(found["valid"], false);
    assert!(
        found["first_bad"]["reason"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{found}"
    );
}

#[tokio::test]
async fn only_owners_and_admins_of_the_org_read_it() {
    let api = stack().api();
    let orgs = TwoOrgs::create(&api).await;
    for org in [&orgs.a, &orgs.b] {
        api.put(
            &org.path("/billing"),
            &org.owner.token,
            json!({ "plan": "team" }),
        )
        .await
        .expect(200);
    }
    let (_, key) = orgs.a.api_key(&api).await;
    for path in ["/audit-logs", "/audit-logs/verify"] {
        for token in [&orgs.a.member.token, &orgs.a.viewer.token, &key] {
            api.get(&orgs.a.path(path), token)
                .await
                .problem(403, "forbidden");
        }
        api.get(&orgs.a.path(path), &orgs.b.owner.token)
            .await
            .problem(404, "not_found");
        api.get(&orgs.a.path(path), &orgs.a.admin.token)
            .await
            .expect(200);
    }
    // Team keeps entries a year.
    api.patch(
        &orgs.a.path(""),
        &orgs.a.owner.token,
        json!({ "name": "Kept" }),
    )
    .await
    .expect(200);
    let stored = items(&format!("ORG#{}", orgs.a.id), "AUDIT#").await;
    let ttl: i64 = stored.last().unwrap()["ttl"]
        .as_n()
        .unwrap()
        .parse()
        .unwrap();
    let days = (ttl - chrono::Utc::now().timestamp()) / 86_400;
    assert!((364..=365).contains(&days), "{days} days");
}

#[tokio::test]
async fn a_person_sees_their_own_security_events() {
    let api = stack().api();
    let org = pro_org(&api).await;
    let mine = api
        .get("/v1/me/audit-logs", &org.member.token)
        .await
        .expect(200);
    let entries = mine.body["items"].as_array().unwrap();
    let seen = actions(entries);
    assert_eq!(
        seen.last(),
        Some(&"user.signed_up"),
        "oldest last: {seen:?}"
    );
    assert!(seen.contains(&"auth.login"));
    assert!(entries
        .iter()
        .all(|e| e["actor"]["id"] == org.member.id.as_str()));
    assert!(!seen
        .iter()
        .any(|a| a.starts_with("mcp.") || a.starts_with("billing.")));
    api.call(reqwest::Method::GET, "/v1/me/audit-logs", None, None)
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn an_enterprise_owner_sets_how_long_entries_are_kept() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let path = org.path("");
    let set = |token: String, days: Value| {
        let (api, path) = (api.clone(), path.clone());
        async move {
            api.patch(&path, &token, json!({ "audit_retention_days": days }))
                .await
        }
    };
    let shown = api.get(&org.path(""), &org.viewer.token).await.expect(200);
    assert_eq!(shown.body["audit_retention_days"], 30);
    set(org.owner.token.clone(), json!(3650))
        .await
        .problem(403, "plan_required");
    api.put(
        &org.path("/billing"),
        &org.owner.token,
        json!({ "plan": "enterprise" }),
    )
    .await
    .expect(200);
    set(org.admin.token.clone(), json!(3650))
        .await
        .problem(403, "forbidden");
    for bad in [json!(29), json!(3651), json!("long")] {
        let resp = set(org.owner.token.clone(), bad.clone()).await;
        assert_eq!(resp.status, 422, "{bad}: {}", resp.body);
    }
    let changed = set(org.owner.token.clone(), json!(3650)).await.expect(200);
    assert_eq!(changed.body["audit_retention_days"], 3650);
    // The change's own entry is the first kept that long.
    let stored = items(&format!("ORG#{}", org.id), "AUDIT#").await;
    let last = stored.last().unwrap();
    assert!(last["entry"]
        .as_s()
        .unwrap()
        .contains("audit_retention_days"));
    let ttl: i64 = last["ttl"].as_n().unwrap().parse().unwrap();
    let days = (ttl - chrono::Utc::now().timestamp()) / 86_400;
    assert!(
        (364..=365).contains(&days),
        "written under the old setting: {days}"
    );
    api.patch(&org.path(""), &org.owner.token, json!({ "name": "Longer" }))
        .await
        .expect(200);
    let stored = items(&format!("ORG#{}", org.id), "AUDIT#").await;
    let ttl: i64 = stored.last().unwrap()["ttl"]
        .as_n()
        .unwrap()
        .parse()
        .unwrap();
    let days = (ttl - chrono::Utc::now().timestamp()) / 86_400;
    assert!((3649..=3650).contains(&days), "{days} days");
}

#[tokio::test]
async fn the_chain_check_finds_the_newest_entries_cut_off_and_says_where_the_kept_window_starts() {
    let api = stack().api();
    let org = pro_org(&api).await;
    describe_times(&api, &org, 3).await;
    let clean = verify_chain(&api, &org, "").await;
    assert_eq!(clean["valid"], true);
    assert_eq!(clean["truncated"], false);
    assert_eq!(clean["starts_after_gap"], Value::Null);
    let pk = format!("ORG#{}", org.id);
    let stored = items(&pk, "AUDIT#").await;

    // The two newest entries go: what is left still links up, but the head says more.
    let cut_from = chrono::Utc::now();
    for entry in &stored[stored.len() - 2..] {
        delete_item(&pk, entry["sk"].as_s().unwrap()).await;
    }
    let found = verify_chain(&api, &org, "").await;
    assert_eq!(found["valid"], false, "{found}");
    assert_eq!(found["truncated"], true);
    assert!(found["first_bad"]["reason"]
        .as_str()
        .unwrap()
        .contains("truncated"));
    // A range that ends in the past is not about the end of the chain.
    let to =
        (cut_from - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let past = verify_chain(&api, &org, &format!("?to={to}")).await;
    assert_eq!(past["truncated"], false, "{past}");

    // The oldest entry gone (as retention would take it): the window is said to start
    // after a gap, and is not called invalid for it.
    let org = pro_org(&api).await;
    describe_times(&api, &org, 2).await;
    let pk = format!("ORG#{}", org.id);
    let stored = items(&pk, "AUDIT#").await;
    delete_item(&pk, stored[0]["sk"].as_s().unwrap()).await;
    let windowed = verify_chain(&api, &org, "").await;
    assert_eq!(windowed["valid"], true, "{windowed}");
    assert_eq!(windowed["starts_after_gap"], 2);
}

/// A well-formed API key nobody holds now, unlike any other test's.
fn made_up_key() -> String {
    use rand::Rng;
    let body: String = rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("pmcp_{body}")
}

#[tokio::test]
async fn failed_api_key_authentications_are_logged_ten_an_hour_at_most() {
    let api = stack().api();
    let org = pro_org(&api).await;
    let (key_id, key) = org.api_key(&api).await;
    api.delete(&org.path(&format!("/api-keys/{key_id}")), &org.owner.token)
        .await
        .expect(204);
    // What the sender chose (the key, the user agent) is theirs: the entry is the source
    // network's, the agent short and printable, the key not even by its prefix (a
    // made-up key can share a real key's prefix).
    let agent = format!("<script>alert(1)</script>\t\t{}", "x".repeat(200));
    api.send(
        api.raw(Method::GET, &org.path("/mcps"))
            .bearer_auth(&key)
            .header("user-agent", agent),
    )
    .await
    .problem(401, "unauthorized");
    let entries = log(&api, &org, "&category=authentication").await;
    assert_eq!(actions(&entries), ["api_key.authentication_failed"]);
    let entry = &entries[0];
    assert_eq!(entry["outcome"], "failure");
    assert_eq!(entry["actor"]["type"], "network");
    assert_eq!(entry["actor"]["id"], "127.0.0.1");
    assert_eq!(entry["target"]["id"], org.id.as_str());
    let kept = entry["user_agent"].as_str().unwrap();
    assert!(kept.len() <= 64, "{kept}");
    assert!(
        kept.chars().all(|c| c.is_ascii_graphic() || c == ' '),
        "{kept}"
    );
    assert!(kept.starts_with("<script>alert(1)</script>??"), "{kept}");
    assert!(!entry.to_string().contains(&key[5..11]), "{entry}");

    // Anyone can send made-up keys: the flood costs the log ten entries an hour.
    let flood: Vec<String> = (0..12).map(|_| made_up_key()).collect();
    for made_up in &flood {
        api.get(&org.path(""), made_up)
            .await
            .problem(401, "unauthorized");
    }
    let entries = log(&api, &org, "&action=api_key.authentication_failed").await;
    assert_eq!(entries.len(), 10, "{entries:?}");
    let text = serde_json::to_string(&entries).unwrap();
    assert!(flood.iter().all(|k| !text.contains(k.as_str())));
    // An unknown org gets no entry anywhere, and the answer is the same 401.
    api.get("/v1/orgs/no-such-org-here", &made_up_key())
        .await
        .problem(401, "unauthorized");
}
