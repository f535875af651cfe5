//! schemathesis, a conformance tool nobody here wrote, over every operation of the
//! OpenAPI document with a person's session and an org API key (see
//! tests/schemathesis_run.py and tests/schemathesis.toml): no 5xx, no answer the
//! document does not describe, no schema-valid request refused, no schema-invalid one
//! accepted, and none of the warnings that mean the document misleads a client.

#[test]
fn schemathesis_finds_nothing_the_document_does_not_say() {
    plexmcp_tests::python_check("schemathesis_run.py");
}
