//! Settings → General: create, read, rename, describe; the slug rules and immutability.

use aws_sdk_dynamodb::types::AttributeValue;
use plexmcp_tests::{audit_chain, items, set_attribute, stack, unique, Account, OrgFixture};
use serde_json::json;

#[tokio::test]
async fn creating_an_org_makes_the_caller_its_owner_on_the_free_plan() {
    let api = stack().api();
    let owner = Account::create(&api).await;
    let slug = unique("acme-");
    let org = api
        .post(
            "/v1/orgs",
            Some(&owner.token),
            json!({ "name": "Acme", "slug": slug, "description": "Tools" }),
        )
        .await
        .expect(201);
    assert!(org.body["id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(org.body["plan"], "free");
    assert_eq!(org.body["pin_protection_enabled"], false);
    let read = api
        .get(&format!("/v1/orgs/{slug}"), &owner.token)
        .await
        .expect(200);
    assert_eq!(read.body, org.body);
    let members = api
        .get(&format!("/v1/orgs/{slug}/members"), &owner.token)
        .await
        .expect(200);
    assert_eq!(members.body["items"][0]["role"], "owner");
    assert_eq!(members.body["items"][0]["user_id"], owner.id.as_str());

    let audit = audit_chain(&format!("ORG#{}", org.body["id"].as_str().unwrap())).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "org.created");
    assert_eq!(audit[0]["actor"]["id"], owner.id.as_str());
}

#[tokio::test]
async fn slugs_follow_the_format_and_are_unique() {
    let api = stack().api();
    let owner = Account::create(&api).await;
    for bad in [
        "ab",
        "Upper-Case",
        "-lead",
        "trail-",
        "double--hyphen",
        "under_score",
        "api",
        "admin",
        "www",
        &"a".repeat(49),
    ] {
        let resp = api
            .post(
                "/v1/orgs",
                Some(&owner.token),
                json!({ "name": "X", "slug": bad }),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(resp.body["errors"][0]["field"], "slug", "{bad}");
    }
    let slug = unique("taken-");
    api.post(
        "/v1/orgs",
        Some(&owner.token),
        json!({ "name": "First", "slug": slug }),
    )
    .await
    .expect(201);
    let other = Account::create(&api).await;
    api.post(
        "/v1/orgs",
        Some(&other.token),
        json!({ "name": "Second", "slug": slug }),
    )
    .await
    .problem(409, "conflict");
}

#[tokio::test]
async fn racing_for_one_slug_creates_one_org() {
    let api = stack().api();
    let owner = Account::create(&api).await;
    let slug = unique("race-");
    let attempts = (0..8).map(|i| {
        api.post(
            "/v1/orgs",
            Some(&owner.token),
            json!({ "name": format!("Racer {i}"), "slug": slug }),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    let me = api.get("/v1/me", &owner.token).await.expect(200);
    assert_eq!(
        me.body["organizations"].as_array().unwrap().len(),
        1,
        "no half-created orgs"
    );
}

#[tokio::test]
async fn name_and_description_can_change_and_each_change_is_audited() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let renamed = api
        .patch(
            &org.path(""),
            &org.admin.token,
            json!({ "name": "  Renamed  " }),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "Renamed");
    let (calls, scans) = renamed.dynamodb_calls();
    assert!(
        calls <= 3 && scans == 0,
        "PATCH made {calls} DynamoDB calls"
    );

    let described = api
        .patch(
            &org.path(""),
            &org.owner.token,
            json!({ "description": "Line one\nLine two" }),
        )
        .await
        .expect(200);
    assert_eq!(described.body["description"], "Line one\nLine two");
    assert_eq!(described.body["name"], "Renamed");
    let cleared = api
        .patch(
            &org.path(""),
            &org.owner.token,
            json!({ "description": null }),
        )
        .await
        .expect(200);
    assert_eq!(cleared.body["description"], "");
    // The same slug is not a change.
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "slug": org.slug, "name": "Same Slug" }),
    )
    .await
    .expect(200);

    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    let updates: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|e| e["action"] == "org.updated")
        .collect();
    assert_eq!(updates.len(), 4);
    assert_eq!(
        updates[0]["details"]["name"],
        json!({ "from": "Fixture Org", "to": "Renamed" })
    );
    assert_eq!(updates[0]["actor"]["id"], org.admin.id.as_str());
}

