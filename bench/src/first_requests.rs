//! Cold start of a real first request: a fresh process whose first event is what a user
//! sends (an authenticated read, a PIN-gated delete, the settings page) or a worker's
//! first real job (a webhook delivery to a receiver on loopback, a small export, a domain
//! check asked of a DNS server on loopback, a small org's deletion), against the local
//! stack, taking turns with two baselines built with the same profile — the hello-world
//! (no AWS call) and `hello-dynamodb` (aws-config's defaults and one `GetItem`).
//!
//! Each case is compared with the baseline that does what it must do at least: a request
//! that reads the table with `hello-dynamodb`, one that does not with the hello-world. A
//! request that does more than one read (or hashes a PIN) has that extra work's warm cost
//! added to the baseline (`allowed_ms`): what it costs beyond that is start-up. Warm, one
//! process per case answers the request `BENCH_WARM` times (1,000): its p50 and p99 next
//! to the baseline's.

use crate::cold_start::{self, median_ms, Events};
use crate::functions::{Fixture, BASELINE, PIN};
use crate::warm;
use crate::Launcher;
use crate::{delivery, domain_check, export, org_deletion};
use local_runtime::events::http_request;
use serde_json::{json, Value};
use std::path::Path;

pub const HELLO_DYNAMODB: &str = "hello-dynamodb";

/// How much slower than its baseline a first request may be.
pub const TARGET: f64 = 1.2;

struct Case {
    function: &'static str,
    case: &'static str,
    /// Its event: the same request each time, or a fresh job (a worker's is consumed).
    event: Box<dyn Fn() -> Value>,
    /// Whether it reads the table (compared with `hello-dynamodb`, else the hello-world).
    reads: bool,
}

fn same(event: Value) -> Box<dyn Fn() -> Value> {
    Box::new(move || event.clone())
}

/// The workers' first real jobs, each made afresh (a job is consumed).
struct Jobs {
    delivery: Box<dyn Fn() -> Value>,
    export: Box<dyn Fn() -> Value>,
    domain_check: Box<dyn Fn() -> Value>,
    deletion: Box<dyn Fn() -> Value>,
}

fn cases(fixture: &Fixture, jobs: Jobs) -> Vec<Case> {
    let token = Some(fixture.token.as_str());
    let org = format!("/v1/orgs/{}", fixture.slug);
    let unknown = shared::ids::McpId::generate();
    let mut gated = http_request("DELETE", &format!("{org}/mcps/{unknown}"), token, None);
    gated["headers"]["x-plexmcp-pin"] = json!(PIN);
    vec![
        Case {
            function: "identity",
            case: "GET /v1/me (session) → 200",
            event: same(http_request("GET", "/v1/me", token, None)),
            reads: true,
        },
        Case {
            function: "organization",
            case: "GET /v1/orgs/{slug} (session) → 200",
            event: same(http_request("GET", &org, token, None)),
            reads: true,
        },
        Case {
            function: "organization",
            case: "DELETE an unknown MCP with the PIN → 404 (argon2)",
            event: same(gated),
            reads: true,
        },
        Case {
            function: "settings-pages",
            case: "GET /settings/ → 200 (HTML)",
            event: same(http_request("GET", "/settings/", None, None)),
            reads: false,
        },
        Case {
            function: "webhook-delivery",
            case: "one job delivered to a receiver on loopback (reads, POST, log write)",
            event: jobs.delivery,
            reads: true,
        },
        Case {
            function: "data-export",
            case: "a small org's export, every category, JSON (queries, S3 put, job write)",
            event: jobs.export,
            reads: true,
        },
        Case {
            function: "domain-check",
            case: "a pending domain checked (reads, DNS on loopback, check write, next queued)",
            event: jobs.domain_check,
            reads: true,
        },
        Case {
            function: "org-deletion",
            case: "a small org deleted (sweep, membership and mail, S3, Route53, tombstone)",
            event: jobs.deletion,
            reads: true,
        },
    ]
}

/// `starts` fresh processes per case and per baseline, taking turns, then `warm`
/// answers of one process each (p50, p99); the rows of `first_requests` in the bench's
/// JSON.
pub fn measure(
    launcher: &Launcher,
    bin: &Path,
    fixture: &Fixture,
    starts: usize,
    warm_answers: usize,
) -> Vec<Value> {
    let table = crate::setup::table(launcher.stack);
    let jobs = Jobs {
        delivery: delivery::one_job_at_a_time(launcher, bin, fixture),
        export: export::one_small_export_at_a_time(launcher.stack, fixture),
        domain_check: domain_check::one_check_at_a_time(launcher, bin, &table, fixture),
        deletion: org_deletion::one_deletion_at_a_time(launcher, bin, &table, fixture),
    };
    let cases = cases(fixture, jobs);
    let nothing = same(json!({ "Records": [] }));
    let binaries: Vec<(std::path::PathBuf, Events)> = [
        (bin.join(BASELINE), nothing.as_ref()),
        (bin.join(HELLO_DYNAMODB), nothing.as_ref()),
    ]
    .into_iter()
    .chain(
        cases
            .iter()
            .map(|c| (bin.join(c.function), c.event.as_ref())),
    )
    .collect();
    let pairs: Vec<(&Path, Events)> = binaries.iter().map(|(p, e)| (p.as_path(), *e)).collect();
    let samples = cold_start::measure(launcher, &pairs, starts);
    let first = |i: usize| median_ms(&samples[i].first_response);
    let warm = |i: usize| median_ms(&samples[i].warm_response);
    let steady: Vec<(f64, f64)> = pairs
        .iter()
        .map(|(binary, event)| warm::percentiles(launcher, binary, event, warm_answers))
        .collect();
    let baselines = [
        (BASELINE, first(0), warm(0), steady[0]),
        (HELLO_DYNAMODB, first(1), warm(1), steady[1]),
    ];
    let mut rows: Vec<Value> = baselines
        .iter()
        .map(|(name, first, warm, (p50, p99))| {
            json!({ "function": name, "case": "baseline", "median_ms": first, "warm_ms": warm,
                    "warm_p50_ms": p50, "warm_p99_ms": p99 })
        })
        .collect();
    for (i, case) in cases.iter().enumerate() {
        let (baseline, base_first, base_warm, (base_p50, _)) = baselines[usize::from(case.reads)];
        let (first, warm, (p50, p99)) = (first(i + 2), warm(i + 2), steady[i + 2]);
        // The case's own work beyond the baseline's, as it costs warm.
        let extra_ms = (warm - base_warm).max(0.0);
        let allowed_ms = base_first + extra_ms;
        rows.push(json!({
            "function": case.function,
            "case": case.case,
            "median_ms": first,
            "warm_ms": warm,
            "baseline": baseline,
            "baseline_ms": base_first,
            "ratio": first / base_first,
            "extra_warm_ms": extra_ms,
            "allowed_ms": TARGET * allowed_ms,
            "adjusted_ratio": first / allowed_ms,
            "meets_target": first / allowed_ms <= TARGET,
            "warm_p50_ms": p50,
            "warm_p99_ms": p99,
            "warm_p50_ratio": p50 / base_p50,
        }));
    }
    rows
}
