//! Settings → Danger Zone: deleting an organization through HTTP, the deletion worker
//! through its queue, and what is left afterwards read straight from the emulator —
//! every partition the org had, every global pointer, the export bucket and the
//! platform zone.

use aws_sdk_dynamodb::types::AttributeValue::{self, N, S};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use plexmcp_tests::fixtures::PASSWORD;
use plexmcp_tests::{audit_chain, interleaved, stack, unique, Account, Api, OrgFixture, Resp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

type Item = HashMap<String, AttributeValue>;

const PIN: &str = "840317";

/// This binary's stack, with the deletions queue handing back a message after 3 s (90
/// minutes in the template), so a run that dies is resumed within the test.
async fn api() -> Api {
    static QUICK: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    QUICK
        .get_or_init(|| async {
            stack()
                .sqs()
                .await
                .set_queue_attributes()
                .queue_url(stack().env("ORG_DELETIONS_QUEUE_URL"))
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                    "3",
                )
                .send()
                .await
                .expect("shorten the deletions queue's visibility timeout");
        })
        .await;
    stack().api()
}

async fn delete_org(api: &Api, org: &OrgFixture, token: &str, body: Value) -> Resp {
    api.post(&org.path("/delete"), Some(token), body).await
}

fn confirmed(code: Option<&str>) -> Value {
    let mut body = json!({ "confirm_name": "Fixture Org", "password": PASSWORD });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    body
}

/// Every item of a partition.
async fn partition(pk: &str) -> Vec<Item> {
    let client = stack().dynamodb().await;
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(stack().table_name())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", S(pk.into()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("query");
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return items,
        }
    }
}

fn sort_keys(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect()
}

/// The sort keys of a partition's lasting items (outbox entries come and go by design).
async fn lasting(pk: &str) -> Vec<String> {
    let mut keys = sort_keys(&partition(pk).await);
    // Work in flight, not the org's data: outbox entries, and the records of e-mails
    // (invitations) that the mail worker sends when it gets to them.
    keys.retain(|sk| !sk.starts_with("OUTBOX#") && !sk.starts_with("MAILSENT#"));
    keys
}

