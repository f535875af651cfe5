//! Webhook delivery throughput: the delivery worker's invocations of template-sized
//! batches against a receiver on loopback, in the same run as two baselines — once with
//! a receiver that answers at once, once with one that takes 50 ms (as a fast real
//! endpoint):
//!
//! - a bare reqwest loop sending the same signed POSTs one after the other (design.md's
//!   target: the worker at ≥ 0.8× of it);
//! - the worker's floor: a loop doing per batch the durable work the worker must do, with
//!   the same `shared` code — one `BatchGetItem` of the org, the endpoint and each
//!   message's delivered record (the idempotency read), the batch's POSTs side by side,
//!   and one `TransactWriteItems` of each attempt's log and delivered record.

use crate::functions::Fixture;
use crate::setup::call;
use crate::Launcher;
use local_runtime::events::{http_request, sqs_record};
use local_runtime::http::{read_request, write_response, Response};
use local_runtime::{Outcome, RuntimeApi};
use serde_json::{json, Value};
use shared::ids::DeliveryId;
use shared::store::item::time;
use shared::store::{n, put, Key, Table};
use shared::webhooks::delivery_log::{LoggedDelivery, LOG_RETENTION, SUCCEEDED};
use shared::webhooks::signature::{signature_header, WebhookSecret};
use shared::webhooks::DeliveryJob;
use std::io::BufReader;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The deliveries-queue's `BatchSize` in template.yaml.
pub const BATCH: usize = 10;

pub struct Throughput {
    pub receiver_ms: u64,
    pub deliveries: usize,
    pub worker_per_s: f64,
    pub bare_loop_per_s: f64,
    pub floor_per_s: f64,
}

