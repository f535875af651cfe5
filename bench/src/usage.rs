//! Usage records, one after the other as one function instance takes them: the
//! organization function's release binary answering `POST …/usage` (one record) and
//! `POST …/usage/batch` (100 records of two MCPs) with an API key, next to its floor —
//! the same DynamoDB calls, made by a loop with the same `shared` code: the key's
//! pointer and the slug; the org, the key, its creator's membership and the MCPs; then
//! each MCP's day counter and the month's, side by side. The floor counts on other days
//! (2000-01), so the function's totals can be checked: they must come out exact.

use crate::functions::Fixture;
use crate::setup::call;
use crate::Launcher;
use local_runtime::events::http_request;
use local_runtime::{LocalStack, RuntimeApi};
use serde_json::{json, Value};
use shared::api_keys::{ApiKeyPointer, ApiKeySecret};
use shared::ids::OrgId;
use shared::store::{ItemExt, Key, Table};
use shared::usage::{add_to_month, month_total, UsageDay};
use std::path::Path;
use std::time::Instant;

pub struct UsageRun {
    pub way: &'static str,
    pub records: usize,
    /// DynamoDB calls a POST makes (its floor's), per record.
    pub calls_per_record: f64,
    pub function_per_s: f64,
    pub floor_per_s: f64,
    /// The day's and the month's counters hold what the function was sent.
    pub exact: bool,
}

const REQUESTS: u64 = 3;
const TOKENS: u64 = 7;
/// Records of a batch (the route's most), half of them to each MCP.
const BATCH: usize = 100;

/// The org of the runs: its own, on a plan without a limit (no threshold event in the
/// figures), two MCPs and an API key.
struct UsageOrg {
    slug: String,
    org_id: OrgId,
    mcps: [String; 2],
    key: String,
}

fn usage_org(runtime: &RuntimeApi, fixture: &Fixture) -> UsageOrg {
    let owner = Some(fixture.token.as_str());
    let slug = format!("{}-usage", fixture.slug);
    let org = json!({ "name": "Bench Usage", "slug": slug });
    let org = call(
        runtime,
        http_request("POST", "/v1/orgs", owner, Some(&org)),
        201,
    );
    let path = format!("/v1/orgs/{slug}");
    let plan = json!({ "plan": "enterprise" });
    let billing = http_request("PUT", &format!("{path}/billing"), owner, Some(&plan));
    call(runtime, billing, 200);
    let mcp = |name: &str| {
        let mcp = json!({ "name": name, "url": format!("https://{name}.example.com") });
        let mcp = http_request("POST", &format!("{path}/mcps"), owner, Some(&mcp));
        call(runtime, mcp, 201)["id"].as_str().unwrap().to_owned()
    };
    let mcps = [mcp("weather"), mcp("search")];
    let key = json!({ "name": "gateway" });
    let key = http_request("POST", &format!("{path}/api-keys"), owner, Some(&key));
    let key = call(runtime, key, 201)["key"].as_str().unwrap().to_owned();
    UsageOrg {
        org_id: OrgId::parse(org["id"].as_str().unwrap()).expect("an org id"),
        slug,
        mcps,
        key,
    }
}

/// One POST, a single record or (`batch`) 100: its path, its body, and what it adds to
/// each MCP (requests, tokens).
fn post(org: &UsageOrg, batch: bool) -> (String, Value, Vec<(&str, u64, u64)>) {
    let path = format!("/v1/orgs/{}/usage", org.slug);
    let record = |mcp: &str| json!({ "mcp_id": mcp, "requests": REQUESTS, "tokens": TOKENS });
    if !batch {
        let mcp = org.mcps[0].as_str();
        return (path, record(mcp), vec![(mcp, REQUESTS, TOKENS)]);
    }
    let records: Vec<Value> = (0..BATCH).map(|n| record(&org.mcps[n % 2])).collect();
    let half = (BATCH / 2) as u64;
    let per_mcp = org
        .mcps
        .iter()
        .map(|mcp| (mcp.as_str(), half * REQUESTS, half * TOKENS))
        .collect();
    (
        format!("{path}/batch"),
        json!({ "records": records }),
        per_mcp,
    )
}

/// The DynamoDB calls `floor` makes for a POST of `per_mcp`: two reads, then one write a
/// counter.
fn floor_calls(per_mcp: &[(&str, u64, u64)]) -> usize {
    2 + per_mcp.len() + 1
}

