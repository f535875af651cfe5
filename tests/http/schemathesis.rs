//! schemathesis, a conformance tool nobody here wrote, over every operation of the
//! OpenAPI document with a person's session and an org API key (see
//! tests/schemathesis_run.py and tests/schemathesis.toml): no 5xx, no answer the
//! document does not describe, no schema-valid request refused, no schema-invalid one
//! accepted, and none of the warnings that mean the document misleads a client.

use plexmcp_tests::{repo_root, stack};
use std::process::Command;

#[test]
fn schemathesis_finds_nothing_the_document_does_not_say() {
    let root = repo_root();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/schemathesis_run.py"))
        .arg(&stack().base_url)
        .output()
        .expect("the venv python runs (make venv)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    println!("{stdout}");
}
