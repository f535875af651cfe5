//! `make bench`: for every function of `template.yaml`, next to a bare `lambda_runtime`
//! hello-world built with the same release profile in the same run —
//!
//! 1. cold start against our Runtime API emulator (median of `BENCH_STARTS`, default 20),
//! 2. the arm64 zip `make package` built,
//! 3. peak RSS after `BENCH_INVOCATIONS` (default 1,000) warm invocations, and after one
//!    argon2 request for the functions that hash,
//! 4. DynamoDB round trips per route (the conformance session against the local stack),
//! 5. one argon2id password and PIN verification, and what it means at the template's
//!    memory sizes (Lambda gives 1 vCPU at 1,769 MB),
//! 6. webhook deliveries per second of the delivery worker against a loopback receiver,
//!    next to a bare reqwest loop and to the worker's floor, a loop doing the same reads,
//!    POSTs and log write per batch (`BENCH_DELIVERIES`, default 1,000),
//! 7. the audit-log chain check's time and DynamoDB calls per 1,000 entries,
//! 8. data exports of 10k and 100k usage rows: peak RSS and rows per second, next to a
//!    bare paged Query of the same rows (`BENCH_EXPORT_ROWS`, default `10000,100000`),
//! 9. usage records per second through the organization function, one record a POST and
//!    100 a batch, next to their floor (the same DynamoDB calls, made by a loop), and
//!    whether the totals are exact (`BENCH_USAGE_RECORDS` single records, default 500,
//!    and ten times as many in batches),
//! 10. the cold start of real first requests (an authenticated read, a PIN-gated delete,
//!     the settings page; a worker's first job: a delivery, an export, a domain check,
//!     a small org's deletion)
//!     next to the hello-world and `hello-dynamodb`, one `GetItem` with
//!     aws-config's defaults (`first_requests`; `BENCH_ONLY=first-requests` runs it alone
//!     and writes `target/bench/first-requests.json`), and the p50/p99 of `BENCH_WARM`
//!     (default 1,000) warm answers to each of them by one process.
//!
//! Prints Markdown tables and writes them with the raw figures under `target/bench/`.

mod argon2_cost;
mod audit_verify;
mod cold_start;
mod delivery;
mod domain_check;
mod export;
mod first_requests;
mod functions;
mod memory;
mod org_deletion;
mod report;
mod round_trips;
mod setup;
mod usage;
mod warm;

use cold_start::median_ms;
use functions::BASELINE;
use local_runtime::{FunctionProcess, LocalStack, RuntimeApi};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const VCPU_MB: f64 = 1769.0;

/// Starts function binaries as Lambda would, with the local stack's configuration, their
/// logs going to one file (as Lambda's go to CloudWatch).
pub struct Launcher<'a> {
    stack: &'a LocalStack,
    /// Set for every function besides its own template environment.
    extra: Vec<(&'a str, &'a str)>,
    logs: std::fs::File,
}

impl Launcher<'_> {
    /// `binary` with the environment the template gives that function (so only the
    /// functions given the data-key secret read it at init), plus `extra`.
    pub fn start(&self, binary: &Path, runtime: &RuntimeApi) -> FunctionProcess {
        let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut env = self.stack.function_env_of(name);
        env.extend(self.extra.iter().copied());
        FunctionProcess::start_logging_to(binary, runtime, env, Some(&self.logs))
    }
}

/// Runs `future` on a runtime of its own (the bench's own HTTP calls, between phases).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, name)| name.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "arch": std::env::consts::ARCH,
    })
}