/// What one POST must do, with the function's own code: the key's pointer and the slug;
/// the org, the key, its creator's membership and the MCPs; the counters side by side.
async fn floor(table: &Table, org: &UsageOrg, per_mcp: &[(&str, u64, u64)]) {
    let secret = ApiKeySecret::parse(&org.key).expect("an API key");
    let pointer_key = Key::api_key_pointer(&secret.hash());
    let first = table
        .get_many(&[pointer_key.clone(), Key::slug(&org.slug)])
        .await
        .expect("the pointer and the slug");
    let pointer = ApiKeyPointer::from_item(&first[&pointer_key]).expect("a pointer");
    let mut keys = vec![
        Key::org(&pointer.org_id),
        Key::api_key(&pointer.org_id, &pointer.key_id),
    ];
    keys.extend(
        pointer
            .created_by
            .iter()
            .map(|u| Key::member(&org.org_id, u)),
    );
    keys.extend(per_mcp.iter().map(|(mcp, ..)| Key::mcp(&org.org_id, mcp)));
    let second = table.get_many(&keys).await.expect("the org and its MCPs");
    assert_eq!(
        second.len(),
        keys.len(),
        "every item the route reads is there"
    );
    // Other days than the function's: its totals stay what it was sent.
    let (date, month) = ("2000-01-01", "2000-01");
    let days = per_mcp.iter().map(|(mcp, requests, tokens)| {
        UsageDay::add(table, &org.org_id, date, mcp, *requests, *tokens).send()
    });
    let requests = per_mcp.iter().map(|(_, requests, _)| requests).sum();
    let (days, total) = tokio::join!(
        futures::future::join_all(days),
        add_to_month(table, &org.org_id, month, requests).send()
    );
    assert!(days.iter().all(Result::is_ok), "the day counters");
    month_total(&total.expect("the month counter")).expect("a total");
}

/// `posts` records one after the other (batches of 100 with `batch`), through the
/// function and through its floor taking turns, each warmed by one more of its own (a
/// batch's concurrent writes open connections a record's do not): their seconds, and the
/// floor's calls a POST.
fn run(
    runtime: &RuntimeApi,
    table: &Table,
    org: &UsageOrg,
    batch: bool,
    posts: usize,
) -> (f64, f64, usize) {
    let (path, body, per_mcp) = post(org, batch);
    let request = http_request("POST", &path, Some(&org.key), Some(&body));
    // One runtime for the floor's calls: the client's connections live on it.
    let floor_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (mut function, mut floor_s) = (0.0, 0.0);
    for n in 0..=posts {
        let started = Instant::now();
        call(runtime, request.clone(), 200);
        let answered = started.elapsed().as_secs_f64();
        let started = Instant::now();
        floor_runtime.block_on(floor(table, org, &per_mcp));
        if n > 0 {
            function += answered;
            floor_s += started.elapsed().as_secs_f64();
        }
    }
    (function, floor_s, floor_calls(&per_mcp))
}

/// The org's counters of today (each MCP's day, the month) hold `expected` requests and
/// tokens per MCP.
fn counted(table: &Table, org: &UsageOrg, expected: &[(u64, u64); 2]) -> bool {
    let now = chrono::Utc::now();
    let (date, month) = (
        now.format("%Y-%m-%d").to_string(),
        now.format("%Y-%m").to_string(),
    );
    let mut keys: Vec<Key> = org
        .mcps
        .iter()
        .map(|mcp| Key::usage_day(&org.org_id, &date, mcp))
        .collect();
    keys.push(Key::usage_month(&org.org_id, &month));
    let items = crate::block_on(table.get_many(&keys)).expect("the counters");
    // A counter never written holds zero.
    let number = |key: &Key, name| items.get(key).and_then(|i| i.opt_num(name)).unwrap_or(0);
    let days_exact = keys[..2].iter().zip(expected).all(|(key, (r, t))| {
        number(key, "requests") == *r as i64 && number(key, "tokens") == *t as i64
    });
    let month_requests: u64 = expected.iter().map(|(r, _)| r).sum();
    days_exact && number(&keys[2], "requests") == month_requests as i64
}

/// `records` single records, then ten times as many in batches of 100 (the batches are
/// fast: as many POSTs would be too short a run to time).
pub fn measure(
    launcher: &Launcher,
    bin: &Path,
    stack: &LocalStack,
    fixture: &Fixture,
    records: usize,
) -> Vec<UsageRun> {
    let runtime = RuntimeApi::start();
    let _organization = launcher.start(&bin.join("organization"), &runtime);
    let org = usage_org(&runtime, fixture);
    let table = crate::setup::table(stack);
    let single = run(&runtime, &table, &org, false, records);
    let single_requests = (records as u64 + 1) * REQUESTS;
    let single_tokens = (records as u64 + 1) * TOKENS;
    let single_exact = counted(&table, &org, &[(single_requests, single_tokens), (0, 0)]);

    let batches = (records * 10).div_ceil(BATCH);
    let batched = run(&runtime, &table, &org, true, batches);
    let half = ((batches + 1) * BATCH / 2) as u64;
    let expected = [
        (
            single_requests + half * REQUESTS,
            single_tokens + half * TOKENS,
        ),
        (half * REQUESTS, half * TOKENS),
    ];
    let batch_exact = counted(&table, &org, &expected);

    let figures =
        |way, records: usize, per_post: usize, (function, floor, calls), exact| UsageRun {
            way,
            records,
            calls_per_record: calls as f64 / per_post as f64,
            function_per_s: records as f64 / function,
            floor_per_s: records as f64 / floor,
            exact,
        };
    vec![
        figures("POST /usage, one record", records, 1, single, single_exact),
        figures(
            "POST /usage/batch, 100 records of 2 MCPs",
            batches * BATCH,
            BATCH,
            batched,
            batch_exact,
        ),
    ]
}
