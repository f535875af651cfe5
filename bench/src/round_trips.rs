//! DynamoDB round trips per route: the OpenAPI conformance session (every documented
//! operation, run as a client against the local stack) records what the server's SDK
//! interceptor counted for each successful exchange — the same numbers `make test`
//! holds to the budget.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub fn measure(root: &Path, base_url: &str, out: &Path) -> Vec<Value> {
    let status = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/openapi_conformance.py"))
        .arg(base_url)
        .arg("--round-trips")
        .arg(out)
        .status()
        .expect("the venv's python runs (make venv)");
    assert!(status.success(), "the conformance session failed");
    let rows = std::fs::read_to_string(out).expect("round-trip file");
    serde_json::from_str::<Vec<Value>>(&rows).expect("round-trip rows")
}