/// The release profile of `Cargo.toml`, with any `CARGO_PROFILE_RELEASE_*` override.
fn profile(root: &Path) -> String {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let mut settings: Vec<String> = manifest
        .split("[profile.release]")
        .nth(1)
        .map(|section| {
            section
                .lines()
                .take_while(|l| !l.starts_with('['))
                .filter(|l| l.contains('=') && !l.trim_start().starts_with('#'))
                .map(|l| l.replace(' ', ""))
                .collect()
        })
        .unwrap_or_default();
    for (key, value) in std::env::vars() {
        if let Some(setting) = key.strip_prefix("CARGO_PROFILE_RELEASE_") {
            let setting = setting.to_lowercase().replace('_', "-");
            settings.retain(|s| !s.starts_with(&format!("{setting}=")));
            settings.push(format!("{setting}={value} (override)"));
        }
    }
    settings.join(", ")
}

/// The size of `make package`'s zip of `binary`, in the target directory.
fn zip_bytes(target: &Path, binary: &str) -> u64 {
    let zip = target.join("lambda").join(binary).join("bootstrap.zip");
    std::fs::metadata(&zip)
        .unwrap_or_else(|_| panic!("{} is missing: run `make package`", zip.display()))
        .len()
}

/// Webhook deliveries a second: `BENCH_DELIVERIES` to a receiver that answers at once,
/// then 200 to one that takes 50 ms.
fn delivery_throughput(launcher: &Launcher, bin: &Path, fixture: &functions::Fixture) -> Value {
    let deliveries = count("BENCH_DELIVERIES", 1000);
    eprintln!("bench: webhook delivery throughput ({deliveries} deliveries, then 200 slower)");
    let runs = [
        delivery::measure(launcher, bin, fixture, deliveries, Duration::ZERO),
        delivery::measure(launcher, bin, fixture, 200, Duration::from_millis(50)),
    ];
    runs.iter()
        .map(|t| {
            json!({
                "receiver_ms": t.receiver_ms,
                "deliveries": t.deliveries,
                "batch": delivery::BATCH,
                "worker_per_s": t.worker_per_s,
                "bare_loop_per_s": t.bare_loop_per_s,
                "ratio": t.worker_per_s / t.bare_loop_per_s,
                "floor_per_s": t.floor_per_s,
                "floor_ratio": t.worker_per_s / t.floor_per_s,
            })
        })
        .collect()
}