/// A receiver that answers every request 202 after `latency`, on keep-alive connections,
/// and counts what it got.
fn receiver(latency: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("stream");
                let mut reader = BufReader::new(stream);
                while let Ok(Some(_)) = read_request(&mut reader) {
                    counter.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(latency);
                    if write_response(&mut writer, &Response::accepted()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (url, received)
}

fn payload(fixture: &Fixture, n: usize) -> String {
    json!({
        "event": "mcp.updated", "timestamp": "2026-11-29T00:00:00Z",
        "organization_id": fixture.org_id, "data": { "mcp_id": fixture.mcp_id, "n": n }
    })
    .to_string()
}

fn message_id(run: &str, n: usize) -> String {
    format!("msg_{run}{n:012}")
}

/// An endpoint of the fixture's org for `mcp.updated`, delivering to `url`: its id and
/// secret (created through the organization function).
fn endpoint(
    launcher: &Launcher,
    bin: &Path,
    fixture: &Fixture,
    url: &str,
) -> (String, WebhookSecret) {
    let runtime = RuntimeApi::start();
    let _organization = launcher.start(&bin.join("organization"), &runtime);
    let endpoint = json!({ "url": url, "events": ["mcp.updated"], "description": "bench" });
    let endpoint = call(
        &runtime,
        http_request(
            "POST",
            &format!("/v1/orgs/{}/webhooks", fixture.slug),
            Some(&fixture.token),
            Some(&endpoint),
        ),
        201,
    );
    let secret = WebhookSecret::parse(endpoint["secret"].as_str().expect("secret"))
        .expect("a whsec_ secret");
    (
        endpoint["id"].as_str().expect("endpoint id").to_owned(),
        secret,
    )
}

/// The delivery job of message `n` of `run` to `endpoint_id`, as an SQS record.
fn job(fixture: &Fixture, endpoint_id: &str, run: &str, n: usize) -> Value {
    let job = json!({
        "org_id": fixture.org_id, "endpoint_id": endpoint_id,
        "message_id": message_id(run, n), "event": "mcp.updated",
        "payload": payload(fixture, n), "attempt": 1
    });
    sqs_record(&format!("m-{n}"), &job.to_string())
}

/// The worker's durable work for one batch of `jobs` (distinct messages of one endpoint),
/// done by a loop: the idempotency read, the POSTs side by side, the log write.
async fn floor_batch(
    table: &Table,
    client: &reqwest::Client,
    url: &str,
    secret: &WebhookSecret,
    jobs: &[DeliveryJob],
) {
    let keys: Vec<Key> = jobs
        .iter()
        .flat_map(|job| {
            [
                Key::org(&job.org_id),
                Key::webhook(&job.org_id, job.endpoint_id.as_str()),
                Key::delivered(&job.org_id, &job.idempotency_key()),
            ]
        })
        .collect();
    let read = table.get_many(&keys).await.expect("the batch's reads");
    assert_eq!(
        read.len(),
        2,
        "the org and the endpoint, nothing delivered yet"
    );
    let sends = jobs.iter().map(|job| async move {
        let started = Instant::now();
        let timestamp = chrono::Utc::now().timestamp();
        let signature =
            signature_header(&[secret], job.message_id.as_str(), timestamp, &job.payload);
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", job.message_id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(job.payload.clone())
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let at = chrono::Utc::now();
        let logged = LoggedDelivery {
            id: DeliveryId::generate(),
            message_id: job.message_id.clone(),
            event: job.event.clone(),
            status: SUCCEEDED.to_owned(),
            attempt: job.attempt.into(),
            duration_ms: started.elapsed().as_millis() as i64,
            payload: job.payload.clone(),
            response_status: Some(status.into()),
            response_body: Some(body),
            error: None,
            next_attempt_at: None,
            created_at: at,
        };
        let mut delivered = Key::delivered(&job.org_id, &job.idempotency_key()).to_item();
        delivered.insert("delivered_at".into(), time(at));
        delivered.insert("ttl".into(), n((at + LOG_RETENTION).timestamp()));
        [logged.item(&job.org_id, &job.endpoint_id), delivered]
    });
    let writes = futures::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .map(|item| put(table, item, "attribute_not_exists(pk)").expect("a put"))
        .collect();
    table.transact(writes).await.expect("the log write");
}

/// `msg_` and 26 symbols, unlike any earlier run's.
fn new_run() -> String {
    format!("{:014}", chrono::Utc::now().timestamp_millis())
}

/// Batches of one new job each (a delivered message is not sent again), to an endpoint
/// whose receiver answers at once: a delivery worker's first real message.
pub fn one_job_at_a_time(
    launcher: &Launcher,
    bin: &Path,
    fixture: &Fixture,
) -> Box<dyn Fn() -> Value> {
    let (url, received) = receiver(Duration::ZERO);
    let (endpoint_id, _) = endpoint(launcher, bin, fixture, &url);
    let (run, fixture) = (new_run(), fixture.clone());
    let sent = AtomicUsize::new(0);
    Box::new(move || {
        // Each job is asked for once the one before was answered: it has arrived.
        let n = sent.fetch_add(1, Ordering::Relaxed);
        assert_eq!(
            received.load(Ordering::Relaxed),
            n,
            "a delivery did not arrive"
        );
        json!({ "Records": [job(&fixture, &endpoint_id, &run, n)] })
    })
}

pub fn measure(
    launcher: &Launcher,
    bin: &Path,
    fixture: &Fixture,
    deliveries: usize,
    latency: Duration,
) -> Throughput {
    let (url, received) = receiver(latency);
    let (endpoint_id, secret) = endpoint(launcher, bin, fixture, &url);
    let runtime = RuntimeApi::start();
    let _worker = launcher.start(&bin.join("webhook-delivery"), &runtime);
    let run = new_run();
    let batch = |first: usize| {
        let records: Vec<Value> = (first..first + BATCH)
            .map(|n| job(fixture, &endpoint_id, &run, n))
            .collect();
        json!({ "Records": records })
    };
    let invoke = |event: &Value| match runtime.invoke(event) {
        Outcome::Response(answer) => assert_eq!(
            answer["batchItemFailures"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0),
            0,
            "the worker handled every record: {answer}"
        ),
        Outcome::Error(error) => panic!("the worker failed: {error}"),
    };
    // Warm: the first batch opens the connections and the store's clients.
    invoke(&batch(0));
    let batches = deliveries.div_ceil(BATCH);
    let events: Vec<Value> = (1..=batches).map(|b| batch(b * BATCH)).collect();
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    for event in &events {
        invoke(event);
    }
    let worker = started.elapsed();
    let sent = batches * BATCH;
    assert_eq!(
        received.load(Ordering::Relaxed) - before,
        sent,
        "every job was delivered once"
    );

    let table = crate::setup::table(launcher.stack);
    let floor = crate::block_on(async {
        let client = reqwest::Client::new();
        let run = new_run();
        let batch = |first: usize| -> Vec<DeliveryJob> {
            (first..first + BATCH)
                .map(|n| {
                    let body = job(fixture, &endpoint_id, &run, n)["body"].clone();
                    serde_json::from_str(body.as_str().expect("a body")).expect("a job")
                })
                .collect()
        };
        floor_batch(&table, &client, &url, &secret, &batch(0)).await;
        let batches: Vec<Vec<DeliveryJob>> = (1..=sent / BATCH).map(|b| batch(b * BATCH)).collect();
        let started = Instant::now();
        for jobs in &batches {
            floor_batch(&table, &client, &url, &secret, jobs).await;
        }
        started.elapsed()
    });

    let bare = crate::block_on(async {
        let client = reqwest::Client::new();
        let post = |n: usize| {
            let body = payload(fixture, n);
            let id = message_id("BARE0000000000", n);
            let timestamp = chrono::Utc::now().timestamp();
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    signature_header(&[&secret], &id, timestamp, &body),
                )
                .body(body)
                .send()
        };
        post(0).await.expect("warm POST");
        let started = Instant::now();
        for n in 1..=sent {
            let response = post(n).await.expect("POST");
            assert!(response.status().is_success());
        }
        started.elapsed()
    });
    Throughput {
        receiver_ms: latency.as_millis() as u64,
        deliveries: sent,
        worker_per_s: sent as f64 / worker.as_secs_f64(),
        bare_loop_per_s: sent as f64 / bare.as_secs_f64(),
        floor_per_s: sent as f64 / floor.as_secs_f64(),
    }
}
