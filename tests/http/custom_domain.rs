//! Settings → Custom Domain as an org owner sees it, against a real DNS server on loopback
//! whose records the tests change while the stack runs: a domain is verified only with
//! both the CNAME and the TXT token; records removed → failed, back → verified; one org
//! per name, released by removal, replacement or expiry (48 h, time the test moves);
//! IDNA input, every bad input, the Free plan, and roles. Once verified, the domain worker
//! gets the name its ACM certificate and API Gateway domain name in the emulator, and
//! releases them when the domain goes (removed, replaced, org deleted); each change of
//! status is a `custom_domain.status_changed` event; at the stack's quota a new domain is
//! refused (409 `domain_quota`) until a slot is released.

use aws_sdk_dynamodb::types::AttributeValue;
use plexmcp_tests::dns::dns;
use plexmcp_tests::events::subscribe;
use plexmcp_tests::{
    signed_get, signed_get_with, stack, stack_checking_domains_every_second,
    stack_serving_two_custom_domains, unique, Api, OrgFixture, Pause, Stack,
};
use serde_json::{json, Value};
use std::time::Duration;

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

/// A new domain set by the org's admin, refused with 409 `code`.
async fn put_refused(api: &Api, org: &OrgFixture, code: &str) {
    api.put(
        &org.path("/custom-domain"),
        &org.admin.token,
        json!({ "domain": new_domain() }),
    )
    .await
    .problem(409, code);
}

/// Verify, refused with 409 `code`: the record as the refusal left it.
async fn verify_refused(api: &Api, org: &OrgFixture, code: &str) -> Value {
    api.post(
        &org.path("/custom-domain/verify"),
        Some(&org.admin.token),
        json!({}),
    )
    .await
    .problem(409, code);
    api.get(&org.path("/custom-domain"), &org.viewer.token)
        .await
        .expect(200)
        .body
}

/// The org's custom-domain audit entries, newest first: (action, actor type).
async fn domain_log(api: &Api, org: &OrgFixture) -> Vec<(String, String)> {
    let log = api
        .get(
            &org.path("/audit-logs?category=settings&action=custom_domain.*"),
            &org.owner.token,
        )
        .await
        .expect(200)
        .body;
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |v: &Value| v.as_str().unwrap().to_owned();
            (field(&e["action"]), field(&e["actor"]["type"]))
        })
        .collect()
}