#[tokio::test]
async fn names_and_descriptions_are_stored_in_one_unicode_form() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    // "é" typed as "e" + a combining accent is stored as the one code point (NFC).
    let updated = api
        .patch(
            &org.path(""),
            &org.owner.token,
            json!({ "name": "  Cafe\u{301} Ltd  ", "description": "Cre\u{300}me\nbru\u{302}le\u{301}e" }),
        )
        .await
        .expect(200);
    assert_eq!(updated.body["name"], "Caf\u{E9} Ltd");
    assert_eq!(updated.body["description"], "Cr\u{E8}me\nbr\u{FB}l\u{E9}e");
    let read = api.get(&org.path(""), &org.owner.token).await.expect(200);
    assert_eq!(read.body["name"], "Caf\u{E9} Ltd");
    // The 100-character limit counts characters as stored.
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "name": "e\u{301}".repeat(100) }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_slug_cannot_change_and_bad_updates_change_nothing() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let before = api
        .get(&org.path(""), &org.owner.token)
        .await
        .expect(200)
        .body;
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "slug": "something-else" }),
    )
    .await
    .problem(422, "slug_immutable");
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "slug": "something-else", "name": "Sneaky" }),
    )
    .await
    .problem(422, "slug_immutable");
    api.patch(&org.path(""), &org.owner.token, json!({ "name": "" }))
        .await
        .problem(422, "validation_failed");
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "name": "x".repeat(101) }),
    )
    .await
    .problem(422, "validation_failed");
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "name": "bell\u{7}" }),
    )
    .await
    .problem(422, "validation_failed");
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "description": "d".repeat(501) }),
    )
    .await
    .problem(422, "validation_failed");
    // Invisible characters that make two names look alike, and separators that break
    // lines where a client does not expect them.
    for (field, text) in [
        ("name", "Ac\u{200B}me"),
        ("name", "\u{FEFF}Acme"),
        ("name", "Acme\u{200F}"),
        ("description", "one\u{2028}two"),
        ("description", "one\u{2029}two"),
        ("description", "zero\u{200D}joiner"),
    ] {
        let refused = api
            .patch(&org.path(""), &org.owner.token, json!({ field: text }))
            .await
            .problem(422, "validation_failed");
        assert_eq!(refused.body["errors"][0]["field"], field);
    }
    api.patch(
        &org.path(""),
        &org.owner.token,
        json!({ "plan": "enterprise" }),
    )
    .await
    .problem(422, "validation_failed");
    api.patch(&org.path(""), &org.owner.token, json!({ "name": 42 }))
        .await
        .problem(422, "validation_failed");
    api.patch(
        &org.path(""),
        &org.member.token,
        json!({ "name": "By Member" }),
    )
    .await
    .problem(403, "forbidden");
    api.patch(
        &org.path(""),
        &org.viewer.token,
        json!({ "name": "By Viewer" }),
    )
    .await
    .problem(403, "forbidden");
    let after = api
        .get(&org.path(""), &org.owner.token)
        .await
        .expect(200)
        .body;
    assert_eq!(before, after);
    assert!(audit_chain(&format!("ORG#{}", org.id))
        .await
        .iter()
        .all(|e| e["action"] != "org.updated"));
}

#[tokio::test]
async fn concurrent_updates_keep_one_unbroken_audit_chain() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let path = org.path("");
    let updates = (0..6).map(|i| {
        api.patch(
            &path,
            &org.owner.token,
            json!({ "name": format!("Name {i}") }),
        )
    });
    for resp in futures::future::join_all(updates).await {
        resp.expect(200);
    }
    let audit = audit_chain(&format!("ORG#{}", org.id)).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e["action"] == "org.updated")
            .count(),
        6
    );
}

#[tokio::test]
async fn a_person_in_more_than_a_hundred_orgs_still_sees_them_all() {
    let api = stack().api();
    let owner = Account::create(&api).await;
    let slugs: Vec<String> = (0..105).map(|_| unique("many-")).collect();
    for chunk in slugs.chunks(10) {
        // Founding is capped at ten a day, a hundred in all: this test is about listing,
        // so each chunk starts on a fresh count.
        for counter in [today_counter(), "orgs_created".to_owned()] {
            set_attribute(
                &format!("USER#{}", owner.id),
                "PROFILE",
                &counter,
                AttributeValue::N("0".into()),
            )
            .await;
        }
        futures::future::join_all(chunk.iter().map(|slug| {
            api.post(
                "/v1/orgs",
                Some(&owner.token),
                json!({ "name": "One of many", "slug": slug }),
            )
        }))
        .await
        .into_iter()
        .for_each(|r| {
            r.expect(201);
        });
    }
    let me = api.get("/v1/me", &owner.token).await.expect(200);
    assert_eq!(me.body["organizations"].as_array().unwrap().len(), 105);
}

