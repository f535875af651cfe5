//! Profile → Sessions: list, revoke one, revoke all but the current, and the timeouts.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use plexmcp_tests::{audit_chain, items, set_attribute, stack, Account};
use reqwest::Method;

fn session_sk(account: &Account) -> String {
    format!("SESSION#{}", account.session_id)
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_marked() {
    let api = stack().api();
    let first = Account::create(&api).await;
    let second = Account::login(&api, &first.email).await;
    let list = api
        .send(
            api.raw(Method::GET, "/v1/me/sessions")
                .bearer_auth(&first.token)
                .header("user-agent", "tests/1.0"),
        )
        .await
        .expect(200);
    let sessions = list.body["items"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<&str> = sessions
        .iter()
        .filter(|s| s["current"] == true)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(current, [first.session_id.as_str()]);
    let other = sessions
        .iter()
        .find(|s| s["id"] == second.session_id.as_str())
        .unwrap();
    assert_eq!(other["ip"], "127.0.0.1");
    assert!(other["created_at"].is_string() && other["last_seen_at"].is_string());
}

#[tokio::test]
async fn a_revoked_session_fails_its_very_next_request() {
    let api = stack().api();
    let me = Account::create(&api).await;
    let laptop = Account::login(&api, &me.email).await;
    api.get("/v1/me", &laptop.token).await.expect(200);
    api.delete(&format!("/v1/me/sessions/{}", laptop.session_id), &me.token)
        .await
        .expect(204);
    api.get("/v1/me", &laptop.token)
        .await
        .problem(401, "unauthorized");
    api.get("/v1/me", &me.token).await.expect(200);
    // Gone already; unknown or malformed ids; someone else's session.
    api.delete(&format!("/v1/me/sessions/{}", laptop.session_id), &me.token)
        .await
        .problem(404, "not_found");
    api.delete("/v1/me/sessions/not-an-id", &me.token)
        .await
        .problem(404, "not_found");
    let stranger = Account::create(&api).await;
    api.delete(
        &format!("/v1/me/sessions/{}", stranger.session_id),
        &me.token,
    )
    .await
    .problem(404, "not_found");
    api.get("/v1/me", &stranger.token).await.expect(200);

    let actions: Vec<String> = audit_chain(&format!("USER#{}", me.id))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions.contains(&"session.revoked".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn revoke_all_ends_every_session_but_the_current_one() {
    let api = stack().api();
    let me = Account::create(&api).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(Account::login(&api, &me.email).await);
    }
    let revoked = api
        .call(
            Method::POST,
            "/v1/me/sessions/revoke-all",
            Some(&me.token),
            None,
        )
        .await
        .expect(200);
    assert_eq!(revoked.body["revoked"], 3);
    for other in &others {
        api.get("/v1/me", &other.token)
            .await
            .problem(401, "unauthorized");
    }
    let list = api.get("/v1/me/sessions", &me.token).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let again = api
        .call(
            Method::POST,
            "/v1/me/sessions/revoke-all",
            Some(&me.token),
            None,
        )
        .await
        .expect(200);
    assert_eq!(again.body["revoked"], 0);
}

#[tokio::test]
async fn an_idle_session_expires_after_seven_days() {
    let api = stack().api();
    let me = Account::create(&api).await;
    let stale = (Utc::now() - Duration::days(7) - Duration::minutes(1)).to_rfc3339();
    set_attribute(
        &format!("USER#{}", me.id),
        &session_sk(&me),
        "last_seen_at",
        AttributeValue::S(stale),
    )
    .await;
    api.get("/v1/me", &me.token)
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn a_session_expires_thirty_days_after_login_however_active() {
    let api = stack().api();
    let me = Account::create(&api).await;
    let past = (Utc::now() - Duration::seconds(1)).to_rfc3339();
    set_attribute(
        &format!("USER#{}", me.id),
        &session_sk(&me),
        "expires_at",
        AttributeValue::S(past),
    )
    .await;
    api.get("/v1/me", &me.token)
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let api = stack().api();
    let me = Account::create(&api).await;
    let pk = format!("USER#{}", me.id);
    let last_seen = || async {
        let all = items(&format!("USER#{}", me.id), &session_sk(&me)).await;
        all[0]["last_seen_at"].as_s().unwrap().clone()
    };
    let before = last_seen().await;
    api.get("/v1/me", &me.token).await.expect(200);
    assert_eq!(last_seen().await, before, "fresh activity is not rewritten");

    let two_minutes_ago = (Utc::now() - Duration::minutes(2)).to_rfc3339();
    set_attribute(
        &pk,
        &session_sk(&me),
        "last_seen_at",
        AttributeValue::S(two_minutes_ago.clone()),
    )
    .await;
    api.get("/v1/me", &me.token).await.expect(200);
    let touched = last_seen().await;
    assert!(touched > two_minutes_ago, "stale activity is refreshed");
}
