//! Settings → Custom Domain as an org owner sees it, against a real DNS server on loopback
//! whose records the tests change while the stack runs: a domain is verified only with
//! both the CNAME and the TXT token; records removed → failed, back → verified; one org
//! per name, released by removal, replacement or expiry (48 h, time the test moves);
//! IDNA input, every bad input, the Free plan, and roles.

use aws_sdk_dynamodb::types::AttributeValue;
use plexmcp_tests::dns::dns;
use plexmcp_tests::{
    set_attribute, stack, stack_checking_domains_every_second, unique, Api, OrgFixture,
};
use serde_json::{json, Value};

/// An org on the Pro plan (custom domains need it).
async fn pro_org(api: &Api) -> OrgFixture {
    let org = OrgFixture::create(api).await;
    org.set_plan(api, "pro").await;
    org
}

fn new_domain() -> String {
    format!("{}.example.com", unique("api-"))
}

async fn put_domain(api: &Api, org: &OrgFixture, domain: &str) -> Value {
    api.put(
        &org.path("/custom-domain"),
        &org.admin.token,
        json!({ "domain": domain }),
    )
    .await
    .expect(200)
    .body
}

async fn verify(api: &Api, org: &OrgFixture) -> Value {
    api.post(
        &org.path("/custom-domain/verify"),
        Some(&org.admin.token),
        json!({}),
    )
    .await
    .expect(200)
    .body
}

/// Publishes what the PUT answer asks for: the CNAME and the TXT token.
fn publish(answer: &Value) {
    let domain = answer["domain"].as_str().unwrap();
    dns().set(
        domain,
        &[("CNAME", answer["cname_target"].as_str().unwrap())],
    );
    dns().set(
        answer["txt_record"]["name"].as_str().unwrap(),
        &[("TXT", answer["txt_record"]["value"].as_str().unwrap())],
    );
}

fn unpublish(answer: &Value) {
    dns().set(answer["domain"].as_str().unwrap(), &[]);
    dns().set(answer["txt_record"]["name"].as_str().unwrap(), &[]);
}

#[tokio::test]
async fn a_domain_is_verified_only_with_both_records_and_fails_when_they_go() {
    let api = stack().api();
    let org = pro_org(&api).await;
    let domain = new_domain();
    let put = put_domain(&api, &org, &domain).await;
    assert_eq!(put["domain"], domain.as_str());
    assert_eq!(put["status"], "pending");
    assert_eq!(put["checks"], 0);
    assert!(put["expires_at"].is_string());
    let txt_name = format!("_plexmcp-challenge.{domain}");
    assert_eq!(put["txt_record"]["name"], txt_name.as_str());
    let token = put["txt_record"]["value"].as_str().unwrap().to_owned();
    let target = put["cname_target"].as_str().unwrap().to_owned();

    let checked = verify(&api, &org).await;
    assert_eq!(checked["status"], "pending");
    assert_eq!(checked["reason"], "no CNAME record");
    dns().set(&domain, &[("CNAME", "elsewhere.example.net")]);
    let checked = verify(&api, &org).await;
    assert_eq!(checked["reason"], "CNAME points to elsewhere.example.net");
    // A CNAME alone is not enough: a dangling record could be anyone's.
    dns().set(&domain, &[("CNAME", &target)]);
    let checked = verify(&api, &org).await;
    assert_eq!(checked["status"], "pending");
    assert_eq!(checked["reason"], "TXT token missing");
    dns().set(&txt_name, &[("TXT", "plexmcp-verify=someone-else")]);
    assert_eq!(verify(&api, &org).await["reason"], "TXT token missing");
    dns().set(&txt_name, &[("TXT", &token)]);
    let checked = verify(&api, &org).await;
    assert_eq!(checked["status"], "verified", "{checked}");
    assert!(checked["reason"].is_null() && checked["expires_at"].is_null());
    assert!(checked["verified_at"].is_string());

    // Every member reads it, with the checks made.
    let read = api
        .get(&org.path("/custom-domain"), &org.viewer.token)
        .await
        .expect(200)
        .body;
    assert_eq!(read["status"], "verified");
    assert_eq!(read["checks"], 5);
    assert!(read["last_checked_at"].is_string());

    unpublish(&put);
    let failed = verify(&api, &org).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["reason"], "no CNAME record");
    publish(&put);
    assert_eq!(verify(&api, &org).await["status"], "verified");

    // Each change of state is in the audit log (category settings).
    let log = api
        .get(
            &org.path("/audit-logs?category=settings&action=custom_domain.*"),
            &org.owner.token,
        )
        .await
        .expect(200)
        .body;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "custom_domain.verified",
            "custom_domain.failed",
            "custom_domain.verified",
            "custom_domain.added"
        ]
    );
}