/// Publishes what the answer asks for: the CNAME and the TXT token.
fn publish(answer: &Value) {
    dns().publish(answer, &[]);
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
    let log = domain_log(&api, &org).await;
    let actions: Vec<&str> = log.iter().map(|(action, _)| action.as_str()).collect();
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
async fn a_check_whose_name_servers_do_not_answer_is_a_quick_pending_with_the_reason() {
    let api = stack().api();
    let org = pro_org(&api).await;
    let domain = new_domain();
    put_domain(&api, &org, &domain).await;
    dns().set(&domain, &[("SILENT", "")]);
    let started = std::time::Instant::now();
    let checked = verify(&api, &org).await;
    let took = started.elapsed();
    assert_eq!(checked["status"], "pending");
    assert_eq!(checked["reason"], "DNS timeout: no answer within 3 s");
    // The name server keeps the question 30 s: the answer came from the check's budget.
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn only_proof_claims_a_name_and_a_claim_without_it_blocks_nobody() {
    let api = stack().api();
    let (squatter, owner, late) = (
        pro_org(&api).await,
        pro_org(&api).await,
        pro_org(&api).await,
    );
    let domain = new_domain();
    // Setting a name claims nothing: the real owner sets it after a squatter did, with a
    // token of its own, and verifies it with the records only it could publish.
    let squatted = put_domain(&api, &squatter, &domain).await;
    let first = put_domain(&api, &owner, &domain).await;
    assert_eq!(first["status"], "pending");
    assert_ne!(
        first["txt_record"]["value"],
        squatted["txt_record"]["value"]
    );
    assert_eq!(verify(&api, &squatter).await["reason"], "no CNAME record");
    publish(&first);
    assert_eq!(verify(&api, &owner).await["status"], "verified");
    assert_eq!(verify(&api, &squatter).await["reason"], "TXT token missing");
    // Even with its token published too, the name is the org's that proved it first; the
    // loser's domain stays pending with the reason, and expires as any unproven one.
    dns().publish(&first, &[&squatted]);
    let lost = verify_refused(&api, &squatter, "domain_taken").await;
    assert_eq!(lost["status"], "pending");
    assert_eq!(
        lost["reason"],
        "another organization verified this domain first"
    );
    // Only a verified name is taken.
    api.put(
        &late.path("/custom-domain"),
        &late.admin.token,
        json!({ "domain": domain }),
    )
    .await
    .problem(409, "domain_taken");

    // The same domain again answers as it is (same token).
    let again = put_domain(&api, &squatter, &domain).await;
    assert_eq!(again["txt_record"], squatted["txt_record"]);
    // A verified domain is not replaced by accident.
    put_refused(&api, &owner, "domain_verified").await;

    // Removing it releases the name: the next org to prove it has it.
    api.delete(&owner.path("/custom-domain"), &owner.admin.token)
        .await
        .expect(204);
    api.get(&owner.path("/custom-domain"), &owner.admin.token)
        .await
        .problem(404, "not_found");
    let next = put_domain(&api, &late, &domain).await;
    publish(&next);
    assert_eq!(verify(&api, &late).await["status"], "verified");
}

#[tokio::test]
async fn a_pending_domain_expires_after_48_hours_and_keeps_its_token_when_set_again() {
    let api = stack().api();
    let (a, b) = (pro_org(&api).await, pro_org(&api).await);
    let domain = new_domain();
    let first = put_domain(&api, &a, &domain).await;
    verify(&api, &a).await;
    // 48 hours pass without a successful check (the test moves the record's clock).
    expire(stack(), &a).await;
    let expired = verify(&api, &a).await;
    assert_eq!(expired["status"], "expired");
    api.post(
        &a.path("/custom-domain/verify"),
        Some(&a.admin.token),
        json!({}),
    )
    .await
    .problem(409, "domain_expired");
    // Set again, it keeps its token: a TXT record published meanwhile still proves it.
    let again = put_domain(&api, &a, &domain).await;
    assert_eq!(again["status"], "pending");
    assert_eq!(again["txt_record"], first["txt_record"]);

    // A claim written for a pending domain before only proof claimed names blocks nobody.
    let other = new_domain();
    let future = (chrono::Utc::now() + chrono::Duration::hours(40)).to_rfc3339();
    stack()
        .dynamodb()
        .await
        .put_item()
        .table_name(stack().table_name())
        .item("pk", AttributeValue::S(format!("DOMAIN#{other}")))
        .item("sk", AttributeValue::S("CLAIM".into()))
        .item("org_id", AttributeValue::S(a.id.clone()))
        .item("domain", AttributeValue::S(other.clone()))
        .item("expires_at", AttributeValue::S(future))
        .send()
        .await
        .expect("an old pending claim");
    let answer = put_domain(&api, &b, &other).await;
    publish(&answer);
    assert_eq!(verify(&api, &b).await["status"], "verified");
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

/// How many custom domains of the stack hold a claim (and a slot of its quota).
async fn slots_held(stack: &Stack) -> i64 {
    let count = stack
        .dynamodb()
        .await
        .get_item()
        .table_name(stack.table_name())
        .key("pk", AttributeValue::S("QUOTA#custom_domains".into()))
        .key("sk", AttributeValue::S("COUNT".into()))
        .send()
        .await
        .expect("the count")
        .item;
    count
        .and_then(|item| item.get("held")?.as_n().ok()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn at_the_quota_a_new_domain_is_refused_until_a_slot_is_released() {
    let stack = stack_serving_two_custom_domains();
    let api = stack.api();
    // One org sets its domain while slots are free; two others verify theirs.
    let waiting = pro_org(&api).await;
    let waiting_answer = put_domain(&api, &waiting, &new_domain()).await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        let org = pro_org(&api).await;
        publish(&put_domain(&api, &org, &new_domain()).await);
        assert_eq!(verify(&api, &org).await["status"], "verified");
        holders.push(org);
    }
    assert_eq!(slots_held(stack).await, 2);

    // Full: a new domain is refused and nothing is written.
    let late = pro_org(&api).await;
    put_refused(&api, &late, "domain_quota").await;
    api.get(&late.path("/custom-domain"), &late.admin.token)
        .await
        .problem(404, "not_found");
    // The domain set before proves its name, but takes no slot: it stays pending, saying why.
    publish(&waiting_answer);
    let read = verify_refused(&api, &waiting, "domain_quota").await;
    assert_eq!(read["status"], "pending");
    assert!(read["reason"].as_str().unwrap().contains("quota"), "{read}");
    assert_eq!(slots_held(stack).await, 2);

    // A removed domain frees its slot: the waiting one is verified, the late one set.
    api.delete(&holders[0].path("/custom-domain"), &holders[0].admin.token)
        .await
        .expect(204);
    assert_eq!(slots_held(stack).await, 1);
    assert_eq!(verify(&api, &waiting).await["status"], "verified");
    put_refused(&api, &late, "domain_quota").await;
    // An org deleted with its verified domain frees its slot too.
    holders[1].delete_org(&api).await;
    until_slots(stack, 1).await;
    put_domain(&api, &late, &new_domain()).await;
}

/// Waits until `held` slots are held (a deletion frees its slot in the worker).
async fn until_slots(stack: &Stack, held: i64) {
    for _ in 0..80 {
        if slots_held(stack).await == held {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{} slots held, not {held}", slots_held(stack).await);
}

/// Moves the org's pending domain 48 hours on: its expiry is a minute ago.
async fn expire(stack: &Stack, org: &OrgFixture) {
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    move_clock(stack, org, "expires_at", past).await;
}

/// Sets a time of the org's domain record (how a test moves its clock). The count of
/// checks moves too, so a scheduled check that read the record before cannot write over
/// the edit (its write is conditioned on the count it read).
async fn move_clock(
    stack: &Stack,
    org: &OrgFixture,
    attr: &str,
    at: chrono::DateTime<chrono::Utc>,
) {
    stack
        .dynamodb()
        .await
        .update_item()
        .table_name(stack.table_name())
        .key("pk", AttributeValue::S(format!("ORG#{}", org.id)))
        .key("sk", AttributeValue::S("CUSTOMDOMAIN".into()))
        .update_expression("SET #at = :at, checks = checks + :one")
        .expression_attribute_names("#at", attr)
        .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("the domain record");
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
    let verified = until(&api, &org, proven).await;
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
    until(&api, &org, proven).await;
    // The daily checks (every 2 s here) notice the records are gone, and back.
    unpublish(&answer);
    let failed = until(&api, &org, |d| d["status"] == "failed").await;
    assert_eq!(failed["reason"], "no CNAME record");
    assert!(failed["failed_since"].is_string());
    publish(&answer);
    let back = until(&api, &org, proven).await;
    assert!(back["failed_since"].is_null(), "{back}");
    // Gone for 7 days (the test moves the record's clock): released.
    unpublish(&answer);
    until(&api, &org, |d| d["status"] == "failed").await;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(8);
    move_clock(stack, &org, "failed_since", long_ago).await;
    let released = until(&api, &org, |d| d["status"] == "expired").await;
    assert_eq!(released["reason"], "no CNAME record");
    // Its certificate and domain name (it was served meanwhile) go with the name.
    until_released(stack, answer["domain"].as_str().unwrap()).await;
    // The name is free: another org proves it.
    let theirs = put_domain(&api, &other, answer["domain"].as_str().unwrap()).await;
    publish(&theirs);
    until(&api, &other, proven).await;
}

#[tokio::test]
async fn the_worker_expires_a_domain_nobody_verified_in_48_hours() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let a = pro_org(&api).await;
    put_domain(&api, &a, &new_domain()).await;
    // 48 hours pass (the test moves the record's clock); the next scheduled check expires it.
    expire(stack, &a).await;
    let expired = until(&api, &a, |d| d["status"] == "expired").await;
    assert_eq!(expired["reason"], "no CNAME record");
}

#[tokio::test]
async fn the_worker_leaves_a_name_another_org_proved_first_pending_until_it_expires() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let (owner, loser) = (pro_org(&api).await, pro_org(&api).await);
    let domain = new_domain();
    let lost = put_domain(&api, &loser, &domain).await;
    let won = put_domain(&api, &owner, &domain).await;
    publish(&won);
    assert_eq!(verify(&api, &owner).await["status"], "verified");
    // Both tokens are published; the worker's checks of the loser find the name taken.
    dns().publish(&won, &[&lost]);
    let pending = until(&api, &loser, |d| !d["reason"].is_null()).await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(
        pending["reason"],
        "another organization verified this domain first"
    );
    expire(stack, &loser).await;
    until(&api, &loser, |d| d["status"] == "expired").await;
    let kept = api
        .get(&owner.path("/custom-domain"), &owner.viewer.token)
        .await
        .expect(200)
        .body;
    assert!(proven(&kept), "the release was the loser's only: {kept}");
}

/// Verified, or further on: waiting for its certificate, or served.
fn proven(domain: &Value) -> bool {
    matches!(
        domain["status"].as_str(),
        Some("verified" | "certificate_pending" | "active")
    )
}

/// The emulator's ACM certificates for `domain`.
async fn certificates_of(stack: &Stack, domain: &str) -> Vec<String> {
    let listed = stack
        .acm()
        .await
        .list_certificates()
        .send()
        .await
        .expect("ACM's certificates");
    listed
        .certificate_summary_list()
        .iter()
        .filter(|c| c.domain_name() == Some(domain))
        .filter_map(|c| c.certificate_arn().map(str::to_owned))
        .collect()
}

/// The certificate API Gateway serves `domain` with, and its mappings (`api/stage`);
/// `None` when the emulator has no domain name of that name.
async fn served(stack: &Stack, domain: &str) -> Option<(String, Vec<String>)> {
    let gateway = stack.api_gateway().await;
    let name = match gateway.get_domain_name().domain_name(domain).send().await {
        Ok(name) => name,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_not_found_exception()) =>
        {
            return None
        }
        Err(err) => panic!("get the domain name: {err:?}"),
    };
    let certificate = name.domain_name_configurations()[0]
        .certificate_arn()
        .expect("a certificate")
        .to_owned();
    let mappings = gateway
        .get_api_mappings()
        .domain_name(domain)
        .send()
        .await
        .expect("the mappings");
    let mappings = mappings
        .items()
        .iter()
        .map(|m| format!("{}/{}", m.api_id().unwrap(), m.stage().unwrap()))
        .collect();
    Some((certificate, mappings))
}

/// Waits until the emulator holds neither a certificate nor a domain name for `domain`.
async fn until_released(stack: &Stack, domain: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let certificates = certificates_of(stack, domain).await;
        let name = served(stack, domain).await;
        if certificates.is_empty() && name.is_none() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {certificates:?} and {name:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A Pro org whose domain the worker has made active, the name, and the first answer.
async fn active_domain(api: &Api) -> (OrgFixture, String, Value) {
    let org = pro_org(api).await;
    let domain = new_domain();
    let answer = put_domain(api, &org, &domain).await;
    publish(&answer);
    assert_eq!(verify(api, &org).await["status"], "verified");
    until(api, &org, |d| d["status"] == "active").await;
    (org, domain, answer)
}

#[tokio::test]
async fn a_verified_domain_gets_a_certificate_and_is_served_until_it_is_removed() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let org = pro_org(&api).await;
    let watching = subscribe(&api, &org, &["custom_domain.status_changed"]).await;
    let domain = new_domain();
    let answer = put_domain(&api, &org, &domain).await;
    assert!(answer["certificate"].is_null() && answer["active_at"].is_null());
    publish(&answer);
    assert_eq!(verify(&api, &org).await["status"], "verified");

    // The worker requests the certificate and shows the record that validates it.
    let waiting = until(&api, &org, |d| !d["certificate"].is_null()).await;
    let record = &waiting["certificate"]["validation_record"];
    assert_eq!(record["type"], "CNAME", "{waiting}");
    assert!(
        record["name"]
            .as_str()
            .unwrap()
            .ends_with(&format!(".{domain}.")),
        "{waiting}"
    );
    assert!(!record["value"].as_str().unwrap().is_empty());
    // Issued (2 s after the request here), the name is served and the domain active.
    let active = until(&api, &org, |d| d["status"] == "active").await;
    assert_eq!(active["certificate"]["status"], "issued");
    assert_eq!(active["certificate"]["validation_record"], *record);
    assert!(active["active_at"].is_string() && active["reason"].is_null());

    // In API Gateway: a domain name with that certificate, mapped to the stack's API.
    let certificates = certificates_of(stack, &domain).await;
    assert_eq!(certificates.len(), 1, "one certificate, however many looks");
    let (certificate, mappings) = served(stack, &domain).await.expect("a domain name");
    assert_eq!(certificate, certificates[0]);
    assert_eq!(mappings, [format!("{}/$default", stack.env("HTTP_API_ID"))]);

    // Each step is the worker's, in the audit log.
    let log = domain_log(&api, &org).await;
    let steps: Vec<(&str, &str)> = log
        .iter()
        .map(|(a, by)| (a.as_str(), by.as_str()))
        .collect();
    assert_eq!(
        steps[..2],
        [
            ("custom_domain.active", "system"),
            ("custom_domain.certificate_pending", "system")
        ],
        "{steps:?}"
    );
    // And a `custom_domain.status_changed` event, for the endpoint that chose it.
    let events = watching.messages(3, Duration::from_secs(20)).await;
    let changes: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "custom_domain.status_changed");
            assert!(e["data"]["reason"].is_null(), "{e}");
            let field = |name: &str| e["data"][name].as_str().unwrap();
            (field("domain"), field("from"), field("to"))
        })
        .collect();
    assert_eq!(
        changes,
        [
            (domain.as_str(), "pending", "verified"),
            (domain.as_str(), "verified", "certificate_pending"),
            (domain.as_str(), "certificate_pending", "active"),
        ]
    );

    // A served domain is not replaced by accident; removed, its edge goes with it.
    put_refused(&api, &org, "domain_verified").await;
    remove_served(&api, &org).await;
    until_released(stack, &domain).await;
}

/// Removes the org's served domain as a client does: a 409 `conflict` (the worker's
/// re-check of an active domain, every 2 s here, wrote the record between the read and
/// the write) is read again and retried.
async fn remove_served(api: &Api, org: &OrgFixture) {
    for _ in 0..5 {
        let answer = api
            .delete(&org.path("/custom-domain"), &org.admin.token)
            .await;
        if answer.status != 409 {
            answer.expect(204);
            return;
        }
        answer.problem(409, "conflict");
    }
    panic!("the domain kept changing");
}

#[tokio::test]
async fn an_acm_failure_is_retried_on_the_schedule_without_losing_the_chain() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let org = pro_org(&api).await;
    let domain = new_domain();
    let switch = stack.hooks_dir.join(format!("acm-fails.{domain}"));
    std::fs::write(&switch, b"").unwrap();
    let answer = put_domain(&api, &org, &domain).await;
    publish(&answer);
    assert_eq!(verify(&api, &org).await["status"], "verified");
    // ACM refuses every look for a while: nothing is requested, the domain waits.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let read = api
        .get(&org.path("/custom-domain"), &org.viewer.token)
        .await
        .expect(200)
        .body;
    assert_eq!(read["status"], "verified", "{read}");
    assert!(read["certificate"].is_null());
    assert!(certificates_of(stack, &domain).await.is_empty());
    // ACM answers again: the next look of the same chain goes on to the end.
    std::fs::remove_file(&switch).unwrap();
    until(&api, &org, |d| d["status"] == "active").await;
}

