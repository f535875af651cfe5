//! The OpenAPI document is checked with the other side's libraries (see
//! tests/openapi_conformance.py): it validates, and real exchanges conform to it.

#[test]
fn the_openapi_document_describes_what_the_server_does() {
    plexmcp_tests::python_check("openapi_conformance.py");
}

#[test]
fn a_client_generated_from_the_document_drives_a_scenario_with_its_own_code_only() {
    plexmcp_tests::python_check("generated_client.py");
}
