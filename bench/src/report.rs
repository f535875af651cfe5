//! The bench's table, as Markdown (for the terminal and the README), from its JSON.

use serde_json::{json, Value};
use std::fmt::Write;

fn mib(kib: &Value) -> String {
    kib.as_f64()
        .map(|k| format!("{:.1}", k / 1024.0))
        .unwrap_or_else(|| "–".into())
}

fn mb(bytes: &Value) -> String {
    format!("{:.2}", bytes.as_f64().unwrap_or(0.0) / 1e6)
}

fn f1(v: &Value) -> String {
    format!("{:.1}", v.as_f64().unwrap_or(f64::NAN))
}

fn f2(v: &Value) -> String {
    format!("{:.2}", v.as_f64().unwrap_or(f64::NAN))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn functions(report: &Value) -> impl Iterator<Item = &Value> {
    report["functions"].as_array().into_iter().flatten()
}

/// The cold-start table: the first answer of a fresh process against the hello-world's,
/// with its init and a warm answer to the same event beside it.
pub fn cold_starts(report: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| function | cold start ms | × hello-world | init ms | × hello-world | warm answer ms |\n|---|---|---|---|---|---|"
    );
    let base = &report["baseline"];
    let rows = std::iter::once((
        format!("{} (baseline)", base["name"].as_str().unwrap_or("")),
        base,
    ))
    .chain(functions(report).map(|f| (f["name"].as_str().unwrap_or("").to_owned(), f)));
    for (i, (name, f)) in rows.enumerate() {
        let cold = &f["cold_start"];
        // The target holds on the first answer, or on init for a function whose every
        // run waits on the table (`functions::judged_on_init`).
        let judged = if cold["judged_on_init"] == true {
            "init_ratio"
        } else {
            "ratio"
        };
        let ratio = |key: &str| match (i, cold[key].as_f64()) {
            (0, _) => "1.00".to_owned(),
            (_, Some(r)) if key == judged => format!("{r:.2} {}", verdict(r <= 1.5)),
            (_, r) => f2(&json!(r)),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            f2(&cold["first_response_ms"]),
            ratio("ratio"),
            f2(&cold["init_ms"]),
            ratio("init_ratio"),
            f2(&cold["warm_response_ms"]),
        );
    }
    let _ = writeln!(
        out,
        "\nCold start: median of {} starts, process start → first answer at the Runtime API (init: → first poll of /next; warm answer: the same event again in the same process, submission → answer, median of {}). Target ≤ 1.5× the hello-world on the first answer, or on init ({}: every run waits on the table, and its first answer is that work, which takes as long warm). First events: {}.",
        report["starts"],
        crate::cold_start::WARM_ANSWERS,
        functions(report)
            .filter(|f| f["cold_start"]["judged_on_init"] == true)
            .map(|f| f["name"].as_str().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(", "),
        functions(report)
            .map(|f| format!("{} {}", f["name"].as_str().unwrap_or(""), f["cold_start"]["first_event"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("; "),
    );
    out
}

/// The real first requests: each against its baseline, and against that baseline plus
/// the warm cost of the work the request does beyond it.
pub fn first_requests(report: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| function | first request | cold ms | baseline | × baseline | warm ms | extra warm ms | × (baseline + extra) |\n|---|---|---|---|---|---|---|---|"
    );
    for row in report["first_requests"].as_array().into_iter().flatten() {
        let name = row["function"].as_str().unwrap_or("");
        if row["case"] == "baseline" {
            let _ = writeln!(
                out,
                "| {name} (baseline) | one `{}` | {} | – | 1.00 | {} | – | – |",
                if name == crate::first_requests::HELLO_DYNAMODB {
                    "GetItem"
                } else {
                    "answer"
                },
                f2(&row["median_ms"]),
                f2(&row["warm_ms"]),
            );
            continue;
        }
        let adjusted = row["adjusted_ratio"].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {adjusted:.2} {} |",
            row["case"].as_str().unwrap_or(""),
            f2(&row["median_ms"]),
            row["baseline"].as_str().unwrap_or(""),
            f2(&row["ratio"]),
            f2(&row["warm_ms"]),
            f2(&row["extra_warm_ms"]),
            verdict(adjusted <= crate::first_requests::TARGET),
        );
    }
    let _ = writeln!(
        out,
        "\nFirst requests: median of {} fresh processes each, process start → first answer, taking turns with the baselines (same release profile). Target ≤ {}× the baseline plus the warm cost of the request's work beyond it (extra warm = its warm answer − the baseline's).",
        report["starts"],
        crate::first_requests::TARGET,
    );
    let _ = writeln!(
        out,
        "\n| function | warm request | p50 ms | p99 ms | baseline | × baseline p50 |\n|---|---|---|---|---|---|"
    );
    for row in report["first_requests"].as_array().into_iter().flatten() {
        let baseline = row["case"] == "baseline";
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row["function"].as_str().unwrap_or(""),
            if baseline {
                "(baseline)"
            } else {
                row["case"].as_str().unwrap_or("")
            },
            f2(&row["warm_p50_ms"]),
            f2(&row["warm_p99_ms"]),
            row["baseline"].as_str().unwrap_or("–"),
            if baseline {
                "1.00".to_owned()
            } else {
                f2(&row["warm_p50_ratio"])
            },
        );
    }
    let _ = writeln!(
        out,
        "\nWarm: {} answers of one process each, submission → answer, after one unrecorded answer.",
        report["warm_answers"],
    );
    out
}

/// The throughput tables: webhook deliveries and usage records, each next to its floor.
pub fn throughput(report: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| webhook deliveries (batches of 10) | receiver answers in | bare reqwest loop /s (baseline) | floor: reads, POSTs, log write /s | delivery worker /s | × baseline (≥ 0.8) | × floor |\n|---|---|---|---|---|---|---|"
    );
    for w in report["webhook_delivery"].as_array().into_iter().flatten() {
        let ratio = w["ratio"].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| {} | {} ms | {} | {} | {} | {} {} | {} |",
            w["deliveries"],
            w["receiver_ms"],
            f1(&w["bare_loop_per_s"]),
            f1(&w["floor_per_s"]),
            f1(&w["worker_per_s"]),
            f2(&w["ratio"]),
            verdict(ratio >= 0.8),
            f2(&w["floor_ratio"]),
        );
    }

    let _ = writeln!(
        out,
        "\n| usage records, one after the other | records | DynamoDB calls a record | floor: the same calls /s | organization function /s | × floor | totals exact |\n|---|---|---|---|---|---|---|"
    );
    for u in report["usage_records"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            u["way"].as_str().unwrap_or(""),
            u["records"],
            f2(&u["calls_per_record"]),
            f1(&u["floor_per_s"]),
            f1(&u["per_s"]),
            f2(&u["ratio"]),
            verdict(u["exact"].as_bool() == Some(true)),
        );
    }
    out
}