#[tokio::test]
async fn a_failed_domain_replaced_and_a_deleted_org_release_their_edge() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    // Its records gone, the domain fails (the daily checks, every 2 s here); replaced by
    // another, its certificate and domain name go.
    let (org, domain, answer) = active_domain(&api).await;
    unpublish(&answer);
    until(&api, &org, |d| d["status"] == "failed").await;
    assert!(served(stack, &domain).await.is_some(), "kept while failed");
    put_domain(&api, &org, &new_domain()).await;
    until_released(stack, &domain).await;

    // An org deleted with its domain active: the deletion releases the edge.
    let (org, domain, _) = active_domain(&api).await;
    org.delete_org(&api).await;
    until_released(stack, &domain).await;
}

/// `GET path` on the stack as a client that names `host`, as a request to that name
/// reaches API Gateway: the status and the body.
async fn on_host(stack: &Stack, host: &str, path: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .get(format!("{}{path}", stack.base_url))
        .header("host", host)
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The gateway's lookup of `host`, signed (or with `token` instead): status and body.
async fn look_up(stack: &Stack, host: &str, token: Option<&str>) -> (u16, Value) {
    let url = format!("{}/v1/hostnames/{host}", stack.base_url);
    match token {
        Some(token) => {
            look_up_with(&url, &[("authorization".into(), format!("Bearer {token}"))]).await
        }
        None => look_up_with(&url, &signed_get(&url)).await,
    }
}

/// `GET url` with `headers`: the status and the body.
async fn look_up_with(url: &str, headers: &[(String, String)]) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answer = request.send().await.expect("an answer");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_active_domain_serves_its_org_and_a_name_nobody_serves_gets_api_gateways_403() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let (org, domain, _) = active_domain(&api).await;
    let forbidden = json!({ "message": "Forbidden" });

    // The API answers on the active domain, in any case, and on the org's platform name.
    assert_eq!(on_host(stack, &domain, "/v1/health").await.0, 200);
    let upper = format!("{}:443", domain.to_uppercase());
    assert_eq!(on_host(stack, &upper, "/v1/health").await.0, 200);
    let platform = format!("{}.{}", org.slug, stack.env("PLATFORM_DOMAIN"));
    assert_eq!(on_host(stack, &platform, "/v1/health").await.0, 200);
    // A name nobody serves: a domain only set, an unknown slug, another name.
    let pending = pro_org(&api).await;
    let set_only = new_domain();
    put_domain(&api, &pending, &set_only).await;
    let unknown_slug = format!("{}.{}", unique("nobody-"), stack.env("PLATFORM_DOMAIN"));
    for host in [set_only.as_str(), &unknown_slug, "api.example.org"] {
        assert_eq!(
            on_host(stack, host, "/v1/health").await,
            (403, forbidden.clone()),
            "{host}"
        );
    }

    // The gateway's lookup: IAM-signed calls only, one answer per name.
    let (status, owner) = look_up(stack, &domain, None).await;
    assert_eq!(status, 200, "{owner}");
    assert_eq!(
        owner,
        json!({ "org_id": org.id, "slug": org.slug, "status": "active" })
    );
    let (status, owner) = look_up(stack, &platform, None).await;
    assert_eq!(
        (status, &owner["status"]),
        (200, &json!("active")),
        "{owner}"
    );
    assert_eq!(look_up(stack, &set_only, None).await.0, 404);
    let (_, key) = org.api_key(&api).await;
    for token in [org.owner.token.as_str(), &key] {
        assert_eq!(
            look_up(stack, &domain, Some(token)).await,
            (403, forbidden.clone()),
            "a session or an API key is refused"
        );
    }
    // API Gateway computes the signature again: one made with another secret, or for
    // another name, is refused.
    let url = |host: &str| format!("{}/v1/hostnames/{host}", stack.base_url);
    let wrong_secret = signed_get_with(&url(&domain), "not the secret");
    assert_eq!(
        look_up_with(&url(&domain), &wrong_secret).await,
        (403, forbidden.clone())
    );
    let for_another_name = signed_get(&url(&set_only));
    assert_eq!(
        look_up_with(&url(&domain), &for_another_name).await,
        (403, forbidden.clone())
    );

    // Removed, the name serves nothing more.
    remove_served(&api, &org).await;
    assert_eq!(
        on_host(stack, &domain, "/v1/health").await,
        (403, forbidden)
    );
    assert_eq!(look_up(stack, &domain, None).await.0, 404);
}

#[tokio::test]
async fn a_domain_removed_while_its_certificate_is_requested_leaves_nothing_behind() {
    let stack = stack_checking_domains_every_second();
    let api = stack.api();
    let org = pro_org(&api).await;
    let domain = new_domain();
    let chain = format!("ORG#{}", org.id);
    let pause = Pause::before_commit_on(stack, "custom_domain.certificate_pending", &chain).await;
    let answer = put_domain(&api, &org, &domain).await;
    publish(&answer);
    assert_eq!(verify(&api, &org).await["status"], "verified");
    // The worker has requested the certificate and is about to record it; the domain is
    // removed meanwhile (its release knows of no certificate).
    pause.reached().await;
    assert_eq!(certificates_of(stack, &domain).await.len(), 1);
    api.delete(&org.path("/custom-domain"), &org.admin.token)
        .await
        .expect(204);
    pause.resume();
    // The worker's write is refused (the record is not as it read it), and it releases
    // what it requested instead of recording it.
    until_released(stack, &domain).await;
    api.get(&org.path("/custom-domain"), &org.admin.token)
        .await
        .problem(404, "not_found");
}
