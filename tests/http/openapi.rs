//! The OpenAPI document is checked with the other side's libraries (see
//! tests/openapi_conformance.py): it validates, and real exchanges conform to it.

use plexmcp_tests::{repo_root, stack};
use std::process::Command;

#[test]
fn the_openapi_document_describes_what_the_server_does() {
    let root = repo_root();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/openapi_conformance.py"))
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