pub fn markdown(report: &Value) -> String {
    let mut out = String::new();
    let m = &report["machine"];
    let _ = writeln!(
        out,
        "Measured {} on {} ({} cores, {}); release profile: {}.\n",
        report["measured_at"].as_str().unwrap_or(""),
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["arch"].as_str().unwrap_or("?"),
        report["profile"].as_str().unwrap_or("?"),
    );
    out.push_str(&cold_starts(report));
    out.push('\n');
    out.push_str(&first_requests(report));
    let _ = writeln!(
        out,
        "\n| function | zip MB (≤ 6) | × hello-world | warm peak RSS MiB (≤ 48) | after one argon2 MiB |\n|---|---|---|---|---|"
    );
    let base = &report["baseline"];
    let _ = writeln!(
        out,
        "| {} (baseline) | {} | 1.00 | {} | – |",
        base["name"].as_str().unwrap_or(""),
        mb(&base["zip_bytes"]),
        mib(&base["memory"]["warm_peak_kib"]),
    );
    for f in functions(report) {
        let mem = &f["memory"];
        let zip_ok = f["zip_bytes"].as_f64().unwrap_or(f64::MAX) <= 6e6;
        let warm_ok = mem["warm_peak_kib"].as_f64().unwrap_or(f64::MAX) <= 48.0 * 1024.0;
        let _ = writeln!(
            out,
            "| {} | {} {} | {} | {} {} | {} |",
            f["name"].as_str().unwrap_or(""),
            mb(&f["zip_bytes"]),
            verdict(zip_ok),
            f2(&f["zip_ratio"]),
            mib(&mem["warm_peak_kib"]),
            verdict(warm_ok),
            mib(&mem["after_hash_peak_kib"]),
        );
    }
    let _ = writeln!(
        out,
        "\nWarm memory: peak RSS (VmHWM) after {} invocations ({}).\n",
        report["invocations"],
        functions(report)
            .map(|f| format!(
                "{} {}",
                f["name"].as_str().unwrap_or(""),
                f["memory"]["mix"].as_str().unwrap_or("")
            ))
            .collect::<Vec<_>>()
            .join("; "),
    );

    let a = &report["argon2"];
    let _ = writeln!(
        out,
        "| argon2id (m = 19 MiB, t = 2, p = 1) | here, ms | function | Lambda memory MB | vCPU | est. on Lambda, ms (≤ 100) |\n|---|---|---|---|---|---|"
    );
    for (what, key, function) in [
        ("password verify", "password_verify_ms", "identity"),
        ("PIN verify", "pin_verify_ms", "organization"),
    ] {
        let sizing = &a["sizing"][function];
        let estimate = sizing["estimated_ms"].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| {what} | {} | {function} | {} | {} | {} {} |",
            f1(&a[key]),
            sizing["memory_mb"],
            f2(&sizing["vcpu"]),
            f1(&sizing["estimated_ms"]),
            verdict(estimate <= 100.0),
        );
    }

    out.push_str(&throughput(report));

    let _ = writeln!(
        out,
        "\n| data export (usage rows) | format | s | rows/s | bare Query rows/s (baseline) | × baseline | file MB | peak RSS MiB |\n|---|---|---|---|---|---|---|---|"
    );
    let exports: Vec<&Value> = report["export"].as_array().into_iter().flatten().collect();
    for e in &exports {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            e["rows"],
            e["format"].as_str().unwrap_or(""),
            f1(&e["seconds"]),
            f1(&e["rows_per_s"]),
            f1(&e["bare_query_rows_per_s"]),
            f2(&e["ratio"]),
            f1(&json!(e["size_bytes"].as_f64().unwrap_or(0.0) / 1048576.0)),
            f1(&json!(e["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0)),
        );
    }
    for format in ["json", "csv"] {
        let peaks: Vec<(u64, f64)> = exports
            .iter()
            .filter(|e| e["format"] == format)
            .map(|e| {
                (
                    e["rows"].as_u64().unwrap_or(0),
                    e["peak_rss_kib"].as_f64().unwrap_or(0.0),
                )
            })
            .collect();
        if let (Some(first), Some(last)) = (peaks.first(), peaks.last()) {
            if first.0 < last.0 {
                let growth = (last.1 - first.1) / 1024.0;
                let _ = writeln!(
                    out,
                    "\n{format}: peak RSS growth from {} to {} rows: {growth:.1} MiB (< 20) {}",
                    first.0,
                    last.0,
                    verdict(growth < 20.0),
                );
            }
        }
    }

    let v = &report["audit_verify"];
    let _ = writeln!(
        out,
        "\n| audit-log verify | entries | ms (median of 5) | DynamoDB calls | ms per 1,000 | calls per 1,000 |\n|---|---|---|---|---|---|\n| whole chain | {} | {} | {} | {} | {} |",
        v["entries"],
        f1(&v["ms"]),
        v["dynamodb_calls"],
        f1(&v["ms_per_1000"]),
        f1(&v["calls_per_1000"]),
    );

    let _ = writeln!(
        out,
        "\n| route | DynamoDB round trips (≤ 3) | calls | Scans | why over |\n|---|---|---|---|---|"
    );
    for r in report["round_trips"].as_array().into_iter().flatten() {
        let trips = r["trips"].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {} {} | {} {} | {} | {} | {} |",
            r["method"].as_str().unwrap_or(""),
            r["route"].as_str().unwrap_or(""),
            trips,
            verdict(trips <= 3),
            r["calls"],
            r["scans"],
            r["why"].as_str().unwrap_or(""),
        );
    }
    out
}
