//! Data export: the export worker's release binary, as Lambda runs it, exporting the
//! usage of an org with 10k and then 100k rows (`BENCH_EXPORT_ROWS`), as JSON and as
//! CSV-in-zip — a fresh process each, so that its peak RSS (VmHWM) is that export's. The
//! 10k run is the baseline of the memory figure (growth to 100k < 20 MB: the export is
//! streamed, never held); rows per second stand next to a bare paged `Query` of the same
//! rows in the same run (the floor: what reading alone costs in the emulator).

use crate::functions::Fixture;
use crate::Launcher;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use local_runtime::events::sqs_record;
use local_runtime::{LocalStack, Outcome, RuntimeApi};
use serde_json::{json, Value};
use shared::exports::{Category, ExportJob, ExportMessage, Format};
use shared::ids::OrgId;
use std::path::Path;
use std::time::Instant;

pub struct ExportRun {
    pub rows: usize,
    pub format: &'static str,
    pub seconds: f64,
    pub size_bytes: i64,
    pub peak_rss_kib: u64,
    /// Rows a second of a bare paged Query of the same partition (pages of 500).
    pub bare_query_rows_per_s: f64,
}

pub(crate) async fn dynamodb(stack: &LocalStack) -> aws_sdk_dynamodb::Client {
    dynamodb_at(&stack.aws_endpoint).await
}

async fn dynamodb_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "bench",
        ))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// An org of its own with `rows` usage rows (a row per MCP and day), written 25 at a
/// time, eight batches at once.
async fn seed(
    client: &reqwest::Client,
    db: &aws_sdk_dynamodb::Client,
    stack: &LocalStack,
    table: &str,
    fixture: &Fixture,
    rows: usize,
) -> OrgId {
    let slug = format!("{}-x{rows}", fixture.slug);
    let org: Value = client
        .post(format!("{}/v1/orgs", stack.base_url))
        .bearer_auth(&fixture.token)
        .json(&json!({ "name": "Bench Export", "slug": slug }))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("an org");
    let org_id = OrgId::parse(org["id"].as_str().expect("org id")).expect("an org id");
    let pk = format!("ORG#{org_id}");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a day");
    let item = |n: usize| {
        let date = day + chrono::Duration::days((n % 365) as i64);
        let mut item = std::collections::HashMap::new();
        item.insert("pk".to_owned(), s(&pk));
        item.insert(
            "sk".to_owned(),
            s(format!("USAGE#{date}#mcp_BENCH{:021}", n / 365)),
        );
        item.insert(
            "requests".to_owned(),
            AttributeValue::N((n % 1000).to_string()),
        );
        item.insert("tokens".to_owned(), AttributeValue::N((n * 7).to_string()));
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .expect("a put"),
            )
            .build()
    };
    let batches: Vec<Vec<WriteRequest>> = (0..rows)
        .collect::<Vec<_>>()
        .chunks(25)
        .map(|chunk| chunk.iter().map(|&n| item(n)).collect())
        .collect();
    for group in batches.chunks(8) {
        let writes = group.iter().map(|batch| async {
            let mut pending = batch.clone();
            while !pending.is_empty() {
                let out = db
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .expect("BatchWriteItem");
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
            }
        });
        futures::future::join_all(writes).await;
    }
    org_id
}

async fn bare_query(db: &aws_sdk_dynamodb::Client, table: &str, org: &OrgId) -> (usize, f64) {
    let started = Instant::now();
    let (mut read, mut start) = (0, None);
    loop {
        let out = db
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(format!("ORG#{org}")))
            .expression_attribute_values(":prefix", s("USAGE#"))
            .limit(500)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Query");
        read += out.items().len();
        start = out.last_evaluated_key;
        if start.is_none() {
            return (read, started.elapsed().as_secs_f64());
        }
    }
}