#[tokio::test]
async fn one_org_per_domain_until_it_is_released() {
    let api = stack().api();
    let (a, b) = (pro_org(&api).await, pro_org(&api).await);
    let domain = new_domain();
    let first = put_domain(&api, &a, &domain).await;
    api.put(
        &b.path("/custom-domain"),
        &b.admin.token,
        json!({ "domain": domain }),
    )
    .await
    .problem(409, "domain_taken");

    // Replacing a pending domain releases the old name.
    put_domain(&api, &a, &new_domain()).await;
    let second = put_domain(&api, &b, &domain).await;
    assert_ne!(second["txt_record"]["value"], first["txt_record"]["value"]);
    // The same domain again answers as it is (same token).
    let again = put_domain(&api, &b, &domain).await;
    assert_eq!(again["txt_record"], second["txt_record"]);

    // Removing it releases it too.
    api.delete(&b.path("/custom-domain"), &b.admin.token)
        .await
        .expect(204);
    api.get(&b.path("/custom-domain"), &b.admin.token)
        .await
        .problem(404, "not_found");
    put_domain(&api, &a, &domain).await;

    // A verified domain is not replaced by accident.
    let answer = put_domain(&api, &b, &new_domain()).await;
    publish(&answer);
    let checked = verify(&api, &b).await;
    assert_eq!(checked["status"], "verified", "{checked}");
    api.put(
        &b.path("/custom-domain"),
        &b.admin.token,
        json!({ "domain": new_domain() }),
    )
    .await
    .problem(409, "domain_verified");
}

