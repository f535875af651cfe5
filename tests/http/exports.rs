//! Settings → Data Export: jobs through HTTP, the export worker through the queue, the
//! file through its presigned link — downloaded and read by Python's json, csv and
//! zipfile, not by the project's code.

use aws_sdk_dynamodb::types::AttributeValue::{N, S};
use plexmcp_tests::{
    items, repo_root, set_attribute, stack, stack_retrying_exports_quickly, Account, Api,
    OrgFixture, Pause,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const EVERY_CATEGORY: [&str; 6] = [
    "mcps",
    "api_keys",
    "members",
    "usage",
    "webhooks",
    "audit_logs",
];
const FORMULA: &str = "=HYPERLINK(\"https://evil.example/\",\"click\")";
const AWKWARD: &str = "Ünïcødé 日本 — \"quoted\", with a comma,\nand a second line";

/// Polls the job until it is no longer pending or running.
async fn finished(api: &Api, org: &OrgFixture, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = api
            .get(&org.path(&format!("/exports/{id}")), &org.owner.token)
            .await
            .expect(200)
            .body;
        if !["pending", "running"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "export {id} still {}",
            job["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The file behind a download link, as Python reads it.
fn read_export(url: &str) -> Value {
    let out = std::process::Command::new(repo_root().join(".venv/bin/python"))
        .arg(repo_root().join("tests/read_export.py"))
        .arg(url)
        .output()
        .expect("the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An org on the Pro plan (audit logs) with one of everything, awkward text included.
/// Returns the secrets that must never be exported.
async fn org_with_data(api: &Api) -> (OrgFixture, Vec<String>) {
    let org = OrgFixture::create(api).await;
    org.set_plan(api, "pro").await;
    let mcp = api
        .post(
            &org.path("/mcps"),
            Some(&org.owner.token),
            json!({ "name": FORMULA, "url": "https://weather.example.com/mcp", "config": { "note": "-1+1" } }),
        )
        .await
        .expect(201);
    let mcp_id = mcp.body["id"].as_str().unwrap().to_owned();
    let (_, api_key) = org.api_key(api).await;
    api.post(
        &org.path("/usage"),
        Some(&api_key),
        json!({ "mcp_id": mcp_id, "requests": 7, "tokens": 70 }),
    )
    .await
    .expect(200);
    let webhook = api
        .post(
            &org.path("/webhooks"),
            Some(&org.owner.token),
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["mcp.created"], "description": AWKWARD }),
        )
        .await
        .expect(201);
    org.enable_pin(api, "840317").await;
    let webhook_id = webhook.body["id"].as_str().unwrap();
    let stored = items(&format!("ORG#{}", org.id), &format!("WEBHOOK#{webhook_id}")).await;
    let sealed_secret = stored[0]["secret"].as_s().unwrap().clone();
    let key_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(api_key.as_bytes()));
    let secrets = vec![
        api_key,
        key_hash,
        webhook.body["secret"].as_str().unwrap().to_owned(),
        sealed_secret,
        org.owner.token.clone(),
        org.admin.token.clone(),
        "$argon2".into(),
    ];
    (org, secrets)
}

async fn start(api: &Api, org: &OrgFixture, body: Value) -> Value {
    let job = api
        .post(&org.path("/exports"), Some(&org.owner.token), body)
        .await
        .expect(202)
        .body;
    assert_eq!(job["status"], "pending");
    assert!(job["id"].as_str().unwrap().starts_with("exp_"));
    assert_eq!(job["download_url"], Value::Null);
    job
}

fn assert_no_secret(text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the export contains a secret: {secret}"
        );
    }
    for attribute in ["key_hash", "pin_hash", "password_hash", "secret"] {
        assert!(!text.contains(attribute), "the export names {attribute}");
    }
}

#[tokio::test]
async fn a_json_export_holds_every_category_as_one_document_and_no_secret() {
    let api = stack().api();
    let (org, secrets) = org_with_data(&api).await;
    let job = start(
        &api,
        &org,
        json!({ "format": "json", "include": EVERY_CATEGORY }),
    )
    .await;
    assert_eq!(job["include"], json!(EVERY_CATEGORY));
    let ready = finished(&api, &org, job["id"].as_str().unwrap()).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["size_bytes"].as_i64().unwrap() > 0);
    let expires =
        chrono::DateTime::parse_from_rfc3339(ready["expires_at"].as_str().unwrap()).unwrap();
    let completed =
        chrono::DateTime::parse_from_rfc3339(ready["completed_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - completed, chrono::Duration::days(7));

    let file = read_export(ready["download_url"].as_str().unwrap());
    assert_eq!(file["kind"], "json");
    assert_eq!(file["content_type"], "application/json");
    assert!(file["content_disposition"]
        .as_str()
        .unwrap()
        .contains(&format!("{}-exp_", org.slug)));
    let doc = &file["document"];
    assert_eq!(doc["organization"]["slug"], org.slug.as_str());
    assert!(doc["generated_at"].is_string());
    assert_eq!(
        doc["mcps"][0]["name"], FORMULA,
        "JSON keeps values as they are"
    );
    assert_eq!(doc["mcps"][0]["config"]["note"], "-1+1");
    assert_eq!(doc["api_keys"].as_array().unwrap().len(), 1);
    assert!(doc["api_keys"][0]["prefix"]
        .as_str()
        .unwrap()
        .starts_with("pmcp_"));
    assert_eq!(doc["members"].as_array().unwrap().len(), 4);
    assert_eq!(doc["usage"][0]["requests"], 7);
    assert_eq!(doc["usage"][0]["tokens"], 70);
    assert_eq!(doc["webhooks"][0]["description"], AWKWARD);
    assert_eq!(doc["webhooks"][0]["events"], json!(["mcp.created"]));
    let actions: Vec<&str> = doc["audit_logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"org.created"), "oldest first");
    assert!(actions.contains(&"export.requested"));
    assert_no_secret(file["text"].as_str().unwrap(), &secrets);
}

#[tokio::test]
async fn a_csv_export_is_a_zip_of_quoted_files_with_formulas_defused() {
    let api = stack().api();
    let (org, secrets) = org_with_data(&api).await;
    let job = start(
        &api,
        &org,
        json!({ "format": "csv", "include": EVERY_CATEGORY }),
    )
    .await;
    let ready = finished(&api, &org, job["id"].as_str().unwrap()).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let file = read_export(ready["download_url"].as_str().unwrap());
    assert_eq!(file["kind"], "zip");
    assert_eq!(file["content_type"], "application/zip");
    let files = file["files"].as_object().unwrap();
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for category in EVERY_CATEGORY {
        assert!(files.contains_key(&format!("{category}.csv")), "{category}");
    }
    let mcps = &files["mcps.csv"];
    assert_eq!(
        mcps[0],
        json!([
            "id",
            "name",
            "url",
            "transport",
            "config",
            "health",
            "created_at",
            "updated_at"
        ])
    );
    assert_eq!(
        mcps[1][1],
        format!("'{FORMULA}"),
        "a formula comes back prefixed"
    );
    assert_eq!(mcps[1][4], "{\"note\":\"-1+1\"}");
    let webhooks = &files["webhooks.csv"];
    assert_eq!(
        webhooks[1][4], AWKWARD,
        "quotes, commas, line breaks and non-ASCII round-trip"
    );
    let usage = &files["usage.csv"];
    assert_eq!(usage[0], json!(["date", "mcp_id", "requests", "tokens"]));
    assert_eq!(usage[1][2], "7");
    assert_eq!(
        files["members.csv"].as_array().unwrap().len(),
        5,
        "a header and four members"
    );
    let audit = &files["audit_logs.csv"];
    assert_eq!(
        audit[0],
        json!([
            "id",
            "occurred_at",
            "actor_type",
            "actor_id",
            "actor_email",
            "action",
            "category",
            "target_type",
            "target_id",
            "ip",
            "user_agent",
            "outcome",
            "hash",
            "prev_hash"
        ])
    );
    assert_eq!(audit[1][5], "org.created");
    assert_no_secret(file["text"].as_str().unwrap(), &secrets);
}

#[tokio::test]
async fn the_audit_log_export_keeps_its_filters_and_the_chain_hashes() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    org.set_plan(&api, "pro").await;
    org.mcp(&api).await;
    org.mcp(&api).await;
    let job = api
        .post(
            &org.path("/audit-logs/export"),
            Some(&org.owner.token),
            json!({ "format": "csv", "action": "mcp.*" }),
        )
        .await
        .expect(202)
        .body;
    assert_eq!(job["include"], json!(["audit_logs"]));
    assert_eq!(job["filters"], json!({ "action": "mcp.*" }));
    let ready = finished(&api, &org, job["id"].as_str().unwrap()).await;
    let file = read_export(ready["download_url"].as_str().unwrap());
    let rows = file["files"]["audit_logs.csv"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        3,
        "a header and the two mcp.created entries: {rows:?}"
    );
    let listed = api
        .get(&org.path("/audit-logs?action=mcp.*"), &org.owner.token)
        .await
        .expect(200)
        .body;
    // The API lists newest first; the export is oldest first.
    for (row, entry) in rows[1..]
        .iter()
        .zip(listed["items"].as_array().unwrap().iter().rev())
    {
        assert_eq!(row[0], entry["id"]);
        assert_eq!(row[5], "mcp.created");
        assert_eq!(row[12], entry["hash"]);
        assert_eq!(row[13], entry["prev_hash"]);
    }

    // Each download link issued is an audit entry.
    let links = api
        .get(&org.path("/audit-logs?action=export.*"), &org.owner.token)
        .await
        .expect(200)
        .body;
    let actions: Vec<&str> = links["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["export.download_link_issued", "export.requested"]);
}

#[tokio::test]
async fn who_may_export_and_what_is_refused() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let body = json!({ "format": "json", "include": ["mcps"] });
    for who in [&org.member, &org.viewer] {
        api.post(&org.path("/exports"), Some(&who.token), body.clone())
            .await
            .problem(403, "forbidden");
        api.get(&org.path("/exports"), &who.token)
            .await
            .problem(403, "forbidden");
    }
    let stranger = Account::create(&api).await;
    api.post(&org.path("/exports"), Some(&stranger.token), body.clone())
        .await
        .problem(404, "not_found");
    // The audit log is exported only where it is shown: not on the Free plan.
    api.post(
        &org.path("/exports"),
        Some(&org.owner.token),
        json!({ "format": "json", "include": ["mcps", "audit_logs"] }),
    )
    .await
    .problem(403, "plan_required");
    api.post(
        &org.path("/audit-logs/export"),
        Some(&org.admin.token),
        json!({ "format": "csv" }),
    )
    .await
    .problem(403, "plan_required");
    for (bad, field) in [
        (json!({ "format": "xml", "include": ["mcps"] }), "format"),
        (json!({ "format": "json", "include": [] }), "include"),
        (
            json!({ "format": "json", "include": ["mcps", "passwords"] }),
            "include",
        ),
    ] {
        let refused = api
            .post(&org.path("/exports"), Some(&org.owner.token), bad)
            .await
            .problem(422, "validation_failed");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{}",
            refused.body
        );
    }
    let unknown_field = api
        .post(
            &org.path("/exports"),
            Some(&org.owner.token),
            json!({ "format": "json", "include": ["mcps"], "bucket": "mine" }),
        )
        .await;
    assert_eq!(unknown_field.status, 422, "{}", unknown_field.body);
    let malformed = api
        .send(
            api.raw(reqwest::Method::POST, &org.path("/exports"))
                .bearer_auth(&org.owner.token)
                .header("content-type", "application/json")
                .body("{\"format\": "),
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    org.set_plan(&api, "pro").await;
    for (bad, field) in [
        (json!({ "format": "csv", "from": "yesterday" }), "from"),
        (
            json!({ "format": "csv", "category": "everything" }),
            "category",
        ),
        (
            json!({ "format": "csv", "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z" }),
            "to",
        ),
        (json!({ "format": "pdf" }), "format"),
    ] {
        let refused = api
            .post(&org.path("/audit-logs/export"), Some(&org.owner.token), bad)
            .await
            .problem(422, "validation_failed");
        assert_eq!(
            refused.body["errors"][0]["field"], field,
            "{}",
            refused.body
        );
    }
    let none = api
        .get(&org.path("/exports"), &org.owner.token)
        .await
        .expect(200);
    assert_eq!(none.body["items"], json!([]), "nothing refused was started");
    api.get(
        &org.path("/exports/exp_01JDQX3Z8E6V4W2N9KQ5M7R1TA"),
        &org.owner.token,
    )
    .await
    .problem(404, "not_found");
    api.get(&org.path("/exports/not-an-id"), &org.owner.token)
        .await
        .problem(404, "not_found");

    // An admin may; another org's owner sees nothing of it.
    let job = api
        .post(&org.path("/exports"), Some(&org.admin.token), body.clone())
        .await
        .expect(202)
        .body;
    assert_eq!(job["created_by"], org.admin.id.as_str());
    let other = OrgFixture::create(&api).await;
    api.get(
        &format!(
            "/v1/orgs/{}/exports/{}",
            other.slug,
            job["id"].as_str().unwrap()
        ),
        &other.owner.token,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn three_exports_run_at_once_and_the_count_is_a_condition_of_the_start() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let pk = format!("ORG#{}", org.id);
    let body = json!({ "format": "json", "include": ["members"] });
    // Three running (as the org item counts them): a fourth is refused and changes nothing.
    set_attribute(&pk, "ORG", "active_exports", N("3".into())).await;
    api.post(&org.path("/exports"), Some(&org.owner.token), body.clone())
        .await
        .problem(409, "export_limit");
    set_attribute(&pk, "ORG", "active_exports", N("2".into())).await;
    // A start that read 2 while another start committed meanwhile is refused.
    let pause = Pause::before_commit("export.requested", &pk).await;
    let racing = {
        let (api, path, token, body) = (
            api.clone(),
            org.path("/exports"),
            org.owner.token.clone(),
            body.clone(),
        );
        tokio::spawn(async move { api.post(&path, Some(&token), body).await })
    };
    pause.reached().await;
    set_attribute(&pk, "ORG", "active_exports", N("3".into())).await;
    pause.resume();
    racing.await.unwrap().problem(409, "conflict");
    assert!(items(&pk, "EXPORT#").await.is_empty(), "no job was written");

    // Each job that ends gives its place back.
    set_attribute(&pk, "ORG", "active_exports", N("0".into())).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            start(&api, &org, body.clone()).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for id in &ids {
        assert_eq!(finished(&api, &org, id).await["status"], "ready");
    }
    let org_item = items(&pk, "ORG").await.remove(0);
    assert_eq!(org_item["active_exports"], N("0".into()));
    let listed = api
        .get(&org.path("/exports?limit=2"), &org.owner.token)
        .await
        .expect(200)
        .body;
    assert_eq!(listed["items"][0]["id"], ids[2].as_str(), "newest first");
    assert_eq!(
        listed["items"][0]["download_url"],
        Value::Null,
        "links come one job at a time"
    );
    let rest = api
        .get(
            &org.path(&format!(
                "/exports?limit=2&cursor={}",
                listed["next_cursor"].as_str().unwrap()
            )),
            &org.owner.token,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(rest["items"][0]["id"], ids[0].as_str());
}

#[tokio::test]
async fn a_redelivered_job_writes_nothing_and_an_old_export_reads_expired() {
    let api = stack().api();
    let org = OrgFixture::create(&api).await;
    let job = start(
        &api,
        &org,
        json!({ "format": "csv", "include": ["members"] }),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    let ready = finished(&api, &org, id).await;
    let object = format!("exports/{}/{id}.zip", org.id);
    let s3 = stack().s3().await;
    let bucket = stack().env("EXPORT_BUCKET");
    let before = s3
        .head_object()
        .bucket(&bucket)
        .key(&object)
        .send()
        .await
        .unwrap();

    // The same job again on the queue, as SQS may deliver it.
    let sqs = stack().sqs().await;
    let queue = stack().env("EXPORTS_QUEUE_URL");
    let message = json!({
        "id": plexmcp_tests::events::new_message_id(),
        "organization_id": org.id,
        "timestamp": "2026-01-01T00:00:00Z",
        "export_id": id,
    });
    sqs.send_message()
        .queue_url(&queue)
        .message_body(message.to_string())
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let count = |name| {
            attributes.attributes().unwrap()[&name]
                .parse::<u32>()
                .unwrap()
        };
        use aws_sdk_sqs::types::QueueAttributeName::*;
        if count(ApproximateNumberOfMessages) + count(ApproximateNumberOfMessagesNotVisible) == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the redelivered job was never taken"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = s3
        .head_object()
        .bucket(&bucket)
        .key(&object)
        .send()
        .await
        .unwrap();
    assert_eq!(after.e_tag(), before.e_tag());
    assert_eq!(
        after.last_modified(),
        before.last_modified(),
        "no second write"
    );
    let again = finished(&api, &org, id).await;
    assert_eq!(again["completed_at"], ready["completed_at"]);
    assert_eq!(again["status"], "ready");

    // Seven days after it was written the bucket deletes the file: the job reads expired.
    let eight_days_ago = (chrono::Utc::now() - chrono::Duration::days(8))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let pk = format!("ORG#{}", org.id);
    set_attribute(
        &pk,
        &format!("EXPORT#{id}"),
        "completed_at",
        S(eight_days_ago),
    )
    .await;
    let expired = finished(&api, &org, id).await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["download_url"], Value::Null);
}

#[tokio::test]
async fn an_export_whose_worker_dies_mid_way_is_taken_up_again_and_completes() {
    let stack = stack_retrying_exports_quickly().await;
    let api = stack.api();
    let org = OrgFixture::create(&api).await;
    // The worker dies after its first page: no object, the job left running.
    std::fs::write(stack.hooks_dir.join(format!("export-dies.{}", org.id)), b"").unwrap();
    let job = start(
        &api,
        &org,
        json!({ "format": "json", "include": ["members", "mcps"] }),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    let ready = finished(&api, &org, id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let stored = stack
        .dynamodb()
        .await
        .get_item()
        .table_name(stack.table_name())
        .key("pk", S(format!("ORG#{}", org.id)))
        .key("sk", S(format!("EXPORT#{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stored.item().unwrap()["attempt"],
        N("2".into()),
        "the second run finished it"
    );
    let objects = stack
        .s3()
        .await
        .list_objects_v2()
        .bucket(stack.env("EXPORT_BUCKET"))
        .prefix(format!("exports/{}/", org.id))
        .send()
        .await
        .unwrap();
    assert_eq!(objects.contents().len(), 1, "one object, however many runs");
    let file = read_export(ready["download_url"].as_str().unwrap());
    assert_eq!(file["document"]["members"].as_array().unwrap().len(), 4);
    assert_eq!(file["document"]["mcps"], json!([]));
}

#[tokio::test]
async fn an_export_that_keeps_failing_ends_failed_with_the_reason_after_three_runs() {
    let stack = stack_retrying_exports_quickly().await;
    let api = stack.api();
    let org = OrgFixture::create(&api).await;
    let switch = stack.hooks_dir.join(format!("export-fails.{}", org.id));
    std::fs::write(&switch, b"").unwrap();
    let job = start(
        &api,
        &org,
        json!({ "format": "csv", "include": ["members"] }),
    )
    .await;
    let failed = finished(&api, &org, job["id"].as_str().unwrap()).await;
    std::fs::remove_file(&switch).unwrap();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("refused"),
        "{failed}"
    );
    assert_eq!(failed["download_url"], Value::Null);
    let objects = stack
        .s3()
        .await
        .list_objects_v2()
        .bucket(stack.env("EXPORT_BUCKET"))
        .prefix(format!("exports/{}/", org.id))
        .send()
        .await
        .unwrap();
    assert!(
        objects.contents().is_empty(),
        "no object of a failed export"
    );
    // Its place is free again: three more may start.
    for _ in 0..3 {
        start(
            &api,
            &org,
            json!({ "format": "json", "include": ["members"] }),
        )
        .await;
    }
}

#[tokio::test]
async fn a_message_the_worker_cannot_read_ends_in_the_dead_letter_queue() {
    let stack = stack_retrying_exports_quickly().await;
    let sqs = stack.sqs().await;
    let queue = stack.env("EXPORTS_QUEUE_URL");
    let redrive = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let policy: Value = serde_json::from_str(
        &redrive.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy],
    )
    .unwrap();
    let dead_letter_name = policy["deadLetterTargetArn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let dead_letter = sqs
        .get_queue_url()
        .queue_name(&dead_letter_name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let poison = format!("not a job {}", plexmcp_tests::unique(""));
    sqs.send_message()
        .queue_url(&queue)
        .message_body(&poison)
        .send()
        .await
        .unwrap();
    // Five receives (the template's maxReceiveCount), 3 s apart, then the redrive.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&dead_letter)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if received
            .messages()
            .iter()
            .any(|m| m.body() == Some(poison.as_str()))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the poison message never reached {dead_letter_name}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