/// An export job of `include`, written as the organization function writes it (the org
/// counts it as running).
async fn write_job(
    db: &aws_sdk_dynamodb::Client,
    table: &str,
    org: &OrgId,
    format: Format,
    include: Vec<Category>,
) -> ExportJob {
    let job = ExportJob::new(
        org,
        format,
        include,
        None,
        "usr_bench".into(),
        chrono::Utc::now(),
    );
    db.put_item()
        .table_name(table)
        .set_item(Some(job.item()))
        .send()
        .await
        .expect("the job");
    db.update_item()
        .table_name(table)
        .key("pk", s(format!("ORG#{org}")))
        .key("sk", s("ORG"))
        .update_expression("SET active_exports = :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("the org's count");
    job
}

/// The SQS event of `job`'s message.
fn job_event(job: &ExportJob) -> Value {
    let message = serde_json::to_string(&ExportMessage::of(job)).expect("JSON");
    json!({ "Records": [sqs_record("export", &message)] })
}

/// Jobs of a small export each (the fixture's org, every category, JSON): an export
/// worker's first real message.
pub fn one_small_export_at_a_time(stack: &LocalStack, fixture: &Fixture) -> Box<dyn Fn() -> Value> {
    let endpoint = stack.aws_endpoint.clone();
    let table = table_name(stack);
    let org = OrgId::parse(&fixture.org_id).expect("the fixture's org id");
    Box::new(move || {
        crate::block_on(async {
            let db = dynamodb_at(&endpoint).await;
            let job = write_job(&db, &table, &org, Format::Json, Category::ALL.to_vec()).await;
            job_event(&job)
        })
    })
}

fn table_name(stack: &LocalStack) -> String {
    stack.stack_file["env"]["TABLE_NAME"]
        .as_str()
        .expect("TABLE_NAME")
        .to_owned()
}

/// One export job and the worker's run of it in a process of its own.
async fn export(
    launcher: &Launcher<'_>,
    bin: &Path,
    db: &aws_sdk_dynamodb::Client,
    table: &str,
    org: &OrgId,
    format: Format,
) -> (f64, i64, u64) {
    let job = write_job(db, table, org, format, vec![Category::Usage]).await;
    let runtime = RuntimeApi::start();
    let process = launcher.start(&bin.join("data-export"), &runtime);
    let started = Instant::now();
    // Up to the function's timeout in the template (900 s), not the usual 30 s.
    let invocation = runtime.submit(&job_event(&job));
    match runtime
        .wait_within(&invocation, std::time::Duration::from_secs(900))
        .outcome
    {
        Outcome::Response(answer) => assert_eq!(
            answer["batchItemFailures"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0),
            0,
            "the export ran: {answer}"
        ),
        Outcome::Error(error) => panic!("the export worker failed: {error}"),
    }
    let seconds = started.elapsed().as_secs_f64();
    let stored = db
        .get_item()
        .table_name(table)
        .key("pk", s(format!("ORG#{org}")))
        .key("sk", s(format!("EXPORT#{}", job.id)))
        .send()
        .await
        .expect("the job");
    let stored = ExportJob::from_item(stored.item().expect("the job")).expect("a job");
    assert_eq!(stored.status, shared::exports::Status::Ready, "{stored:?}");
    (
        seconds,
        stored.size_bytes.unwrap_or(0),
        process.peak_rss_kib(),
    )
}

pub fn measure(
    launcher: &Launcher<'_>,
    bin: &Path,
    stack: &LocalStack,
    fixture: &Fixture,
    sizes: &[usize],
) -> Vec<ExportRun> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let db = dynamodb(stack).await;
        let table = table_name(stack);
        let mut runs = Vec::new();
        for &rows in sizes {
            eprintln!("bench: export: seeding {rows} usage rows");
            let org = seed(&client, &db, stack, &table, fixture, rows).await;
            let (read, query_s) = bare_query(&db, &table, &org).await;
            assert_eq!(read, rows, "every row was written");
            for (format, name) in [(Format::Json, "json"), (Format::Csv, "csv")] {
                let (seconds, size_bytes, peak_rss_kib) =
                    export(launcher, bin, &db, &table, &org, format).await;
                runs.push(ExportRun {
                    rows,
                    format: name,
                    seconds,
                    size_bytes,
                    peak_rss_kib,
                    bare_query_rows_per_s: rows as f64 / query_s,
                });
            }
        }
        runs
    })
}