#[tokio::test]
async fn a_pending_domain_expires_after_48_hours_and_another_org_may_claim_it() {
    let api = stack().api();
    let (a, b) = (pro_org(&api).await, pro_org(&api).await);
    let domain = new_domain();
    put_domain(&api, &a, &domain).await;
    verify(&api, &a).await;
    // 48 hours pass without a successful check (the test moves the record's clock).
    let past = AttributeValue::S((chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339());
    set_attribute(
        &format!("ORG#{}", a.id),
        "CUSTOMDOMAIN",
        "expires_at",
        past.clone(),
    )
    .await;
    let expired = verify(&api, &a).await;
    assert_eq!(expired["status"], "expired");
    api.post(
        &a.path("/custom-domain/verify"),
        Some(&a.admin.token),
        json!({}),
    )
    .await
    .problem(409, "domain_expired");
    let claimed = put_domain(&api, &b, &domain).await;
    assert_eq!(claimed["status"], "pending");

    // A claim whose time ran out is free even before its org checks again.
    let other = new_domain();
    put_domain(&api, &a, &other).await;
    set_attribute(&format!("DOMAIN#{other}"), "CLAIM", "expires_at", past).await;
    let taken = put_domain(&api, &b, &other).await;
    assert_eq!(taken["domain"], other.as_str());
    // a's late verification cannot take it back.
    let a_record = api
        .get(&a.path("/custom-domain"), &a.admin.token)
        .await
        .expect(200)
        .body;
    publish(&a_record);
    api.post(
        &a.path("/custom-domain/verify"),
        Some(&a.admin.token),
        json!({}),
    )
    .await
    .problem(409, "domain_taken");
}

#[tokio::test]
async fn names_are_stored_in_one_spelling_and_bad_ones_are_refused() {
    let api = stack().api();
    let org = pro_org(&api).await;
    let label = unique("bücher-");
    let answer = put_domain(
        &api,
        &org,
        &format!("  {}.Example.COM. ", label.to_uppercase()),
    )
    .await;
    let stored = answer["domain"].as_str().unwrap();
    assert!(
        stored.starts_with("xn--") && stored.ends_with(".example.com"),
        "{stored}"
    );

    let platform = stack().env("PLATFORM_DOMAIN");
    let target = answer["cname_target"].as_str().unwrap().to_owned();
    let long = format!("{}.example.com", "abcdefghij.".repeat(25));
    for bad in [
        "",
        "localhost",
        "*.example.com",
        "127.0.0.1",
        "[::1]",
        "a..example.com",
        "-a.example.com",
        "a_b.example.com",
        "https://example.com",
        "example.com:443",
        &long,
        &format!("acme.{platform}"),
        &target,
    ] {
        let resp = api
            .put(
                &org.path("/custom-domain"),
                &org.admin.token,
                json!({ "domain": bad }),
            )
            .await;
        assert_eq!(resp.status, 422, "{bad:?}: {}", resp.body);
        assert_eq!(resp.body["errors"][0]["field"], "domain", "{}", resp.body);
    }
    for body in [
        json!({}),
        json!({ "domain": 5 }),
        json!({ "domain": "a.example.com", "x": 1 }),
    ] {
        let resp = api
            .put(&org.path("/custom-domain"), &org.admin.token, body.clone())
            .await;
        assert!(matches!(resp.status, 400 | 422), "{body}: {}", resp.body);
    }
    // Nothing changed.
    let read = api
        .get(&org.path("/custom-domain"), &org.admin.token)
        .await
        .expect(200)
        .body;
    assert_eq!(read["domain"], stored);
}

#[tokio::test]
async fn the_free_plan_and_roles() {
    let api = stack().api();
    let free = OrgFixture::create(&api).await;
    api.put(
        &free.path("/custom-domain"),
        &free.owner.token,
        json!({ "domain": new_domain() }),
    )
    .await
    .problem(403, "plan_required");
    api.post(
        &free.path("/custom-domain/verify"),
        Some(&free.owner.token),
        json!({}),
    )
    .await
    .problem(403, "plan_required");
    api.get(&free.path("/custom-domain"), &free.owner.token)
        .await
        .problem(404, "not_found");

    let org = pro_org(&api).await;
    for who in [&org.member, &org.viewer] {
        api.put(
            &org.path("/custom-domain"),
            &who.token,
            json!({ "domain": new_domain() }),
        )
        .await
        .problem(403, "forbidden");
    }
    let (_, key) = org.api_key(&api).await;
    api.put(
        &org.path("/custom-domain"),
        &key,
        json!({ "domain": new_domain() }),
    )
    .await
    .problem(403, "forbidden");
    put_domain(&api, &org, &new_domain()).await;
    api.get(&org.path("/custom-domain"), &key).await.expect(200);
    for who in [&org.member, &org.viewer] {
        api.get(&org.path("/custom-domain"), &who.token)
            .await
            .expect(200);
        api.post(
            &org.path("/custom-domain/verify"),
            Some(&who.token),
            json!({}),
        )
        .await
        .problem(403, "forbidden");
        api.delete(&org.path("/custom-domain"), &who.token)
            .await
            .problem(403, "forbidden");
    }
    api.delete(&org.path("/custom-domain"), &org.owner.token)
        .await
        .expect(204);
}

/// Reads the domain until `done` holds of it (the worker checks every second here).
async fn until(api: &Api, org: &OrgFixture, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let read = api
            .get(&org.path("/custom-domain"), &org.viewer.token)
            .await
            .expect(200)
            .body;
        if done(&read) {
            return read;
        }
        assert!(std::time::Instant::now() < deadline, "still {read}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn the_worker_verifies_a_pending_domain_without_anyone_asking() {
    let api = stack_checking_domains_every_second().api();
    let org = pro_org(&api).await;
    let answer = put_domain(&api, &org, &new_domain()).await;
    let checked = until(&api, &org, |d| d["checks"].as_u64() >= Some(2)).await;
    assert_eq!(checked["status"], "pending");
    assert_eq!(checked["reason"], "no CNAME record");
    publish(&answer);
    let verified = until(&api, &org, |d| d["status"] == "verified").await;
    assert!(verified["verified_at"].is_string());
    // Nobody called verify: the change of state is the worker's, in the audit log.
    let log = api
        .get(
            &org.path("/audit-logs?action=custom_domain.verified"),
            &org.owner.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(log["items"][0]["actor"]["type"], "system");
}

#[tokio::test]
async fn a_verified_domain_is_rechecked_daily_fails_comes_back_and_is_released_after_7_days() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let (org, other) = (pro_org(&api).await, pro_org(&api).await);
    let answer = put_domain(&api, &org, &new_domain()).await;
    publish(&answer);
    until(&api, &org, |d| d["status"] == "verified").await;
    // The daily checks (every 2 s here) notice the records are gone, and back.
    unpublish(&answer);
    let failed = until(&api, &org, |d| d["status"] == "failed").await;
    assert_eq!(failed["reason"], "no CNAME record");
    assert!(failed["failed_since"].is_string());
    publish(&answer);
    let back = until(&api, &org, |d| d["status"] == "verified").await;
    assert!(back["failed_since"].is_null() && back["reason"].is_null());
    // Gone for 7 days (the test moves the record's clock): released.
    unpublish(&answer);
    until(&api, &org, |d| d["status"] == "failed").await;
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(8)).to_rfc3339();
    stack
        .dynamodb()
        .await
        .update_item()
        .table_name(stack.table_name())
        .key("pk", AttributeValue::S(format!("ORG#{}", org.id)))
        .key("sk", AttributeValue::S("CUSTOMDOMAIN".into()))
        // A check that read the record before this edit must not write over it.
        .update_expression("SET failed_since = :then, checks = checks + :one")
        .expression_attribute_values(":then", AttributeValue::S(long_ago))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let released = until(&api, &org, |d| d["status"] == "expired").await;
    assert_eq!(released["reason"], "no CNAME record");
    put_domain(&api, &other, answer["domain"].as_str().unwrap()).await;
}

#[tokio::test]
async fn the_worker_expires_a_domain_nobody_verified_in_48_hours() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let (a, b) = (pro_org(&api).await, pro_org(&api).await);
    let domain = new_domain();
    put_domain(&api, &a, &domain).await;
    // 48 hours pass (the test moves the record's clock); the next scheduled check expires it.
    let past = AttributeValue::S((chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339());
    let table = stack.table_name();
    stack
        .dynamodb()
        .await
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("ORG#{}", a.id)))
        .key("sk", AttributeValue::S("CUSTOMDOMAIN".into()))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", past)
        .send()
        .await
        .unwrap();
    let expired = until(&api, &a, |d| d["status"] == "expired").await;
    assert_eq!(expired["reason"], "no CNAME record");
    // The name was released: another org claims it.
    put_domain(&api, &b, &domain).await;
}
