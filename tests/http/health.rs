use plexmcp_tests::stack;

#[tokio::test]
async fn health_reports_ok_when_the_table_answers() {
    let api = stack().api();
    let resp = api
        .call(reqwest::Method::GET, "/v1/health", None, None)
        .await
        .expect(200);
    assert_eq!(resp.body, serde_json::json!({ "status": "ok" }));
    assert_eq!(resp.dynamodb_calls(), (1, 0));
}