async fn get_item(pk: &str, sk: &str) -> Option<Item> {
    stack()
        .dynamodb()
        .await
        .get_item()
        .table_name(stack().table_name())
        .key("pk", S(pk.into()))
        .key("sk", S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get")
        .item
}

/// Waits for the worker to leave the tombstone.
async fn tombstone(org: &OrgFixture) -> Item {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(item) = get_item(&format!("ORG#{}", org.id), "TOMBSTONE").await {
            return item;
        }
        assert!(Instant::now() < deadline, "org {} never deleted", org.id);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The org is untouched: it answers, and nothing was marked.
async fn still_there(api: &Api, org: &OrgFixture) {
    let read = api.get(&org.path(""), &org.owner.token).await.expect(200);
    assert_eq!(read.body["name"], "Fixture Org");
    let item = get_item(&format!("ORG#{}", org.id), "ORG").await.unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "active");
    assert!(!item.contains_key("deleted_at"));
}

/// The actions of the org's audit chain (checked unbroken), oldest first.
async fn audit_actions(org: &OrgFixture) -> Vec<String> {
    audit_chain(&format!("ORG#{}", org.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn refused(answer: Resp, field: &str) {
    let answer = answer.problem(422, "validation_failed");
    assert_eq!(answer.body["errors"][0]["field"], field, "{}", answer.body);
}

async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Usage rows written behind the API (one per MCP and day, as the usage route writes
/// them): the bulk of a big org, without 2,000 requests.
async fn seed_usage(org: &OrgFixture, mcp: &str, days: usize) {
    let client = stack().dynamodb().await;
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let requests: Vec<WriteRequest> = (0..days)
        .map(|d| {
            let date = (start + chrono::Days::new(d as u64)).to_string();
            let put = PutRequest::builder()
                .item("pk", S(format!("ORG#{}", org.id)))
                .item("sk", S(format!("USAGE#{date}#{mcp}")))
                .item("date", S(date))
                .item("mcp_id", S(mcp.into()))
                .item("requests", N("3".into()))
                .item("tokens", N("30".into()))
                .build()
                .unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for chunk in requests.chunks(25) {
        client
            .batch_write_item()
            .request_items(stack().table_name(), chunk.to_vec())
            .send()
            .await
            .expect("seed usage");
    }
}

/// An org on the Pro plan with every kind of item: members, a pending invitation, MCPs,
/// an API key that was used, usage (about 1,960 rows), a webhook with a delivery log, a
/// custom domain, a finished export file, a plan change and its audit log. Returns the
/// org, its API key, its pending invitation's id and address, and its custom domain.
struct BigOrg {
    org: OrgFixture,
    api_key: String,
    invitation: String,
    invitee: String,
    domain: String,
    hostname: String,
    export_object: String,
}

async fn big_org(api: &Api) -> BigOrg {
    let org = OrgFixture::create(api).await;
    org.set_plan(api, "pro").await;
    let hostname = api
        .get(&org.path(""), &org.owner.token)
        .await
        .expect(200)
        .body["api_hostname"]
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
        .expect(201);
    let webhook_id = webhook.body["id"].as_str().unwrap().to_owned();
    let mut mcps = Vec::new();
    for _ in 0..3 {
        mcps.push(org.mcp(api).await);
    }
    let (_, api_key) = org.api_key(api).await;
    api.post(
        &org.path("/usage"),
        Some(&api_key),
        json!({ "mcp_id": mcps[0], "requests": 7, "tokens": 70 }),
    )
    .await
    .expect(200);
    let invitee = format!("{}@example.com", plexmcp_tests::unique("invitee-"));
    let invitation = api
        .post(
            &org.path("/members"),
            Some(&org.owner.token),
            json!({ "email": invitee, "role": "member" }),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A verified domain: its name is claimed (a global item) until the org goes.
    let domain = format!("{}.example.com", plexmcp_tests::unique("api-"));
    let answer = api
        .put(
            &org.path("/custom-domain"),
            &org.owner.token,
            json!({ "domain": domain }),
        )
        .await
        .expect(200)
        .body;
    plexmcp_tests::dns::dns().publish(&answer, &[]);
    let checked = api
        .post(
            &org.path("/custom-domain/verify"),
            Some(&org.owner.token),
            json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(checked["status"], "verified", "{checked}");
    let export = api
        .post(
            &org.path("/exports"),
            Some(&org.owner.token),
            json!({ "format": "json", "include": ["mcps", "usage"] }),
        )
        .await
        .expect(202)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let export_path = org.path(&format!("/exports/{export}"));
    wait_for("the export", || async {
        let job = api
            .get(&export_path, &org.owner.token)
            .await
            .expect(200)
            .body;
        (job["status"] == "ready").then_some(())
    })
    .await;
    let delivery_prefix = format!("DELIVERY#{webhook_id}#");
    wait_for("a delivery attempt", || async {
        let logged = partition(&format!("ORG#{}", org.id))
            .await
            .iter()
            .any(|i| i["sk"].as_s().unwrap().starts_with(&delivery_prefix));
        logged.then_some(())
    })
    .await;
    wait_for("the org's host name", || async {
        stack().platform_cname(&hostname).await
    })
    .await;
    seed_usage(&org, &mcps[1], 1_960).await;
    BigOrg {
        export_object: format!("exports/{}/{export}.json", org.id),
        org,
        api_key,
        invitation,
        invitee,
        domain,
        hostname,
    }
}

async fn export_objects(org_id: &str) -> Vec<String> {
    stack()
        .s3()
        .await
        .list_objects_v2()
        .bucket(stack().env("EXPORT_BUCKET"))
        .prefix(format!("exports/{org_id}/"))
        .send()
        .await
        .expect("list")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn deleting_an_org_of_two_thousand_items_leaves_only_its_billing_records_and_a_tombstone() {
    let api = api().await;
    let big = big_org(&api).await;
    let org = &big.org;
    let other = OrgFixture::create(&api).await;
    let other_pk = format!("ORG#{}", other.id);
    let other_before = lasting(&other_pk).await;
    let org_pk = format!("ORG#{}", org.id);
    let before = partition(&org_pk).await;
    assert!(before.len() >= 2_000, "{} items", before.len());
    for kind in [
        "MEMBER#",
        "MCP#",
        "APIKEY#",
        "INVITE#",
        "USAGE#",
        "USAGEMONTH#",
        "WEBHOOK#",
        "DELIVERY#",
        "CUSTOMDOMAIN",
        "EXPORT#",
        "BILLING#",
        "AUDIT#",
    ] {
        assert!(
            sort_keys(&before).iter().any(|sk| sk.starts_with(kind)),
            "the org has no {kind} item"
        );
    }
    assert_eq!(
        export_objects(&org.id).await,
        std::slice::from_ref(&big.export_object)
    );
    let member_pk = format!("USER#{}", org.member.id);
    let member_profile = || get_item(&member_pk, "PROFILE");
    let memberships_before = member_profile().await.unwrap()["membership_count"].clone();

    let asked = Instant::now();
    let answer = delete_org(&api, org, &org.owner.token, confirmed(None))
        .await
        .expect(202);
    assert_eq!(answer.body, json!({ "status": "deleting" }));

    // At once: gone for every route, key and member.
    api.get(&org.path(""), &org.owner.token)
        .await
        .problem(404, "not_found");
    api.get(&org.path("/mcps"), &org.member.token)
        .await
        .problem(404, "not_found");
    api.get(&org.path("/mcps"), &big.api_key)
        .await
        .problem(401, "unauthorized");
    let me = api.get("/v1/me", &org.member.token).await.expect(200);
    assert!(
        !me.body["organizations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == org.id.as_str()),
        "{}",
        me.body
    );

    let stone = tombstone(org).await;
    // A figure for the notes (not a limit): the worker's time for the whole org.
    eprintln!(
        "deleted {} items in {:.1} s",
        before.len(),
        asked.elapsed().as_secs_f64()
    );
    assert_eq!(stone["slug"].as_s().unwrap(), &org.slug);
    assert_eq!(stone["name"].as_s().unwrap(), "Fixture Org");
    assert_eq!(stone["deleted_by"].as_s().unwrap(), &org.owner.id);
    let deleted_at =
        chrono::DateTime::parse_from_rfc3339(stone["deleted_at"].as_s().unwrap()).unwrap();
    let ttl: i64 = stone["ttl"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, (deleted_at + chrono::Duration::days(2555)).timestamp());

    // What is left of the org's partition: its billing records, with that TTL, and the
    // tombstone.
    let after = partition(&org_pk).await;
    let kept_billing: Vec<&Item> = after
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("BILLING#"))
        .collect();
    assert_eq!(kept_billing.len(), 1, "{:?}", sort_keys(&after));
    assert_eq!(kept_billing[0]["ttl"].as_n().unwrap(), &ttl.to_string());
    assert_eq!(kept_billing[0]["to"].as_s().unwrap(), "pro");
    assert_eq!(after.len(), 2, "{:?}", sort_keys(&after));

    // Every global pointer it had.
    let key_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        big.api_key.as_bytes(),
    ));
    let invitee_pk = format!("INVITEE#{}", big.invitee);
    for (pk, sk) in [
        (format!("SLUG#{}", org.slug), "SLUG".to_owned()),
        (format!("APIKEY#{key_hash}"), "APIKEY".to_owned()),
        (
            format!("INVITATION#{}", big.invitation),
            "INVITATION".to_owned(),
        ),
        (invitee_pk.clone(), org_pk.clone()),
        (format!("DOMAIN#{}", big.domain), "CLAIM".to_owned()),
        (
            format!("THROTTLE#APIKEY#ORG#{}", org.id),
            "THROTTLE".to_owned(),
        ),
    ] {
        assert_eq!(get_item(&pk, &sk).await, None, "{pk} / {sk} is left");
    }
    for (_, account) in org.everyone() {
        let memberships = partition(&format!("USER#{}", account.id)).await;
        assert!(
            !sort_keys(&memberships).contains(&format!("MEMBERSHIP#{}", org.slug)),
            "{} still a member",
            account.id
        );
    }
    let memberships_after = member_profile().await.unwrap()["membership_count"].clone();
    assert_eq!(
        memberships_before.as_n().unwrap().parse::<i64>().unwrap() - 1,
        memberships_after.as_n().unwrap().parse::<i64>().unwrap()
    );
    assert_eq!(export_objects(&org.id).await, Vec::<String>::new());
    assert_eq!(stack().platform_cname(&big.hostname).await, None);

    // The other org is untouched.
    assert_eq!(lasting(&other_pk).await, other_before);
    api.get(&other.path("/mcps"), &other.member.token)
        .await
        .expect(200);

    // The slug is free, and the new org behind it sees none of the old data.
    let reborn = api
        .post(
            "/v1/orgs",
            Some(&org.member.token),
            json!({ "name": "Reborn", "slug": org.slug }),
        )
        .await
        .expect(201);
    assert_ne!(reborn.body["id"], org.id.as_str());
    let mcps = api
        .get(&org.path("/mcps"), &org.member.token)
        .await
        .expect(200);
    assert_eq!(mcps.body["items"], json!([]));
    let members = api
        .get(&org.path("/members"), &org.member.token)
        .await
        .expect(200);
    assert_eq!(members.body["items"].as_array().unwrap().len(), 1);
    api.get(&org.path("/mcps"), &org.owner.token)
        .await
        .problem(404, "not_found");
    api.get(&org.path("/mcps"), &big.api_key)
        .await
        .problem(401, "unauthorized");
    assert!(partition(&invitee_pk).await.is_empty());
}

#[tokio::test]
async fn only_the_owner_with_the_exact_name_and_password_deletes_and_each_refusal_is_audited() {
    let api = api().await;
    let org = OrgFixture::create(&api).await;
    let (_, api_key) = org.api_key(&api).await;
    for (role, account) in org.everyone().into_iter().skip(1) {
        let answer = delete_org(&api, &org, &account.token, confirmed(None)).await;
        assert_eq!(answer.status, 403, "{role}: {:?}", answer.body);
    }
    delete_org(&api, &org, &api_key, confirmed(None))
        .await
        .problem(403, "forbidden");
    // Another tenant's owner does not learn that the org exists.
    let stranger = OrgFixture::create(&api).await;
    delete_org(&api, &org, &stranger.owner.token, confirmed(None))
        .await
        .problem(404, "not_found");

    for name in ["fixture org", "Fixture Org ", "Fixture", ""] {
        let body = json!({ "confirm_name": name, "password": PASSWORD });
        refused(
            delete_org(&api, &org, &org.owner.token, body).await,
            "confirm_name",
        );
    }
    let body = json!({ "confirm_name": "Fixture Org", "password": "not the password" });
    // The body was valid: a wrong password is 403, naming the field for a form.
    let wrong = delete_org(&api, &org, &org.owner.token, body)
        .await
        .problem(403, "password_incorrect");
    assert_eq!(wrong.body["errors"][0]["field"], "password");
    // Malformed or incomplete bodies.
    let malformed = api
        .send(
            api.raw(Method::POST, &org.path("/delete"))
                .bearer_auth(&org.owner.token)
                .header("content-type", "application/json")
                .body("{\"confirm_name\": "),
        )
        .await;
    assert_eq!(malformed.status, 400, "{:?}", malformed.body);
    for body in [
        json!({ "password": PASSWORD }),
        json!({ "confirm_name": "Fixture Org" }),
        json!({ "confirm_name": "Fixture Org", "password": PASSWORD, "force": true }),
        json!({ "confirm_name": 7, "password": PASSWORD }),
    ] {
        let answer = delete_org(&api, &org, &org.owner.token, body.clone()).await;
        assert_eq!(answer.status, 422, "{body}: {:?}", answer.body);
    }
    still_there(&api, &org).await;
    let refusals = audit_actions(&org)
        .await
        .into_iter()
        .filter(|a| a == "organization.deletion_refused")
        .count();
    assert_eq!(refusals, 5, "four wrong names and a wrong password");

    // With PIN protection on, the PIN too.
    org.enable_pin(&api, PIN).await;
    delete_org(&api, &org, &org.owner.token, confirmed(None))
        .await
        .problem(403, "pin_required");
    let wrong_pin = api
        .send(
            api.raw(Method::POST, &org.path("/delete"))
                .bearer_auth(&org.owner.token)
                .header("X-PlexMCP-PIN", "000000")
                .json(&confirmed(None)),
        )
        .await
        .problem(403, "pin_invalid");
    assert_eq!(wrong_pin.body["attempts_remaining"], 4);
    still_there(&api, &org).await;
    assert!(audit_actions(&org)
        .await
        .contains(&"security.pin_failed".to_owned()));

    let deleted = api
        .send(
            api.raw(Method::POST, &org.path("/delete"))
                .bearer_auth(&org.owner.token)
                .header("X-PlexMCP-PIN", PIN)
                .json(&confirmed(None)),
        )
        .await
        .expect(202);
    assert_eq!(deleted.body["status"], "deleting");
    // A second request finds no org.
    delete_org(&api, &org, &org.owner.token, confirmed(None))
        .await
        .problem(404, "not_found");
    tombstone(&org).await;
}

/// The owner has 2FA on: the code is required, a wrong or replayed one refused, and a
/// backup code is spent by the deletion it allowed.
#[tokio::test]
async fn an_owner_with_two_factor_authentication_gives_a_code_that_is_used_once() {
    let api = api().await;
    let org = OrgFixture::create(&api).await;
    let two_factor = org.owner.enable_two_factor(&api).await;
    let (code, backup) = (two_factor.spent_code, two_factor.backup_codes[0].clone());

    refused(
        delete_org(&api, &org, &org.owner.token, confirmed(None)).await,
        "code",
    );
    // The code that enabled 2FA was accepted once already: replayed, it is refused.
    refused(
        delete_org(&api, &org, &org.owner.token, confirmed(Some(&code))).await,
        "code",
    );
    delete_org(&api, &org, &org.owner.token, confirmed(Some("ABCD-EFGH")))
        .await
        .problem(422, "validation_failed");
    // A right code with a wrong password is refused too.
    let body = json!({ "confirm_name": "Fixture Org", "password": "nope", "code": backup });
    delete_org(&api, &org, &org.owner.token, body)
        .await
        .problem(422, "validation_failed");
    still_there(&api, &org).await;
    let refusals = audit_actions(&org)
        .await
        .into_iter()
        .filter(|a| a == "organization.deletion_refused")
        .count();
    assert_eq!(refusals, 4);

    delete_org(&api, &org, &org.owner.token, confirmed(Some(&backup)))
        .await
        .expect(202);
    let codes_left = partition(&format!("USER#{}", org.owner.id))
        .await
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("BACKUPCODE#"))
        .count();
    assert_eq!(codes_left, 9, "the backup code is spent");
    tombstone(&org).await;
}

/// The deletion worker dies after its first batch; the redelivered message finishes the
/// job and nothing is left behind.
#[tokio::test]
async fn a_deletion_that_dies_mid_way_is_resumed_by_the_redelivered_message() {
    let api = api().await;
    let org = OrgFixture::create(&api).await;
    let mcp = org.mcp(&api).await;
    seed_usage(&org, &mcp, 1_200).await;
    std::fs::write(
        stack().hooks_dir.join(format!("deletion-dies.{}", org.id)),
        b"",
    )
    .unwrap();
    delete_org(&api, &org, &org.owner.token, confirmed(None))
        .await
        .expect(202);
    let org_pk = format!("ORG#{}", org.id);
    // The first run removed its first page and died: the fault file is taken, items remain.
    wait_for("the first run to die", || async {
        (!stack()
            .hooks_dir
            .join(format!("deletion-dies.{}", org.id))
            .exists())
        .then_some(())
    })
    .await;
    tombstone(&org).await;
    let left = sort_keys(&partition(&org_pk).await);
    assert_eq!(left, ["TOMBSTONE"]);
    assert_eq!(get_item(&format!("SLUG#{}", org.slug), "SLUG").await, None);
}

/// The org's host name record goes whatever the zone holds for it: a record written for
/// an earlier gateway target and TTL (a DELETE must name a set's exact values), or no
/// record at all (the org deleted before the events worker wrote it). Either way the
/// deletion ends with the tombstone.
#[tokio::test]
async fn the_host_name_record_goes_whatever_the_zone_holds_for_it() {
    use aws_sdk_route53::types::{ChangeAction, ResourceRecord, ResourceRecordSet, RrType};
    let api = api().await;
    let hostname = |slug: &str| format!("{slug}.{}", stack().env("PLATFORM_DOMAIN"));
    let slugs = [unique("was-"), unique("nil-")];
    // Route53 refuses both records while the orgs are founded: the events worker writes
    // neither (it retries a minute later, from the outbox).
    let switches = slugs.clone().map(|slug| {
        stack()
            .hooks_dir
            .join(format!("route53-fails.{}", hostname(&slug)))
    });
    for switch in &switches {
        std::fs::write(switch, b"").unwrap();
    }
    let (earlier, never) = tokio::join!(
        OrgFixture::create_with_slug(&api, &slugs[0]),
        OrgFixture::create_with_slug(&api, &slugs[1])
    );
    let old = ResourceRecordSet::builder()
        .name(format!("{}.", hostname(&earlier.slug)))
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("gateway-before.plexmcp.test")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    stack()
        .change_platform_record(ChangeAction::Create, old)
        .await;
    assert_eq!(
        stack()
            .platform_cname(&hostname(&earlier.slug))
            .await
            .as_deref(),
        Some("gateway-before.plexmcp.test")
    );
    assert_eq!(stack().platform_cname(&hostname(&never.slug)).await, None);
    for switch in &switches {
        std::fs::remove_file(switch).unwrap();
    }

    for org in [&earlier, &never] {
        delete_org(&api, org, &org.owner.token, confirmed(None))
            .await
            .expect(202);
    }
    for org in [&earlier, &never] {
        tombstone(org).await;
        assert_eq!(stack().platform_cname(&hostname(&org.slug)).await, None);
    }
}

/// A deletion message for an org that is not being deleted (forged, or sent twice)
/// changes nothing.
#[tokio::test]
async fn the_worker_never_deletes_an_active_org_and_a_second_message_changes_nothing() {
    let api = api().await;
    let org = OrgFixture::create(&api).await;
    let message = |org_id: &str| {
        json!({
            "id": format!("msg_{}", plexmcp_tests::unique("")),
            "organization_id": org_id,
            "timestamp": "2026-11-29T00:00:00Z",
            "deleted_by": org.owner.id,
        })
        .to_string()
    };
    let sqs = stack().sqs().await;
    let queue = stack().env("ORG_DELETIONS_QUEUE_URL");
    sqs.send_message()
        .queue_url(&queue)
        .message_body(message(&org.id))
        .send()
        .await
        .unwrap();
    // Deleted for real, then the message again.
    let doomed = OrgFixture::create(&api).await;
    delete_org(&api, &doomed, &doomed.owner.token, confirmed(None))
        .await
        .expect(202);
    let first = tombstone(&doomed).await;
    sqs.send_message()
        .queue_url(&queue)
        .message_body(message(&doomed.id))
        .send()
        .await
        .unwrap();
    wait_for("both messages to be taken", || async {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let count = |name| {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .map(|v| v.parse::<u32>().unwrap())
                .unwrap_or(0)
        };
        let waiting = count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
        (waiting == 0).then_some(())
    })
    .await;
    still_there(&api, &org).await;
    assert_eq!(
        tombstone(&doomed).await,
        first,
        "the tombstone is written once"
    );
}

/// What the request decided on holds at its commit: a rename between the read and the
/// commit stops the deletion (the typed name no longer is the org's name).
#[tokio::test]
async fn a_rename_while_the_deletion_is_checked_stops_it() {
    let api = api().await;
    let org = OrgFixture::create(&api).await;
    let (request_api, request_org) = (api.clone(), org.clone());
    let request = async move {
        let token = request_org.owner.token.clone();
        delete_org(&request_api, &request_org, &token, confirmed(None)).await
    };
    let rename = async {
        let body = json!({ "name": "Renamed Org" });
        api.patch(&org.path(""), &org.owner.token, body)
            .await
            .expect(200);
    };
    interleaved("organization.deletion_requested", &org, request, rename)
        .await
        .problem(409, "conflict");
    let read = api.get(&org.path(""), &org.owner.token).await.expect(200);
    assert_eq!(read.body["name"], "Renamed Org");
    // With the new name it goes through.
    let body = json!({ "confirm_name": "Renamed Org", "password": PASSWORD });
    delete_org(&api, &org, &org.owner.token, body)
        .await
        .expect(202);
}

/// An owner demoted between the read and the commit does not delete the org.
#[tokio::test]
async fn an_owner_demoted_while_the_deletion_is_checked_does_not_delete() {
    let api = api().await;
    let org = OrgFixture::create(&api).await;
    let second_owner = Account::create(&api).await;
    org.add(&api, &second_owner, "owner").await;
    let (request_api, request_org, token) = (api.clone(), org.clone(), second_owner.token.clone());
    let request =
        async move { delete_org(&request_api, &request_org, &token, confirmed(None)).await };
    let demote = async {
        let member = org.path(&format!("/members/{}", second_owner.id));
        api.patch(&member, &org.owner.token, json!({ "role": "admin" }))
            .await
            .expect(200);
    };
    interleaved("organization.deletion_requested", &org, request, demote)
        .await
        .problem(409, "conflict");
    still_there(&api, &org).await;
}