#[tokio::test]
async fn a_person_belongs_to_at_most_a_thousand_orgs() {
    let api = stack().api();
    let owner = Account::create_verified(&api).await;
    let org = OrgFixture::create(&api).await;
    let invitation = api
        .post(
            &org.path("/members"),
            Some(&org.owner.token),
            json!({ "email": owner.email, "role": "viewer" }),
        )
        .await
        .expect(201);
    // 1,000 memberships, as the counter on the profile says.
    set_attribute(
        &format!("USER#{}", owner.id),
        "PROFILE",
        "membership_count",
        AttributeValue::N("1000".into()),
    )
    .await;
    api.post(
        "/v1/orgs",
        Some(&owner.token),
        json!({ "name": "One too many", "slug": unique("cap-") }),
    )
    .await
    .problem(409, "membership_limit");
    let id = invitation.body["id"].as_str().unwrap();
    api.post(
        &format!("/v1/me/invitations/{id}/accept"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .problem(409, "membership_limit");
    // Leaving one makes room.
    set_attribute(
        &format!("USER#{}", owner.id),
        "PROFILE",
        "membership_count",
        AttributeValue::N("999".into()),
    )
    .await;
    api.post(
        &format!("/v1/me/invitations/{id}/accept"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect(200);
    api.delete(&org.path(&format!("/members/{}", owner.id)), &owner.token)
        .await
        .expect(200);
    let profile = items(&format!("USER#{}", owner.id), "PROFILE").await;
    assert_eq!(profile[0]["membership_count"].as_n().unwrap(), "999");
}

/// Polls the platform zone until `hostname` has a CNAME, for up to `within`.
async fn platform_cname_within(hostname: &str, within: std::time::Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let cname = stack().platform_cname(hostname).await;
        if cname.is_some() || std::time::Instant::now() > deadline {
            return cname;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_org_gets_its_api_hostname_in_the_platform_zone() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let read = api.get(&org.path(""), &org.owner.token).await.expect(200);
    let hostname = format!("{}.{}", org.slug, stack().env("PLATFORM_DOMAIN"));
    assert_eq!(read.body["api_hostname"], hostname.as_str());
    let cname = platform_cname_within(&hostname, std::time::Duration::from_secs(20)).await;
    assert_eq!(
        cname.as_deref(),
        Some(stack().env("GATEWAY_CNAME_TARGET").as_str()),
        "a CNAME to the gateway in the platform zone, read back from Route53"
    );
    plexmcp_tests::events::outbox_drains(&org.id).await;
}

#[tokio::test]
async fn a_route53_failure_does_not_fail_the_org_and_the_record_is_written_later() {
    let api = stack().api();
    let owner = Account::create(&api).await;
    let slug = unique("dns-");
    let hostname = format!("{slug}.{}", stack().env("PLATFORM_DOMAIN"));
    let switch = stack().hooks_dir.join(format!("route53-fails.{hostname}"));
    std::fs::write(&switch, b"").unwrap();
    let org = api
        .post(
            "/v1/orgs",
            Some(&owner.token),
            json!({ "name": "Down Under", "slug": slug }),
        )
        .await
        .expect(201);
    let org_id = org.body["id"].as_str().unwrap();
    assert_eq!(org.body["api_hostname"], hostname.as_str());
    assert_eq!(
        platform_cname_within(&hostname, std::time::Duration::from_secs(3)).await,
        None,
        "Route53 refused the change"
    );
    let outbox = items(&format!("ORG#{org_id}"), "OUTBOX#").await;
    assert_eq!(outbox.len(), 1, "the request waits in the outbox");

    // Route53 answers again: the redelivered request (after the queue's visibility
    // timeout, or the outbox sweep, both about a minute) writes the record.
    std::fs::remove_file(&switch).unwrap();
    let cname = platform_cname_within(&hostname, std::time::Duration::from_secs(150)).await;
    assert_eq!(cname, Some(stack().env("GATEWAY_CNAME_TARGET")));
    plexmcp_tests::events::outbox_drains(org_id).await;
}

#[tokio::test]
async fn a_person_creates_at_most_ten_orgs_a_day_and_a_hundred_in_all() {
    let api = stack().api();
    let founder = Account::create(&api).await;
    let create = |slug: String| {
        api.post(
            "/v1/orgs",
            Some(&founder.token),
            json!({ "name": "Many", "slug": slug }),
        )
    };
    for _ in 0..10 {
        create(unique("day-")).await.expect(201);
    }
    let refused = create(unique("day-")).await.problem(429, "rate_limited");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let me = api.get("/v1/me", &founder.token).await.expect(200);
    assert_eq!(me.body["organizations"].as_array().unwrap().len(), 10);

    // Those ten were yesterday's (time moves for this profile): ten more may come, and
    // the past day's counter goes.
    let profile = format!("USER#{}", founder.id);
    let set = |attr: String, value: &'static str| {
        let profile = profile.clone();
        async move { set_attribute(&profile, "PROFILE", &attr, AttributeValue::N(value.into())).await }
    };
    set(today_counter(), "0").await;
    set("orgs_created_on_2020-01-01".into(), "10").await;
    create(unique("day-")).await.expect(201);
    let stored = &items(&profile, "PROFILE").await[0];
    assert!(stored.get("orgs_created_on_2020-01-01").is_none());
    assert_eq!(stored[&today_counter()], AttributeValue::N("1".into()));
    // Concurrent first creations of a day do not trip each other.
    set(today_counter(), "0").await;
    let burst = futures::future::join_all((0..5).map(|_| create(unique("day-")))).await;
    let statuses: Vec<u16> = burst.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [201; 5]);
    // A hundred in all, whatever the day.
    set("orgs_created".into(), "100").await;
    create(unique("day-")).await.problem(409, "org_limit");
}

/// The profile attribute counting today's founded orgs.
fn today_counter() -> String {
    format!("orgs_created_on_{}", chrono::Utc::now().format("%Y-%m-%d"))
}