/// Usage records a second, one a POST (`BENCH_USAGE_RECORDS`) and 100 a POST (ten times
/// as many).
fn usage_throughput(
    launcher: &Launcher,
    bin: &Path,
    stack: &LocalStack,
    fixture: &functions::Fixture,
) -> Value {
    let records = count("BENCH_USAGE_RECORDS", 500);
    eprintln!("bench: {records} usage records one a POST, then ten times as many 100 a POST");
    usage::measure(launcher, bin, stack, fixture, records)
        .iter()
        .map(|u| {
            json!({
                "way": u.way,
                "records": u.records,
                "calls_per_record": u.calls_per_record,
                "per_s": u.function_per_s,
                "floor_per_s": u.floor_per_s,
                "ratio": u.function_per_s / u.floor_per_s,
                "exact": u.exact,
            })
        })
        .collect()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = std::env::current_exe()
        .expect("own path")
        .parent()
        .expect("target/release")
        .to_path_buf();
    // Everything is found beside the release binaries, so that `make bench` works in any
    // CARGO_TARGET_DIR (how profile variants are compared side by side).
    let target = bin.join("..");
    let out = target.join("bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    let (starts, invocations) = (count("BENCH_STARTS", 20), count("BENCH_INVOCATIONS", 1000));
    let warm_answers = count("BENCH_WARM", 1000);
    let template = std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml");

    eprintln!("bench: starting the local stack");
    // Custom-domain checks ask a DNS server on loopback, the bench's and the stack's.
    let dns = domain_check::DnsServer::start(&root, &out);
    // Schedules every 10 minutes, not the tests' 2 seconds: the outbox sweep's index
    // queries read the whole table in the emulator, which the export rows make large.
    let stack = LocalStack::start_with(
        &root,
        &target.join("debug/local-gateway"),
        &out.join("stack"),
        &[
            ("LOCAL_SCHEDULE_SECONDS", "600"),
            ("DNS_NAMESERVERS", &dns.address),
        ],
    );
    let launcher = Launcher {
        stack: &stack,
        // The delivery throughput's receiver listens on loopback.
        extra: vec![
            ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1"),
            ("DNS_NAMESERVERS", &dns.address),
        ],
        logs: std::fs::File::create(out.join("functions.log")).expect("functions.log"),
    };

    if std::env::var("BENCH_ONLY").as_deref() == Ok("first-requests") {
        eprintln!("bench: real first requests ({starts} each, taking turns)");
        let fixture = setup::fixture(&launcher, &bin);
        let rows = first_requests::measure(&launcher, &bin, &fixture, starts, warm_answers);
        let report = json!({
            "warm_answers": warm_answers,
            "measured_at": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            "machine": machine(),
            "profile": profile(&root),
            "starts": starts,
            "first_requests": rows,
        });
        print!("{}", report::first_requests(&report));
        let json = serde_json::to_string_pretty(&report).expect("JSON");
        std::fs::write(out.join("first-requests.json"), json).expect("write first-requests.json");
        return;
    }

    // `BENCH_ONLY=throughput`: webhook deliveries and usage records, each next to its
    // floor, alone.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("throughput") {
        let fixture = setup::fixture(&launcher, &bin);
        let report = json!({
            "webhook_delivery": delivery_throughput(&launcher, &bin, &fixture),
            "usage_records": usage_throughput(&launcher, &bin, &stack, &fixture),
        });
        print!("{}", report::throughput(&report));
        return;
    }

    eprintln!("bench: cold starts ({starts} each, taking turns)");
    let functions = functions::functions(&template);
    let names: Vec<&str> = std::iter::once(BASELINE)
        .chain(functions.iter().map(String::as_str))
        .collect();
    let paths: Vec<PathBuf> = names.iter().map(|n| bin.join(n)).collect();
    let events: Vec<(Value, &str)> = names.iter().map(|n| functions::cold_event(n)).collect();
    let same: Vec<Box<dyn Fn() -> Value>> = events
        .iter()
        .map(|(e, _)| Box::new(move || e.clone()) as Box<dyn Fn() -> Value>)
        .collect();
    let pairs: Vec<(&Path, cold_start::Events)> = paths
        .iter()
        .zip(&same)
        .map(|(p, e)| (p.as_path(), e.as_ref()))
        .collect();
    let cold = cold_start::measure(&launcher, &pairs, starts);
    let cold_json = |i: usize| {
        let (first, init) = (median_ms(&cold[i].first_response), median_ms(&cold[i].init));
        json!({
            "first_event": events[i].1,
            "init_ms": init,
            "init_ratio": init / median_ms(&cold[0].init),
            "first_response_ms": first,
            "ratio": first / median_ms(&cold[0].first_response),
            "judged_on_init": functions::judged_on_init(names[i]),
            "warm_response_ms": median_ms(&cold[i].warm_response),
            "samples_ms": cold[i].first_response.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
        })
    };
    // `BENCH_ONLY=cold-start`: that phase alone, for trying a change to init quickly.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("cold-start") {
        let rows: Vec<Value> = (0..names.len())
            .map(|i| json!({ "name": names[i], "cold_start": cold_json(i) }))
            .collect();
        let report = json!({ "starts": starts, "baseline": rows[0], "functions": rows[1..] });
        print!("{}", report::cold_starts(&report));
        return;
    }

    eprintln!("bench: warm memory ({invocations} invocations each)");
    let fixture = setup::fixture(&launcher, &bin);
    let memory: Vec<memory::Memory> = names
        .iter()
        .map(|name| {
            let hashing = functions::hashes(name).then(|| {
                let status = if *name == "identity" { 200 } else { 403 };
                (functions::hashing_event(name, &fixture), status)
            });
            memory::measure(
                &launcher,
                &bin.join(name),
                invocations,
                |n| functions::warm_event(name, &fixture, n),
                hashing,
            )
        })
        .collect();

    eprintln!("bench: real first requests ({starts} each, taking turns)");
    let first_requests = first_requests::measure(&launcher, &bin, &fixture, starts, warm_answers);

    let webhook_delivery = delivery_throughput(&launcher, &bin, &fixture);

    let audit_entries = count("BENCH_AUDIT_ENTRIES", 1000);
    eprintln!("bench: audit-log verify ({audit_entries} entries)");
    let verify = audit_verify::measure(&stack.base_url, &fixture, audit_entries);

    let export_sizes: Vec<usize> = std::env::var("BENCH_EXPORT_ROWS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    eprintln!("bench: data export ({export_sizes:?} usage rows)");
    let exports = export::measure(&launcher, &bin, &stack, &fixture, &export_sizes);

    let usage_records = usage_throughput(&launcher, &bin, &stack, &fixture);

    eprintln!("bench: DynamoDB round trips per route");
    let round_trips = round_trips::measure(&root, &stack.base_url, &out.join("round-trips.json"));

    eprintln!("bench: argon2 cost");
    let argon2 = argon2_cost::measure(9);
    let sizing = |logical_id: &str, ms: f64| {
        let memory_mb = argon2_cost::template_memory_mb(&template, logical_id).unwrap_or(128);
        let vcpu = (memory_mb as f64 / VCPU_MB).min(1.0);
        json!({ "memory_mb": memory_mb, "vcpu": vcpu, "estimated_ms": ms / vcpu })
    };

    let row = |i: usize| {
        let name = names[i];
        json!({
            "name": name,
            "cold_start": cold_json(i),
            "zip_bytes": zip_bytes(&target, name),
            "zip_ratio": zip_bytes(&target, name) as f64 / zip_bytes(&target, BASELINE) as f64,
            "memory": {
                "mix": functions::warm_mix(name),
                "warm_peak_kib": memory[i].warm_peak_kib,
                "after_hash_peak_kib": memory[i].after_hash_peak_kib,
            },
        })
    };
    let report = json!({
        "measured_at": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        "machine": machine(),
        "profile": profile(&root),
        "starts": starts,
        "warm_answers": warm_answers,
        "invocations": invocations,
        "baseline": row(0),
        "functions": (1..names.len()).map(row).collect::<Vec<_>>(),
        "argon2": {
            "password_verify_ms": argon2.password_verify_ms,
            "pin_verify_ms": argon2.pin_verify_ms,
            "sizing": {
                "identity": sizing("IdentityFunction", argon2.password_verify_ms),
                "organization": sizing("OrganizationFunction", argon2.pin_verify_ms),
            },
        },
        "first_requests": first_requests,
        "round_trips": round_trips,
        "audit_verify": {
            "entries": verify.entries,
            "ms": verify.ms,
            "dynamodb_calls": verify.dynamodb_calls,
            "ms_per_1000": verify.ms * 1000.0 / verify.entries.max(1) as f64,
            "calls_per_1000": verify.dynamodb_calls as f64 * 1000.0 / verify.entries.max(1) as f64,
        },
        "export": exports.iter().map(|e| json!({
            "rows": e.rows,
            "format": e.format,
            "seconds": e.seconds,
            "size_bytes": e.size_bytes,
            "rows_per_s": e.rows as f64 / e.seconds,
            "bare_query_rows_per_s": e.bare_query_rows_per_s,
            "ratio": e.rows as f64 / e.seconds / e.bare_query_rows_per_s,
            "peak_rss_kib": e.peak_rss_kib,
        })).collect::<Vec<_>>(),
        "usage_records": usage_records,
        "webhook_delivery": webhook_delivery,
    });

    let table = report::markdown(&report);
    println!("{table}");
    let json = serde_json::to_string_pretty(&report).expect("JSON");
    std::fs::write(out.join("bench.json"), &json).expect("write bench.json");
    std::fs::write(out.join("bench.md"), &table).expect("write bench.md");
    eprintln!("bench: wrote {}/bench.{{json,md}}", out.display());
}
